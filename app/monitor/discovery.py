"""Discovery: which agents exist, from tmux and the state file, and what a newly found one already did.

The fleet lists agents (tmux pane options + state records); these functions fold a fresh
listing into the monitor's facts, and give a newly found agent its history back: its log
pipe, the last output time and errors from its log, its hook events, its first screen.
"""

from __future__ import annotations

import logging

from ..tmux import logs
from ..model import Agent
from .agent_events import events_file
from .facts import Facts, restore_from_log, set_stopped

log = logging.getLogger(__name__)

# Fields of an agent that tmux and the state file own; the monitor's own (status, files, triggers) stay.
_OWNED_BY_FLEET = ("task", "agent", "branch", "worktree", "base", "session", "pane", "port", "prompt",
                   "scope", "after", "rules", "silence", "started_at", "pid", "pane_alive",
                   "worktree_exists", "merged", "last_check", "check_running", "prompt_waiting", "host",
                   "unreachable")


def merge_agent(f: Facts, a: Agent, now: float) -> bool:
    """Copy what tmux and the state file say onto the known agent; True if something moved."""
    old = f.agent
    if a.unreachable:
        # Its host did not answer: nothing is known of its pane, so the last known stays (no exit, no loss).
        moved, old.unreachable = old.unreachable != a.unreachable, a.unreachable
        return moved
    moved = (old.pane, old.pane_alive, old.exit_code, old.merged, old.worktree_exists, old.last_check,
             old.check_running, old.unreachable) != \
            (a.pane, a.pane_alive, a.exit_code, a.merged, a.worktree_exists, a.last_check, a.check_running, None)
    if old.pane_alive and not a.pane_alive and f.exited_at is None:
        f.exited_at = now
    if a.pane != old.pane:
        f.captured, f.screen, f.reading = False, "", None
        # A new pane (a restart): the earlier exit is over; if it died already, that is a new exit.
        f.exited_at = None if a.pane_alive else (a.last_activity_at or now)
    for name in _OWNED_BY_FLEET:
        setattr(old, name, getattr(a, name))
    if a.exit_code is not None or not a.pane_alive:
        old.exit_code = a.exit_code if a.exit_code is not None else old.exit_code
    return moved


def fold(facts: dict[str, Facts], fresh: list[Agent], records: dict, now: float, settings,
         initial: bool) -> tuple[list[Facts], list[str], list[str]]:
    """Fold a fresh listing into `facts` (adding and removing entries): (new facts, names that moved, names gone)."""
    seen = set()
    new: list[Facts] = []
    changed: list[str] = []
    for a in fresh:
        if a.pane is None and a.name not in records:
            continue    # its record went while we looked (discarded, forgotten): gone, not vanished
        seen.add(a.name)
        f = facts.get(a.name)
        if f is None:
            f = Facts.new(a, settings)
            f.kind_since = now if not initial else a.status.since
            if not a.pane_alive:
                f.exited_at = a.last_activity_at or None
            facts[a.name] = f
            new.append(f)
        elif merge_agent(f, a, now):
            changed.append(a.name)
        set_stopped(f, records.get(a.name))
    gone = [n for n in facts if n not in seen]
    for n in gone:
        del facts[n]
    return new, changed, gone


def prepare_new(fleet, new: list[Facts], piped: set[str]) -> dict[str, str]:
    """In a thread: open each new pane's log pipe if none is open, restore history from the log,
    and capture the new panes' screens, so that their first status is read, not guessed."""
    live = [f.agent.pane for f in new if f.agent.pane and f.agent.pane_alive]
    try:
        open_now: set[str] | None = logs.open_pipes(fleet.tmux) if live else set()
    except Exception:
        open_now = None         # start_pipe asks pane by pane
    for f in new:
        a = f.agent
        path = logs.log_path(fleet.repo.common_dir, a.name)
        if a.pane and a.pane_alive and a.pane not in piped:
            try:
                logs.start_pipe(fleet.tmux, a.pane, path, is_open=None if open_now is None else a.pane in open_now)
                piped.add(a.pane)
            except Exception:
                log.exception("pipe-pane failed for %s", a.name)
        restore_from_log(f, path)
        f.hook_events = events_file(fleet.repo.common_dir, a.name)
        if a.pane and a.pane_alive and a.last_activity_at and f.last_output_at is None \
                and a.last_activity_at > a.started_at + 1:
            f.last_output_at = a.last_activity_at
    try:
        return fleet.tmux.capture_all(live)
    except Exception:
        log.exception("first capture failed")
        return {}


def recheck_stopped(fleet, f: Facts) -> None:
    """A pane died or vanished: read its record again before calling it a crash.

    The fleet records a kill, discard or merge before it closes the window, but the pane's
    death can reach us before our last look at the state file did.
    """
    if f.killed:
        return
    try:
        data = fleet.state.read()      # one small JSON file, written atomically
    except Exception:
        return
    rec = data["agents"].get(f.agent.name)
    if rec is None and f.agent.name in data.get("discarded", {}):
        rec = {"killed_at": data["discarded"][f.agent.name].get("discarded_at") or 1}
    set_stopped(f, rec)
