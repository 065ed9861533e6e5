"""Each agent's timeline: what happened to it and what was done to it, persisted, oldest first.

Plain Python (no Textual). One JSON object per line in
`<git-common-dir>/paneboard/timeline/<slug>.jsonl`; a file past `MAX_BYTES` becomes
`<slug>.1.jsonl` (the one before it is dropped), so each agent keeps between one and two files'
worth of history. Several processes append (the dashboard's monitor, the CLI's verbs): each line
is written with one `write` on an `O_APPEND` file under an flock, so lines never interleave.

`watched.json` beside them holds when a dashboard was watching (intervals, extended by a
heartbeat), so a reader can say plainly when nobody was: "not watched from 14:02 to 14:40".
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .names import slugify
from .state import write_atomic

log = logging.getLogger(__name__)

MAX_BYTES = 256 * 1024
"""A timeline file past this size is rotated (one older file is kept)."""
MAX_TEXT = 2000
"""Longer texts (a pasted reply, a long why) are cut to this many characters."""
HEARTBEAT = 30.0
"""How often a watching dashboard extends its interval in watched.json."""
GAP = 3 * HEARTBEAT
"""A stretch without a watching dashboard longer than this is shown as "not watched"."""
MAX_INTERVALS = 500

KINDS = ("started", "status", "trigger", "acknowledged", "snoozed", "reply", "key", "approve", "reject", "answer",
         "comment", "file", "commit", "check", "merge", "discard", "restore", "restart", "stopped", "combine",
         "reviewed", "prompt", "answered", "not_watched")
"""Every kind of event a timeline holds (`not_watched` is made when reading, never stored)."""


@dataclass(frozen=True)
class Event:
    """One thing that happened: when, what kind, a line of text, who did it, and details."""

    at: float
    kind: str
    text: str
    source: str = ""
    """Who did it: 'dashboard', 'cli', 'monitor' or an automatic rule's name."""
    data: dict | None = None

    def to_json(self) -> dict:
        doc = {"at": round(self.at, 3), "kind": self.kind, "text": self.text, "source": self.source}
        if self.data:
            doc["data"] = self.data
        return doc


def _event(doc: object) -> Event | None:
    if not isinstance(doc, dict):
        return None
    try:
        data = doc.get("data")
        return Event(at=float(doc["at"]), kind=str(doc["kind"]), text=str(doc.get("text", "")),
                     source=str(doc.get("source", "")), data=data if isinstance(data, dict) else None)
    except (KeyError, TypeError, ValueError):
        return None


class Timeline:
    """The timelines of every agent of one repository."""

    def __init__(self, state_dir: Path):
        self.dir = Path(state_dir) / "timeline"

    def path(self, agent: str) -> Path:
        """The agent's current timeline file."""
        return self.dir / f"{slugify(agent)}.jsonl"

    def _older(self, agent: str) -> Path:
        return self.dir / f"{slugify(agent)}.1.jsonl"

    def record(self, agent: str, kind: str, text: str, source: str = "", at: float | None = None,
               **data) -> Event:
        """Append one event to the agent's timeline (rotating a full file first); returns it."""
        event = Event(at=time.time() if at is None else at, kind=kind, text=str(text)[:MAX_TEXT],
                      source=source, data=data or None)
        line = (json.dumps(event.to_json(), ensure_ascii=False) + "\n").encode("utf-8", "surrogateescape")
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.path(agent)
        fd = self._open_locked(path)
        try:
            if os.fstat(fd).st_size + len(line) > MAX_BYTES:
                # Rotate under the lock: whoever appends next opens the new file.
                os.replace(path, self._older(agent))
                os.close(fd)
                fd = self._open_locked(path)
            os.write(fd, line)
        finally:
            os.close(fd)
        return event

    @staticmethod
    def _open_locked(path: Path) -> int:
        """The file opened for appending and locked; the current one, even if another process just rotated it."""
        while True:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                if os.stat(path).st_ino == os.fstat(fd).st_ino:
                    return fd
            except FileNotFoundError:
                pass
            os.close(fd)

    def events(self, agent: str) -> list[Event]:
        """The agent's events, oldest first (unreadable lines skipped)."""
        out: list[Event] = []
        for path in (self._older(agent), self.path(agent)):
            try:
                raw = path.read_bytes()
            except OSError:
                continue
            for line in raw.splitlines():
                try:
                    event = _event(json.loads(line))
                except ValueError:
                    event = None   # a torn or garbage line: the rest still reads
                if event is not None:
                    out.append(event)
        out.sort(key=lambda e: e.at)
        return out

    def changed_at(self, agent: str) -> float:
        """When the agent's timeline last changed (0 when it has none): a cheap test for "read again"."""
        with contextlib.suppress(OSError):
            return self.path(agent).stat().st_mtime
        return 0.0

    # -- when a dashboard watched ------------------------------------------------

    @property
    def watched_path(self) -> Path:
        return self.dir / "watched.json"

    def watched(self) -> list[tuple[float, float]]:
        """The (from, to) intervals during which a dashboard was watching, oldest first."""
        try:
            data = json.loads(self.watched_path.read_text(encoding="utf-8"))
            return sorted((float(a), float(b)) for a, b in data.get("intervals", []))
        except (OSError, ValueError, TypeError, AttributeError):
            return []

    def watching(self, started: float, now: float) -> None:
        """Say that a dashboard started at `started` is still watching at `now` (called every HEARTBEAT)."""
        intervals = [iv for iv in self.watched() if iv[0] != started]
        intervals.append((started, now))
        intervals = sorted(intervals)[-MAX_INTERVALS:]
        write_atomic(self.watched_path, json.dumps({"version": 1, "intervals": intervals}) + "\n")


def with_gaps(events: list[Event], watched: list[tuple[float, float]], now: float,
              gap: float = GAP) -> list[Event]:
    """The events with a `not_watched` event for every stretch longer than `gap` that no dashboard watched.

    Only from the agent's first event on: before it there was nothing to miss.
    """
    if not events:
        return []
    start = events[0].at
    merged: list[list[float]] = []
    for a, b in sorted(watched):
        if merged and a <= merged[-1][1] + gap:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    gaps: list[tuple[float, float]] = []
    cursor = start
    for a, b in merged:
        if b < cursor:
            continue
        if a - cursor > gap:
            gaps.append((cursor, a))
        cursor = max(cursor, b)
    if now - cursor > gap:
        gaps.append((cursor, now))
    notes = [Event(at=a, kind="not_watched", text=f"not watched from {clock(a)} to {clock(b)}",
                   data={"from": round(a, 3), "to": round(b, 3)}) for a, b in gaps]
    return sorted(events + notes, key=lambda e: e.at)


def clock(at: float) -> str:
    """A time of day, with the date when it is not today."""
    t = time.localtime(at)
    if time.strftime("%Y-%m-%d", t) == time.strftime("%Y-%m-%d"):
        return time.strftime("%H:%M", t)
    return time.strftime("%Y-%m-%d %H:%M", t)


def line(event: Event) -> str:
    """One event as `paneboard log` prints it: date and time, kind, text, who."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event.at))
    by = (event.data or {}).get("rule") or event.source     # an automatic rule names itself
    who = f"  ({by})" if by and by != "monitor" else ""
    text = " ".join(event.text.split()) if event.kind not in ("reply", "comment") else event.text
    text = text.replace("\n", "\n" + " " * 34)
    return f"{stamp}  {event.kind:<12}  {text}{who}"
