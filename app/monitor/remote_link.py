"""Agents on other hosts in the live monitor: one control client per host's tmux server, over SSH.

Pane ids belong to one tmux server, so a host's `%0` is not this machine's `%0`: each remote
server keeps its own pane -> agent map and hands its events to the monitor with that map. A
server whose client cannot start is retried with backoff (2 s, doubling up to 60 s); whether
its agents are `unreachable` is discovery's to say (the host's listing, with ssh's error line),
and the client starts again once the host answers. A host sends no file events, so a remote
agent's git stats are read on its host after output (at most every `stats_gap` seconds) and on
a slow timer (`stats_every`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from ..git.worktrees import Stats
from .control_link import ControlLink
from .facts import LOG_TAIL, restore_from_text

log = logging.getLogger(__name__)

MAX_BACKOFF = 60.0


def server_key(agent) -> tuple[str, str, str] | None:
    """(host, socket, session) of a remote agent's tmux server; None for an agent on this machine."""
    if not agent.host:
        return None
    return agent.host, agent.socket or "paneboard", agent.session or ""


class _HostLink(ControlLink):
    """The control client of one remote tmux server: started through ssh, retried with backoff."""

    def __init__(self, fleet, key: tuple[str, str, str], clock, on_event, wake):
        self.key = key
        self.by_pane: dict[str, str] = {}
        self.failures = 0
        super().__init__(fleet, clock, {"control_starts": 0}, on_event=lambda ev: on_event(ev, self.by_pane),
                         wake=wake)

    def _new(self):
        from ..tmux.control import ControlClient
        host, socket, session = self.key
        return ControlClient([], session or self.fleet.session, launch=self.fleet.tmux_on(socket, host).launch)

    async def ensure(self) -> bool:
        """Start the client if none runs and a retry is due; True if it started now."""
        if self.client is not None or self.clock() < self._retry_at:
            return False
        tmux = self.fleet.tmux_on(self.key[1], self.key[0])
        # Logging in may take up to ssh's ConnectTimeout: never on the loop.
        await asyncio.to_thread(tmux.remote.connect)
        await self._start()
        if self.client is None:
            self.failures += 1
            self._retry_at = self.clock() + min(MAX_BACKOFF, 2.0 * 2 ** (self.failures - 1))
            return False
        self.failures = 0
        return True


