"""classify() on real agent screens and synthetic ones; error_signature and strip_ansi."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.model import Kind
from app.presets import PRESETS
from app.status import FAMILIES, Reading, classify, error_signature, strip_ansi

SCREENS = Path(__file__).resolve().parents[1] / "fixtures" / "screens"
EXPECTED: dict[str, str] = (json.loads((SCREENS / "expected.json").read_text(encoding="utf-8"))
                            if (SCREENS / "expected.json").exists() else {})


def family_of(fixture: str) -> str:
    return fixture.split("/")[0]


# -- real screens ------------------------------------------------------------------------------


@pytest.mark.skipif(not EXPECTED, reason="no screen fixtures")
@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_real_screen_classifies_as_expected(fixture):
    screen = (SCREENS / fixture).read_text(encoding="utf-8")
    reading = classify(screen, family_of(fixture))
    assert reading.kind == Kind(EXPECTED[fixture]), reading
    assert reading.why and reading.evidence


@pytest.mark.skipif(not EXPECTED, reason="no screen fixtures")
@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_real_screen_with_colours_reads_the_same(fixture):
    ansi = SCREENS / fixture.replace(".txt", ".ansi")
    if not ansi.exists():
        pytest.skip("no .ansi twin")
    plain = classify((SCREENS / fixture).read_text(encoding="utf-8"), family_of(fixture))
    colored = classify(ansi.read_text(encoding="utf-8"), family_of(fixture))
    assert (colored.kind, colored.why, colored.evidence) == (plain.kind, plain.why, plain.evidence)


def test_every_fixture_family_and_kind_is_covered():
    if not EXPECTED:
        pytest.skip("no screen fixtures")
    assert {family_of(f) for f in EXPECTED} <= set(FAMILIES)
    assert {"needs_input", "working", "idle", "error"} <= set(EXPECTED.values())


@pytest.mark.skipif(not EXPECTED, reason="no screen fixtures")
def test_limit_messages_on_real_screens():
    codex = classify((SCREENS / "codex/error-usage-limit-80x24.txt").read_text(encoding="utf-8"), "codex")
    assert codex.limit and "usage limit" in codex.limit
    claude = classify((SCREENS / "claude/error-rate-limit-120x40.txt").read_text(encoding="utf-8"), "claude")
    assert claude.limit and "rate limit" in claude.limit
    idle = classify((SCREENS / "claude/idle-80x24.txt").read_text(encoding="utf-8"), "claude")
    assert idle.limit is None


def test_every_preset_names_a_known_family():
    for preset in PRESETS.values():
        assert preset.rules in FAMILIES, preset.name


# -- synthetic screens per family and kind ------------------------------------------------------

RULE = "─" * 60


def screen(*lines: str, rows: int = 24) -> str:
    """A visible screen: the lines at the top, blank rows below (as inline agents leave it)."""
    body = list(lines)
    return "\n".join(body + [""] * max(0, rows - len(body)))


SYNTHETIC = [
    # claude
    ("claude", Kind.NEEDS_INPUT, screen("● Bash(rm -rf build)", RULE, " Bash command", "   rm -rf build",
                                         " Do you want to proceed?", " ❯ 1. Yes", "   2. No",
                                         " Esc to cancel · Tab to amend")),
    ("claude", Kind.WORKING, screen("❯ fix it", "✻ Pondering… (12s · esc to interrupt)", RULE, "❯ ", RULE,
                                     "  esc to interrupt · ← for agents")),
    ("claude", Kind.IDLE, screen("❯ fix it", "● Fixed.", "✻ Brewed for 3s", RULE, "❯ ", RULE,
                                  "  ? for shortcuts")),
    ("claude", Kind.ERROR, screen("❯ fix it", "● API Error: 500 Internal server error", RULE, "❯ ", RULE,
                                   "  ? for shortcuts")),
    ("claude", Kind.EXITED, screen("Resume this session with:", "claude --resume 1234", "$")),
    # codex
    ("codex", Kind.NEEDS_INPUT, screen("› run the tests", "Would you like to run the following command?",
                                        "  $ pytest -q", "› 1. Yes, proceed", "  2. No, and tell Codex what to do differently",
                                        "  Press enter to confirm or esc to cancel")),
    ("codex", Kind.WORKING, screen("› fix it", "• Working (3s • esc to interrupt)", "› Ask Codex to do anything",
                                    "  ? for shortcuts")),
    ("codex", Kind.IDLE, screen("› fix it", "• Done.", "› Ask Codex to do anything", "  ? for shortcuts")),
    ("codex", Kind.ERROR, screen("› fix it", "■ stream error: unexpected status 500", "› Ask Codex to do anything",
                                  "  ? for shortcuts")),
    # gemini
    ("gemini", Kind.NEEDS_INPUT, screen("╭────╮", "│ ? Edit calc.py │", "│ Apply this change? │",
                                         "│ ● 1. Allow once │", "│   2. Allow always │", "╰────╯")),
    ("gemini", Kind.WORKING, screen(" > fix it", " ⠙ Thinking... (esc to cancel, 2s)", RULE,
                                     " >   Type your message or @path/to/file")),
    ("gemini", Kind.IDLE, screen(" > fix it", "✦ Done.", RULE, " >   Type your message or @path/to/file")),
    ("gemini", Kind.ERROR, screen(" > fix it", "✕ [API Error: quota exceeded]", RULE,
                                   " >   Type your message or @path/to/file")),
    # opencode
    ("opencode", Kind.NEEDS_INPUT, screen("┃  fix it", "△ Permission required", "  $ rm -rf build",
                                           "  Allow once   Allow always   Reject", "  tab agents  ctrl+p commands")),
    ("opencode", Kind.WORKING, screen("┃  fix it", "   ■■■⬝⬝⬝⬝⬝  esc interrupt   tab agents  ctrl+p commands")),
    ("opencode", Kind.IDLE, screen("┃  Ask anything…", "   /repo:main        tab agents  ctrl+p commands")),
    ("opencode", Kind.ERROR, screen("┃  fix it", "┃  Error: model not found", "   /repo   tab agents  ctrl+p commands")),
    # aider
    ("aider", Kind.NEEDS_INPUT, screen("> fix it", "Create new file calc2.py? (Y)es/(N)o [Yes]:")),
    ("aider", Kind.WORKING, screen("> fix it", " █░     Waiting for gpt-4o")),
    ("aider", Kind.IDLE, screen("> fix it", "Applied edit to calc.py", RULE, "calc.py", ">")),
    ("aider", Kind.ERROR, screen("> fix it", "litellm.AuthenticationError: invalid key", RULE, ">")),
    # demo (the scripted agent's own markers)
    ("demo", Kind.NEEDS_INPUT, screen("● I want to run the tests.", RULE, "Bash command", "  pytest -q",
                                       "Do you want to proceed?", "❯ 1. Yes", "  2. No", "esc to cancel")),
    ("demo", Kind.WORKING, screen("● Reading the code.", "✻ Working… (3s · esc to interrupt)")),
    ("demo", Kind.IDLE, screen("● Done.", RULE, "> ", RULE, "  ? for shortcuts")),
    ("demo", Kind.ERROR, screen("● Syncing.", "Error: connection to 127.0.0.1:5433 refused (attempt 5) at 10:00:01",
                                 "● The database keeps refusing connections.", RULE, "> ", RULE, "  ? for shortcuts")),
    # generic
    ("generic", Kind.NEEDS_INPUT, screen("Deleting 3 files.", "Continue? [y/n]")),
    ("generic", Kind.WORKING, screen("⠹ Compiling… (esc to interrupt)")),
    ("generic", Kind.IDLE, screen("done", "user@host:~/repo$")),
    ("generic", Kind.ERROR, screen("running", "Traceback (most recent call last):", '  File "x.py", line 1',
                                    "ValueError: bad")),
]


@pytest.mark.parametrize("family,kind,text", SYNTHETIC, ids=[f"{f}-{k.value}" for f, k, _ in SYNTHETIC])
def test_synthetic_screen(family, kind, text):
    reading = classify(text, family)
    assert reading.kind == kind, reading
    assert reading.why and reading.evidence


def test_each_family_has_a_synthetic_screen_for_each_kind():
    covered = {(f, k) for f, k, _ in SYNTHETIC}
    for family in FAMILIES:
        for kind in (Kind.NEEDS_INPUT, Kind.WORKING, Kind.IDLE, Kind.ERROR):
            assert (family, kind) in covered, (family, kind)


def test_blank_or_unknown_screen_reads_unknown():
    assert classify("", "claude").kind is None
    assert classify("\n\n   \n", "codex").kind is None
    assert classify(screen("compiling module 3 of 9"), "claude").kind is None


def test_unknown_family_uses_generic():
    assert classify(screen("Proceed? [y/n]"), "no-such-family").kind == Kind.NEEDS_INPUT


# -- precedence and regions ----------------------------------------------------------------------


def test_question_outranks_busy_and_idle_markers():
    text = screen("✻ Working… (3s · esc to interrupt)", RULE, "Do you want to proceed?", "❯ 1. Yes",
                  "  2. No", "esc to cancel")
    assert classify(text, "demo").kind == Kind.NEEDS_INPUT


def test_busy_outranks_idle_markers():
    # Codex keeps its composer and "? for shortcuts" on screen while it works.
    text = screen("› fix", "• Working (9s • esc to interrupt)", "› Ask Codex to do anything", "  ? for shortcuts")
    assert classify(text, "codex").kind == Kind.WORKING


def test_scrollback_question_does_not_fire():
    # A question answered long ago, far above the bottom of the visible screen.
    old = ["Do you want to proceed?", "❯ 1. Yes", "  2. No", "esc to cancel", "✔ Approved"]
    work = [f"● step {i} done" for i in range(20)]
    text = screen(*old, *work, RULE, "> ", RULE, "  ? for shortcuts", rows=40)
    assert classify(text, "demo").kind == Kind.IDLE
    claude = screen(" Do you want to proceed?", " ❯ 1. Yes", *work, "✻ Working… (3s · esc to interrupt)",
                    RULE, "❯ ", RULE, "  esc to interrupt · ← for agents", rows=40)
    assert classify(claude, "claude").kind == Kind.WORKING


def test_error_in_an_earlier_turn_does_not_fire():
    text = screen("❯ first", "● API Error: overloaded", "❯ try again", "● Done, it worked.", "✻ Baked for 2s",
                  RULE, "❯ ", RULE, "  ? for shortcuts")
    reading = classify(text, "claude")
    assert reading.kind == Kind.IDLE, reading


def test_interrupted_turn_is_idle_not_error():
    text = screen("■ Conversation interrupted - use /feedback if something went wrong",
                  "› Ask Codex to do anything", "  ? for shortcuts")
    assert classify(text, "codex").kind == Kind.IDLE


def test_why_names_the_rule_and_evidence_is_the_matched_lines():
    text = screen(RULE, "Do you want to proceed?", "❯ 1. Yes", "  2. No", "esc to cancel")
    reading = classify(text, "demo")
    assert reading.why == "approval question on screen"
    assert reading.evidence.splitlines() == ["Do you want to proceed?", "❯ 1. Yes", "esc to cancel"]


def test_reading_is_frozen():
    reading = classify(screen("x"), "generic")
    assert isinstance(reading, Reading)
    with pytest.raises(AttributeError):
        reading.kind = Kind.IDLE  # type: ignore[misc]


def test_limit_is_reported_with_any_kind():
    text = screen("● Writing docs.", "5-hour limit reached ∙ resets 3pm", "  /upgrade to increase your usage limit.",
                  RULE, "> ", RULE, "  ? for shortcuts")
    reading = classify(text, "demo")
    assert reading.limit == "5-hour limit reached ∙ resets 3pm"
    assert reading.kind == Kind.ERROR
    assert "usage-limit" in reading.why
    busy = classify(screen("Context left until auto-compact: 0%", "✻ Working… (3s · esc to interrupt)"), "demo")
    assert busy.kind == Kind.WORKING and busy.limit


def test_colour_escapes_and_nbsp_do_not_matter():
    text = screen("\x1b[36m❯\x1b[0m\xa01. Yes", "\x1b[2mesc to cancel\x1b[0m")
    assert classify(text, "demo").kind == Kind.NEEDS_INPUT


# -- error_signature ------------------------------------------------------------------------------


@pytest.mark.parametrize("a,b", [
    ("Error: connection to 127.0.0.1:5433 refused (attempt 1) at 10:00:01",
     "Error: connection to 127.0.0.1:5433 refused (attempt 5) at 10:02:44"),
    ("FAILED tests/test_stock.py::test_low - AssertionError: assert 3 == 4",
     "FAILED tests/test_stock.py::test_low - AssertionError: assert 7 == 9"),
    ("Error: cannot open '/tmp/agent-1234-ab12cd/out.json'", "Error: cannot open '/tmp/agent-99-ffee00/out.json'"),
    ("panic: runtime error: index out of range [5] with length 3",
     "panic: runtime error: index out of range [12] with length 10"),
    ("fatal: unable to access 'https://example.com/a.git/': timeout after 30s",
     "fatal: unable to access 'https://example.com/b.git/': timeout after 31s"),
    ("2026-11-24T16:31:54Z ERROR: worker 0x7f3a2c crashed", "2026-11-25T01:02:03Z ERROR: worker 0x11aa crashed"),
    ("RuntimeError: request 3f2a9c1d-8e7b-4c6d-9a0b-1c2d3e4f5a6b failed",
     "RuntimeError: request 00000000-1111-2222-3333-444444444444 failed"),
    ("KeyError: 'user_17'", "KeyError: 'order_99'"),
    ("✗ 3 tests failed in /work/a/tests", "✗ 12 tests failed in /work/b/tests"),
    ("Error: commit deadbeef42 not found", "Error: commit 0badc0de17 not found"),
    ("\x1b[31mError: disk full (98%)\x1b[0m", "Error: disk full (99%)"),
])
def test_error_signature_folds_variable_parts(a, b):
    sa, sb = error_signature(a), error_signature(b)
    assert sa is not None and sa == sb


@pytest.mark.parametrize("a,b", [
    ("Error: connection refused", "Error: permission denied"),
    ("ValueError: bad input", "KeyError: bad input"),
])
def test_error_signature_keeps_different_errors_apart(a, b):
    assert error_signature(a) != error_signature(b)


@pytest.mark.parametrize("line", [
    "Traceback (most recent call last):",
    "Error: something",
    "error: could not compile `paneboard`",
    "error[E0308]: mismatched types",
    "RuntimeError: internal error: tool call stream closed unexpectedly",
    "FAILED tests/test_x.py::test_y",
    "panic: boom",
    "fatal: not a git repository",
    "java.lang.IllegalStateException: closed",
    "✗ build failed",
    "npm ERR! code ENOENT",
])
def test_error_signature_recognises_error_lines(line):
    assert error_signature(line)


@pytest.mark.parametrize("line", [
    "", "   ", "everything is fine", "5 passed in 0.3s", "0 errors, 2 warnings",
    "● I fixed the error handling in parser.py", "Found no errors.",
])
def test_error_signature_ignores_other_lines(line):
    assert error_signature(line) is None


def test_error_signature_is_short_and_plain():
    sig = error_signature("Error: " + "x" * 5000)
    assert sig is None or len(sig) <= 200
    sig = error_signature("Error: at /very/long/path/to/file.py:123:45 in 'quoted thing'")
    assert "123" not in sig and "quoted" not in sig and "/very" not in sig


# -- strip_ansi -------------------------------------------------------------------------------------


def test_strip_ansi():
    assert strip_ansi("plain\ttext\n") == "plain\ttext\n"
    assert strip_ansi("\x1b[1;31mred\x1b[0m \x1b[38;2;1;2;3mrgb\x1b[m") == "red rgb"
    assert strip_ansi("\x1b]0;title\x07after") == "after"
    assert strip_ansi("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\") == "link"
    assert strip_ansi("a\x1b(Bb\x1b=c\x07d\x08") == "abcd"
    assert strip_ansi("\x1b[?2004hprompt\x1b[2K\r") == "prompt\r"


# -- the screen-reading misses of issue 11 -------------------------------------------------------------

import re as _re  # noqa: E402

from app.agent_files import load as _load_agents  # noqa: E402
from app.config import Settings as _Settings  # noqa: E402
from app.model import Agent as _Agent  # noqa: E402
from app.monitor.facts import Facts as _Facts, apply_reading as _apply_reading, status_of as _status_of  # noqa: E402
from app.triggers import ErrorCounter as _ErrorCounter  # noqa: E402


@pytest.mark.parametrize("prompt", [">", "diff>", "ask>", "architect>", "diff multi>", "whole>", "editor-diff>",
                                    "ask> what does add do"])
def test_aider_reads_idle_in_every_edit_mode_and_its_ready_pattern_sees_the_prompt(prompt):
    text = screen("> fix it", "Applied edit to calc.py", RULE, "calc.py", prompt)
    assert classify(text, "aider").kind == Kind.IDLE
    assert _re.search(PRESETS["aider"].ready, text) or prompt.startswith("ask> what")


def test_aider_ready_pattern_is_not_fooled_by_output_lines():
    assert not _re.search(PRESETS["aider"].ready, screen("a > b", "Tokens: 2k sent, 1k received"))


def test_codex_streaming_answer_reads_working_until_its_turn_ends():
    footer = "← for agents · ? for shortcuts"
    streaming = screen("› what does calc.py do", "• I read calc.py. It defines", "› Ask Codex to do anything",
                       "  GPT-6.2 default · /repo", "  " + footer)
    assert classify(streaming, "codex").kind == Kind.WORKING
    done = screen("› what does calc.py do", "• I read calc.py. It defines add.", "  Worked for 3s • 01:43",
                  "› Ask Codex to do anything", "  " + footer)
    assert classify(done, "codex").kind == Kind.IDLE
    stopped = screen("› what does calc.py do", "• I read calc", "■ Conversation interrupted - use /feedback",
                     "› Ask Codex to do anything", "  " + footer)
    assert classify(stopped, "codex").kind == Kind.IDLE


BOX = ["╭──────────────────────────────────────╮", "│ >                                    │",
       "╰──────────────────────────────────────╯"]


@pytest.mark.parametrize("below", [[], ["  model: local · ctrl+c to quit"], ["  ctx 3%", "  ctrl+c to quit"]])
def test_a_custom_commands_idle_prompt_box_reads_idle(below):
    reading = classify(screen("Hello! How can I help?", *BOX, *below), "generic")
    assert reading.kind == Kind.IDLE, reading
    assert reading.why == "a prompt '>' in an input box"
    typed = [BOX[0], "│ > fix the tests                      │", BOX[2]]
    assert classify(screen("Hello!", *typed, *below), "generic").kind == Kind.IDLE


def test_a_quoted_line_without_a_box_is_not_an_idle_prompt():
    assert classify(screen("Reading the docs", "> quoted text from README", "more output"), "generic").kind is None


@pytest.mark.parametrize("fixture", ["claude/idle-limit-words-in-prose-120x40.txt",
                                     "claude/idle-limit-words-in-prose-80x24.txt"])
def test_prose_and_the_users_prompt_that_name_limits_are_not_a_limit(fixture):
    reading = classify((SCREENS / fixture).read_text(encoding="utf-8"), "claude")
    assert reading.kind == Kind.IDLE and reading.limit is None, reading


@pytest.mark.parametrize("family,text", [
    ("claude", screen("❯ add rate limiting", "● I added rate limiting: callers over the rate limit get a 429.",
                      "✻ Baked for 2s", RULE, "❯ ", RULE, "  ? for shortcuts")),
    ("claude", screen("❯ if you see 'Claude usage limit reached', stop", "● OK.", RULE, "❯ ", RULE)),
    ("codex", screen("› add a quota check", "• Added: requests past the quota exceeded limit now fail.",
                     "  Worked for 3s • 01:43", "› Ask Codex to do anything", "  ? for shortcuts")),
    ("gemini", screen(" > add a usage limit", "✦ I added a usage limit reached message and rate limiting.", RULE,
                      " >   Type your message or @path/to/file")),
    ("aider", screen("> handle rate limit errors", "I added rate limiting to calc.py.", RULE, "calc.py", ">")),
    ("generic", screen("rate limit reached in test fixture", "$")),
])
def test_limit_words_in_ordinary_output_are_not_a_limit(family, text):
    reading = classify(text, family)
    assert reading.limit is None and reading.kind != Kind.ERROR, reading


@pytest.mark.parametrize("family,notice", [
    ("claude", "● API Error: 429 {\"type\":\"rate_limit_error\"}"),
    ("claude", "⎿  Claude usage limit reached. Your limit will reset at 1pm."),
    ("claude", "● 5-hour limit reached ∙ resets 3pm"),
    ("claude", "You've hit your limit · resets 1am (Europe/Paris)"),
    ("codex", "■ You’ve hit your usage limit. Try again later."),
    ("codex", "■ Quota exceeded. Check your plan and billing details."),
    ("gemini", "✕ [API Error: Quota exceeded for quota metric 'Generate Content API requests per minute']"),
    ("aider", "litellm.RateLimitError: RateLimitError: OpenAIException - You exceeded your current quota"),
])
def test_each_clis_own_limit_notice_is_a_limit(family, notice):
    box = {"claude": [RULE, "❯ ", RULE], "codex": ["› Ask Codex to do anything"],
           "gemini": [RULE, " >   Type your message or @path/to/file"], "aider": [RULE, ">"]}[family]
    user = {"claude": "❯ go", "codex": "› go", "gemini": " > go", "aider": "> go"}[family]
    reading = classify(screen(user, notice, *box), family)
    assert reading.limit and notice[:12] in reading.limit, reading


def test_a_limit_notice_the_agent_worked_past_is_not_a_limit():
    limited = screen("❯ go", "● API Error: 429 rate_limit_error", RULE, "❯ ", RULE, "  ? for shortcuts")
    assert classify(limited, "claude").limit
    recovered = screen("❯ go", "● API Error: 429 rate_limit_error", "● Retried: the tests pass now.",
                       "✻ Worked for 40s", RULE, "❯ ", RULE, "  ? for shortcuts")
    reading = classify(recovered, "claude")
    assert reading.limit is None, reading
    codex = screen("› go", "■ You’ve hit your usage limit. Try again later.", "• Continuing: done.",
                   "  Worked for 3s • 01:43", "› Ask Codex to do anything", "  ? for shortcuts")
    assert classify(codex, "codex").limit is None


def test_every_shipped_agent_has_limit_notices():
    reg = _load_agents(SCREENS / "no-user-dir")
    for name, d in reg.agents.items():
        assert d.family.limits, name


@pytest.mark.parametrize("text", ["", "\n\n", "$ opencode\n\n\n", "│                   │\n"])
def test_a_blank_or_nearly_blank_screen_says_so(text):
    reading = classify(text, "opencode")
    assert reading.kind is None and reading.blank


def _facts(screen_text: str, output_at: float | None) -> _Facts:
    agent = _Agent(name="a", task="a", agent="opencode", branch="b", worktree="/tmp", base="main", session="s",
                   pane="%1", pane_alive=True, started_at=100.0, rules="opencode", silence=30.0)
    f = _Facts(agent=agent, errors=_ErrorCounter(3, 60.0))
    f.screen, f.captured, f.last_output_at, f.screen_output_at = screen_text, True, output_at, output_at
    _apply_reading(f, classify(screen_text, "opencode"), 101.0)
    return f


def test_a_just_started_agent_with_a_blank_screen_is_starting_and_never_silent():
    f = _facts("$ opencode\n\n\n", output_at=101.0)
    s = _status_of(f, 102.0, _Settings())
    assert s.kind == Kind.STARTING and "blank" in s.why
    assert _status_of(f, 100.0 + 3600, _Settings()).kind == Kind.STARTING   # long past its silence threshold
    # Once a rule read its screen, a blank redraw later is not a start any more.
    _apply_reading(f, classify("┃  Ask anything…\n  tab agents  ctrl+p commands\n", "opencode"), 103.0)
    f.screen = "\n\n"
    _apply_reading(f, classify(f.screen, "opencode"), 104.0)
    assert _status_of(f, 105.0, _Settings()).kind == Kind.WORKING
