"""Run a check command (tests, linters) in an agent's worktree, output to a log file.

The command string is split with shlex and run as an argv list: no shell ever sees it, so
`;`, `|`, `$(...)` and backquotes are plain arguments. The check runs in its own process
group, which is killed on timeout and cleaned up after it exits; a watchdog beside it kills the
group if paneboard itself dies first (kill -9 of the dashboard), so no check is left orphaned.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)")
_GRACE = 2.0
_SUMMARY_MAX = 200

# The watchdog reads the check's process group id, then waits: "done" means the check ended in our
# hands; end of file without it means paneboard died (its end of the pipe closed), so it kills the group.
# stdlib only, no site (-I -S): it starts in ~10 ms while the check starts.
_WATCHDOG = """\
import os, signal, sys
pgid = int(sys.stdin.readline() or 0)
if pgid > 1 and sys.stdin.readline().strip() != "done":
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
"""


@dataclass(frozen=True)
class CheckResult:
    """How a check went: passed, its exit code (None if it timed out or never started), time, log and a one-line summary."""

    passed: bool
    exit_code: int | None
    duration: float
    log_path: Path
    summary_line: str


def _argv(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError as exc:
        raise ValueError(f"check command {command!r} cannot be split: {exc}") from None


def _open_log(log_path: Path, argv: list[str]):
    log_path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(log_path, "wb")
    fh.write(f"$ {shlex.join(argv)}\n".encode("utf-8", "replace"))
    fh.flush()
    return fh


def _last_line(log_path: Path) -> str:
    """The last non-empty line of output (after the command header), without colour codes."""
    try:
        with open(log_path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 65536))
            tail = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [_ANSI.sub("", ln).strip() for ln in tail.splitlines()]
    lines = [ln for ln in lines if ln]
    if size <= 65536 and lines and lines[0].startswith("$ "):
        lines = lines[1:]
    line = lines[-1] if lines else ""
    return line if len(line) <= _SUMMARY_MAX else line[: _SUMMARY_MAX - 1] + "…"


def _kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _finish(argv: list[str], code: int | None, timed_out: bool, timeout: float, started: float,
            log_path: Path) -> CheckResult:
    duration = time.monotonic() - started
    if timed_out:
        summary = f"timed out after {timeout:g}s"
        with contextlib.suppress(OSError), open(log_path, "ab") as fh:
            fh.write(f"\n[paneboard] {summary}; killed\n".encode())
        return CheckResult(False, None, duration, log_path, summary)
    summary = _last_line(log_path) or f"{argv[0]} exited {code}"
    return CheckResult(code == 0, code, duration, log_path, summary)


def result_from_output(command: str, output: bytes, code: int | None, timed_out: bool, timeout: float,
                       started: float, log_path: Path) -> CheckResult:
    """The result of a check that ran elsewhere (on an agent's host): its output logged here, judged as `run_check` does."""
    argv, log_path = _argv(command), Path(log_path)
    if not argv:
        return _empty(log_path)
    with _open_log(log_path, argv) as log:
        log.write(output)
    return _finish(argv, code, timed_out, timeout, started, log_path)


def _not_started(argv: list[str], log_path: Path, started: float, exc: OSError) -> CheckResult:
    summary = f"command not found: {argv[0]}" if isinstance(exc, FileNotFoundError) else f"cannot run {argv[0]}: {exc}"
    with contextlib.suppress(OSError), open(log_path, "ab") as fh:
        fh.write(f"[paneboard] {summary}\n".encode("utf-8", "replace"))
    return CheckResult(False, 127 if isinstance(exc, FileNotFoundError) else 126,
                       time.monotonic() - started, log_path, summary)


def _empty(log_path: Path) -> CheckResult:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_bytes(b"[paneboard] empty check command\n")
    return CheckResult(False, None, 0.0, log_path, "empty check command")


def _start_watchdog() -> subprocess.Popen:
    """The process that kills a check's group when paneboard dies; its own session, so a hangup spares it."""
    return subprocess.Popen([sys.executable, "-I", "-S", "-c", _WATCHDOG], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _stand_down(watchdog: subprocess.Popen, finished: bool) -> None:
    """Tell the watchdog the check ended in our hands (or never started), and reap it."""
    with contextlib.suppress(OSError, ValueError):
        if finished:
            watchdog.stdin.write(b"done\n")
        watchdog.stdin.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        watchdog.wait(timeout=5)


def run_check(worktree: Path, command: str, log_path: Path, timeout: float) -> CheckResult:
    """Run command (split with shlex, no shell) in worktree with output to log_path; kill it after timeout seconds."""
    argv, log_path = _argv(command), Path(log_path)
    if not argv:
        return _empty(log_path)
    started = time.monotonic()
    with _open_log(log_path, argv) as log:
        watchdog = _start_watchdog()
        try:
            proc = subprocess.Popen(argv, cwd=worktree, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            _stand_down(watchdog, finished=False)
            log.close()
            return _not_started(argv, log_path, started, exc)
        with contextlib.suppress(OSError):   # a watchdog that could not start leaves the check unguarded, not failed
            watchdog.stdin.write(f"{proc.pid}\n".encode())
            watchdog.stdin.flush()
        timed_out = False
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=_GRACE)
            except subprocess.TimeoutExpired:
                _kill_group(proc.pid, signal.SIGKILL)
                proc.wait()
            code = None
        finally:
            # Children the check left running would hold the log open and outlive it.
            _kill_group(proc.pid, signal.SIGKILL)
            _stand_down(watchdog, finished=True)
    return _finish(argv, code, timed_out, timeout, started, log_path)


async def run_check_async(worktree: Path, command: str, log_path: Path, timeout: float) -> CheckResult:
    """run_check for asyncio: the same argv, log and timeout rules, in a thread so the event loop never waits."""
    return await asyncio.to_thread(run_check, worktree, command, log_path, timeout)
