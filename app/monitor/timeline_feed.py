"""The monitor's part of each agent's timeline (app/timeline.py): status changes with their why,
triggers raised, cleared, acknowledged and snoozed, files first touched, commits; and when it watched.

Every record is a compare in memory and, only when something changed, one small append. What a
previous dashboard already recorded is read back once per agent, so a restart neither repeats an
event nor misses one that happened meanwhile (a file touched, a trigger that ended and fired again).
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass, field
from typing import Callable

from ..errors import PaneboardError
from ..model import Agent, Status, Trigger
from ..timeline import HEARTBEAT, Timeline

log = logging.getLogger(__name__)

_SAME_SINCE = 2.0      # two trigger `since`s this close are one occurrence (as in attention.py)
_FILES_AT_ONCE = 20    # files first touched beyond this many in one look are one line


@dataclass
class _Memory:
    """What this agent's timeline says last: its status, its open triggers, its files and commits."""

    status: str | None = None
    open: dict[str, float] = field(default_factory=dict)
    files: set[str] = field(default_factory=set)
    commits: int | None = None
    answered_at: float = 0.0        # the newest request answered by a rule that is recorded


class TimelineFeed:
    """Writes what the monitor sees into each agent's timeline; a failed write is logged, never raised."""

    def __init__(self, timeline: Timeline, writes: bool = True, human: bool = True):
        self.timeline = timeline
        # Only the repository's writer (writer.py) writes what the monitor saw; a human's acknowledgement
        # or snooze is written by the dashboard it was made in (`human`: not a read-only one).
        self.writes = writes
        self.human = human
        self._memory: dict[str, _Memory] = {}
        # Requests answered by a rule while another dashboard wrote: written on taking over if it did not.
        self._answered_unwritten: list[tuple[str, float, str]] = []
        self._started = 0.0
        self._beat = 0.0

    # -- watching -----------------------------------------------------------------

    def start(self, now: float) -> None:
        """A dashboard starts watching."""
        self._started = self._beat = now
        self._write(lambda: self.timeline.watching(now, now))

    def heartbeat(self, now: float) -> None:
        """Still watching: extend this dashboard's interval every HEARTBEAT seconds."""
        if self._started and now - self._beat >= HEARTBEAT:
            self._beat = now
            self._write(lambda: self.timeline.watching(self._started, now))

    def stop(self, now: float) -> None:
        """The dashboard stops watching."""
        if self._started:
            self._write(lambda: self.timeline.watching(self._started, now))

    # -- what happened ------------------------------------------------------------

    def status(self, agent: Agent, status: Status, settled: bool) -> None:
        """Record a change of status kind with its why (only once the status rests on a read screen)."""
        if not settled:
            return
        memory = self._remember(agent.name)
        kind = status.kind.value
        if memory.status != kind:
            was = f"{memory.status} → " if memory.status else ""
            memory.status = kind
            self._record(agent.name, "status", f"{was}{kind}: {status.why}", at=status.since, status=kind)

    def triggers(self, raised: list[Trigger], cleared: list[Trigger]) -> list[Trigger]:
        """Record triggers raised (a new occurrence only) and cleared; the raised ones recorded."""
        recorded = []
        for t in raised:
            memory = self._remember(t.agent)
            since = memory.open.get(t.kind.value)
            if since is not None and abs(since - t.since) <= _SAME_SINCE:
                continue
            memory.open[t.kind.value] = t.since
            recorded.append(t)
            self._record(t.agent, "trigger", f"{t.kind.value} raised: {t.what}", trigger=t.kind.value,
                         state="raised", since=round(t.since, 3))
        for t in cleared:
            memory = self._remember(t.agent)
            if memory.open.pop(t.kind.value, None) is not None:
                self._record(t.agent, "trigger", f"{t.kind.value} cleared", trigger=t.kind.value, state="cleared")
        return recorded

    def hidden(self, agent: str, kind: str, what: str) -> None:
        """Record that the human acknowledged or snoozed a trigger (`what`: 'acknowledged' or 'snoozed ...')."""
        if self.human:
            self._write(lambda: self.timeline.record(agent, what.split()[0], f"{kind} {what}", source="dashboard",
                                                     trigger=kind), always=True)

    def answered(self, name: str, at: float, text: str) -> bool:
        """Record a request the agent's CLI answered by a rule; False if the timeline has it already."""
        memory = self._remember(name)
        if at <= memory.answered_at:
            return False
        memory.answered_at = at
        if not self.writes:
            self._answered_unwritten = (self._answered_unwritten + [(name, at, text)])[-100:]
        self._record(name, "answered", text, at=at, source="rule")
        return True

    # -- taking over from another dashboard (writer.py) ---------------------------------

    def read_back_all(self, names: list[str]) -> dict[str, _Memory]:
        """What the agents' timelines say last, whatever this dashboard remembers (call in a thread)."""
        return {name: self._read(name) for name in names}

    def take_over(self, memories: dict[str, _Memory], now: float) -> None:
        """Start writing: remember what is on disk, not what this dashboard saw, and write what is missing."""
        self.writes = True
        self._memory = dict(memories)
        unwritten, self._answered_unwritten = self._answered_unwritten, []
        for name, at, text in unwritten:
            self.answered(name, at, text)
        if self._started:
            self._beat = now
            self._write(lambda: self.timeline.watching(self._started, now))

    def catch_up(self, name: str, visible: list[Trigger], active: set[str]) -> list[Trigger]:
        """Record the agent's triggers its timeline lacks (and clear the ended ones); the raised ones recorded.

        A kind the timeline has open is the occurrence the previous writer announced, whatever its `since`:
        each dashboard dates a question or a limit from when it first saw it, seconds apart at times.
        """
        memory = self._remember(name)
        ended = [kind for kind in memory.open if kind not in active]
        for kind in ended:
            memory.open.pop(kind)
            self._record(name, "trigger", f"{kind} cleared", trigger=kind, state="cleared")
        return self.triggers([t for t in visible if t.kind.value not in memory.open], [])

    def stats(self, agent: Agent) -> bool:
        """Record files first touched; True when there are new commits to record (`commits`, in a thread)."""
        memory = self._remember(agent.name)
        fresh = [f for f in agent.files if f not in memory.files]
        if fresh:
            memory.files.update(fresh)
            shown = fresh[:_FILES_AT_ONCE]
            for path in shown:
                self._record(agent.name, "file", f"first touched {path}", path=path)
            if len(fresh) > len(shown):
                self._record(agent.name, "file", f"and {len(fresh) - len(shown)} more files first touched")
        # Commits made while no dashboard watched count too: the last total recorded, or none yet.
        return self.writes and agent.commits > (memory.commits or 0)

    def commits(self, agent: Agent, subjects: Callable[[Agent, int], list[str]] | None = None) -> None:
        """Record the commits made since the last look, with their subjects (runs git: call in a thread).

        `subjects(agent, n)` reads them where the agent's branch lives (git on its host); when it
        fails, nothing is recorded and the same commits are asked for again at the next look.
        """
        memory = self._remember(agent.name)
        count = agent.commits - (memory.commits or 0)
        if count <= 0:
            memory.commits = agent.commits
            return
        if subjects is not None:
            try:
                lines = subjects(agent, min(count, 20))
            except (PaneboardError, OSError) as exc:
                log.debug("commit subjects of %s: %s", agent.name, exc)
                return
        else:
            proc = subprocess.run(["git", "--no-optional-locks", "log", f"-{min(count, 20)}", "--reverse",
                                   "--format=%h %s", f"{agent.base}..HEAD"],
                                  cwd=agent.worktree, capture_output=True, text=True, errors="replace")
            lines = proc.stdout.splitlines() if proc.returncode == 0 else []
        memory.commits = agent.commits
        for entry in lines or [f"{count} new commit(s)"]:
            self._record(agent.name, "commit", entry, total=agent.commits)

    # -- memory and writing -------------------------------------------------------

    def read_back(self, names: list[str]) -> dict[str, _Memory]:
        """What the agents' timelines say last (reads files: call in a thread, then `adopt` on the loop)."""
        return {name: self._read(name) for name in names if name not in self._memory}

    def adopt(self, memories: dict[str, _Memory]) -> None:
        """Take memories read in a thread (an agent remembered meanwhile keeps its own)."""
        for name, memory in memories.items():
            self._memory.setdefault(name, memory)

    def _remember(self, name: str) -> _Memory:
        memory = self._memory.get(name)
        if memory is None:
            memory = self._memory[name] = self._read(name)
        return memory

    def _read(self, name: str) -> _Memory:
        memory = _Memory()
        try:
            events = self.timeline.events(name)
        except OSError:
            events = []
        for e in events:
            data = e.data or {}
            if e.kind == "status" and data.get("status"):
                memory.status = str(data["status"])
            elif e.kind == "commit" and isinstance(data.get("total"), int):
                memory.commits = data["total"]
            elif e.kind == "trigger" and data.get("state") == "raised":
                memory.open[str(data.get("trigger"))] = float(data.get("since") or e.at)
            elif e.kind == "trigger" and data.get("state") == "cleared":
                memory.open.pop(str(data.get("trigger")), None)
            elif e.kind == "answered":
                memory.answered_at = max(memory.answered_at, e.at)
            elif e.kind == "file" and data.get("path"):
                memory.files.add(str(data["path"]))
        return memory

    def forget(self, name: str) -> None:
        """The agent is gone from the fleet: drop its memory (its timeline stays on disk)."""
        self._memory.pop(name, None)

    def _record(self, name: str, kind: str, text: str, source: str = "monitor", at: float | None = None,
                **data) -> None:
        self._write(lambda: self.timeline.record(name, kind, text, source=source, at=at, **data))

    def _write(self, fn, always: bool = False) -> None:
        if not (self.writes or always):
            return
        try:
            fn()
        except OSError as exc:
            log.warning("cannot write the timeline: %s", exc)
