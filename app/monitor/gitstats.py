"""File activity to git stats: at most one refresh in flight per worktree, a few worktrees at a time.

A file event only says "this worktree changed"; what changed is asked of git (watchfiles can
miss files created right after their directory). Refreshes are trailing-edge with a maximum
wait: one runs `debounce` after the last event, but never later than `max_wait` after the first
event it serves, so an agent that writes without pause is still refreshed; and a worktree is
refreshed at most once every `interval`, so a busy agent costs a bounded number of git calls.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Awaitable, Callable

from ..model import Kind
from . import agent_events as events
from .facts import apply_scope, apply_stats
from .once import settle_since

if TYPE_CHECKING:  # watchfiles loads only for the live monitor, not `ls`
    from .watch import FileActivity

log = logging.getLogger(__name__)


@dataclass
class _Slot:
    task: asyncio.Task | None = None
    first: float | None = None      # the first event not yet served by a refresh
    last: float = 0.0               # the newest event
    started: float = float("-inf")  # when the last refresh began


class WorktreeStats:
    """The monitor's file events and stats refreshes: a change in one worktree costs work for that agent,
    and for the agents whose overlap with it moved, never a pass over the fleet (mixed into `Monitor`)."""

    def _on_files(self, act: FileActivity) -> None:
        self.counters["file_batches"] += 1
        if Path(act.worktree) == self._hooks_root:
            for name in events.hook_files_changed(self._facts, None if act.resync else act.paths):
                self._reassess(name)
            return
        if Path(act.worktree) == self._checks_root:
            self._rediscover_now.set()      # the check's record is in the state file: read it again
            return
        name = self._by_worktree.get(str(act.worktree))
        if name is None:
            return
        f = self._facts[name]
        if act.resync:              # not activity: the watcher (re)started, so re-read git
            self.stats.schedule(name)
            return
        f.last_file_change_at = max(f.last_file_change_at or 0.0, act.at)
        self.stats.schedule(name)
        if f.agent.status.kind in (Kind.SILENT, Kind.STARTING):
            self._reassess(name)

    async def _refresh_stats(self, name: str) -> bool:
        """Read the agent's git stats and judge it (and whoever it overlaps with) again."""
        f = self._facts.get(name)
        if f is not None and f.agent.host:      # on another host: git runs there
            from .remote_link import read_host_stats
            read = await read_host_stats(self.fleet, f)
            if read is None:                     # its host does not answer: its last stats stay
                self._settled(name)
                return False
        else:
            read = await read_worktree(self.fleet.repo.root, f, self.git) if f is not None else None
        if read is not None and read[0] == "failed":     # git refused (a corrupt index): said once, tried again later
            self.predictions._tell(name, f"git cannot read its worktree: {read[1]}")
            return True
        if read is None or read[0] == "missing":
            if read is not None:         # removed outside paneboard: its branch's stats go into its why
                apply_stats(f, read[1], None)
                self._reassess(name)
            self._took_files(name, None)
            self._settled(name)
            return False
        _, s, newest = read
        a = f.agent
        self.counters["stats"] += 1
        first, f.stats_done = not f.stats_done, True
        now = self.clock()
        apply_stats(f, s, newest)
        if self.timeline.stats(a):      # the subjects are read in its worktree, or by git on its host
            await asyncio.to_thread(self.timeline.commits, a, self.fleet.host_commit_subjects if a.host else None)
        apply_scope(f, now)
        if a.host:          # its work is fetched here when it changed, then predicted (remote_work.py)
            self.remote_work.took(a, s)
        moved = self._took_files(name, None if a.host else work_of(f, s), predict=not a.host) | {a.name}
        if first:
            # Found already true, not seen beginning: it began when its files were written (as `ls` says).
            settle_since(self._facts, moved)
        # Sorted: the order triggers are raised in is the order the log shows them.
        for other in sorted(moved):
            self._reassess(other)
        self._settled(name)
        return True

    def _took_files(self, name: str, work, predict: bool = True) -> set[str]:
        """The agent's changed files moved: its overlaps and predictions follow; the agents whose overlap moved."""
        if predict:
            self.predictions.update(name, work)
        return set(self.overlaps.update(self._facts, name, self.clock()))



