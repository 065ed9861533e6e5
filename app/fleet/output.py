"""An agent's recorded output: its pane's log, here under the common dir or on its host, read the same way."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import AgentNotFound
from ..model import Agent
from ..tmux import logs
from . import hosts
from .core import FleetCore


@dataclass(frozen=True)
class OutputLog:
    """The recent text of an agent's output log, where that log is, and when it was last written (None: no log)."""

    text: str
    where: str
    written_at: float | None


class OutputVerbs(FleetCore):
    """Reading agents' output logs, and opening the log pipe of remote panes that have none."""

    def output_log(self, name: str, n_bytes: int = 65536) -> OutputLog:
        """The agent's recorded output, here or read on its host (one ssh call; HostUnreachable when away)."""
        data = self.state.read()
        rec = data["agents"].get(name) or data.get("discarded", {}).get(name)
        if rec is not None and rec.get("host"):
            written, text, where = hosts.read_log(self, name, rec, n_bytes)
            return OutputLog(text, where, written)
        path = logs.log_path(self.repo.common_dir, name)
        written = logs.last_write(path)
        if rec is None and written is None:
            raise AgentNotFound(f"no agent named {name!r} in {self.repo.root} (see `paneboard ls`)")
        return OutputLog(logs.tail(path, n_bytes) if written is not None else "", str(path), written)

    def open_log_pipes(self, agents: list[Agent]) -> list[str]:
        """Pipe the output of these agents' live panes on hosts into their logs there, where no pipe is open;
        the names piped now (a host that does not answer is skipped)."""
        return hosts.open_log_pipes(self, agents)
