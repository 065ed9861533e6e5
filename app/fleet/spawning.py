"""A spawn under way, written down before it creates anything, so a spawn killed half-way is finished or undone.

`spawn` records its intent (`spawning[NAME]` in the state: branch, worktree, base commit, the record it
will write, its pid) under the state lock before `git worktree add`, and holds an flock on
`spawning/<slug>.lock` (its `git worktree add` child holds it too) until its agent's record is written
in the same edit that drops the intent. An intent whose lock nobody holds belongs to a spawn that died:
the next command (`Fleet.open`, any listing, `prune`) settles it. A window that opened gets its record
(finished); a worktree still at its base commit that holds nothing but files paneboard put there
(`copy:` copies, disposable files) is removed with its branch (undone); one that holds anything else is
kept as a stopped agent the user sees. One line says which.
"""

from __future__ import annotations

import fcntl
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .. import events
from ..errors import PaneboardError
from ..git import worktrees
from ..names import slugify
from ..state import lock_held

if TYPE_CHECKING:
    from .core import FleetCore

SECTION = "spawning"
CRASH_ENV = "PANEBOARD_SPAWN_CRASH_AT"
CRASH_STEPS = ("intent-recorded", "worktree-added", "ready", "window-opened", "recorded")
"""Where a test may make spawn() SIGKILL itself (see CRASH_ENV); in order of execution."""

_NOT_RECORD = ("pid", "at", "commit", "paste")     # the intent's own fields, not the agent record's


