"""Remote agents' own events in the live monitor: one reader per host clone, over the shared ssh connection.

Each reader runs `host.py follow` on the host (app/events/host.py): it sends every line appended to
the clone's events files, each with the file's inode and the offset after it. The monitor keeps those
offsets, so a reader that died (the host went away) starts again from them when the host answers:
nothing missed, nothing twice. A line is fed to the agent's `HostEventsFile`, the same parse and the
same facts as a local events file, and the agent is judged again. A reader that fails is retried 2 s
later, doubling up to 60 s, and at once when its host's listing answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from typing import Callable

from .. import hooks

log = logging.getLogger(__name__)

MAX_BACKOFF = 60.0
STEADY = 10.0       # a reader that ran this long had no trouble starting: the next failure waits 2 s again
_READ = 64 * 1024


class HostReader:
    """The events reader of one host clone: `host.py follow` through ssh, resumed from the offsets it sent."""

    def __init__(self, fleet, key: tuple[str, str, str], clock: Callable[[], float],
                 on_lines: Callable[[dict[str, list[bytes]], list[str]], None], counters: dict,
                 wake: Callable[[], None] | None = None):
        self.fleet = fleet
        self.wake = wake
        self.key = key                  # (host, host repo, host python)
        self.clock = clock
        self.on_lines = on_lines
        self.counters = counters
        self.files: dict[str, str] = {}            # events file name -> agent name
        self.offsets: dict[str, list[int]] = {}    # events file name -> [inode, offset after the last line taken]
        self.proc: asyncio.subprocess.Process | None = None
        self.task: asyncio.Task | None = None
        self.failures = 0
        self.retry_at = 0.0
        self._started = 0.0
        self._starting = False
        self._stopped = False

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def ensure(self) -> bool:
        """Start the reader if none runs and a retry is due; True if it started now."""
        if self.running or self.task is not None or self._starting or self._stopped or self.clock() < self.retry_at:
            return False
        self._starting = True
        try:
            return await self._start()
        finally:
            self._starting = False

    async def _start(self) -> bool:
        host, repo, python = self.key
        try:
            argv, directory = await asyncio.to_thread(self.fleet.follow_host_events, host, repo, python)
            self.proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL, start_new_session=True)
            request = {"dir": directory, "files": self.offsets}
            self.proc.stdin.write(json.dumps(request).encode() + b"\n")
            await self.proc.stdin.drain()
        except Exception as exc:        # HostUnreachable, ssh missing, the pipe closed at once
            log.debug("events reader for host %s did not start: %s", host, exc)
            await self._ended()
            return False
        if self._stopped:       # stopped while it logged in: it never reads
            proc, self.proc = self.proc, None
            await _end(proc)
            return False
        self._started = self.clock()
        self.counters["remote_event_readers"] = self.counters.get("remote_event_readers", 0) + 1
        self.task = asyncio.create_task(self._read())
        return True

    async def _read(self) -> None:
        partial = b""
        try:
            while True:
                data = await self.proc.stdout.read(_READ)
                if not data:
                    break
                data = partial + data
                cut = data.rfind(b"\n") + 1
                partial = data[cut:]
                self._take(data[:cut])
        except Exception:
            log.exception("events reader for host %s failed", self.key[0])
        finally:
            self.task = None
            await self._ended()

    def _take(self, data: bytes) -> None:
        """Hand the reader's lines to their agents, a batch per agent; the offsets move with them."""
        fed: dict[str, list[bytes]] = {}
        gone: list[str] = []
        for raw in data.split(b"\n"):
            try:
                doc = json.loads(raw) if raw.strip() else None
            except ValueError:
                continue
            if not isinstance(doc, dict) or not isinstance(doc.get("f"), str):
                continue
            name = self.files.get(doc["f"])
            if doc.get("gone"):
                self.offsets[doc["f"]] = [0, 0]
                if name is not None:
                    gone.append(name)
                    fed.pop(name, None)
                continue
            try:
                self.offsets[doc["f"]] = [int(doc["ino"]), int(doc["end"])]
            except (KeyError, TypeError, ValueError):
                continue
            if name is not None and isinstance(doc.get("line"), str):
                fed.setdefault(name, []).append(doc["line"].encode("utf-8", "replace"))
        if fed or gone:
            self.on_lines(fed, gone)

    async def _ended(self) -> None:
        """The reader ended or never started: reap it and retry later (sooner after a long, healthy run)."""
        proc, self.proc = self.proc, None
        if proc is not None:
            await _end(proc)
        if self._started and self.clock() - self._started >= STEADY:
            self.failures = 0
        self._started = 0.0
        self.failures += 1
        delay = min(MAX_BACKOFF, 2.0 * 2 ** (self.failures - 1))
        self.retry_at = self.clock() + delay
        if self.wake is not None:       # the monitor's next look starts it again once the retry is due
            asyncio.get_running_loop().call_later(delay + 0.05, self.wake)

    async def stop(self) -> None:
        """Stop the reader (its ssh process, by its own pid; the host side ends with its stdin)."""
        self._stopped = True
        task, self.task = self.task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        proc, self.proc = self.proc, None
        if proc is not None:
            await _end(proc)


