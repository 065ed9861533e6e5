"""When to predict merges: after an agent's work changed, trailing edge with a maximum wait, in a thread.

A burst of updates delays a round by at most `max_wait` (the wait is counted from the first
change a round serves, and never restarted), and rounds start at most every `interval`, so
predictions during continuous work are at most `max_wait` plus one round old. Each round asks `FleetPredictor` only about the agents whose
work changed since the last one (all of them when the base moved); it answers from its cache
what those changes cannot have touched. The base is read again every `base_every` seconds,
since a commit in the main checkout is no file event of any agent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from .. import probe
from ..errors import PaneboardError
from ..git.prediction import FleetPredictor, Round, Work
from ..git.procs import Stopped
from ..git.worktrees import head_branch

log = logging.getLogger(__name__)


@dataclass
class Predictions:
    """The newest answers: per agent against the base, per pair of agents (conflicting files; () is clean)."""

    base: str = ""
    vs_base: dict[str, tuple[str, ...]] = field(default_factory=dict)
    pairs: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    version: int = 0            # bumped when an answer changed
    at: float | None = None     # when the newest round began (what it says was true then)
    stale: dict[str, str] = field(default_factory=dict)   # remote agent -> why its answers are from an older fetch


class PredictionScheduler:
    """Keeps `Predictions` current from the agents' work, never starved by a burst, stoppable at once."""

    def __init__(self, repo_root: Path, base: Callable[[], str | None], run, on_round: Callable[[Round], None],
                 note: Callable[[str, str], None], *, debounce: float = 0.5, max_wait: float = 5.0,
                 interval: float = 5.0, base_every: float = 3.0, clock: Callable[[], float] = time.time):
        self.engine = FleetPredictor(repo_root, run)
        self._base = base
        self._on_round = on_round
        self._note = note
        self.debounce, self.max_wait, self.base_every = debounce, max(max_wait, debounce), base_every
        self.interval = min(interval, self.max_wait)   # rounds at most this often, however busy the agents
        self._started = float("-inf")
        self.clock = clock
        self.latest = Predictions()
        self.rounds = 0
        self._work: dict[str, Work] = {}
        self._changed: set[str] = set()
        self._first: float | None = None
        self._last = 0.0
        self._wake: asyncio.Event | None = None
        self._told: dict[str, str] = {}
        self.stale: dict[str, str] = {}     # kept by `remote_work.RemoteWork`

    def update(self, name: str, work: Work | None) -> None:
        """The agent's work after a stats refresh (None: nothing to predict for it any more)."""
        if work is None:
            if self._work.pop(name, None) is None:
                return
        else:
            self._work[name] = work
        self._changed.add(name)
        now = self.clock()
        self._last = now
        if self._first is None:
            self._first = now
        if self._wake is not None:
            self._wake.set()

    def restale(self) -> None:
        """The notes on remote agents' fetched work changed: the newest answers carry them (a new version)."""
        if self.latest.stale != self.stale:
            self.latest = replace(self.latest, stale=dict(self.stale), version=self.latest.version + 1)

    def predict_now(self) -> None:
        """Run a round as soon as possible (the base is read again; cached answers still hold)."""
        self._first = self._last = self.clock() - self.max_wait
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        """Predict until cancelled."""
        self._wake = asyncio.Event()
        while True:
            due = self._due()
            wait = self.base_every if due is None else due - self.clock()
            if wait > 0:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), min(wait, self.base_every))
                    continue            # something changed: due again
                except asyncio.TimeoutError:
                    if due is None and not self._work:
                        continue
            await self._round()

    def _due(self) -> float | None:
        if self._first is None:
            return None
        quiet = min(self._last + self.debounce, self._first + self.max_wait)
        return max(quiet, min(self._started + self.interval, self._first + self.max_wait))

    async def _round(self) -> None:
        changed, work, started = self._changed, dict(self._work), self.clock()
        self._started = started
        self._changed, self._first = set(), None
        try:
            base = self._base()
            if base is None:
                raise PaneboardError("the main checkout has a detached HEAD: set `base:` to predict merges")
            result = await asyncio.to_thread(self.engine.update, base, work, changed)
        except Stopped:
            return
        except (PaneboardError, OSError) as exc:
            self._changed |= changed        # tried again at the next round
            self._tell("", f"conflict prediction failed: {exc}")
            return
        self.rounds += 1
        for name, why in result.failed.items():
            self._tell(name, f"conflict prediction skipped: {why}")
        new = Predictions(base, result.vs_base, result.pairs, self.latest.version, started, dict(self.stale))
        if (new.base, new.vs_base, new.pairs, new.stale) != (self.latest.base, self.latest.vs_base,
                                                             self.latest.pairs, self.latest.stale):
            new.version += 1
        self.latest = new
        probe.mark("predicted", at=started)     # what the round says was true when it began (a benchmark's age)
        self._on_round(result)

    def _tell(self, name: str, what: str) -> None:
        """One note per distinct failure, not one per round."""
        if self._told.get(name) != what:
            self._told[name] = what
            self._note(name or "monitor", what)


def fleet_base(settings, repo_root: Path) -> str | None:
    """The branch predictions merge into: `base:` when set, else the main checkout's branch (read, no git)."""
    return settings.base or head_branch(repo_root)