class RemoteLinks:
    """Every remote tmux server the monitor's agents live on, each with its own link and pane map."""

    def __init__(self, fleet, clock: Callable[[], float], counters: dict, *,
                 on_event: Callable[[object, dict], None], wake: Callable[[], None],
                 schedule_stats: Callable[..., None], stats_gap: float = 2.0, stats_every: float = 30.0):
        self.fleet = fleet
        self.clock = clock
        self.counters = counters
        self._on_event = on_event
        self._wake = wake
        self._schedule_stats = schedule_stats
        self.stats_gap = stats_gap
        self.stats_every = stats_every
        self.links: dict[tuple[str, str, str], _HostLink] = {}
        self._names: dict[str, tuple[str, str, str]] = {}
        self._reachable: set[tuple[str, str, str]] = set()
        self._stats_asked: dict[str, float] = {}
        self._unread: set[str] = set()      # found, but their log on the host is not read yet (host away)

    def update(self, facts: dict) -> list[_HostLink]:
        """Take the current agents: each remote server's pane map; links of servers no agent uses any more are returned."""
        maps: dict[tuple, dict[str, str]] = {}
        self._names, self._reachable = {}, set()
        for name, f in facts.items():
            key = server_key(f.agent)
            if key is None:
                continue
            self._names[name] = key
            maps.setdefault(key, {})
            if f.agent.pane:
                maps[key][f.agent.pane] = name
            if not f.agent.unreachable and f.agent.pane and f.agent.pane_alive:
                self._reachable.add(key)
        for key, by_pane in maps.items():
            link = self.links.get(key)
            if link is None:
                link = self.links[key] = _HostLink(self.fleet, key, self.clock, self._dispatch, self._wake)
            link.by_pane.clear()
            link.by_pane.update(by_pane)
        return [self.links.pop(k) for k in list(self.links) if k not in maps]

    async def ensure(self) -> list[str]:
        """Start the client of every reachable server with live agents; the agents whose client started now."""
        fresh: list[str] = []
        for key in sorted(self._reachable):
            link = self.links.get(key)
            if link is not None and await link.ensure():
                self.counters["remote_control_starts"] = self.counters.get("remote_control_starts", 0) + 1
                fresh += list(link.by_pane.values())
        return fresh

    def server_of(self, agent, local_client):
        """(its control client or None, its Tmux) of the server an agent's pane lives on, here or on its host."""
        if not agent.host:
            return local_client, self.fleet.tmux
        link = self.links.get(self._names.get(agent.name))
        return (link.client if link is not None else None), self.fleet.tmux_on(agent.socket, agent.host)

    def _dispatch(self, ev, by_pane: dict[str, str]) -> None:
        self._on_event(ev, by_pane)
        if type(ev).__name__ == "Output":
            name = by_pane.get(ev.pane)
            if name is not None:
                self.output(name)

    def output(self, name: str) -> None:
        """The agent printed something: its git stats are read on its host soon (at most every `stats_gap`)."""
        now = time.monotonic()
        if now - self._stats_asked.get(name, 0.0) >= self.stats_gap:
            self._stats_asked[name] = now
            self._schedule_stats(name, delay=self.stats_gap)

    async def stats_loop(self) -> None:
        """Every `stats_every` seconds, read every reachable remote agent's git stats (no file events there)."""
        while True:
            await asyncio.sleep(self.stats_every)
            for name in list(self._names):
                self._schedule_stats(name, delay=0.0)

    async def follow_logs(self, facts: dict, new: list[str], fresh: list[str]) -> None:
        """Pipe the output of remote panes that have no pipe into their logs on their hosts (agents just found,
        or whose server's client started again: the host came back), and give the agents just found their
        history from those logs, off the loop."""
        self._unread.update(new)
        names = sorted((set(new) | set(fresh)) & set(facts))
        history = [facts[n].agent for n in names if n in self._unread]
        if not names:
            return
        read = await asyncio.to_thread(read_logs, self.fleet, [facts[n].agent for n in names], history)
        for name, found in read.items():
            self._unread.discard(name)
            f = facts.get(name)
            if f is not None and found is not None:
                restore_from_text(f, *found)

    async def stop(self, links: list[_HostLink] | None = None) -> None:
        """Stop these links (every link by default)."""
        for link in (list(self.links.values()) if links is None else links):
            with contextlib.suppress(Exception):
                await link.stop()
        if links is None:
            self.links.clear()


async def read_host_stats(fleet, f) -> tuple | None:
    """("stats", stats, None) of a remote agent's worktree, read by git on its host in a thread; None when
    there is nothing to read or its host does not answer (its last stats stay)."""
    a = f.agent
    if a.merged or a.unreachable or not a.worktree:
        return None
    try:
        s: Stats = await asyncio.to_thread(fleet.host_stats, a)
    except Exception as exc:       # HostUnreachable, or git failed there: the next listing says why
        log.debug("stats of %s on host %s failed: %s", a.name, a.host, exc)
        return None
    return "stats", s, None


def read_logs(fleet, pipes: list, history: list, n_bytes: int = LOG_TAIL) -> dict[str, tuple[float, str] | None]:
    """In a thread: open the missing log pipes of these remote agents' panes, and read the others' recent
    output on their hosts: name -> (last written, text), None when there is no log; a host that does not
    answer leaves its agents out (they are read when it is back)."""
    try:
        fleet.open_log_pipes(pipes)
    except Exception:       # a pane without its log is no reason to stop watching it
        log.exception("log pipes on hosts failed")

    def one(agent):
        try:
            out = fleet.output_log(agent.name, n_bytes)
        except Exception as exc:
            log.debug("log of %s on host %s: %s", agent.name, agent.host, exc)
            return agent.name, False
        return agent.name, None if out.written_at is None else (out.written_at, out.text)

    if not history:
        return {}
    with ThreadPoolExecutor(min(4, len(history))) as pool:
        return {name: found for name, found in pool.map(one, history) if found is not False}
