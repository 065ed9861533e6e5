"""Answering a running agent: type text, press keys, give a preset's approve/deny answer."""

from __future__ import annotations

from .. import hooks, presets
from ..errors import DeliveryNotConfirmed, PaneboardError
from ..tmux import Tmux
from .core import FleetCore
from .deliver import Delivery, deliver


class AnswerVerbs(FleetCore):
    """Send, send_key and press: input into a live agent's pane, refused when its process is gone."""

    def _live_pane(self, name: str) -> tuple[Tmux, str]:
        """The tmux server the agent lives on and its pane, if its process runs."""
        agent = self.get(name, stats=False)
        if agent.pane is None or not agent.pane_alive:
            raise PaneboardError(f"agent {name!r} is not running ({agent.status.why})")
        return self.tmux_on(agent.socket, agent.host), agent.pane

    def send(self, name: str, text: str, enter: bool = True, source: str | None = None) -> Delivery:
        """Deliver text (literally) so the agent submits it, or only paste it (enter=False); DeliveryNotConfirmed
        when its submission could not be confirmed. `source` names an automatic rule that sent it."""
        tmux, pane = self._live_pane(name)
        rule = {"rule": source} if source else {}
        if not enter:
            tmux.paste(pane, text, enter=False)
            self._record(name, "reply", text, delivered="pasted, not submitted", **rule)
            return Delivery(True, "pasted, not submitted (--no-enter)")
        preset = self._preset_of(name)
        done = deliver(tmux, pane, text, preset.submit if preset else ("Enter",),
                       events=hooks.events_path(self.repo.common_dir, name))
        self._record(name, "reply", text, delivered="confirmed" if done.confirmed else "not confirmed",
                     saw=done.saw, **rule)
        if not done.confirmed:
            raise DeliveryNotConfirmed(f"{name}: delivery not confirmed: {done.saw}")
        return done

    def _preset_of(self, name: str) -> presets.Preset | None:
        """The agent's preset from its record (None for a command that no longer parses)."""
        try:
            return presets.resolve(self.state.read()["agents"].get(name, {}).get("agent") or "")
        except ValueError:
            return None

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
