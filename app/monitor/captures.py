"""Screen capture scheduling: read a pane's screen shortly after it printed, never more than needed.

Trailing edge: a capture runs `delay` after the last output, but at least every `interval`
while output keeps coming, and never two at once for one pane (one more follows if output
arrived during the first). A pane that prints nothing is never captured.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Awaitable, Callable


@dataclass
class _Slot:
    timer: asyncio.TimerHandle | None = None
    timer_due: float = 0.0
    dirty_since: float | None = None
    capturing: bool = False
    recapture: bool = False


class CaptureScheduler:
    """Runs `capture(name)` per agent on the trailing edge of its output; `capture` returns False if it failed."""

    def __init__(self, capture: Callable[[str], Awaitable[bool | None]], *, delay: float, interval: float):
        self._capture = capture
        self.delay = delay
        self.interval = interval
        self._slots: dict[str, _Slot] = {}
        self._tasks: set[asyncio.Task] = set()

    def schedule(self, name: str, immediate: bool = False) -> None:
        """Capture the agent's screen soon (now if immediate): called for each output and each reason to look."""
        slot = self._slots.setdefault(name, _Slot())
        loop = asyncio.get_running_loop()
        now = loop.time()
        if slot.dirty_since is None:
            slot.dirty_since = now
        due = now if immediate else min(now + self.delay, slot.dirty_since + self.interval)
        if slot.timer is not None:
            if abs(slot.timer_due - due) < 0.005:
                return
            slot.timer.cancel()
        slot.timer_due = due
        slot.timer = loop.call_at(due, self._fire, name, slot)

    def _fire(self, name: str, slot: _Slot) -> None:
        slot.timer = None
        if slot.capturing:
            slot.recapture = True
            return
        t = asyncio.create_task(self._run(name, slot))
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    async def _run(self, name: str, slot: _Slot) -> None:
        slot.capturing = True
        dirty_since, slot.dirty_since = slot.dirty_since, None
        try:
            outcome = await self._capture(name)
        finally:
            slot.capturing = False
        if outcome is None:             # nothing to capture (no pane, or the agent went)
            if slot.dirty_since is None:
                slot.dirty_since = dirty_since
            return
        if outcome and (slot.recapture or slot.dirty_since is not None):
            slot.recapture = False
            self.schedule(name)

    def forget(self, name: str) -> None:
        """The agent is gone: cancel its pending capture."""
        slot = self._slots.pop(name, None)
        if slot is not None and slot.timer is not None:
            slot.timer.cancel()

    def close(self) -> None:
        """Cancel every pending and running capture."""
        for slot in self._slots.values():
            if slot.timer is not None:
                slot.timer.cancel()
        for t in list(self._tasks):
            t.cancel()


async def read_screen(client, tmux, pane: str, echo: bool) -> tuple[str, list[str] | None]:
    """A pane's screen, and `[pane_dead, pane_dead_status]` when read through the control client.

    Through the client, an `echo` capture is also queued as a `Captured` event behind the output
    it shows; without a client (it is restarting) one `tmux capture-pane` stands in.
    """
    if client is None:
        return await asyncio.to_thread(tmux.capture, pane), None
    screen = await client.capture(pane, echo=echo)
    reply = await client.command("display-message", "-p", "-t", pane, "#{pane_dead} #{pane_dead_status}")
    return screen, (reply[0].split() if reply else None)
