"""The live monitor: wires the event sources to each agent's facts, and its status and triggers to the publisher.

Sources: the tmux control client (output, pane deaths, windows), screen captures scheduled
after output, one watchfiles watcher over every worktree and the hooks directory, and a 1 s
tick for what only time changes (silence, snoozes, exit codes), which judges only the agents whose
time thresholds are due. Each source updates the
facts of one agent and asks `_reassess` for it; nothing passes over the whole fleet per event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import AsyncIterator, Callable

from .. import hooks
from ..git.procs import Runner
from ..model import Agent, Trigger
from ..triggers import TriggerBook, evaluate, time_due
from . import agent_events as events
from .attention import Attention
from .captures import CaptureScheduler
from .control_link import ControlLink
from .discovery import fold, prepare_new
from .facts import Facts, apply_conflicts, snapshot, status_since
from .gitstats import StatsScheduler, WorktreeStats
from .pane_events import PaneEvents
from .overlap import OverlapIndex
from .predict import PredictionScheduler, Predictions, fleet_base
from .limits import Parking
from .publish import Publisher, Update, coordination, status_file_paths
from .remote_events import RemoteEvents
from .remote_link import RemoteLinks
from .remote_work import RemoteWork
from .timeline_feed import TimelineFeed
from .writer import WriterDuty, WriterLock

log = logging.getLogger(__name__)

# At most this long after a start, triggers found while the first diffs come in are "found", not news.
SETTLE_SECONDS = 5.0


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _call_on(loop: asyncio.AbstractEventLoop | None, fn, *args):
    """Call fn on the monitor's loop and return its result, from the loop or any other thread."""
    if loop is None or loop.is_closed() or _running_loop() is loop:
        return fn(*args)
    done: Future = Future()

    def call() -> None:
        try:
            done.set_result(fn(*args))
        except BaseException as exc:   # handed to the calling thread
            done.set_exception(exc)

    loop.call_soon_threadsafe(call)
    return done.result(timeout=10)


