"""Making a new worktree ready to work in: ignored files copied from the main checkout (`copy:`), then
the task's `setup:` command run in it, before its agent starts.

Only files git ignores are copied (never tracked ones: the worktree has those from its base), and
nothing from outside the repository: a symlink that points out of it stops the spawn before anything
is created. `setup` runs as an argv list (no shell) in its own process group, with its output
appended to the agent's log; a failure stops the spawn, which rolls everything back (start.py).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

from ..errors import ConfigError, SpawnError
from ..git import worktrees

_GRACE = 2.0


def files_to_copy(repo_root: Path, globs: tuple[str, ...], where: str) -> list[str]:
    """The ignored files of the main checkout that the globs match; ConfigError for one that leads outside it."""
    if not globs:
        return []
    root = Path(repo_root).resolve()
    # Git pathspecs with glob magic: `*` stays within a directory, `**` crosses them; --others
    # --ignored lists only what git ignores, so a tracked file matching a glob is never copied.
    out = worktrees.run_git(root, "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--",
                            *(f":(glob){g}" for g in globs))
    paths = [p for p in out.split("\0") if p]
    for rel in paths:
        full = root / rel
        if full.is_symlink():
            target = Path(os.path.realpath(full))
            if not target.is_relative_to(root):
                raise ConfigError(f"{where or 'copy'}: {rel} is a symlink to {target}, outside the repository; "
                                  f"nothing is copied from outside it (drop it from `copy:`); nothing was started")
    return paths


def copy_files(repo_root: Path, worktree: Path, paths: list[str]) -> int:
    """Copy the files into the new worktree (symlinks as links); never over a file the worktree already has."""
    copied = 0
    inside = Path(os.path.realpath(worktree))
    for rel in paths:
        src, dst = Path(repo_root) / rel, Path(worktree) / rel
        if os.path.lexists(dst):
            continue    # tracked in the base branch: the worktree's own version wins
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
            # A directory the base tracks as a symlink must not carry a copy out of the worktree.
            if not Path(os.path.realpath(dst.parent)).is_relative_to(inside):
                continue
            shutil.copy2(src, dst, follow_symlinks=False)
        except OSError as exc:
            raise SpawnError("copy", f"copying {rel} into {worktree} failed: {exc.strerror or exc}") from None
        copied += 1
    return copied


def run_setup(argv: tuple[str, ...], worktree: Path, env: dict[str, str], log: Path, timeout: float) -> None:
    """Run the setup argv in the new worktree, output appended to the agent's log; SpawnError naming it if it fails."""
    command = shlex.join(argv)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(f"[paneboard] setup in {worktree}: $ {command}\n".encode("utf-8", "replace"))
        out.flush()
        try:
            proc = subprocess.Popen(list(argv), cwd=worktree, env={**os.environ, **env}, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            why = "command not found" if isinstance(exc, FileNotFoundError) else (exc.strerror or str(exc))
            out.write(f"[paneboard] setup could not start: {why}\n".encode())
            raise SpawnError("setup", f"`{command}` could not start: {why}") from None
        code = _wait(proc, timeout)
        out.write(f"[paneboard] setup {'timed out' if code is None else f'exited with code {code}'}\n".encode())
    if code is None:
        raise SpawnError("setup", f"`{command}` did not finish within {timeout:g}s (killed); its output is in {log}")
    if code != 0:
        raise SpawnError("setup", f"`{command}` exited with code {code}; its output is in {log}")


def _wait(proc: subprocess.Popen, timeout: float) -> int | None:
    """The exit code, or None after killing it at the timeout; its whole group is killed however it ends."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + _GRACE
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        return None
    finally:
        # Ctrl-C, a timeout, or children left behind: nothing of the setup outlives the spawn.
        _kill_group(proc.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            proc.wait(timeout=_GRACE)


def _kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
