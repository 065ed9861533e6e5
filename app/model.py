"""The plain data paneboard shows: agents, their status with its reason, and triggers."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, asdict
from enum import StrEnum


class Kind(StrEnum):
    """What an agent is doing, as one word."""

    STARTING = "starting"
    WORKING = "working"
    NEEDS_INPUT = "needs_input"
    IDLE = "idle"
    SILENT = "silent"
    ERROR = "error"
    EXITED = "exited"


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
