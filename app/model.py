"""The plain data paneboard shows: agents, their status with its reason, and triggers."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, asdict
from enum import StrEnum


def ago(seconds: float) -> str:
    """A short human duration: <10s, 20s, 3m, 2h05m (coarse, so a live table repaints rarely)."""
    seconds = max(0, int(seconds))
    if seconds < 10:
        return "<10s"
    if seconds < 60:
        return f"{seconds // 10 * 10}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _iso(t: float | None) -> str | None:
    """An epoch time as ISO 8601 with the local offset, to the second."""
    if t is None:
        return None
    from datetime import datetime
    return datetime.fromtimestamp(t).astimezone().isoformat(timespec="seconds")


class Kind(StrEnum):
    """What an agent is doing, as one word."""

    STARTING = "starting"
    WORKING = "working"
    NEEDS_INPUT = "needs_input"
    IDLE = "idle"
    SILENT = "silent"
    ERROR = "error"
    EXITED = "exited"
    QUEUED = "queued"      # a task waiting for its `after` tasks to be merged: no pane, no worktree yet
    MISSING = "missing"    # its worktree was removed outside paneboard (rm -rf, git worktree remove)
    UNREACHABLE = "unreachable"   # its host cannot be reached over SSH: nothing is known, nothing assumed lost


@dataclass(frozen=True)
class Status:
    """One status and why: the rule that fired and the text it matched."""

    kind: Kind
    why: str = ""
    evidence: str = ""
    since: float = field(default_factory=time.time)


class TriggerKind(StrEnum):
    """The moments a human must step in."""

    SILENCE = "silence"
    NEEDS_INPUT = "needs_input"
    REPEATED_ERRORS = "repeated_errors"
    OUT_OF_SCOPE = "out_of_scope"
    OVERLAP = "overlap"
    EXITED = "exited"
    LIMIT = "limit"
    CONFLICT = "conflict"
    MISSING = "missing"
    RETRYING = "retrying"      # working for long with only its spinner and timer redrawing: a quiet retry loop
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class Trigger:
    """A reason to pull the human in: which agent, what happened, since when, the evidence."""

    kind: TriggerKind
    agent: str
    what: str
    since: float
    evidence: str = ""
    loud: bool = False

    @property
    def key(self) -> tuple[str, str]:
        """Identity used for acknowledge/snooze: same agent and kind is the same trigger."""
        return (self.agent, self.kind.value)

    def to_json(self) -> dict:
        d = asdict(self)
        d["kind"] = self.kind.value
        return d


@dataclass
class Agent:
    """Everything paneboard knows about one agent, rebuilt from tmux, git and the state file."""

    name: str
    task: str
    agent: str                       # preset name or full command
    branch: str
    worktree: str
    base: str
    session: str
    pane: str | None = None          # tmux pane id, None once the pane is gone
    port: int | None = None
    prompt: str = ""
    scope: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    rules: str = "generic"
    silence: float = 600.0
    started_at: float = 0.0
    last_activity_at: float = 0.0
    status: Status = field(default_factory=lambda: Status(Kind.STARTING, "just started"))
    triggers: list[Trigger] = field(default_factory=list)
    files: tuple[str, ...] = ()
    added: int = 0
    removed: int = 0
    dirty: bool = False
    commits: int = 0
    exit_code: int | None = None
    pid: int | None = None
    pane_alive: bool = False
    worktree_exists: bool = True
    merged: bool = False
    last_check: dict | None = None   # {"passed", "exit_code", "duration", "summary", "log", "at", "command"}
    check_running: dict | None = None   # {"started_at", "command", "log", "pid"} while a check runs
    limit_resets_at: float | None = None   # when the usage limit on its screen lifts, if it says
    limit_resume_at: float | None = None   # when paneboard sends its continue message (on_limit: resume)
    socket: str | None = None        # the tmux socket (-L name) it lives on; None: the default server
    session_id: str | None = None    # the agent CLI's own session id, which restart resumes
    pane_unseen: bool = False        # no pane found, and no record of where it lives or that it stopped
    prompt_waiting: str | None = None    # its task prompt is not delivered yet: "prompt waiting", or why it never was
    host: str | None = None          # the `hosts:` entry it runs on over SSH; None: this machine
    unreachable: str | None = None   # why its host could not be reached just now (ssh's error line)

    @property
    def files_changed(self) -> int:
        return len(self.files)

    def to_json(self) -> dict:
        """The `paneboard ls --json` object for this agent."""
        return {
            "name": self.name, "task": self.task, "agent": self.agent, "branch": self.branch,
            "worktree": self.worktree, "base": self.base, "session": self.session,
            "pane": self.pane, "port": self.port, "status": self.status.kind.value,
            "status_why": self.status.why, "status_evidence": self.status.evidence,
            "triggers": [t.to_json() for t in self.triggers],
            "files_changed": self.files_changed, "files": list(self.files),
            "added": self.added, "removed": self.removed, "dirty": self.dirty,
            "commits": self.commits, "exit_code": self.exit_code, "pid": self.pid,
            "pane_alive": self.pane_alive, "worktree_exists": self.worktree_exists,
            "merged": self.merged, "scope": list(self.scope), "after": list(self.after),
            "last_check": self.last_check, "check_running": self.check_running,
            "limit_resets_at": _iso(self.limit_resets_at), "limit_resume_at": _iso(self.limit_resume_at),
            "socket": self.socket, "session_id": self.session_id, "prompt_waiting": self.prompt_waiting,
            "host": self.host,
            "unreachable": self.unreachable,
            "started_at": self.started_at, "last_activity_at": self.last_activity_at,
        }
