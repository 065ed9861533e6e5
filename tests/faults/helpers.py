"""Helpers for the fault suite: what a tree holds (compared before and after a fault), the real
dashboard in a terminal of its own, and the processes a test must account for."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, fields
from pathlib import Path

from tests.helpers import ROOT, paneboard, retry_until

# ---------------------------------------------------------------- what a tree holds


@dataclass(frozen=True)
class TreeState:
    """Everything a checkout holds that a fault could lose: files (tracked, untracked and ignored) with
    their bytes and modes, symlinks with their targets, and git's view: HEAD, index, refs, stash."""

    files: dict[str, tuple[int, bytes]]     # path -> (permission bits, content)
    links: dict[str, str]                   # symlink path -> target (dangling ones too)
    empty_dirs: frozenset[str]
    head: str                               # "refs/heads/x" or "detached"
    head_commit: str
    index: tuple[str, ...]                  # `ls-files --stage` entries: mode, blob, stage, path
    untracked: frozenset[str]
    ignored: frozenset[str]
    refs: dict[str, str]                    # every ref (stash included) -> object id
    stash: tuple[str, ...]                  # the stash list, newest first


def _git(path: Path, *args: str, check: bool = True) -> bytes:
    # No optional locks: measuring a checkout must not refresh its index.
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    proc = subprocess.run(["git", *args], cwd=path, capture_output=True, env=env, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} in {path}: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def _z(raw: bytes) -> list[str]:
    return [p.decode("utf-8", "surrogateescape") for p in raw.split(b"\0") if p]


def walk_files(path: Path) -> tuple[dict[str, tuple[int, bytes]], dict[str, str], frozenset[str]]:
    """(files, symlinks, empty directories) under path, skipping only the top-level `.git`."""
    path = Path(path)
    files: dict[str, tuple[int, bytes]] = {}
    links: dict[str, str] = {}
    empty: set[str] = set()
    for top, dirs, names in os.walk(path):
        rel_top = os.path.relpath(top, path)
        if rel_top == ".":
            dirs[:] = [d for d in dirs if d != ".git"]
            names = [n for n in names if n != ".git"]
        for d in list(dirs):
            full = os.path.join(top, d)
            if os.path.islink(full):        # os.walk lists a symlink to a directory as a directory
                dirs.remove(d)
                names.append(d)
        if rel_top != "." and not dirs and not names:
            empty.add(rel_top)
        for n in names:
            full = os.path.join(top, n)
            rel = os.path.normpath(os.path.join(rel_top, n))
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                links[rel] = os.readlink(full)
            elif stat.S_ISREG(st.st_mode):
                with open(full, "rb") as fh:
                    files[rel] = (stat.S_IMODE(st.st_mode), fh.read())
    return files, links, frozenset(empty)


def tree_state(path: Path) -> TreeState:
    """Capture a checkout (main or worktree) completely, to compare before and after a fault."""
    path = Path(path)
    files, links, empty = walk_files(path)
    head = _git(path, "symbolic-ref", "-q", "HEAD", check=False).decode().strip() or "detached"
    head_commit = _git(path, "rev-parse", "HEAD").decode().strip()
    index = tuple(_z(_git(path, "ls-files", "--stage", "-z")))
    status = _z(_git(path, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignored=traditional",
                     "--no-renames"))
    untracked = frozenset(e[3:] for e in status if e.startswith("?? "))
    ignored = frozenset(e[3:] for e in status if e.startswith("!! "))
    refs = dict(line.split(" ", 1)[::-1] for line in
                _git(path, "for-each-ref", "--format=%(objectname) %(refname)").decode().splitlines())
    stash = tuple(_git(path, "stash", "list", "--format=%H", check=False).decode().split())
    return TreeState(files, links, empty, head, head_commit, index, untracked, ignored, refs, stash)


WORK = ("files", "links", "empty_dirs", "untracked", "ignored")
"""The parts of a TreeState that are the user's files, whatever git's refs did meanwhile."""
EVERYTHING = tuple(f.name for f in fields(TreeState))


