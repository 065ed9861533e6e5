"""Delivery's reading of a screen (no tmux): where the pasted text is, a collapsed paste, prompt events, waiting prompts."""

from __future__ import annotations

import json
from pathlib import Path

from app.fleet.deliver import Look, SubmitEvents, mark_of
from app.fleet.prompts import _is_question, waiting_why
from app.model import Agent, Kind, Status
from app.monitor.facts import with_waiting_prompt
from app.status import Reading

TEXT = "please refactor the parser so that every rule is a table row and say done"


def test_text_on_the_cursor_row_is_at_distance_zero():
    seen = Look(("history", "", f"> {TEXT}"), cursor=2, dead=False)
    assert seen.distance(mark_of(TEXT)) == 0


def test_wrapped_and_boxed_text_is_found_across_rows():
    rows = ("╭──────────────────────╮", f"│ > {TEXT[:30]} │", f"│ {TEXT[30:60]}   │", f"│ {TEXT[60:]}     │",
            "╰──────────────────────╯", "  ? for shortcuts", "")
    seen = Look(rows, cursor=6, dead=False)    # an Ink CLI leaves its cursor under the footer
    assert seen.distance(mark_of(TEXT)) == 4
    assert seen.distance(mark_of(TEXT), reach=3) is None


def test_a_newline_moves_the_text_one_row_up_from_the_cursor_and_a_submit_further():
    mark = mark_of("take this")
    assert Look(("", "> take this", "  "), cursor=2, dead=False).distance(mark, reach=1) == 1
    submitted = Look(("› take this", "", "• Working (0s)", "", ">"), cursor=4, dead=False)
    assert submitted.distance(mark, reach=1) is None
    assert submitted.cursor_row() == ">"


def test_a_collapsed_paste_shows_as_its_placeholder():
    seen = Look(("", "> [Pasted text #1 +14 lines]"), cursor=1, dead=False)
    assert seen.distance(mark_of("none of these words are on screen")) == 0
    assert Look(("", "› [Pasted Content 1204 chars]"), cursor=1, dead=False).distance("zzz") == 0


def test_only_a_prompt_submitted_event_written_after_the_start_counts(tmp_path: Path):
    events = tmp_path / "agent.jsonl"
    events.write_text(json.dumps({"at": 1, "event": "UserPromptSubmit"}) + "\n")
    heard = SubmitEvents(events)
    assert heard.arrived() is None          # an older prompt's event
    with events.open("a") as fh:
        fh.write(json.dumps({"at": 2, "event": "Stop"}) + "\ngarbage\n")
    assert heard.arrived() is None
    with events.open("a") as fh:
        fh.write(json.dumps({"at": 3, "event": "UserPromptSubmit"}) + "\n")
    assert heard.arrived() == "UserPromptSubmit"
    assert SubmitEvents(None).arrived() is None
    assert SubmitEvents(tmp_path / "missing.jsonl").arrived() is None


def test_a_question_holds_the_prompt_but_a_scripts_first_read_does_not():
    aider = Reading(Kind.NEEDS_INPUT, "yes/no question '(Y)es/(N)o'", "Add .aider* to .gitignore? (Y)es/(N)o [Yes]:")
    assert _is_question(aider, "aider")
    assert not _is_question(Reading(Kind.NEEDS_INPUT, "a question on the last line", "ready?"), "generic")
    assert _is_question(Reading(Kind.NEEDS_INPUT, "yes/no question", "Proceed? [y/n]"), "generic")
    assert not _is_question(Reading(Kind.IDLE, "aider prompt '>'", ">"), "aider")


def test_the_why_says_the_prompt_waits_and_quotes_the_question():
    assert waiting_why({}) is None and waiting_why(None) is None
    assert waiting_why({"prompt_pending": {"since": 1, "pane": "%1"}}) == "prompt waiting"
    assert "never delivered" in waiting_why({"prompt_pending": {"pane": "%1", "exited": 5}})
    a = Agent("a", "a", "aider", "b", "/w", "main", "s", prompt_waiting="prompt waiting")
    asks = Status(Kind.NEEDS_INPUT, "yes/no question", evidence="Add .aider* to .gitignore? (Y)es/(N)o [Yes]:")
    assert with_waiting_prompt(a, asks).why == "prompt waiting: the agent asks 'Add .aider* to .gitignore? (Y)es/(N)o [Yes]:'"
    assert with_waiting_prompt(a, Status(Kind.STARTING, "no output yet")).why.startswith("prompt waiting: delivered once")
    a.prompt_waiting = None
    assert with_waiting_prompt(a, asks) == asks
