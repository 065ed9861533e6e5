"""Attaching a terminal to an agent's tmux window, from outside tmux or from inside it."""

from __future__ import annotations

import os

from ..errors import PaneboardError, TmuxError
from . import hosts
from .core import FleetCore


class AttachVerbs(FleetCore):
    """Attach_argv, tmux_client_inside and switch_client_to: putting the user in front of an agent's pane."""

    def attach_argv(self, name: str) -> list[str]:
        """The tmux command that attaches a terminal to the agent's window."""
        pane = self._live_pane_or_dead(name)
        agent = self.get(name, stats=False)
        if agent.host:
            return hosts.attach_argv(self, agent)
        return [*self.tmux_on(agent.socket).base_argv, "attach-session", "-t", agent.session or self.session,
                ";", "select-window", "-t", pane,
                ";", "display-message", "-d", "5000", "paneboard: detach (prefix d, usually C-b d) to come back"]

    def tmux_client_inside(self) -> bool:
        """True when this process runs inside a client of the agents' own tmux server."""
        tmux_env = os.environ.get("TMUX")
        if not tmux_env or not self.tmux.alive():
            return False
        try:
            ours = self.tmux.run("display-message", "-p", "#{socket_path}")[0]
        except (TmuxError, IndexError):
            return False
        return os.path.realpath(tmux_env.split(",")[0]) == os.path.realpath(ours)

    def switch_client_to(self, name: str) -> None:
        """Inside tmux: move this client to the agent's window and say how to come back."""
        pane = self._live_pane_or_dead(name)
        here = os.environ.get("TMUX_PANE")
        self.tmux.run("switch-client", "-t", pane)
        self.tmux.run("select-window", "-t", pane)
        back = "prefix l (last window)" if here and self._same_session(here, pane) else "prefix L (last session)"
        self.tmux.run("display-message", "-d", "5000", f"paneboard: {back} returns to the dashboard",
                      check=False)

    def _same_session(self, pane_a: str, pane_b: str) -> bool:
        fmt = "#{session_id}"
        a = self.tmux.run("display-message", "-p", "-t", pane_a, fmt, check=False)
        b = self.tmux.run("display-message", "-p", "-t", pane_b, fmt, check=False)
        return bool(a) and a == b

    def _live_pane_or_dead(self, name: str) -> str:
        # A dead pane still shows its last screen, so attaching to it is allowed; a vanished one is not.
        agent = self.get(name, stats=False)
        if agent.pane is None:
            raise PaneboardError(f"agent {name!r} has no tmux pane any more ({agent.status.why})")
        return agent.pane
