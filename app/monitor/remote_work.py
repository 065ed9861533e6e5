"""Remote agents in conflict prediction: their work fetched here when it changed, then predicted like a local one's.

A host sends no file events and its worktrees are not here. After each stats read on the host
(`remote_link.py`), an agent whose work fingerprint moved since its last fetch has its work
snapshotted there and fetched into `refs/paneboard/remote/<host>/<branch>` (`fleet.host_work`):
in a thread, at most once per agent per `interval`, never two at once per host. The fetched commit
then takes part in prediction as a local agent's snapshot does (a `Work` in this repository).

A fetch that fails (the host went away, git refused) keeps the last fetched commit in prediction,
and its conflicts say they are as of that fetch (`stale`), as they do while the host is unreachable.
Nothing retries on its own: the next stats read that finds the work (every 30 s at most, never
while the host is unreachable) asks again, so a host that is away costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Callable

from ..git.prediction import Work
from ..git.worktrees import run_git

log = logging.getLogger(__name__)


def changed_files(root: Path, base: str, commit: str) -> frozenset[str]:
    """The paths the fetched work changed since it forked from base (one local git call)."""
    out = run_git(root, "diff", "--name-only", "-z", "--no-renames", "--merge-base", f"refs/heads/{base}", commit)
    return frozenset(p for p in out.split("\0") if p)


class RemoteWork:
    """Keeps each remote agent's fetched work current in `predictions`, at a bounded cost per agent and host."""

    def __init__(self, fleet, predictions, on_change: Callable[[], None], *, interval: float = 5.0,
                 clock: Callable[[], float] = time.monotonic):
        self.fleet = fleet
        self.root = Path(fleet.repo.root)
        self._predictions = predictions
        self._on_change = on_change
        self.interval = interval
        self.clock = clock
        self.stale: dict[str, str] = {}             # agent -> why its predictions are as of an older fetch
        self.fetches = 0
        self._seen: dict[str, tuple[str, object]] = {}       # agent -> (newest work fingerprint, agent)
        self._fetched: dict[str, tuple[str, float]] = {}     # agent -> (fingerprint fetched, wall time)
        self._tried: dict[str, float] = {}
        self._tasks: dict[str, asyncio.Task] = {}
        self._hosts: dict[str, asyncio.Lock] = {}
        self._generation = 0
        predictions.stale = self.stale

    def took(self, agent, stats) -> None:
        """The agent's stats were read on its host: fetch its work if it changed since the last fetch."""
        name = agent.name
        if not stats.files or not getattr(stats, "work", "") or agent.merged:
            self.forget(name)
            self._predictions.update(name, None)
            return
        self._seen[name] = (stats.work, agent)
        if self._fetched.get(name, ("",))[0] == stats.work:
            self._fresh(name)
            return
        task = self._tasks.get(name)
        if task is None or task.done():
            self._tasks[name] = asyncio.create_task(self._fetch_while_changed(name))

    def follow(self, facts) -> None:
        """After a listing: an agent whose host is unreachable is predicted from its last fetch, and says so."""
        for f in facts:
            a = f.agent
            if a.host and a.unreachable and a.name in self._fetched and a.name not in self.stale:
                self._mark(a.name, f"host {a.host} is unreachable")

    def forget(self, name: str) -> None:
        """The agent is gone or has nothing to merge: stop fetching it."""
        task = self._tasks.pop(name, None)
        if task is not None:
            task.cancel()
        self._seen.pop(name, None)
        self._fetched.pop(name, None)
        self._tried.pop(name, None)
        if self.stale.pop(name, None) is not None:
            self._on_change()

    def close(self) -> None:
        """Cancel every fetch (a git child of one is killed by its own timeout, never left holding a ref)."""
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()

    async def _fetch_while_changed(self, name: str) -> None:
        while name in self._seen and self._seen[name][0] != self._fetched.get(name, ("",))[0]:
            wait = self._tried.get(name, float("-inf")) + self.interval - self.clock()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            work, agent = self._seen[name]
            async with self._hosts.setdefault(agent.host, asyncio.Lock()):
                self._tried[name] = self.clock()
                try:
                    commit, files = await asyncio.to_thread(self._bring, agent)
                except Exception as exc:     # HostUnreachable, git refused: the last fetch stays
                    self._failed(name, agent, exc)
                    return
            self.fetches += 1
            self._fetched[name] = (work, time.time())
            self._generation += 1
            if files:
                self._predictions.update(name, Work(self.root, files, commit, False, self._generation))
            self._fresh(name)

    def _bring(self, agent) -> tuple[str, frozenset[str]]:
        commit = self.fleet.host_work(agent)
        return commit, changed_files(self.root, agent.base, commit)

    def _failed(self, name: str, agent, exc: Exception) -> None:
        self._predictions._tell(name, f"its work could not be fetched from host {agent.host}: {exc}")
        if name in self._fetched:
            self._mark(name, f"fetching it again failed: {exc}")

    def _mark(self, name: str, why: str) -> None:
        at = time.strftime("%H:%M:%S", time.localtime(self._fetched[name][1]))
        self.stale[name] = f"as of its work fetched at {at}; {why}"
        self._on_change()

    def _fresh(self, name: str) -> None:
        if self.stale.pop(name, None) is not None:
            self._on_change()
