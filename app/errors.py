"""Errors a user can meet: each carries a one-line message that says what to do."""

from __future__ import annotations

import errno
import os
import re


class PaneboardError(Exception):
    """A problem the user can fix; the CLI prints it on one line and exits with `exit_code`."""

    exit_code = 2


class ConfigError(PaneboardError):
    """The task file is wrong: the message names file, line and field."""


class GitError(PaneboardError):
    """The repository is not in a state paneboard can work with."""


class TmuxError(PaneboardError):
    """tmux is missing, too old, or refused a command."""


class HostUnreachable(PaneboardError):
    """An agent's host could not be reached over SSH (or did not answer in time); nothing was changed there."""

    exit_code = 1

    def __init__(self, host: str, detail: str):
        super().__init__(f"host {host!r} is unreachable: {detail} (its agents keep their work; try again when "
                         f"`ssh` reaches it)")
        self.host = host
        self.detail = detail


class SpawnError(PaneboardError):
    """Starting an agent failed at a named step; everything created for it was rolled back."""

    def __init__(self, step: str, detail: str):
        super().__init__(f"spawn failed at step '{step}': {detail} (rolled back; nothing was left behind)")
        self.step = step


class AgentNotFound(PaneboardError):
    """No agent with that name exists in this repository."""


class UnsafeOperation(PaneboardError):
    """An operation was refused because it could lose work or leave the repository half-changed."""


class DeliveryNotConfirmed(PaneboardError):
    """Text was pasted into an agent, but nothing showed that its CLI submitted it."""

    exit_code = 1


class DiskFull(PaneboardError):
    """A write failed because the file system is full; nothing was half-done."""

    exit_code = 1

    def __init__(self, path: str):
        super().__init__(f"no space left on device while writing {path}: free some space and run the command again")
        self.path = path


_DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_DISK_FULL_WORDS = ("No space left on device", "Out of diskspace", "Disk quota exceeded")
# Less free space than this where a git command failed: its failure is put down to the full disk
# (git says "couldn't write '…lock'" or "write error" without naming the cause).
_NEARLY_FULL = 1024 * 1024
_NAMED_PATH = re.compile(r"'(/[^']+)'|failed in (/[^:]+):")


def _free_bytes(path: str) -> int | None:
    p = os.path.abspath(path)
    while not os.path.exists(p) and os.path.dirname(p) != p:
        p = os.path.dirname(p)
    try:
        st = os.statvfs(p)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def disk_full_path(exc: BaseException, near: str | os.PathLike | None = None) -> str | None:
    """The path whose write failed for want of space, if exc says (or git's failure suggests) the disk is full."""
    if isinstance(exc, DiskFull):
        return exc.path
    if isinstance(exc, OSError):
        if exc.errno not in _DISK_FULL_ERRNOS:
            return None
        return str(exc.filename or exc.filename2 or near or "a file")
    if not isinstance(exc, (GitError, SpawnError)):
        return None
    text = str(exc)
    named = _NAMED_PATH.search(text)
    candidates = [named.group(1) or named.group(2)] if named else []
    candidates += [os.fspath(near)] if near is not None else []
    if any(w in text for w in _DISK_FULL_WORDS):
        return candidates[0] if candidates else "the repository"
    for path in candidates:
        free = _free_bytes(path)
        if free is not None and free < _NEARLY_FULL:
            return path
    return None


def one_line(exc: BaseException, near: str | os.PathLike | None = None) -> str:
    """What the user reads about exc: its message on one line, a full disk said plainly (near: where we wrote)."""
    full = disk_full_path(exc, near)
    if full is not None:
        text = str(DiskFull(full))
    elif isinstance(exc, PaneboardError):
        text = str(exc)
    elif isinstance(exc, OSError):
        where = exc.filename if exc.filename is not None else near
        text = f"{exc.strerror or exc}" + (f": {where}" if where is not None else "")
    else:
        text = f"internal error: {type(exc).__name__}: {exc}"
    return " ".join(text.split())


class BaseBranchMissing(GitError):
    """An agent's base branch (or the configured one) no longer exists."""

    def __init__(self, base: str, fork: str | None = None, agent: str | None = None):
        whose = f" of {agent}" if agent else ""
        again = f"`git branch {base}`"
        if fork:
            again = f"`git branch {base} {fork[:10]}`, where {agent or 'the agent'} started"
        super().__init__(f"the base branch {base}{whose} no longer exists: create it again ({again}) "
                         f"or set `base:` in paneboard.yaml")
        self.base = base


class StateUnreadable(PaneboardError):
    """A state file cannot be read and cannot be moved aside either."""


class AgentIsLive(UnsafeOperation):
    """The agent is working or waiting for an answer: acting on it now would surprise it."""
