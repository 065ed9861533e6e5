"""A state rebuilt from what tmux, git and the archive refs still say, for when state.json could not be read.

Running agents come from their panes' `@paneboard_*` options; stopped ones from the branches
`paneboard/<slug>` (listed as stopped, with their worktree, or merged when their work is in the
base and the worktree is gone); discarded ones from `refs/paneboard/archive/*`, so `restore` finds
them (an archive made on a host, `Paneboard-Host:`, with that host, so it is restored there). Agents
on other hosts come from each host of `hosts:` (rebuild_hosts.py); a host that does not answer is
noted and asked again by the next command. What only the state file knew (prompts, queued tasks,
checks) stays in the file moved aside.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import PaneboardError
from ..git import worktrees
from ..hosts import git as rgit
from ..state import VERSION
from . import rebuild_hosts

if TYPE_CHECKING:
    from .core import FleetCore

_UNAVAILABLE = (PaneboardError, OSError, ValueError)


def rebuild_state(fleet: "FleetCore") -> dict:
    """The state as tmux, git and the archive refs tell it: running, stopped, merged and discarded agents."""
    # Each source on its own: what one of them cannot tell, the others still do.
    agents: dict[str, dict] = {}
    with contextlib.suppress(*_UNAVAILABLE):
        agents.update(_running(fleet))
    remote, pending = rebuild_hosts.from_hosts(fleet, list(fleet.settings.hosts), rebuild_hosts.configured_base(fleet))
    agents.update({name: rec for name, rec in remote.items() if name not in agents})
    with contextlib.suppress(*_UNAVAILABLE):
        local = {rec["branch"] for rec in agents.values() if not rec.get("host")}
        agents.update(_stopped(fleet, local, set(agents)))
    discarded: dict[str, dict] = {}
    with contextlib.suppress(*_UNAVAILABLE):
        discarded = _discarded(fleet, agents)
    data = {"version": VERSION, "agents": agents, "queued": {}, "discarded": discarded, "rebuilt_at": time.time()}
    if pending:
        data[rebuild_hosts.PENDING] = pending
    return data


def _base_of(fleet: "FleetCore", branch: str) -> tuple[str, float]:
    """The branch's base as its reflog names it (else the configured or checked-out one) and when it was created."""
    origin = worktrees.branch_origin(fleet.repo.root, branch)
    base = origin.base
    if not base:
        try:
            base = worktrees.resolve_base(fleet.repo, fleet.settings.base)
        except PaneboardError:
            base = fleet.settings.base or ""
    return base, origin.at


def _running(fleet: "FleetCore") -> dict[str, dict]:
    out = {}
    for pane in fleet.tmux.list_agent_panes():
        opts = pane.options
        if opts.get("repo") != str(fleet.repo.root) or not opts.get("name"):
            continue
        branch = opts.get("branch", "")
        base, _ = _base_of(fleet, branch) if branch else ("", 0.0)
        try:
            started = float(opts.get("started") or 0)
        except ValueError:
            started = 0.0
        out[opts["name"]] = {"task": opts.get("task") or opts["name"], "agent": opts.get("agent") or "?",
                             "branch": branch, "worktree": opts.get("worktree", ""), "base": base,
                             "session": pane.session, "pane": pane.pane_id, "started_at": started,
                             "port": None if pane.dead else _port_of(pane.pid)}
    return out


def _port_of(pid: int) -> int | None:
    """The PORT a running agent was started with (Linux /proc), so a new agent is not handed the same one."""
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    for item in env:
        if item.startswith(b"PORT=") and item[5:].isdigit():
            return int(item[5:])
    return None


def _stopped(fleet: "FleetCore", taken: set[str], names: set[str]) -> dict[str, dict]:
    from ..git.archive import is_merged
    root = fleet.repo.root
    checked_out = {branch: path for path, branch in worktrees.list_worktrees(fleet.repo).items() if branch}
    branches = worktrees.run_git(root, "for-each-ref", "--format=%(refname:short)%00%(objectname)",
                                 "refs/heads/" + worktrees.BRANCH_PREFIX).splitlines()
    out, now = {}, time.time()
    for line in branches:
        branch, _, tip = line.partition("\0")
        slug = branch.removeprefix(worktrees.BRANCH_PREFIX)
        if branch in taken or not slug or slug in names:
            continue
        base, created = _base_of(fleet, branch)
        path = checked_out.get(branch)
        rec = {"task": slug, "agent": "?", "branch": branch, "base": base, "session": fleet.session,
               "worktree": str(path or worktrees.worktree_root(fleet.repo, fleet.settings.worktree_root) / slug),
               "started_at": created, "killed_at": now}
        if path is None and base and worktrees.branch_exists(fleet.repo, base) and is_merged(root, base, tip):
            rec.update(merged=True, merged_at=now)
        out[slug] = rec
    return out


def _discarded(fleet: "FleetCore", agents: dict[str, dict]) -> dict[str, dict]:
    from ..git.archive import list_archives
    out = {}
    for saved in list_archives(fleet.repo.root):
        if saved.name in agents or saved.name in out or not saved.branch:
            continue
        if not saved.host and worktrees.branch_exists(fleet.repo, saved.branch):
            continue  # restored since: the branch is the agent again (a host's restored agent is in `agents`)
        rec = {"task": saved.name, "agent": "?", "branch": saved.branch, "worktree": saved.worktree,
               "base": saved.base, "session": fleet.session, "started_at": saved.created,
               "archive": saved.ref, "patch": str(saved.patch or ""), "discarded_at": saved.created}
        if saved.host:
            rec.update(_on_host(fleet, saved.host, saved.slug), archive_commit=saved.commit)
        out[saved.name] = rec
    return out


def _on_host(fleet: "FleetCore", host: str, slug: str) -> dict:
    """The host fields of an archive made on that host: restore brings it back there (its clone from `hosts:`)."""
    config = fleet.settings.host(host)
    if config is None:
        return {"host": host}       # restore says the host is not in the task file; nothing restored here
    # The base ref the spawn pushed stays in the host's clone after a discard (only worktree and branch go).
    return {**rebuild_hosts.host_fields(config), "base_ref": rgit.BASE_REFS + slug}
