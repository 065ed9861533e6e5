"""Shared test helpers: real git repositories, private tmux servers, waiting for async state."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GIT_ID = ["-c", "user.name=paneboard test", "-c", "user.email=test@paneboard.invalid"]


# What a polled condition may raise while it is not true yet (ValueError: a JSON file read mid-write).
NOT_YET = (AssertionError, KeyError, StopIteration, ValueError)


def retry_until(fn, timeout: float = 15.0, interval: float = 0.05):
    """Call fn until it returns something truthy and return that; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = fn()
        except NOT_YET as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s (last: {last!r})")
        time.sleep(interval)


async def until(fn, timeout: float = 15.0, interval: float = 0.05):
    """Await until fn() (sync or async) is truthy and return it; fail with the last value after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = fn()
            if asyncio.iscoroutine(last):
                last = await last
        except NOT_YET as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s (last: {last!r})")
        await asyncio.sleep(interval)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *GIT_ID, *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def make_repo(path: Path, files: dict[str, str] | None = None, branch: str = "main") -> Path:
    """A real repository with one commit on `branch`."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", branch)
    for name, text in (files or {"README.md": "# demo\n", "src/app.py": "print('hi')\n"}).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text, encoding="utf-8")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def unique_socket() -> str:
    return f"pbtest-{uuid.uuid4().hex[:10]}"


def kill_tmux(socket_name: str) -> None:
    subprocess.run(["tmux", "-L", socket_name, "kill-server"], capture_output=True)


def demo_script(tmp_path: Path, steps: list[dict]) -> Path:
    """Write a demo-agent script file and return its path."""
    path = tmp_path / f"script-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(steps), encoding="utf-8")
    return path


def demo_command(script: Path, speed: float = 0.05) -> str:
    """A full agent command line that runs the demo agent on a script."""
    return shlex.join([sys.executable, "-m", "app.demo_agent", "--script", str(script),
                       "--speed", str(speed)])


def paneboard(*args: str, cwd: Path, socket_name: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the real `paneboard` CLI in a subprocess."""
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    env["PANEBOARD_TMUX_SOCKET"] = socket_name
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=timeout)
