"""Answering a running agent: type text, press keys, give a preset's approve/deny answer."""

from __future__ import annotations

from .. import presets
from ..errors import PaneboardError
from .core import FleetCore


class AnswerVerbs(FleetCore):
    """Send, send_key and press: input into a live agent's pane, refused when its process is gone."""

    def _live_pane(self, name: str) -> str:
        agent = self.get(name, stats=False)
        if agent.pane is None or not agent.pane_alive:
            raise PaneboardError(f"agent {name!r} is not running ({agent.status.why})")
        return agent.pane

    def send(self, name: str, text: str, enter: bool = True) -> None:
        """Type text (literally) into the agent's pane, then Enter."""
        self.tmux.send_text(self._live_pane(name), text, enter=enter)
        self._record(name, "reply", text)

    def send_key(self, name: str, key: str) -> None:
        """Press one named key (Enter, Escape, Up, C-c...) in the agent's pane."""
        self.tmux.send_key(self._live_pane(name), key)
        self._record(name, "key", key)

    def press(self, name: str, keys: tuple[str, ...]) -> None:
        """Press a sequence of named keys and literal text (a preset's approve/deny answer)."""
        pane = self._live_pane(name)
        for key in keys:
            if key in presets.NAMED_KEYS:
                self.tmux.send_key(pane, key)
            else:
                self.tmux.send_text(pane, key, enter=False)
        self._answered(name, keys)
