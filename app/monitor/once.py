"""One look at the fleet without history: every agent's status and triggers now, for `paneboard ls`."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..tmux import logs
from ..git import worktrees
from ..model import Agent
from ..triggers import TriggerBook, evaluate
from .agent_events import events_file
from ..errors import PaneboardError
from .facts import Facts, apply_conflicts, apply_overlaps, apply_reading, apply_scope, apply_stats, classify, \
    restore_from_log, seed_errors_from_screen, snapshot, status_of, stopped_why


def newest_mtime(worktree: str, files) -> float | None:
    """The newest modification time among these worktree files (None if none can be read)."""
    newest = None
    for f in files:
        try:
            m = os.stat(os.path.join(worktree, f)).st_mtime
        except OSError:
            continue
        newest = m if newest is None or m > newest else newest
    return newest


def stats_with_mtime(worktree: str, base: str, with_mtime: bool):
    """The worktree's git stats, and (when asked) its newest changed file's time, which after a
    restart stands in for the last file event."""
    s = worktrees.stats(Path(worktree), base)
    return s, (newest_mtime(worktree, s.files) if with_mtime else None)


def _gather(fleet, now: float) -> tuple[list[Agent], dict[str, Facts], dict, dict[str, str]]:
    """In parallel: records, screens, git stats and logs of every agent, as facts."""
    settings = fleet.settings
    with ThreadPoolExecutor(8) as pool:
        records_f = pool.submit(lambda: fleet.state.read()["agents"])
        agents = fleet.agents(stats=False)
        live = [a for a in agents if a.pane and a.pane_alive]
        screens_f = pool.submit(fleet.tmux.capture_all, [a.pane for a in live])
        stats_f = {a.name: pool.submit(stats_with_mtime, a.worktree, a.base, True)
                   for a in agents if a.worktree_exists and not a.merged}
        facts: dict[str, Facts] = {}
        for a in agents:
            f = Facts.new(a, settings)
            f.kind_since = a.status.since
            f.exited_at = None if a.pane_alive else (a.last_activity_at or None)
            facts[a.name] = f
        log_f = [pool.submit(restore_from_log, facts[a.name], logs.log_path(fleet.repo.common_dir, a.name))
                 for a in agents]
        for a in agents:
            facts[a.name].hook_events = events_file(fleet.repo.common_dir, a.name)
        records = records_f.result()
        screens = screens_f.result()
        for name, fut in stats_f.items():
            s, newest = fut.result()
            apply_stats(facts[name], s, None)
            facts[name].last_file_change_at = newest
        for fut in log_f:
            fut.result()
    return agents, facts, records, screens


def predicted_conflicts(repo_root: Path, agents: list[Agent]) -> dict[str, tuple[str, ...]]:
    """Per agent with changes: the files its merge into its base is predicted to conflict in (git merge-tree)."""
    from ..git import merge as merging
    todo = [a for a in agents if a.worktree_exists and not a.merged and a.files]

    def one(a: Agent) -> tuple[str, ...]:
        try:
            # Only where the base moved since the agent forked can it conflict: two git calls for the rest.
            if not merging.may_conflict(Path(a.worktree), a.base, a.files):
                return ()
            return merging.predict_agent(repo_root, a.base, Path(a.worktree)).conflicts
        except (PaneboardError, OSError):
            return ()     # no base, or a worktree going away: nothing to predict, nothing to raise
    with ThreadPoolExecutor(8) as pool:
        return dict(zip([a.name for a in todo], pool.map(one, todo)))


def assess_once(fleet, now: float | None = None) -> list[Agent]:
    """Every agent with status and triggers from what can be known without history (for `ls --json`)."""
    now = time.time() if now is None else now
    settings = fleet.settings
    agents, facts, records, screens = _gather(fleet, now)
    for a in agents:
        f = facts[a.name]
        f.stopped_why = stopped_why(records.get(a.name))
        f.killed = bool(f.stopped_why)
        if a.pane and a.pane_alive:
            # tmux's window_activity stands in for the last output when there is no log.
            f.last_output_at = max(f.last_output_at or 0.0, a.last_activity_at or 0.0) or None
            f.screen = screens.get(a.pane, "")
            f.captured = True
            f.screen_output_at = f.last_output_at
            seed_errors_from_screen(f, f.last_output_at or now)
            apply_reading(f, classify(f.screen, a.rules), now)
        apply_scope(f, now)
    apply_overlaps(facts, now)
    for name, files in predicted_conflicts(fleet.repo.root, agents).items():
        apply_conflicts(facts[name], files, now)
    book = TriggerBook()
    for a in agents:
        f = facts[a.name]
        a.status = status_of(f, now, settings)
        book.update(a.name, evaluate(snapshot(f, a.status, now), now, settings), now)
        a.triggers = book.active(a.name)
        a.last_activity_at = max(a.started_at, f.last_output_at or 0.0, f.last_file_change_at or 0.0)
    return agents


def assess_agent(fleet, name: str, now: float | None = None) -> Agent:
    """One agent's status now, from its pane, screen, hooks and log (no git, no triggers): a guard's cheap look."""
    now = time.time() if now is None else now
    a = fleet.get(name, stats=False)
    f = Facts.new(a, fleet.settings)
    f.kind_since = a.status.since
    f.exited_at = None if a.pane_alive else (a.last_activity_at or None)
    restore_from_log(f, logs.log_path(fleet.repo.common_dir, a.name))
    f.hook_events = events_file(fleet.repo.common_dir, a.name)
    f.stopped_why = stopped_why(fleet.state.read()["agents"].get(a.name))
    f.killed = bool(f.stopped_why)
    if a.pane and a.pane_alive:
        # As in assess_once: tmux's window_activity stands in for the last output.
        f.last_output_at = max(f.last_output_at or 0.0, a.last_activity_at or 0.0) or None
        f.screen = fleet.tmux.capture(a.pane)
        f.captured = True
        f.screen_output_at = f.last_output_at
        apply_reading(f, classify(f.screen, a.rules), now)
    a.status = status_of(f, now, fleet.settings)
    return a