def differences(before: TreeState, after: TreeState, parts: tuple[str, ...] = EVERYTHING) -> list[str]:
    """What changed between two states, one readable line per difference (empty: nothing)."""
    out: list[str] = []
    for part in parts:
        a, b = getattr(before, part), getattr(after, part)
        if a == b:
            continue
        if isinstance(a, dict):
            for key in sorted(set(a) | set(b)):
                if key not in b:
                    out.append(f"{part}: {key} is gone")
                elif key not in a:
                    out.append(f"{part}: {key} appeared")
                elif a[key] != b[key]:
                    out.append(f"{part}: {key} changed: {_short(a[key])} -> {_short(b[key])}")
        elif isinstance(a, frozenset):
            out += [f"{part}: {k} is gone" for k in sorted(a - b)]
            out += [f"{part}: {k} appeared" for k in sorted(b - a)]
        elif isinstance(a, tuple):
            lost = [f"{part}: lost {k}" for k in a if k not in b]
            gained = [f"{part}: gained {k}" for k in b if k not in a]
            out += lost + gained or [f"{part}: reordered"]
        else:
            out.append(f"{part}: {a!r} -> {b!r}")
    return out


def _short(value) -> str:
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], bytes):
        mode, data = value
        return f"mode {mode:o}, {len(data)} bytes {data[:40]!r}"
    text = repr(value)
    return text if len(text) < 120 else text[:117] + "..."


def assert_same(before: TreeState, after: TreeState, parts: tuple[str, ...] = EVERYTHING, what: str = "") -> None:
    """Fail, naming every difference, unless the two states agree on these parts."""
    diff = differences(before, after, parts)
    assert not diff, f"{what or 'tree'} changed:\n  " + "\n  ".join(diff[:40])


def committed_files(repo: Path, rev: str) -> dict[str, bytes]:
    """Every file of a commit: path -> content (symlinks as their target)."""
    names = _z(_git(repo, "ls-tree", "-r", "-z", "--name-only", rev))
    return {n: _git(repo, "cat-file", "blob", f"{rev}:{n}") for n in names}


# ---------------------------------------------------------------- the CLI, as a user runs it


def no_traceback(result: subprocess.CompletedProcess) -> None:
    """A command may fail, but only with words: never a Python traceback."""
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """Assert the command failed with exactly one line on stderr (no traceback) and return it."""
    no_traceback(result)
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("paneboard: "), result.stderr
    return lines[0]


def ls_json(repo: Path, socket_name: str) -> dict[str, dict]:
    """`paneboard ls --json` by name; the command must succeed without a traceback."""
    result = paneboard("ls", "--json", cwd=repo, socket_name=socket_name)
    no_traceback(result)
    assert result.returncode == 0, result.stderr
    return {a["name"]: a for a in json.loads(result.stdout)}


def cli_env(socket_name: str) -> dict[str, str]:
    """The environment the real CLI runs in: this checkout's code, the test's tmux socket, no outer tmux."""
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    env.update(PANEBOARD_TMUX_SOCKET=socket_name, PYTHONPATH=str(ROOT))
    return env


def cli_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "app.cli", *args]


# ---------------------------------------------------------------- processes


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    pgrp: int
    state: str
    start: int          # clock ticks after boot: with the pid, names one process even if the pid is reused
    cmdline: str


def processes() -> dict[int, Proc]:
    """Every process on the machine now (Linux /proc)."""
    table: dict[int, Proc] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                raw = fh.read().decode("utf-8", "replace")
            with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields start after the last ')'.
        rest = raw[raw.rindex(")") + 2:].split()
        table[int(entry.name)] = Proc(int(entry.name), int(rest[1]), int(rest[2]), rest[0], int(rest[19]), cmd)
    return table


def descendants(pid: int, table: dict[int, Proc] | None = None) -> set[int]:
    """The pids below pid in the process tree."""
    table = table if table is not None else processes()
    children: dict[int, list[int]] = {}
    for p in table.values():
        children.setdefault(p.ppid, []).append(p.pid)
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    """True if the process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode("utf-8", "replace")
    except OSError:
        return False
    return raw[raw.rindex(")") + 2:].split()[0] != "Z"


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process, in kB."""
    out = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def group_members(pgrp: int) -> list[Proc]:
    """Live processes of a process group."""
    return [p for p in processes().values() if p.pgrp == pgrp and p.state != "Z"]


# ---------------------------------------------------------------- the real dashboard


