"""Parking at a usage limit: an agent whose screen says when its limit lifts waits for that moment,
then (with `on_limit: resume`) gets its preset's continue message through the fleet.

The timer lives here, in the live monitor; the fleet sends the text (`fleet.send`), as it sends
all input. Nothing is persisted: a restarted monitor reads the limit from the screen again and
parks the agent anew. The continue message goes only to an agent still waiting at its prompt on
the same limit (idle or error): never to one that works, asks a question, or exited meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

from .. import presets
from ..errors import PaneboardError
from ..model import Kind
from .facts import Facts

log = logging.getLogger(__name__)

# The statuses of an agent waiting at its prompt after a limit: the only ones a continue message may reach.
_WAITING = (Kind.IDLE, Kind.ERROR)
RULE = "on_limit: resume"     # the continue message's source in the agent's timeline


def on_limit(fleet, task: str) -> tuple[str, float]:
    """(`on_limit`, `limit_margin`) for an agent of this task: the task's own setting, else the defaults."""
    from ..config import DEFAULT_FILE, load
    from ..errors import ConfigError
    try:
        fleet.reload_settings()
    except ConfigError:
        pass                      # a broken task file keeps the settings paneboard started with
    settings = fleet.settings
    action = settings.on_limit
    path = fleet.task_file or fleet.repo.root / DEFAULT_FILE
    if path.exists():
        try:
            own = next((t.on_limit for t in load(path).tasks if t.name == task), None)
        except ConfigError:
            own = None
        action = own or action
    return action, settings.limit_margin


def resume_at(fleet, agents) -> dict[str, float]:
    """When each of these agents (with a known reset) gets its continue message; for `ls`, which keeps no timers."""
    out = {}
    for a in agents:
        if a.limit_resets_at is not None and a.pane_alive:
            action, margin = on_limit(fleet, a.task)
            if action == "resume":
                out[a.name] = a.limit_resets_at + margin
    return out


def resumed_after(timeline, name: str, resets: float) -> bool:
    """True if the agent's timeline says it was already sent its continue message after this reset."""
    try:
        events = timeline.events(name)
    except OSError:
        return False
    return any(e.kind == "reply" and (e.data or {}).get("rule") == RULE and e.at >= resets for e in events)


class Parking:
    """One timer per agent parked at a usage limit; it fires once per reset time."""

    def __init__(self, fleet, clock: Callable[[], float], reassess: Callable[[str], None],
                 note: Callable[[str, str], None], sends: Callable[[], bool] = lambda: True):
        self.fleet = fleet
        # Every dashboard shows when an agent resumes; only the repository's writer sends (writer.py).
        self.sends = sends
        self.clock = clock
        self.reassess = reassess
        self.note = note
        self._timers: dict[str, tuple[float, asyncio.Task]] = {}
        self._resumed: dict[str, float] = {}      # agent -> the reset it was already resumed after
        self._sending: set[str] = set()           # agents whose continue message is on its way

    def follow(self, f: Facts) -> None:
        """Park, re-park or release the agent after its facts changed (cheap when nothing did)."""
        name = f.agent.name
        resets = f.limit_resets_at if f.limit and f.agent.pane_alive and not f.agent.merged else None
        current = self._timers.get(name)
        if current is not None and current[0] == resets:
            return
        if current is not None:
            if name not in self._sending:     # a send under way ends and says how it went: the limit clears meanwhile
                current[1].cancel()
            del self._timers[name]
            if f.resume_at is not None:
                f.resume_at = None
                self.reassess(name)
        if resets is None or self._resumed.get(name) == resets:
            return
        task = asyncio.get_running_loop().create_task(self._park(f, resets), name=f"limit-{name}")
        self._timers[name] = (resets, task)

    def forget(self, name: str) -> None:
        """The agent is gone: drop its timer."""
        current = self._timers.pop(name, None)
        if current is not None:
            current[1].cancel()
        self._resumed.pop(name, None)

    def close(self) -> None:
        """Cancel every timer."""
        for _, task in self._timers.values():
            task.cancel()
        self._timers.clear()

    async def _park(self, f: Facts, resets: float) -> None:
        name = f.agent.name
        try:
            action, margin = await asyncio.to_thread(on_limit, self.fleet, f.agent.task)
        except Exception:
            log.exception("reading on_limit for %s failed", name)
            return
        if action != "resume":
            return
        f.resume_at = resets + margin
        self.reassess(name)
        await asyncio.sleep(max(0.0, f.resume_at - self.clock()))
        f.resume_at = None
        self._sending.add(name)
        try:
            await self._resume(f, resets)
        finally:
            self._sending.discard(name)
        self.reassess(name)

    async def _resume(self, f: Facts, resets: float) -> None:
        a = f.agent
        reset = time.strftime("%H:%M", time.localtime(resets))
        if f.limit_resets_at != resets or not a.pane_alive or not self.sends():
            return
        if a.status.kind not in _WAITING:
            self.note(a.name, f"not resumed after its usage limit reset at {reset}: it is {a.status.kind.value}")
            return
        if await asyncio.to_thread(resumed_after, self.fleet.timeline, a.name, resets):
            self._resumed[a.name] = resets      # by the dashboard that wrote before this one (writer.py)
            return
        try:
            text = presets.resolve(a.agent).continue_text
        except PaneboardError as exc:     # its agent file broke since it started: say so, send nothing
            self.note(a.name, f"not resumed after its usage limit reset at {reset}: {exc}")
            return
        try:
            await asyncio.to_thread(self.fleet.send, a.name, text, True, RULE)
        except Exception as exc:     # the pane went meanwhile: say so, the limit trigger stays
            self.note(a.name, f"could not resume after its usage limit reset at {reset}: {exc}")
            return
        self._resumed[a.name] = resets
        self.note(a.name, f"resumed after its usage limit reset at {reset} (sent {text!r})")
