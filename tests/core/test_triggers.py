"""Pure trigger rules: scope globs, overlaps, the error window, evaluate() per kind, and the book."""

from __future__ import annotations

import re

import pytest

from app.config import Settings
from app.model import Kind, Trigger, TriggerKind
from app.triggers import AgentSnapshot, ErrorCounter, TriggerBook, evaluate, in_scope, out_of_scope, overlaps

SETTINGS = Settings(silence=60.0, error_count=3, error_window=300.0)


def sig(line: str) -> str | None:
    """A stand-in error signature: lines starting with Error, digits folded."""
    return re.sub(r"\d+", "N", line.strip()) if line.startswith("Error") else None


# -- scope -------------------------------------------------------------------------

@pytest.mark.parametrize("path, globs, expected", [
    ("src/app.py", ["src/**"], True),
    ("src/deep/er/app.py", ["src/**"], True),
    ("srcx/app.py", ["src/**"], False),
    ("README.md", ["src/**"], False),
    ("a/b/c.py", ["*.py"], True),
    ("c.py", ["*.py"], True),
    ("c.pyc", ["*.py"], False),
    ("docs/index.md", ["docs/"], True),
    ("api/docs/index.md", ["docs/"], True),          # no slash inside: any level, like gitignore
    ("docs", ["docs/"], False),                       # "docs/" names a directory only
    ("docs/x.md", ["/docs"], True),
    ("api/docs/x.md", ["/docs"], False),              # leading slash anchors
    ("src/a/test_x.py", ["src/**/test_*.py"], True),
    ("src/test_x.py", ["src/**/test_*.py"], True),
    ("src/a/b.py", ["src/*.py"], False),              # * does not cross /
    ("./src/app.py", ["src/"], True),
    ("src/secret.py", ["src/**", "!src/secret.py"], False),
    ("inventory/stock.py", ["inventory/stock.py", "tests/**"], True),
    ("file1.txt", ["file?.txt"], True),
    ("fileA.txt", ["file[0-9].txt"], False),
    ("anything", [], False),
])
def test_in_scope(path, globs, expected):
    assert in_scope(path, globs) is expected


def test_out_of_scope_empty_scope_allows_everything():
    assert out_of_scope(["a", "b/c"], ()) == []
    assert out_of_scope(["src/a.py", "README.md", "docs/x.md"], ["src/**"]) == ["README.md", "docs/x.md"]


def test_overlaps():
    got = overlaps({"a": {"x.py", "y.py"}, "b": {"y.py", "z.py"}, "c": {"y.py", "x.py"}, "d": set()})
    assert got == {"a": {"b": ["y.py"], "c": ["x.py", "y.py"]},
                   "b": {"a": ["y.py"], "c": ["y.py"]},
                   "c": {"a": ["x.py", "y.py"], "b": ["y.py"]}}
    assert overlaps({"a": {"x"}, "b": {"y"}}) == {}


# -- error counter -------------------------------------------------------------------

def test_error_counter_window():
    c = ErrorCounter(count=3, window=10.0, signature=sig)
    c.feed("Error: refused (attempt 1)", 100.0)
    c.feed("all fine", 101.0)
    c.feed("Error: refused (attempt 2)", 102.0)
    assert c.repeated(103.0) is None
    c.feed("Error: refused (attempt 3)", 104.0)
    s, n, first, example = c.repeated(105.0)
    assert (s, n, first) == ("Error: refused (attempt N)", 3, 100.0)
    assert example == "Error: refused (attempt 3)"
    assert c.next_expiry(105.0) == 110.0
    assert c.repeated(110.5) is None       # the first fell out of the window
    c.feed("Error: other thing", 111.0)
    assert c.repeated(111.0) is None       # different signatures do not add up


def test_error_counter_real_signature_folds_numbers():
    pytest.importorskip("app.status")
    from app.status import error_signature
    c = ErrorCounter(count=3, window=60.0)
    for n in range(1, 4):
        c.feed(f"Error: connection to 127.0.0.1:5433 refused (attempt {n}) at 12:00:0{n}", 10.0 + n)
    rep = c.repeated(14.0)
    assert rep is not None and rep[1] == 3, rep
    assert error_signature("everything is fine") is None


# -- evaluate ------------------------------------------------------------------------

def snap(**kw) -> AgentSnapshot:
    base = dict(name="a", status=Kind.WORKING, status_why="spinner", status_since=100.0, started_at=100.0,
                last_output_at=150.0)
    base.update(kw)
    return AgentSnapshot(**base)