class StatsScheduler:
    """Runs `refresh(name)` per agent after file activity, coalesced, with at most `parallel` at once.

    `refresh` returns False when there is nothing more to do for the agent (its worktree went, or
    git failed): a refresh asked for meanwhile is then dropped, not run.
    """

    def __init__(self, refresh: Callable[[str], Awaitable[bool]], *, debounce: float, max_wait: float = 2.0,
                 interval: float = 1.0, parallel: int = 4, clock: Callable[[], float] = time.monotonic):
        self._refresh = refresh
        self.debounce = debounce
        self.max_wait = max(max_wait, debounce)
        self.interval = interval
        self.clock = clock
        self._parallel = asyncio.Semaphore(parallel)
        self._slots: dict[str, _Slot] = {}
        self.runs = 0

    def schedule(self, name: str, delay: float | None = None) -> None:
        """Refresh the agent's git stats after `delay` (the debounce by default), coalesced with what is pending."""
        slot = self._slots.setdefault(name, _Slot())
        now = self.clock()
        slot.last = now + (0.0 if delay is None else delay - self.debounce)
        if slot.first is None:
            slot.first = now
        if slot.task is None or slot.task.done():
            slot.task = asyncio.create_task(self._run(name, slot))

    def _due(self, slot: _Slot) -> float:
        quiet = min(slot.last + self.debounce, slot.first + self.max_wait)
        return max(quiet, min(slot.started + self.interval, slot.first + self.max_wait))

    async def _run(self, name: str, slot: _Slot) -> None:
        while slot.first is not None:
            wait = self._due(slot) - self.clock()
            if wait > 0:
                await asyncio.sleep(wait)
                continue            # more events may have come meanwhile: due again
            async with self._parallel:
                slot.first, slot.started = None, self.clock()
                self.runs += 1
                more = await self._refresh(name)
            if not more:
                slot.first = None
                return

    def forget(self, name: str) -> None:
        """The agent is gone: cancel its refresh."""
        slot = self._slots.pop(name, None)
        if slot is not None and slot.task is not None:
            slot.task.cancel()

    def close(self) -> None:
        """Cancel every refresh."""
        for slot in self._slots.values():
            if slot.task is not None:
                slot.task.cancel()


async def read_worktree(repo_root: Path, f, run=None) -> tuple | None:
    """("stats", stats, newest file time or None) of the agent's worktree, read in a thread; ("missing",
    its branch's stats) when the worktree was removed outside paneboard; ("failed", git's message) when git
    could not read it; None when there is nothing to read (or the monitor is stopping)."""
    from ..git.procs import Stopped
    from ..git.worktrees import StatsFailed
    from .once import branch_stats, stats_with_mtime
    a = f.agent
    if a.worktree and not a.merged and not Path(a.worktree).is_dir():
        return "missing", await asyncio.to_thread(branch_stats, repo_root, a.branch, a.base)
    if not a.worktree_exists or a.merged:
        return None
    try:
        s, newest = await asyncio.to_thread(stats_with_mtime, a.worktree, a.base, not f.stats_done, run)
    except Stopped:
        return None
    except (StatsFailed, OSError) as exc:
        if not Path(a.worktree).is_dir():       # it vanished while git read it
            return "missing", await asyncio.to_thread(branch_stats, repo_root, a.branch, a.base)
        return "failed", str(exc)
    except Exception:
        log.exception("stats failed for %s", a.name)
        return None
    return "stats", s, newest


def work_of(f, s):
    """What a prediction needs of an agent after a stats refresh (None: it has nothing to merge)."""
    from ..git.prediction import Work
    a = f.agent
    if not s.files or not s.head or a.merged or not a.worktree_exists:
        return None
    f.generation += 1
    return Work(Path(a.worktree), frozenset(s.files), s.head, s.dirty, f.generation)
