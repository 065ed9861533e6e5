"""The tmux control client's life cycle: start it when there are live panes, and restart it when it dies.

One control-mode client (app/tmux/control.py) streams every pane's output in the session. When
it fails to start, a retry is due 2 s later; when it ends, 1 s later. Both ask for a
rediscovery, which is what starts it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Callable

log = logging.getLogger(__name__)


class ControlLink:
    """Owns the one control client of the fleet's session and hands each of its events to `on_event`."""

    def __init__(self, fleet, clock: Callable[[], float], counters: dict, *, on_event: Callable[[object], None],
                 wake: Callable[[], None], factory: Callable | None = None):
        self.fleet = fleet
        self.clock = clock
        self.counters = counters
        self._on_event = on_event
        self._wake = wake            # asks the monitor for a rediscovery
        self._factory = factory
        self.client = None
        self._task: asyncio.Task | None = None
        self._retry_at = 0.0

    async def ensure(self) -> bool:
        """Start the client if none runs and a retry is due; True if it came back after an earlier one."""
        if self.client is not None or self.clock() < self._retry_at:
            return False
        again = self.counters["control_starts"] > 0
        await self._start()
        return again and self.client is not None

    def _new(self):
        if self._factory is not None:
            return self._factory(self.fleet.tmux.base_argv, self.fleet.session)
        from ..tmux.control import ControlClient
        return ControlClient(self.fleet.tmux.base_argv, self.fleet.session)

    async def _start(self) -> None:
        client = self._new()
        try:
            await client.start()
        except asyncio.CancelledError:     # the monitor closed while it started: end its process, never leak it
            with contextlib.suppress(Exception):
                await client.close()
            raise
        except Exception as exc:
            log.warning("control client for %s did not start: %s", self.fleet.session, exc)
            self._retry_at = self.clock() + 2.0
            with contextlib.suppress(Exception):
                await client.close()
            asyncio.get_running_loop().call_later(2.05, self._wake)
            return
        self.client = client
        self.counters["control_starts"] += 1
        self._task = asyncio.create_task(self._read(client))

    async def stop(self) -> None:
        """Stop the client and its reader."""
        client, self.client = self.client, None
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()

    async def _read(self, client) -> None:
        try:
            async for ev in client.events():
                if type(ev).__name__ == "Exit":
                    break
                self._on_event(ev)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("control client failed")
        if self.client is client:
            self.client = None
            self._task = None
            self._retry_at = self.clock() + 1.0
            with contextlib.suppress(Exception):
                await client.close()
            self._wake()                        # now: a window may have gone with the client
            asyncio.get_running_loop().call_later(1.05, self._wake)   # and when it may retry
