"""The monitor's tmux side: a control client's events (output, pane deaths, windows) and screen captures.

A mixin of `Monitor` (app/monitor/monitor.py), which owns the facts, the capture scheduler, the
control links and `_reassess`; here each tmux event becomes new facts about one agent.
"""

from __future__ import annotations

import asyncio
import logging

from . import agent_events as events
from .captures import read_screen
from .discovery import recheck_stopped
from .facts import seed_errors_from_screen

log = logging.getLogger("app.monitor.monitor")


class PaneEvents:
    """Output, pane deaths, window changes and screens, each credited to its own agent."""

    def _on_control_event(self, ev, by_pane: dict[str, str] | None = None) -> None:
        """One event of a control client; `by_pane` maps its server's panes (this machine's by default)."""
        name = type(ev).__name__
        agent = (self._by_pane if by_pane is None else by_pane).get(getattr(ev, "pane", None) or "")
        if name == "Output":
            self._on_output(agent, ev.data)
        elif name == "PaneDied":
            self._on_pane_died(agent, getattr(ev, "status", None))
        elif name in ("WindowAdded", "WindowClosed"):
            self._rediscover_now.set()
        elif name == "Captured":
            f = self._facts.get(agent or "")
            if f is not None and f.seed_errors:
                seed_errors_from_screen(f, f.last_output_at or self.clock(), ev.screen)
        elif name == "Resumed" and agent is not None:
            self.captures.schedule(agent)      # output was dropped meanwhile: the screen is the truth now

    def _on_output(self, name: str | None, data: bytes) -> None:
        self.counters["outputs"] += 1
        if name is None or name not in self._facts:
            self._rediscover_now.set()
            return
        judge_now = events.feed_output(self._facts[name], data, self.clock())
        self.captures.schedule(name)
        if judge_now:
            self._reassess(name)

    def _on_pane_died(self, name: str | None, status) -> None:
        if name is None or name not in self._facts:
            return
        f = self._facts[name]
        recheck_stopped(self.fleet, f)
        events.pane_died(f, status, self.clock())
        self._reassess(name)
        self.captures.schedule(name)   # the last screen is the evidence

    async def _capture(self, name: str) -> bool | None:
        """Read the agent's screen (and whether its pane died) and judge it again; None if there is no pane."""
        f = self._facts.get(name)
        if f is None or f.agent.pane is None:
            return None
        a = f.agent
        client, tmux = self.remote.server_of(a, self.link.client)
        try:
            screen, dead = await read_screen(client, tmux, a.pane, echo=f.seed_errors)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.debug("capture of %s failed: %s", a.pane, exc)
            self._rediscover_now.set()
            return False
        self.counters["captures"] += 1
        now = self.clock()
        events.apply_screen(f, screen, now, seed=client is None)
        if dead and dead[0] == "1" and a.pane_alive:
            recheck_stopped(self.fleet, f)
            events.pane_dead_reply(f, dead, now)
        self._reassess(name)
        return True