def kinds(triggers):
    return {t.kind for t in triggers}


def test_quiet_working_agent_has_no_triggers():
    assert evaluate(snap(), 160.0, SETTINGS) == []


def test_silence_uses_task_threshold_and_file_changes():
    assert kinds(evaluate(snap(), 210.0, SETTINGS)) == {TriggerKind.SILENCE}
    t = evaluate(snap(), 210.0, SETTINGS)[0]
    assert t.since == 150.0 and "silence threshold" in t.what and t.agent == "a"
    assert evaluate(snap(last_file_change_at=200.0), 210.0, SETTINGS) == []
    assert evaluate(snap(silence=120.0), 210.0, SETTINGS) == []
    assert evaluate(snap(status=Kind.IDLE), 1000.0, SETTINGS) == []          # idle is not stuck
    assert kinds(evaluate(snap(status=Kind.STARTING, last_output_at=None), 161.0, SETTINGS)) == {TriggerKind.SILENCE}


def test_needs_input():
    (t,) = evaluate(snap(status=Kind.NEEDS_INPUT, status_why="asks: Do you want to proceed?",
                         status_evidence="Do you want to proceed?\n❯ 1. Yes", status_since=140.0), 150.0, SETTINGS)
    assert t.kind == TriggerKind.NEEDS_INPUT and t.since == 140.0
    assert "Do you want to proceed?" in t.what and "1. Yes" in t.evidence


def test_repeated_errors():
    (t,) = evaluate(snap(errors=("Error: refused (attempt N)", 4, 120.0, "Error: refused (attempt 4)")),
                    150.0, SETTINGS)
    assert t.kind == TriggerKind.REPEATED_ERRORS and "4 times" in t.what and t.since == 120.0
    assert t.evidence == "Error: refused (attempt 4)"


def test_out_of_scope_and_overlap():
    ts = evaluate(snap(scope=("src/**",), out_of_scope=["README.md"], out_of_scope_since=130.0,
                       overlaps={"b": ["src/x.py"]}, overlap_since=140.0), 150.0, SETTINGS)
    by = {t.kind: t for t in ts}
    assert set(by) == {TriggerKind.OUT_OF_SCOPE, TriggerKind.OVERLAP}
    assert "README.md" in by[TriggerKind.OUT_OF_SCOPE].what and "src/**" in by[TriggerKind.OUT_OF_SCOPE].what
    assert "b (src/x.py)" in by[TriggerKind.OVERLAP].what and by[TriggerKind.OVERLAP].since == 140.0


def test_exited_loud_only_when_failing():
    (t,) = evaluate(snap(status=Kind.EXITED, pane_alive=False, exit_code=3, exited_at=155.0), 160.0, SETTINGS)
    assert t.kind == TriggerKind.EXITED and t.loud and "exit code 3" in t.what and t.since == 155.0
    (t,) = evaluate(snap(status=Kind.EXITED, pane_alive=False, exit_code=0), 160.0, SETTINGS)
    assert not t.loud
    # A dead pane whose exit code tmux has not reported yet: nothing for a moment, then a loud trigger.
    assert evaluate(snap(status=Kind.EXITED, pane_alive=False, exited_at=159.0), 160.0, SETTINGS) == []
    (t,) = evaluate(snap(status=Kind.EXITED, pane_alive=False, exited_at=150.0), 160.0, SETTINGS)
    assert t.loud and "not known" in t.what
    (t,) = evaluate(snap(status=Kind.EXITED, pane_alive=False, pane_gone=True), 160.0, SETTINGS)
    assert "vanished" in t.what
    assert evaluate(snap(status=Kind.EXITED, pane_alive=False, pane_gone=True, killed=True), 160.0, SETTINGS) == []
    assert evaluate(snap(status=Kind.EXITED, pane_alive=False, exit_code=0, merged=True), 160.0, SETTINGS) == []
    # A dead pane is not also silent or waiting.
    assert kinds(evaluate(snap(status=Kind.EXITED, pane_alive=False, exit_code=1), 9999.0, SETTINGS)) == {TriggerKind.EXITED}


def test_limit():
    (t,) = evaluate(snap(status=Kind.IDLE, limit="5-hour limit reached ∙ resets 3pm", limit_since=145.0),
                    150.0, SETTINGS)
    assert t.kind == TriggerKind.LIMIT and "resets 3pm" in t.what and t.since == 145.0


# -- the book --------------------------------------------------------------------------

def T(kind=TriggerKind.SILENCE, since=100.0, what="quiet"):
    from app.model import Trigger
    return Trigger(kind, "a", what, since)