class Monitor(WorktreeStats, PaneEvents, WriterDuty):
    """Drives every event source and keeps each agent's status and triggers current."""

    def __init__(self, fleet, clock: Callable[[], float] = time.time, *,
                 capture_delay: float = 0.04, capture_interval: float = 1.0, tick: float = 1.0,
                 rediscover_every: float = 10.0, max_rate: float = 20.0, stats_debounce: float = 0.1,
                 stats_interval: float = 4.0, predict_max_wait: float = 5.0,
                 watch_step: int = 50, watch_debounce: int = 200, write_status: bool = True,
                 control_factory: Callable | None = None, watch_only: bool = False):
        self.fleet = fleet
        # Only the repository's writer writes status files and timelines, runs on_trigger and resumes
        # (writer.py); a read-only dashboard never becomes it.
        self.watch_only = watch_only
        self.writer = WriterLock(fleet.repo.state_dir, enabled=not watch_only)
        self.status_files = write_status
        self.settings = fleet.settings
        self.clock = clock
        self.tick = tick
        self.rediscover_every = rediscover_every
        self.counters = {"captures": 0, "outputs": 0, "stats": 0, "file_batches": 0, "rediscoveries": 0,
                         "updates": 0, "hooks": 0, "control_starts": 0, "ticks": 0,
                         "tick_judged": 0}
        self.book = TriggerBook()
        self.attention = Attention(self.book, fleet.repo.state_dir / "triggers.json", clock)
        self.publisher = Publisher(fleet, clock, self.counters, max_rate=max_rate, write_status=False, commands=False)
        self.timeline = TimelineFeed(fleet.timeline, writes=False, human=not watch_only)
        self.captures = CaptureScheduler(self._capture, delay=capture_delay, interval=capture_interval)
        self.git = Runner()         # every git child of stats and predictions: counted, killed on close
        # A worktree written without pause is read at most every `stats_interval` (two git processes each).
        self.stats = StatsScheduler(self._refresh_stats, debounce=stats_debounce, interval=stats_interval,
                                    max_wait=stats_interval)
        self.overlaps = OverlapIndex()
        root = fleet.repo.root
        self.predictions = PredictionScheduler(root, lambda: fleet_base(self.settings, root), self.git,
                                               self._predicted, self.publisher.note, max_wait=predict_max_wait)
        self.parking = Parking(fleet, clock, self._reassess, self.publisher.note, sends=lambda: self.writes)
        self._rediscover_now = asyncio.Event()
        self.link = ControlLink(fleet, clock, self.counters, on_event=self._on_control_event,
                                wake=self._rediscover_now.set, factory=control_factory)
        self._hosts(fleet, clock)
        from .watch import Watcher  # watchfiles/anyio load only for the live monitor, not `ls`
        self.watcher = Watcher(step=watch_step, debounce=watch_debounce)
        self._facts: dict[str, Facts] = {}
        self._by_pane: dict[str, str] = {}
        self._by_worktree: dict[str, str] = {}
        self._piped: set[str] = set()
        self._order: list[str] = []
        self._copies: dict[str, Agent] = {}     # what agents() handed out last, per agent
        self._dirty: set[str] = set()           # agents changed since (a copy of them is due)
        self._tasks: list[asyncio.Task] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._hooks_root = hooks.hooks_dir(fleet.repo.common_dir)
        self._checks_root = fleet.state.check_records    # a check started or ended, here or in another terminal
        self._started = 0.0
        # Agents whose first diff is still being computed after the start (None: still discovering),
        # and until when that may count as settling at most.
        self._unsettled: set[str] | None = set()
        self._settle_deadline = 0.0

    def _hosts(self, fleet, clock) -> None:
        """The parts for agents on other hosts."""
        # Their own servers, pane maps and links (remote_link.py).
        self.remote = RemoteLinks(fleet, clock, self.counters, on_event=self._on_control_event,
                                  wake=self._rediscover_now.set, schedule_stats=self.stats.schedule)
        # Their own events, read on their hosts (remote_events.py), into the same facts as local ones.
        self.remote_events = RemoteEvents(fleet, clock, self.counters, on_changed=self._reassess,
                                          wake=self.refresh)
        # Their work, fetched here when it changed, takes part in the predictions.
        self.remote_work = RemoteWork(fleet, self.predictions, self._restale, interval=self.predictions.interval)

    # -- public API ------------------------------------------------------------

    def agents(self) -> list[Agent]:
        """Copies of every agent as currently known; an agent unchanged since the last call is the same copy.

        Only agents that changed are copied again, so an update costs what changed, not the fleet, and a
        reader can tell an unchanged agent by identity (`is`); nobody may change a copy.
        """
        out = []
        for n in self._order:
            f = self._facts.get(n)
            if f is None:
                continue
            copy = self._copies.get(n)
            if copy is None or n in self._dirty:
                copy = self._copies[n] = replace(f.agent, triggers=list(f.agent.triggers))
            out.append(copy)
        self._dirty.clear()
        return out

    def updates(self) -> AsyncIterator[Update]:
        """Coalesced updates (at most max_rate per second); the first one carries the initial state."""
        return self.publisher.updates(self.agents)

    def last_output_at(self, agent: str) -> float | None:
        """When the agent's pane last printed anything (None: not since the monitor started)."""
        f = self._facts.get(agent)
        return f.last_output_at if f else None

    def acknowledge(self, agent: str, kind: str) -> bool:
        """Hide the agent's active trigger of this kind until it clears and fires again (any thread)."""
        return _call_on(self._loop, self._acknowledge, agent, str(kind))

    def snooze(self, agent: str, kind: str, seconds: float) -> None:
        """Hide the agent's trigger of this kind for `seconds` (any thread)."""
        _call_on(self._loop, self._snooze, agent, str(kind), seconds)

    def refresh(self) -> None:
        """Rediscover agents now, after a spawn, kill, check or merge (any thread)."""
        loop = self._loop
        if loop is not None and not loop.is_closed() and _running_loop() is not loop:
            # asyncio.Event is not thread-safe: set off the loop, it would not wake the waiter.
            with contextlib.suppress(RuntimeError):     # the loop closed meanwhile: nothing to refresh
                loop.call_soon_threadsafe(self._rediscover_now.set)
            return
        self._rediscover_now.set()

    def set_conflicts(self, predicted: dict[str, tuple[str, ...]]) -> None:
        """Take a fresh prediction of every agent's merge into its base (an agent left out conflicts with nothing; any thread)."""
        _call_on(self._loop, self._set_conflicts, dict(predicted))

    def _set_conflicts(self, predicted: dict[str, tuple[str, ...]]) -> None:
        now = self.clock()
        for name, f in list(self._facts.items()):
            if apply_conflicts(f, predicted.get(name, ()), now, self.predictions.stale.get(name, "")):
                self._reassess(name, now)

    def conflicts(self) -> Predictions:
        """The newest merge predictions (every agent against the base, every pair; any thread)."""
        return self.predictions.latest

    def predict_now(self) -> None:
        """Predict merges again as soon as possible (any thread)."""
        _call_on(self._loop, self.predictions.predict_now)

    def _predicted(self, result) -> None:
        """A prediction round ended: raise or clear `conflict` triggers where its answer moved, and tell the UI."""
        self._set_conflicts(result.vs_base)
        self.publisher.publish()

    def _restale(self) -> None:
        self.predictions.restale()
        self._predicted(self.predictions.latest)

    def coordination(self) -> dict:
        """The coordination document: who does what, in which files, and what needs a human."""
        return coordination(self.fleet.repo.root, self.agents(), self.book.active, self.publisher.log)

    @property
    def _control(self):
        """The running control client, if any."""
        return self.link.client

    def _acknowledge(self, agent: str, kind: str) -> bool:
        ok = self.attention.acknowledge(agent, kind)
        if ok:
            self.timeline.hidden(agent, kind, "acknowledged")
            self._reassess(agent)
        return ok

    def _snooze(self, agent: str, kind: str, seconds: float) -> None:
        self.attention.snooze(agent, kind, seconds, self.clock())
        self.timeline.hidden(agent, kind, f"snoozed for {seconds / 60:.0f} min")
        self._reassess(agent)

    # -- life cycle ------------------------------------------------------------

    async def run(self) -> None:
        """Run until cancelled: discover, attach, watch, and keep statuses current."""
        self._loop = asyncio.get_running_loop()
        self._started = self.clock()
        self._unsettled, self._settle_deadline = None, self._started + SETTLE_SECONDS
        with contextlib.suppress(OSError):      # watched from the start, so the first check is seen
            self._checks_root.mkdir(parents=True, exist_ok=True)
        self._take_writer()
        status_json, _ = status_file_paths(self.fleet)
        quiet = self.attention.load(status_json, self.clock())
        self.publisher.start(quiet, self._started)
        self.timeline.start(self._started)
        try:
            await self._rediscover(initial=True)
            self._unsettled = {f.agent.name for f in self._facts.values()
                               if f.agent.worktree_exists and not f.agent.merged and not f.stats_done}
            self.publisher.ready.set()
            self.publisher.publish()
            self._tasks = [asyncio.create_task(c) for c in (
                self._watch_loop(), self._tick_loop(), self._rediscover_loop(), self.predictions.run(),
                self.remote.stats_loop(),
                self.publisher.status_loop(self.coordination))]
            await asyncio.gather(*self._tasks)
        finally:
            self._loop = None
            self.timeline.stop(self.clock())
            await self.close()

    async def close(self) -> None:
        """Stop every task, timer and client this monitor started."""
        self.git.close()            # kills a running git child: quitting never waits for one
        for t in self._tasks:
            t.cancel()
        self.captures.close()
        self.stats.close()
        self.remote_work.close()
        self.parking.close()
        await self.watcher.close()
        await self.link.stop()
        await self.remote.stop()
        await self.remote_events.stop()
        self.publisher.close()
        if self._tasks:     # a task cancelled while it started a client ends that client's process first
            await asyncio.wait(self._tasks, timeout=3)
        self._tasks = []
        self.writer.release()

    # -- discovery -------------------------------------------------------------

    async def _rediscover_loop(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._rediscover_now.wait(), self.rediscover_every)
            await asyncio.sleep(0.05)    # let a burst of window events settle
            self._rediscover_now.clear()
            try:
                await self._rediscover()
            except Exception:
                log.exception("rediscovery failed")

    def _discover(self) -> tuple[list[Agent], dict]:
        if self.writes:     # a task prompt whose delivery process was killed is delivered again
            self.fleet.resume_prompts()
        return self.fleet.agents(stats=False), self.fleet.state.read()["agents"]

    async def _rediscover(self, initial: bool = False) -> None:
        self.counters["rediscoveries"] += 1
        fresh, records = await asyncio.to_thread(self._discover)
        new, changed, gone = self._fold(fresh, records, initial)
        if new:     # what their timelines say last, read off the loop before they are judged
            self.timeline.adopt(await asyncio.to_thread(self.timeline.read_back, [f.agent.name for f in new]))
        local_new = [f for f in new if not f.agent.host]     # a host's panes are not this server's
        if local_new:
            screens = await asyncio.to_thread(prepare_new, self.fleet, local_new, self._piped)
            for f in local_new:
                if f.agent.pane in screens:
                    # A live pane's errors are seeded by its next capture through the control
                    # client, which is ordered with its output; this one is not.
                    events.apply_screen(f, screens[f.agent.pane], self.clock(), seed=not f.agent.pane_alive)
        live = [f for f in self._facts.values() if f.agent.pane and f.agent.pane_alive]
        if live and await self.link.ensure():
            # What the panes printed while no client listened is in no event: read every screen.
            for f in live:
                self.captures.schedule(f.agent.name, immediate=True)
        # A host's panes: their logs are on the host (piped there, read over ssh), as prepare_new does here,
        # and before their first screens are read; a pane that moved or whose host came back is piped again.
        hosted = [f.agent.name for f in new if f.agent.host]
        if hosted:
            await self.remote.follow_logs(self._facts, hosted, [])
        await self.remote.stop(self.remote.update(self._facts))
        await self.remote_events.stop(self.remote_events.update(self._facts, records))
        self.remote_events.ensure()
        self.remote_work.follow(self._facts.values())
        relinked = await self.remote.ensure()
        for name in relinked:     # what they printed and changed while no client listened
            self.captures.schedule(name, immediate=True)
            self.stats.schedule(name, delay=0.0)
        again = sorted(set(relinked + [n for n in changed if self._facts[n].agent.host]) - set(hosted))
        if again:
            await self.remote.follow_logs(self._facts, [], again)
        for f in new:
            if f.agent.pane and f.agent.pane_alive:
                self.captures.schedule(f.agent.name, immediate=True)
            self.stats.schedule(f.agent.name, delay=0.0)
            self._reassess(f.agent.name)
        for n in changed:
            self._reassess(n)
        roots = [Path(f.agent.worktree) for f in self._facts.values()
                 if f.agent.worktree_exists and not f.agent.merged and not f.agent.host]
        if self._hooks_root.is_dir():     # exists once an agent with hooks was spawned
            roots.append(self._hooks_root)
        roots.append(self._checks_root)
        self.watcher.set_worktrees(roots)
        if gone or new:
            self.publisher.publish()

    def _fold(self, fresh: list[Agent], records: dict, initial: bool) -> tuple[list[Facts], list[str], list[str]]:
        """Fold a fresh listing into the facts and the indexes: (new facts, names that moved, names gone)."""
        new, changed, gone = fold(self._facts, fresh, records, self.clock(), self.settings, initial)
        # A listing can change any field (pane, scope, task, check): copy again whoever differs from its copy.
        self._dirty.update(n for n, f in self._facts.items() if self._copies.get(n) != f.agent)
        for n in gone:
            self._copies.pop(n, None)
        for n in gone:
            changed += self.overlaps.update(self._facts, n, self.clock())
            self.predictions.update(n, None)
            self.remote_work.forget(n)
            self.timeline.forget(n)
            self.captures.forget(n)
            self.stats.forget(n)
            self.parking.forget(n)
            self._queue(raised=[], cleared=self.attention.forget(n))
        self._order = [a.name for a in fresh if a.name in self._facts]
        # This machine's agents only: a host's pane ids and paths are its own (remote_link.py maps them).
        self._by_pane = {f.agent.pane: n for n, f in self._facts.items() if f.agent.pane and not f.agent.host}
        self._by_worktree = {str(Path(f.agent.worktree)): n for n, f in self._facts.items()
                             if f.agent.worktree and not f.agent.host}
        return new, changed, gone

    # -- files and hooks -------------------------------------------------------

    async def _watch_loop(self) -> None:
        async for act in self.watcher.events():
            self._on_files(act)

    # -- time ------------------------------------------------------------------

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            now = self.clock()
            self.counters["ticks"] += 1
            if not self.writes and self._take_writer():     # the writer went: this dashboard acts now
                await self._take_over()
            self.timeline.heartbeat(now)
            woken = self.attention.expire(now)
            if woken:
                self._queue(raised=woken, cleared=[])
                self.publisher.run_commands(woken)
            woken_names = {t.agent for t in woken} | self.attention.sync(now)     # hidden in another dashboard
            for name in list(self._order):
                f = self._facts.get(name)
                if f is None:
                    continue
                # A stat per agent, in case a file event was missed; judged only when that or time changed something.
                if events.poll_hooks(f) or f.due <= now or name in woken_names:
                    self.counters["tick_judged"] += 1
                    self._reassess(name, now)
            await self._resolve_exit_codes()

    async def _resolve_exit_codes(self) -> None:
        """tmux can mark a pane dead before it reaped the process: ask again for the exit code."""
        for f in list(self._facts.values()):
            client = self.remote.server_of(f.agent, self.link.client)[0]
            if client is not None and await events.ask_exit_code(client, f, self.clock()):
                self._reassess(f.agent.name)

    # -- judging and publishing ------------------------------------------------

    def _reassess(self, name: str, now: float | None = None) -> None:
        """Judge one agent's status and triggers from its facts, and publish what changed."""
        f = self._facts.get(name)
        if f is None:
            return
        now = self.clock() if now is None else now
        if f.hook_events is not None and f.hook_events.answered:
            events.record_answered(f, self.timeline, None if self.watch_only else self.publisher.note)
        a = f.agent
        status = status_since(f, now, self.settings, self.attention.previous_status)
        a.status = status
        self.timeline.status(a, status, settled=f.captured or not a.pane_alive)
        a.last_activity_at = max(a.started_at, f.last_output_at or 0.0, f.last_file_change_at or 0.0)
        a.limit_resets_at, a.limit_resume_at = f.limit_resets_at, f.resume_at
        snap = snapshot(f, status, now)
        f.due = time_due(snap, now, self.settings, f.errors.next_expiry(now))
        raised, cleared = self.attention.judge(name, evaluate(snap, now, self.settings), now)
        a.triggers = self.book.visible(name, now)
        shown = (status.kind, status.why, a.files, a.added, a.removed, a.commits, a.dirty, a.pane_alive,
                 a.exit_code, tuple((t.kind, t.what, t.since) for t in a.triggers), a.limit_resets_at,
                 a.limit_resume_at, (a.last_check or {}).get("at"), (a.check_running or {}).get("started_at"))
        # What a reader of the copies sees beyond `shown` (the evidence, a trigger's loudness, activity).
        handed = (shown, status, tuple(a.triggers), a.last_activity_at)
        if handed != f.handed:
            f.handed = handed
            self._dirty.add(name)
        if raised or cleared or shown != f.shown:
            f.shown = shown
            self._queue(raised, cleared)
            if raised:
                self.publisher.run_commands(raised)
        if self._loop is not None and not self.watch_only:
            self.parking.follow(f)

    def _settled(self, name: str) -> None:
        if self._unsettled:
            self._unsettled.discard(name)

    def _queue(self, raised: list[Trigger], cleared: list[Trigger]) -> None:
        self.timeline.triggers(raised, cleared)
        settling = (self._unsettled is None or bool(self._unsettled)) and self.clock() < self._settle_deadline
        self.publisher.queue(raised, cleared, settling)
