"""Item 3's time parts: a limit the agent worked past clears; a quiet retry loop is a `retrying` trigger."""

from __future__ import annotations

from app.config import Settings
from app.model import Agent, Kind, TriggerKind
from app.monitor.facts import Facts, apply_reading, limit_worked_past, note_progress, screen_shape, snapshot
from app.status import Reading
from app.triggers import AgentSnapshot, evaluate

SETTINGS = Settings(quiet_retry=120.0)
NOTICE = "✕ [API Error: 429 Too Many Requests: You exceeded your current quota]"


def kinds(triggers):
    return {t.kind for t in triggers}


def test_spinner_and_timer_redraws_are_not_progress_new_lines_are():
    a = "task\n✻ Pondering… (12s · esc to interrupt)\n> "
    assert screen_shape(a) == screen_shape("task\n✽ Thinking… (13s · esc to interrupt)\n> ")
    assert screen_shape("⠏ Trying again (esc to cancel, 8m 12s)") == screen_shape("⠋ Splines (esc to cancel, 8m 13s)")
    assert screen_shape(a) != screen_shape("task\n• Edited app.py\n✻ Pondering… (12s · esc to interrupt)\n> ")


def working(**kw) -> AgentSnapshot:
    return AgentSnapshot("g", status=Kind.WORKING, started_at=0.0, **kw)


def test_working_with_only_redraws_past_the_threshold_is_retrying():
    s = working(progress_at=100.0, last_output_at=590.0)
    t = [t for t in evaluate(s, 592.0, SETTINGS) if t.kind == TriggerKind.RETRYING]
    assert len(t) == 1 and t[0].since == 100.0
    assert t[0].what.startswith("no progress for 8m 12s: only its spinner/timer redraws")
    assert TriggerKind.RETRYING not in kinds(evaluate(working(progress_at=500.0, last_output_at=590.0), 592.0, SETTINGS))
    # A file change is progress too; idle is no retry; no redraw since progress is silence's business.
    assert TriggerKind.RETRYING not in kinds(evaluate(working(progress_at=100.0, last_output_at=590.0,
                                                              last_file_change_at=580.0), 592.0, SETTINGS))
    idle = AgentSnapshot("g", status=Kind.IDLE, progress_at=100.0, last_output_at=590.0)
    assert TriggerKind.RETRYING not in kinds(evaluate(idle, 592.0, SETTINGS))
    assert TriggerKind.RETRYING not in kinds(evaluate(working(progress_at=100.0, last_output_at=100.0), 592.0,
                                                      Settings(quiet_retry=120.0, silence=10_000)))
    assert TriggerKind.RETRYING not in kinds(evaluate(working(progress_at=100.0, last_output_at=590.0), 592.0,
                                                      Settings(quiet_retry=600.0)))


def facts() -> Facts:
    return Facts.new(Agent("c", "c", "claude", "b", "/w", "main", "s", pane="%1", pane_alive=True), SETTINGS)


def test_a_limit_clears_when_the_screen_shows_new_work_past_the_notice():
    f = facts()
    note_progress(f, f"hi\n{NOTICE}\n> ", 10.0)
    apply_reading(f, Reading(Kind.ERROR, "limit", NOTICE, limit=NOTICE), 10.0)
    assert TriggerKind.LIMIT in kinds(evaluate(snapshot(f, f.agent.status, 11.0), 11.0, SETTINGS))
    # Only its spinner redrew: still the limit.
    note_progress(f, f"hi\n{NOTICE}\n> ", 20.0)
    apply_reading(f, Reading(Kind.WORKING, "spinner", "", limit=NOTICE), 20.0)
    assert not limit_worked_past(f) and f.limit == NOTICE
    # New transcript lines while it works: the notice is over, though still on screen.
    note_progress(f, f"hi\n{NOTICE}\n• Edited app.py\n✻ Working (3s · esc to interrupt)", 30.0)
    apply_reading(f, Reading(Kind.WORKING, "spinner", "", limit=NOTICE), 30.0)
    assert TriggerKind.LIMIT not in kinds(evaluate(snapshot(f, f.agent.status, 31.0), 31.0, SETTINGS))
    apply_reading(f, Reading(Kind.ERROR, "limit", NOTICE, limit=NOTICE), 40.0)
    assert f.limit is None      # the same old notice does not come back
    apply_reading(f, Reading(Kind.ERROR, "limit", "a new notice", limit="429 again: quota exceeded"), 50.0)
    assert f.limit == "429 again: quota exceeded" and f.limit_since == 50.0


def test_a_limit_clears_on_a_working_event_after_it():
    from app import hooks
    f = facts()
    apply_reading(f, Reading(Kind.ERROR, "limit", NOTICE, limit=NOTICE), 10.0)

    class Events:
        hint = hooks.Hint(Kind.WORKING, "hook PreToolUse: running Bash", 5.0, "PreToolUse", "{}")
    f.hook_events = Events()
    assert not limit_worked_past(f)         # an event from before the notice
    Events.hint = hooks.Hint(Kind.WORKING, "hook PreToolUse: running Bash", 12.0, "PreToolUse", "{}")
    assert limit_worked_past(f) and f.limit is None


def test_without_history_the_spinner_timer_dates_the_last_progress():
    from app.monitor.facts import spinner_elapsed
    assert spinner_elapsed("x\n✳ Retrying… (25s · esc to interrupt)\n") == 25
    assert spinner_elapsed("⠏ Trying to reach the model (esc to cancel, 8m 12s)") == 492
    assert spinner_elapsed("it took 5s\n> ") is None
    assert spinner_elapsed("") is None
