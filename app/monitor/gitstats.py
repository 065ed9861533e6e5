"""File activity to git stats: at most one refresh in flight per worktree, a few worktrees at a time.

A file event only says "this worktree changed"; what changed is asked of git (watchfiles can
miss files created right after their directory). Events during a refresh ask for one more
refresh after it, `debounce` later, so a burst of writes costs at most two.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from dataclasses import dataclass
from typing import Awaitable, Callable

log = logging.getLogger(__name__)


@dataclass
class _Slot:
    task: asyncio.Task | None = None
    again: bool = False


class StatsScheduler:
    """Runs `refresh(name)` per agent after file activity, coalesced, with at most `parallel` at once.

    `refresh` returns False when there is nothing more to do for the agent (its worktree went, or
    git failed): a refresh asked for meanwhile is then dropped, not run.
    """

    def __init__(self, refresh: Callable[[str], Awaitable[bool]], *, debounce: float, parallel: int = 4):
        self._refresh = refresh
        self.debounce = debounce
        self._parallel = asyncio.Semaphore(parallel)
        self._slots: dict[str, _Slot] = {}

    def schedule(self, name: str, delay: float | None = None) -> None:
        """Refresh the agent's git stats after `delay` (the debounce by default), or once more if one runs."""
        slot = self._slots.setdefault(name, _Slot())
        if slot.task is not None and not slot.task.done():
            slot.again = True
            return
        slot.task = asyncio.create_task(self._run(name, slot, self.debounce if delay is None else delay))

    async def _run(self, name: str, slot: _Slot, delay: float) -> None:
        while True:
            await asyncio.sleep(delay)
            delay = self.debounce
            slot.again = False
            async with self._parallel:
                more = await self._refresh(name)
            if not more or not slot.again:
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


async def read_worktree(repo_root: Path, f) -> tuple | None:
    """("stats", stats, newest file time or None) of the agent's worktree, read in a thread; ("missing",
    its branch's stats) when the worktree was removed outside paneboard; None when there is nothing to read."""
    from .once import branch_stats, stats_with_mtime
    a = f.agent
    if a.worktree and not a.merged and not Path(a.worktree).is_dir():
        return "missing", await asyncio.to_thread(branch_stats, repo_root, a.branch, a.base)
    if not a.worktree_exists or a.merged:
        return None
    try:
        s, newest = await asyncio.to_thread(stats_with_mtime, a.worktree, a.base, not f.stats_done)
    except Exception:
        log.exception("stats failed for %s", a.name)
        return None
    return "stats", s, newest