def test_book_raises_once_keeps_since_and_clears():
    book = TriggerBook()
    raised, cleared = book.update("a", [T()], 100.0)
    assert [t.kind for t in raised] == [TriggerKind.SILENCE] and cleared == []
    raised, cleared = book.update("a", [T(since=105.0, what="still quiet")], 106.0)
    assert raised == [] and cleared == []
    (t,) = book.active("a")
    assert t.since == 100.0 and t.what == "still quiet"
    raised, cleared = book.update("a", [], 110.0)
    assert raised == [] and [t.kind for t in cleared] == [TriggerKind.SILENCE]
    assert book.active() == []


def test_book_acknowledge_hides_until_it_fires_again():
    book = TriggerBook()
    book.update("a", [T()], 100.0)
    assert book.acknowledge("a", "silence")
    assert book.visible("a", 101.0) == [] and len(book.active("a")) == 1
    assert book.update("a", [T()], 102.0) == ([], [])          # still hidden while it lasts
    book.update("a", [], 103.0)                                  # cleared
    raised, _ = book.update("a", [T(since=104.0)], 104.0)       # fires again: visible again
    assert len(raised) == 1 and len(book.visible("a", 104.0)) == 1
    assert not book.acknowledge("a", "needs_input")


def test_book_snooze_until_time_then_raise_again():
    book = TriggerBook()
    book.update("a", [T()], 100.0)
    book.snooze("a", "silence", 60.0, 100.0)
    assert book.visible("a", 120.0) == []
    assert book.wake(150.0) == []
    woken = book.wake(161.0)
    assert [t.kind for t in woken] == [TriggerKind.SILENCE]
    assert len(book.visible("a", 161.0)) == 1


def test_book_snoozed_new_trigger_is_not_raised_and_forget_clears():
    book = TriggerBook()
    book.snooze("a", "needs_input", 30.0, 100.0)
    raised, _ = book.update("a", [T(TriggerKind.NEEDS_INPUT)], 110.0)
    assert raised == [] and book.visible("a", 110.0) == []
    assert [t.kind for t in book.wake(131.0)] == [TriggerKind.NEEDS_INPUT]
    assert [t.kind for t in book.forget("a")] == [TriggerKind.NEEDS_INPUT]


# -- restart memory (app.monitor's pure helpers) -------------------------------------

def test_carry_since_keeps_the_first_time_of_a_trigger_across_a_restart():
    from app.monitor.attention import carry_since as _carry_since
    asked = Trigger(TriggerKind.NEEDS_INPUT, "a", "waits", 500.0)           # a restart says "since now"
    assert _carry_since(asked, 100.0).since == 100.0
    assert _carry_since(asked, None).since == 500.0
    assert _carry_since(asked, 900.0).since == 500.0                          # a later time is not earlier news
    quiet = Trigger(TriggerKind.SILENCE, "a", "quiet", 100.6)                # recomputed from the log: the truth
    assert _carry_since(quiet, 100.0).since == 100.0                          # the same occurrence
    assert _carry_since(Trigger(TriggerKind.SILENCE, "a", "quiet", 300.0), 100.0).since == 300.0   # a new one


def test_hidden_triggers_round_trip_and_expired_snoozes_drop(tmp_path):
    from app.monitor.attention import read_hidden as _read_hidden, write_hidden as _write_hidden
    path = tmp_path / "paneboard" / "triggers.json"
    assert _read_hidden(path, 0.0) == ({}, {})
    _write_hidden(path, {("a", "needs_input"): 100.1234}, {("b", "limit"): 200.0, ("c", "silence"): 50.0})
    acks, snoozes = _read_hidden(path, 100.0)
    assert acks == {("a", "needs_input"): 100.123}
    assert snoozes == {("b", "limit"): 200.0}
    assert not list(path.parent.glob(".triggers.json-*"))                    # written through a temp file
    path.write_text("{not json")
    assert _read_hidden(path, 100.0) == ({}, {})


def test_a_stop_counts_only_for_the_run_it_ended():
    from app.monitor.facts import stopped_why as _stopped_why
    assert _stopped_why({"started_at": 100.0, "killed_at": 150.0}) == "stopped with paneboard"
    assert "restored" in _stopped_why({"started_at": 100.0, "restored_at": 200.0})
    assert _stopped_why({"started_at": 100.0, "merged": True}) == "merged"
    assert _stopped_why({"started_at": 300.0, "killed_at": 150.0}) == ""      # started again since
    assert _stopped_why({"started_at": 100.0}) == _stopped_why(None) == ""
