"""Running git children that can be stopped: the monitor's stats and predictions go through a `Runner`.

A `Runner` counts what it ran (per git subcommand) and, once closed, kills the children still
running by their own pid and refuses new ones, so a dashboard that quits during a long
`git merge-tree` or `git status` does not wait for it.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections import Counter
from pathlib import Path
from typing import Callable

from ..errors import GitError


class Stopped(GitError):
    """The runner was closed: the work asking for git gives up quietly."""


def subcommand(args) -> str:
    """The git subcommand of an argv tail (`-c k=v` pairs and global flags skipped)."""
    skip = False
    for a in args:
        if skip:
            skip = False
        elif a in ("-c", "-C"):
            skip = True
        elif not a.startswith("-"):
            return a
    return ""


def plain_run(cwd: Path, *args: str, env: dict[str, str] | None = None,
              input: bytes | None = None) -> subprocess.CompletedProcess:
    """Run git once (argv list, bytes out), as the callers outside the monitor do."""
    full_env = {**os.environ, **env} if env else None
    return subprocess.run(["git", *args], cwd=cwd, env=full_env, input=input, capture_output=True)


GitRun = Callable[..., subprocess.CompletedProcess]


class Runner:
    """Runs git argv lists like `plain_run`, counts them, and kills the live ones on `close()`."""

    def __init__(self):
        self._lock = threading.Lock()
        self._live: set[subprocess.Popen] = set()
        self.closed = False
        self.calls: Counter[str] = Counter()

    def __call__(self, cwd: Path, *args: str, env: dict[str, str] | None = None,
                 input: bytes | None = None) -> subprocess.CompletedProcess:
        full_env = {**os.environ, **env} if env else None
        with self._lock:
            if self.closed:
                raise Stopped("stopped")
            proc = subprocess.Popen(["git", *args], cwd=cwd, env=full_env,
                                    stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self._live.add(proc)
            self.calls[subcommand(args)] += 1
        try:
            out, err = proc.communicate(input)
        finally:
            with self._lock:
                self._live.discard(proc)
        if self.closed:
            raise Stopped("stopped")
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def close(self) -> None:
        """Refuse new children and kill the running ones (each by its own pid)."""
        with self._lock:
            self.closed = True
            live = list(self._live)
        for proc in live:
            try:
                proc.kill()
            except OSError:
                pass