class Dashboard:
    """The real dashboard (`python -m app.cli`) in a terminal: the one pane of a private tmux server.

    The terminal server is not the agents' server; its pane stays after the dashboard exits
    (remain-on-exit), so the exit status can be read.
    """

    def __init__(self, repo: Path, socket_name: str, width: int = 160, height: int = 50):
        self.repo = Path(repo)
        self.socket_name = socket_name
        self.term = f"{socket_name}-term-{uuid.uuid4().hex[:6]}"
        self.size = (width, height)
        self.pid = 0
        self.pane = ""
        self.quit_seconds = 0.0
        self.printed_on_exit = ""

    @property
    def status_path(self) -> Path:
        return self.repo / ".git" / "paneboard" / "status.json"

    def start(self, fresh_status: bool = True) -> Dashboard:
        """Start it; with fresh_status the old status.json is removed, so what is read later is this one's."""
        if fresh_status:
            self.status_path.unlink(missing_ok=True)
        argv = ["tmux", "-L", self.term, "-f", "/dev/null", "start-server", ";",
                "set-option", "-g", "remain-on-exit", "on", ";",
                "new-session", "-d", "-x", str(self.size[0]), "-y", str(self.size[1]), "-P", "-F", "#{pane_pid} #{pane_id}",
                "-c", str(self.repo), "--", *cli_argv()]
        out = subprocess.run(argv, capture_output=True, text=True, env=cli_env(self.socket_name), check=True)
        pid, self.pane = out.stdout.strip().splitlines()[-1].split()
        self.pid = int(pid)
        return self

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.term, *args], capture_output=True, text=True, check=False).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-J", "-t", self.pane)

    def alive(self) -> bool:
        return alive(self.pid)

    def exit_status(self) -> int | None:
        """The dashboard's exit status once it has ended, else None."""
        if not self.alive():
            # tmux 3.3a can miss a pane's SIGCHLD; any job that ends makes it reap every child.
            self.tmux("run-shell", "true")
        dead, _, status = self.tmux("display-message", "-p", "-t", self.pane,
                                    "#{pane_dead} #{pane_dead_status}").strip().partition(" ")
        return int(status) if dead == "1" and status.strip().lstrip("-").isdigit() else None

    def statuses(self) -> dict[str, str]:
        """Agent name -> status as this dashboard last published it in status.json ({} before it did)."""
        try:
            doc = json.loads(self.status_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
        return {a["name"]: a["status"] for a in doc["agents"]}

    def document(self) -> dict:
        try:
            return json.loads(self.status_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {"agents": []}

    def wait_statuses(self, want: dict[str, str], timeout: float = 20.0) -> None:
        """Until status.json says exactly these statuses (and the dashboard is still running)."""
        def ok():
            assert self.alive(), f"the dashboard died:\n{self.screen()}"
            return self.statuses() == want
        try:
            retry_until(ok, timeout=timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nwanted {want}\nstatus.json says {self.statuses()}\n"
                                 f"screen:\n{self.screen()}") from None

    def kill9(self) -> None:
        os.kill(self.pid, 9)
        retry_until(lambda: not alive(self.pid), timeout=5)

    def quit(self, timeout: float = 60.0) -> int:
        """Press q and return the exit status."""
        self.tmux("send-keys", "-t", self.pane, "q")
        started = time.monotonic()
        try:
            status = retry_until(lambda: (s := self.exit_status()) is not None and (s,), timeout=timeout)[0]
        except AssertionError:
            raise AssertionError(f"the dashboard did not quit on q (alive: {self.alive()}); screen:\n"
                                 f"{self.screen()}") from None
        self.quit_seconds = time.monotonic() - started
        # What it printed on the way out (see the suite's report: asyncio sometimes complains here).
        lines = self.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", self.pane).splitlines()
        self.printed_on_exit = "\n".join(ln for ln in lines if ln.strip() and not ln.startswith("Pane is dead"))
        if self.printed_on_exit:
            print(f"the dashboard printed on quitting:\n{self.printed_on_exit}")
        return status

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.term, "kill-server"], capture_output=True, check=False)
        if self.pid and alive(self.pid):
            os.kill(self.pid, 9)


def shell_words(*argv: str) -> str:
    """A command line for `--agent` (paneboard splits it like a shell would and runs it without one)."""
    return shlex.join(argv)