def crash_point(step: str) -> None:
    """Test hook: die like `kill -9` at this step when PANEBOARD_SPAWN_CRASH_AT names it."""
    if os.environ.get(CRASH_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def lock_path(state_dir: Path, name: str) -> Path:
    """The lock a spawn of this name holds while it runs: `<git-common-dir>/paneboard/spawning/<slug>.lock`."""
    return Path(state_dir) / SECTION / f"{slugify(name)}.lock"


class Intent:
    """One spawn under way: its lock held by this process (and handed to git), its record in the state."""

    def __init__(self, fleet: "FleetCore", name: str):
        self.fleet, self.name = fleet, name
        self.fields: dict = {}
        self.made_state = False
        path = lock_path(fleet.repo.state_dir, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self.fd)
            raise PaneboardError(f"a spawn of {name!r} is under way in another paneboard; wait for it "
                                 f"(then see `paneboard ls`)") from None

    def record(self, fields: dict) -> None:
        """Write the intent under the state lock; refuse a name an agent or an unsettled spawn holds."""
        self.made_state = not self.fleet.state.path.exists()
        with self.fleet.state.edit() as data:
            if self.name in data["agents"]:
                raise PaneboardError(f"an agent named {self.name!r} appeared meanwhile; pick another name")
            spawning = data.setdefault(SECTION, {})
            if self.name in spawning:
                raise PaneboardError(f"an interrupted spawn of {self.name!r} is not settled yet "
                                     f"({spawning[self.name].get('worktree')}); run `paneboard ls`, then try again")
            spawning[self.name] = {**fields, "pid": os.getpid(), "at": time.time()}
        self.fields = fields

    def forget(self) -> None:
        """Drop the intent and let go of the lock (the spawn rolled back); if this fails the next command settles it."""
        try:
            with self.fleet.state.edit() as data:
                data.get(SECTION, {}).pop(self.name, None)
                if not data.get(SECTION):
                    data.pop(SECTION, None)
            if self.made_state:     # this spawn made the state file: it leaves none behind
                self.fleet.state.remove_if_empty()
        except (PaneboardError, OSError):
            pass
        self.release()

    def release(self) -> None:
        """Let go of the lock (the intent is gone from the state by now)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _dead(state_dir: Path, name: str) -> bool:
    """True when no process holds the spawn's lock: the spawn and its `git worktree add` are gone."""
    return lock_held(lock_path(state_dir, name), create=True) is False


def settle(fleet: "FleetCore") -> list[str]:
    """Finish or undo every spawn whose process died half-way; one line each (also added to fleet.notices)."""
    under_way = fleet.state.read().get(SECTION) or {}
    if not any(_dead(fleet.repo.state_dir, name) for name in under_way):
        return []       # every spawn under way is alive: nothing written, no lock taken
    lines: list[str] = []
    with fleet.state.edit() as data:
        for name, intent in list(data.get(SECTION, {}).items()):
            if not _dead(fleet.repo.state_dir, name):
                continue
            if intent.get("host"):
                line = settle_on_host(fleet, data, name, intent)
            else:
                line = _settle_here(fleet, data, name, intent)
            if line is None:
                continue        # the host cannot be reached now: the next command tries again
            data[SECTION].pop(name, None)
            lines.append(f"a spawn of {name!r} was interrupted (process {intent.get('pid')} died): {line}")
    fleet.notices += lines
    return lines


def agent_record(intent: dict, pane: str | None, started: float, port: int | None) -> dict:
    """The agent record the interrupted spawn would have written, from its intent."""
    rec = {k: v for k, v in intent.items() if k not in _NOT_RECORD}
    rec.update(pane=pane, port=port, started_at=started)
    return rec


def _settle_here(fleet: "FleetCore", data: dict, name: str, intent: dict) -> str:
    """Settle one dead spawn on this machine (under the state lock)."""
    if name in data["agents"]:
        return "its agent was recorded; nothing to do"
    tmux = fleet.tmux_on(intent.get("socket"))
    pane = next((p for p in tmux.list_agent_panes() if p.options.get("name") == name
                 and p.options.get("repo") == str(fleet.repo.root)), None)
    if pane is not None:
        return finish(data, name, intent, pane)
    branch, path = intent.get("branch", ""), Path(intent.get("worktree", ""))
    if not worktrees.branch_exists(fleet.repo, branch) and not path.exists():
        return "it had created nothing; nothing to undo"
    if _holds_nothing(fleet, intent):
        worktrees.remove_new_worktree(fleet.repo, branch, path)
        events.channel_files(fleet.repo.common_dir, name).remove()
        return f"its new branch {branch} and worktree {path} held nothing and were removed"
    data["agents"][name] = {**agent_record(intent, None, float(intent.get("at") or 0), None), "killed_at": time.time()}
    return (f"its worktree {path} holds files, so it is kept as stopped agent {name!r} "
            f"(`paneboard restart {name}` starts it; `paneboard discard {name}` archives and removes it)")


def finish(data: dict, name: str, intent: dict, pane) -> str:
    """Its window opened before it died: write the record it would have written (pasted prompt pending)."""
    from . import prompts
    from .rebuild import _port_of
    try:
        started = float(pane.options.get("started") or intent.get("at") or 0)
    except ValueError:
        started = float(intent.get("at") or 0)
    rec = agent_record(intent, pane.pane_id, started, None if pane.dead else _port_of(pane.pid))
    if intent.get("paste") and not pane.dead:
        prompts.mark(rec, pane.pane_id, started)     # delivered by the `resume` that follows
    data["agents"][name] = rec
    return f"its agent had started in pane {pane.pane_id}; it is recorded now"


def _holds_nothing(fleet: "FleetCore", intent: dict) -> bool:
    """True when the worktree is its branch at the base commit and holds only what paneboard put in it."""
    branch, path, commit = intent.get("branch", ""), Path(intent.get("worktree", "")), intent.get("commit", "")
    tip = worktrees.run_git(fleet.repo.root, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}",
                            check=False).strip()
    if tip and tip != commit:
        return False
    if not path.exists():
        return True
    try:
        out = worktrees.run_git(path, "--no-optional-locks", "status", "--porcelain=v2", "--branch", "-z",
                                "--untracked-files=all", "--ignored=matching")
    except PaneboardError:
        return not any(path.iterdir()) if path.is_dir() else False     # `worktree add` died before checkout
    head = ""
    for entry in filter(None, out.split("\0")):
        if entry.startswith("# branch.oid "):
            head = entry.removeprefix("# branch.oid ")
        elif entry.startswith("! "):
            if not _put_there(fleet, path, entry[2:]):
                return False
        elif not entry.startswith("# "):
            return False        # a change or an untracked file: someone's work
    return head == commit


