"""One writer per repository: of every dashboard watching a repository, the one that holds
`<git-common-dir>/paneboard/writer.lock` runs `on_trigger`, writes the timelines and the status
files, resumes agents after a usage limit and restarts killed prompt deliveries; the others watch.

The lock is an flock held for the process's life, so a dashboard that exits or is killed with -9
lets go of it at once; a watching dashboard tries it on its 1 s tick (one non-blocking flock) and
takes over. The new writer reads back what the timelines already say, writes only what is
missing and runs `on_trigger` only for the triggers the timelines do not have: what the previous
writer did is on disk, so nothing runs or is written twice. The lock file holds its holder's pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

LOCK = "writer.lock"


def lock_path(state_dir: Path) -> Path:
    """The writer's lock: `<git-common-dir>/paneboard/writer.lock`."""
    return Path(state_dir) / LOCK


def holder(state_dir: Path) -> int | None:
    """The pid of the dashboard that writes for this repository (0: one does, pid unknown; None: none runs)."""
    path = lock_path(state_dir)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            return int(text) if text.isdigit() else 0
        return None
    finally:
        os.close(fd)


def describe(state_dir: Path, holds: bool = False, watch_only: bool = False) -> str:
    """Which dashboard runs on_trigger and writes the timelines and status files, in one line."""
    if holds:
        return "this dashboard runs on_trigger and writes the timelines and status files"
    pid = holder(state_dir)
    who = "no dashboard" if pid is None else f"another dashboard (pid {pid})" if pid else "another dashboard"
    tail = " (this one is read-only)" if watch_only else ""
    return f"{who} runs on_trigger and writes the timelines and status files{tail}"


class WriterLock:
    """This process's hold on the repository's writer lock (never taken when `enabled` is False)."""

    def __init__(self, state_dir: Path, enabled: bool = True):
        self.state_dir = Path(state_dir)
        self.enabled = enabled
        self._fd: int | None = None

    @property
    def holds(self) -> bool:
        """True while this monitor is the repository's writer."""
        return self._fd is not None

    def take(self) -> bool:
        """Take the lock if no other dashboard holds it; True only when this call took it."""
        if self._fd is not None or not self.enabled:
            return False
        path = lock_path(self.state_dir)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # O_CLOEXEC: a child (on_trigger, git) must not keep the lock after this process dies.
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            log.warning("cannot open %s: %s", path, exc)
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        with contextlib.suppress(OSError):      # the pid is for people; the lock is what counts
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return True

    def release(self) -> None:
        """Let another dashboard write (the file stays: removing it would let two processes lock two files)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def describe(self, watch_only: bool = False) -> str:
        """Which dashboard writes, in one line, as this one sees it."""
        return describe(self.state_dir, self.holds, watch_only)


class WriterDuty:
    """The monitor's side of the writer lock: taking it on the tick and catching up on what is missing
    (mixed into `Monitor`)."""

    @property
    def writes(self) -> bool:
        """True while this monitor is the one that acts for the repository."""
        return self.writer.holds

    def _take_writer(self) -> bool:
        """Try the writer lock; when it is taken, every part that acts for the repository starts to."""
        if not self.writer.take():
            return False
        self.publisher.commands, self.publisher.write_status = True, self.status_files
        self.timeline.writes = True
        return True

    async def _take_over(self) -> None:
        """Another writer went: write what its timelines lack and run on_trigger for triggers they do not have."""
        log.info("this dashboard now runs on_trigger and writes the timelines and status files")
        names = [n for n in self._order if n in self._facts]
        self.parking.close()      # parked again below: a reset already past is resumed now, unless the timeline says it was
        try:
            self.timeline.take_over(await asyncio.to_thread(self.timeline.read_back_all, names), self.clock())
            for name in names:
                await self._catch_up(name)
        except Exception:
            log.exception("taking over as the writer failed")
        self.publisher.rewrite_status()

    async def _catch_up(self, name: str) -> None:
        """Write what the agent's timeline lacks; on_trigger for each trigger it did not record."""
        f = self._facts.get(name)
        if f is None:
            return
        now = self.clock()
        self._reassess(name, now)       # a status the timeline lacks, answered requests, a parked limit
        active = {t.kind.value for t in self.book.active(name)}
        self.publisher.run_commands(self.timeline.catch_up(name, self.book.visible(name, now), active))
        if f.stats_done and self.timeline.stats(f.agent) and not f.agent.host:
            await asyncio.to_thread(self.timeline.commits, f.agent)
