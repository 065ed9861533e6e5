"""Errors a user can meet: each carries a one-line message that says what to do."""

from __future__ import annotations


class PaneboardError(Exception):
    """A problem the user can fix; the CLI prints it on one line and exits with `exit_code`."""

    exit_code = 2


class ConfigError(PaneboardError):
    """The task file is wrong: the message names file, line and field."""


class GitError(PaneboardError):
    """The repository is not in a state paneboard can work with."""


class TmuxError(PaneboardError):
    """tmux is missing, too old, or refused a command."""


class SpawnError(PaneboardError):
    """Starting an agent failed at a named step; everything created for it was rolled back."""

    def __init__(self, step: str, detail: str):
        super().__init__(f"spawn failed at step '{step}': {detail} (rolled back; nothing was left behind)")
        self.step = step


class AgentNotFound(PaneboardError):
    """No agent with that name exists in this repository."""


class UnsafeOperation(PaneboardError):
    """An operation was refused because it could lose work or leave the repository half-changed."""


class AgentIsLive(UnsafeOperation):
    """The agent is working or waiting for an answer: acting on it now would surprise it."""