def _put_there(fleet: "FleetCore", path: Path, rel: str) -> bool:
    """An ignored path paneboard itself put there: a disposable file, or a `copy:` copy identical to the main checkout's."""
    import filecmp

    from ..git import keep      # loaded only to settle a spawn: it brings the merge module
    if keep.is_disposable(rel, fleet.settings.disposable):
        return True
    if rel.endswith("/"):
        return all(_put_there(fleet, path, str(p.relative_to(path)) + ("/" if p.is_dir() else ""))
                   for p in (path / rel).iterdir())
    src, dst = fleet.repo.root / rel, path / rel
    return not dst.is_symlink() and src.is_file() and filecmp.cmp(src, dst, shallow=False)


def settle_on_host(fleet: "FleetCore", data: dict, name: str, intent: dict) -> str | None:
    """Settle one dead spawn on another host (under the state lock); None when the host cannot be reached now."""
    from ..errors import HostUnreachable
    from ..hosts import git as rgit
    if name in data["agents"]:
        return "its agent was recorded; nothing to do"
    host, repo = intent["host"], intent.get("host_repo", "")
    branch, path = intent.get("branch", ""), intent.get("worktree", "")
    try:
        pane = next((p for p in fleet.tmux_on(intent.get("socket"), host).list_agent_panes()
                     if p.options.get("name") == name and p.options.get("repo") == str(fleet.repo.root)), None)
        if pane is not None:
            return finish(data, name, intent, pane)
        r = _remote_of(fleet, intent)
        status = r.run(["git", "-C", path, "--no-optional-locks", "status", "--porcelain=v2", "--branch", "-z",
                        "--untracked-files=all", "--ignored=matching"], check=False)
        tip = r.run(["git", "-C", repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"], check=False)
        if status.returncode != 0 and tip.returncode != 0 and \
                r.run(["test", "-e", path], check=False).returncode != 0:
            return f"it had created nothing on host {host}; nothing to undo"
        if status.returncode == 0 and tip.stdout.strip() == intent.get("commit") and \
                _only_disposable(status.stdout, intent.get("commit", ""), fleet.settings.disposable):
            rgit.remove_new_worktree(r, repo, branch, path)
            return f"its new branch {branch} and worktree {path} on host {host} held nothing and were removed"
    except HostUnreachable:
        return None
    data["agents"][name] = {**agent_record(intent, None, float(intent.get("at") or 0), None), "killed_at": time.time()}
    return (f"its worktree {path} on host {host} holds files, so it is kept as stopped agent {name!r} "
            f"(`paneboard restart {name}` starts it; `paneboard discard {name}` removes it)")


def _remote_of(fleet: "FleetCore", intent: dict):
    """The host's `Remote`: from the task file's `hosts:`, else as the intent recorded how to reach it."""
    from ..hosts.remote import Remote
    from . import hosts
    try:
        return hosts.remote(fleet, intent["host"])
    except PaneboardError:
        return Remote(intent["host"], tuple(intent.get("host_ssh") or ()), intent.get("host_port"))


def _only_disposable(status: str, commit: str, disposable: tuple[str, ...]) -> bool:
    """True when a `status --porcelain=v2 --branch -z` says HEAD is the commit and nothing but disposable files is there."""
    from ..git import keep
    head = ""
    for entry in filter(None, status.split("\0")):
        if entry.startswith("# branch.oid "):
            head = entry.removeprefix("# branch.oid ")
        elif entry.startswith("! "):
            if not keep.is_disposable(entry[2:], disposable):
                return False
        elif not entry.startswith("# "):
            return False
    return bool(commit) and head == commit