async def _end(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(Exception):
        if proc.stdin is not None:
            proc.stdin.close()
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)     # its own session: the ssh client we started, nothing else
        try:
            await asyncio.wait_for(proc.wait(), 3)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()


class RemoteEvents:
    """Every host clone whose agents have an event channel, each with its reader; the agents' events fed."""

    def __init__(self, fleet, clock: Callable[[], float], counters: dict,
                 on_changed: Callable[[str], None], wake: Callable[[], None] | None = None):
        self.fleet = fleet
        self.wake = wake
        self.clock = clock
        self.counters = counters
        self._on_changed = on_changed
        self.readers: dict[tuple[str, str, str], HostReader] = {}
        self._facts: dict = {}
        self._down: set[tuple[str, str, str]] = set()
        self._starts: set[asyncio.Task] = set()     # readers logging in

    def update(self, facts: dict, records: dict) -> list[HostReader]:
        """Take the current agents: each remote one's events file and reader; readers no agent uses are returned."""
        self._facts = facts
        files: dict[tuple, dict[str, str]] = {}
        down: set[tuple] = set()
        for name, f in facts.items():
            w = self.fleet.host_events_where(name, records.get(name)) if f.agent.host else None
            if w is None:
                continue
            key = (w.host, w.repo, w.python)
            files.setdefault(key, {})[w.path.rsplit("/", 1)[-1]] = name
            if not isinstance(f.hook_events, hooks.HostEventsFile) or str(f.hook_events.path) != w.path:
                f.hook_events = hooks.HostEventsFile(w.path)
            if f.agent.unreachable:
                down.add(key)
        for key, by_file in files.items():
            reader = self.readers.get(key)
            if reader is None:
                reader = self.readers[key] = HostReader(self.fleet, key, self.clock, self._fed, self.counters,
                                                          self.wake)
            elif key in self._down and key not in down:
                reader.retry_at = 0.0       # its host answers again: read what it wrote meanwhile, now
            reader.files = by_file
        self._down = down
        return [self.readers.pop(k) for k in list(self.readers) if k not in files]

    def ensure(self) -> None:
        """Start the reader of every host clone whose host answers, each in a task (logging in can take seconds)."""
        for key, reader in list(self.readers.items()):
            if key not in self._down and not reader.running and not reader._starting:
                task = asyncio.create_task(reader.ensure())
                self._starts.add(task)
                task.add_done_callback(self._starts.discard)

    def _fed(self, fed: dict[str, list[bytes]], gone: list[str]) -> None:
        for name in gone:
            f = self._facts.get(name)
            if f is not None and f.hook_events is not None and f.hook_events.reset():
                self._on_changed(name)
        for name, lines in fed.items():
            f = self._facts.get(name)
            if f is None or f.hook_events is None:
                continue
            self.counters["hooks"] = self.counters.get("hooks", 0) + len(lines)
            if f.hook_events.feed(b"\n".join(lines) + b"\n") or f.hook_events.answered:
                self._on_changed(name)

    async def stop(self, readers: list[HostReader] | None = None) -> None:
        """Stop these readers (every reader by default)."""
        if readers is None and self._starts:
            # A reader logging in ends its own ssh once it sees it was stopped: wait for that, never cancel it.
            for reader in self.readers.values():
                reader._stopped = True
            with contextlib.suppress(Exception):
                await asyncio.wait(list(self._starts), timeout=15)
        for reader in (list(self.readers.values()) if readers is None else readers):
            with contextlib.suppress(Exception):
                await reader.stop()
        if readers is None:
            self.readers.clear()
