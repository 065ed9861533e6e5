"""The attention store: which triggers the human acknowledged or snoozed, kept across dashboard restarts.

`<git-common-dir>/paneboard/triggers.json` holds acknowledgements and snoozes; the previous
dashboard's `status.json` says which statuses and triggers it showed, so that a restart carries
their `since` on and neither announces nor hides an old occurrence as a new one.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from pathlib import Path

from ..model import Agent, Trigger, TriggerKind
from ..state import write_atomic
from ..triggers import TriggerBook

log = logging.getLogger(__name__)

Key = tuple[str, str]      # (agent, trigger kind)

RESTART_GRACE = 60.0   # seconds after a start during which the previous dashboard's memory applies
_SAME_SINCE = 2.0      # two `since`s this close are one occurrence (tmux times are whole seconds)
# Kinds whose `since` a restart can recompute from tmux and the log; the others restart at "now".
_RECOMPUTED = {TriggerKind.SILENCE, TriggerKind.EXITED}


def carry_since(t: Trigger, previous: float | None) -> Trigger:
    """A trigger active before a restart and again after it keeps its first `since`.

    For silence and exits the recomputed time is the real one, so it is the same occurrence
    only if the two agree; for the rest (a question, a limit, files out of scope) a restart
    cannot know when it began, and the previous time is the better answer.
    """
    if previous is None:
        return t
    if t.kind in _RECOMPUTED:
        return replace(t, since=previous) if abs(t.since - previous) <= _SAME_SINCE else t
    return replace(t, since=previous) if previous <= t.since + _SAME_SINCE else t


def read_hidden(path: Path, now: float) -> tuple[dict[Key, float], dict[Key, float]]:
    """(acknowledged: key -> the occurrence's since, snoozed: key -> until) from triggers.json; expired snoozes dropped."""
    acks: dict[Key, float] = {}
    snoozes: dict[Key, float] = {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        for e in data.get("acknowledged", []):
            acks[(str(e["agent"]), str(e["kind"]))] = float(e["since"])
        for e in data.get("snoozed", []):
            if float(e["until"]) > now:
                snoozes[(str(e["agent"]), str(e["kind"]))] = float(e["until"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return acks, snoozes


def write_hidden(path: Path, acks: dict[Key, float], snoozes: dict[Key, float]) -> None:
    """Write triggers.json atomically."""
    doc = {"version": 1,
           "acknowledged": [{"agent": a, "kind": k, "since": round(s, 3)} for (a, k), s in sorted(acks.items())],
           "snoozed": [{"agent": a, "kind": k, "until": round(u, 3)} for (a, k), u in sorted(snoozes.items())]}
    write_atomic(Path(path), json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def read_previous_status(path: Path) -> tuple[set[Key], dict[str, tuple[str, float]], dict[Key, float]]:
    """From the previous dashboard's status.json: (its triggers, its statuses with their since, its triggers' since)."""
    quiet: set[Key] = set()
    statuses: dict[str, tuple[str, float]] = {}
    carried: dict[Key, float] = {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        for a in data.get("agents", []):
            statuses[a["name"]] = (str(a["status"]), float(a["since"]))
            for t in a.get("triggers", []):
                key = (t["agent"], t["kind"])
                quiet.add(key)
                carried[key] = float(t["since"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return quiet, statuses, carried


def hidden_marks(fleet, agents: list[Agent], now: float | None = None) -> dict[Key, dict]:
    """What the dashboard hid of these agents' triggers: key -> {"acknowledged": bool, "snoozed_until": float|None}.

    Without the dashboard's history an acknowledgement is matched like a restarted dashboard
    matches it: same agent and kind, and for silence and exits (whose start tmux tells) the same start.
    """
    now = time.time() if now is None else now
    acks, snoozes = read_hidden(fleet.repo.state_dir / "triggers.json", now)
    marks: dict[Key, dict] = {}
    for a in agents:
        for t in a.triggers:
            acked = t.key in acks and (t.kind not in _RECOMPUTED or abs(acks[t.key] - t.since) <= _SAME_SINCE)
            marks[t.key] = {"acknowledged": acked, "snoozed_until": snoozes.get(t.key)}
    return marks


class Attention:
    """Acknowledgements and snoozes over a `TriggerBook`, persisted, with the previous dashboard's memory."""

    def __init__(self, book: TriggerBook, path: Path, clock=time.time):
        self.book = book
        self.path = path
        self.clock = clock
        self._acks: dict[Key, float] = {}          # acknowledged occurrence -> its since
        self._pending_acks: dict[Key, float] = {}  # loaded, not yet matched to a live trigger
        self._snoozes: dict[Key, float] = {}       # until (clock time)
        self._carried: dict[Key, float] = {}       # the previous dashboard's triggers -> their since
        self._prev_status: dict[str, tuple[str, float]] = {}
        self._started = 0.0
        self._seen: tuple[int, int, int] | None = None     # triggers.json as last read or written here

    def _file_key(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def sync(self, now: float) -> set[str]:
        """Take what another dashboard hid since (triggers.json changed: one stat when not); the agents it hid."""
        key = self._file_key()
        if key == self._seen:
            return set()
        self._seen = key
        acks, snoozes = read_hidden(self.path, now)
        hid: set[str] = set()
        for (agent, kind), since in acks.items():
            t = next((t for t in self.book.active(agent) if t.kind.value == kind), None)
            if (agent, kind) not in self._acks and t is not None and abs(t.since - since) <= _SAME_SINCE:
                self.book.acknowledge(agent, kind)
                self._acks[(agent, kind)] = t.since
                hid.add(agent)
        for (agent, kind), until in snoozes.items():
            if self._snoozes.get((agent, kind), 0.0) < until:
                self.book.snooze(agent, kind, until - now, now)
                self._snoozes[(agent, kind)] = until
                hid.add(agent)
        return hid

    def load(self, status_json: Path, now: float) -> set[Key]:
        """Read what the previous dashboard showed and hid; returns the triggers it already announced."""
        self._started = now
        quiet, self._prev_status, self._carried = read_previous_status(status_json)
        self._seen = self._file_key()
        acks, snoozes = read_hidden(self.path, now)
        self._pending_acks = dict(acks)
        for key, since in acks.items():
            self._carried.setdefault(key, since)
        for (agent, kind), until in snoozes.items():
            self.book.snooze(agent, kind, until - now, now)
            self._snoozes[(agent, kind)] = until
        return quiet

    def previous_status(self, name: str) -> tuple[str, float] | None:
        """The status the previous dashboard showed for this agent, and since when (asked once)."""
        return self._prev_status.pop(name, None)

    def judge(self, name: str, found: list[Trigger], now: float) -> tuple[list[Trigger], list[Trigger]]:
        """Record the agent's triggers found now; (raised, cleared), leaving out what the human already hid."""
        if self._carried:
            active = {t.kind for t in self.book.active(name)}
            found = [t if t.kind in active else carry_since(t, self._carried.pop(t.key, None)) for t in found]
        raised, cleared = self.book.update(name, found, now)
        if self._pending_acks:
            raised = self._match_acks(name, raised)
        if cleared and any(t.key in self._acks for t in cleared):
            for t in cleared:
                self._acks.pop(t.key, None)
            self.save()
        return raised, cleared

    def acknowledge(self, agent: str, kind: str) -> bool:
        """Hide the agent's active trigger of this kind until it clears and fires again."""
        ok = self.book.acknowledge(agent, kind)
        if ok:
            t = next(t for t in self.book.active(agent) if t.kind.value == kind)
            self._acks[(agent, kind)] = t.since
            self.save()
        return ok

    def snooze(self, agent: str, kind: str, seconds: float, now: float) -> None:
        """Hide the agent's trigger of this kind for `seconds`."""
        self.book.snooze(agent, kind, seconds, now)
        self._snoozes[(agent, kind)] = now + seconds
        self.save()

    def _match_acks(self, name: str, raised: list[Trigger]) -> list[Trigger]:
        """An acknowledgement made before the restart hides the same occurrence, not a new one."""
        active = {t.key: t for t in self.book.active(name)}
        matched = set()
        dropped = False
        for key in [k for k in self._pending_acks if k in active]:     # raised now, or active but snoozed
            since = self._pending_acks.pop(key)
            t = active[key]
            if abs(t.since - since) <= _SAME_SINCE:
                self.book.acknowledge(*key)
                self._acks[key] = t.since
                matched.add(key)
            else:
                dropped = True       # it ended and fired again while no dashboard ran
        if dropped:
            self.save()
        return [t for t in raised if t.key not in matched]

    def expire(self, now: float) -> list[Trigger]:
        """Wake snoozed triggers that are due and drop memory past its use; the triggers woken."""
        woken = self.book.wake(now)
        changed = False
        for key, until in list(self._snoozes.items()):
            if now >= until:
                del self._snoozes[key]
                changed = True
        if self._started and now - self._started >= RESTART_GRACE and (self._pending_acks or self._carried):
            # Whatever the previous dashboard knew and has not shown up by now has ended meanwhile.
            self._carried.clear()
            self._prev_status.clear()
            changed = changed or bool(self._pending_acks)
            self._pending_acks.clear()
        if changed:
            self.save()
        return woken

    def forget(self, agent: str) -> list[Trigger]:
        """The agent is gone: drop its triggers and what was hidden of them; the triggers cleared."""
        cleared = self.book.forget(agent)
        before = len(self._acks) + len(self._snoozes) + len(self._pending_acks)
        for d in (self._acks, self._snoozes, self._pending_acks, self._carried):
            for key in [k for k in d if k[0] == agent]:
                del d[key]
        if len(self._acks) + len(self._snoozes) + len(self._pending_acks) != before:
            self.save()
        return cleared

    def save(self) -> None:
        """Write the acknowledgements and snoozes, with what other dashboards hid meanwhile; a failed write
        is logged, never raised."""
        self.sync(self.clock())
        acks = {**self._pending_acks, **self._acks}
        try:
            write_hidden(self.path, acks, self._snoozes)
        except OSError as exc:
            log.warning("cannot write %s: %s", self.path, exc)
        self._seen = self._file_key()
