"""Answering a running agent: type text, press keys, give a preset's approve/deny answer."""

from __future__ import annotations

from .. import presets
from ..errors import PaneboardError
from ..tmux import Tmux
from .core import FleetCore


class AnswerVerbs(FleetCore):
    """Send, send_key and press: input into a live agent's pane, refused when its process is gone."""

    def _live_pane(self, name: str) -> tuple[Tmux, str]:
        """The tmux server the agent lives on and its pane, if its process runs."""
        agent = self.get(name, stats=False)
        if agent.pane is None or not agent.pane_alive:
            raise PaneboardError(f"agent {name!r} is not running ({agent.status.why})")
        return self.tmux_on(agent.socket, agent.host), agent.pane

    def send(self, name: str, text: str, enter: bool = True, source: str | None = None) -> None:
        """Type text (literally) into the agent's pane, then Enter; `source` names an automatic rule that sent it."""
        tmux, pane = self._live_pane(name)
        tmux.send_text(pane, text, enter=enter)
        self._record(name, "reply", text, **({"rule": source} if source else {}))

    def send_key(self, name: str, key: str) -> None:
        """Press one named key (Enter, Escape, Up, C-c...) in the agent's pane."""
        tmux, pane = self._live_pane(name)
        tmux.send_key(pane, key)
        self._record(name, "key", key)

    def press(self, name: str, keys: tuple[str, ...]) -> None:
        """Press a sequence of named keys and literal text (a preset's approve/deny answer)."""
        tmux, pane = self._live_pane(name)
        for key in keys:
            if key in presets.NAMED_KEYS:
                tmux.send_key(pane, key)
            else:
                tmux.send_text(pane, key, enter=False)
        self._answered(name, keys)
