"""Agents on other hosts in a rebuilt state: each host of `hosts:` asked for its agents, and the ones that did
not answer asked again by the next command.

A remote agent's record is rebuilt from its host: its pane's `@paneboard_*` options (name, branch,
worktree, agent, this repository), its base ref (`refs/paneboard/base/<slug>`) and whether its
events file is there, read in one listing and one more ssh call per host, all hosts at once. A
worktree of the host's clone on a `paneboard/` branch with no pane is a stopped agent. A host that
does not answer cannot say which agents it runs: it is noted in the state (`pending_hosts`, with
ssh's line), and every later command asks it again until it answers and its agents are back.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from ..config import HostConfig
from ..errors import HostUnreachable, PaneboardError
from ..git import worktrees
from ..hosts import events as host_events
from ..hosts import git as rgit
from ..hosts.remote import script
from ..names import slugify
from ..tmux import PaneInfo
from . import hosts

PENDING = "pending_hosts"       # host → why it did not answer when the state was rebuilt
_RETRY = 10.0                   # seconds between two tries of a pending host in one process
_MARK = "@@paneboard-rebuild@@"


def from_hosts(fleet, wanted: list[HostConfig], base: str) -> tuple[dict[str, dict], dict[str, str]]:
    """(the records of every agent these hosts run for this repository, host → why for each that did not answer)."""
    def one(host: HostConfig):
        try:
            return _host_agents(fleet, host, base)
        except HostUnreachable as exc:
            return exc.detail
        except (PaneboardError, OSError, ValueError) as exc:
            return str(exc)

    if not wanted:
        return {}, {}
    with ThreadPoolExecutor(min(8, len(wanted))) as pool:
        answers = list(pool.map(one, wanted))
    found: dict[str, dict] = {}
    missing: dict[str, str] = {}
    for host, got in zip(wanted, answers):
        if isinstance(got, str):
            missing[host.name] = got
        else:
            found.update({name: rec for name, rec in got.items() if name not in found})
    return found, missing


def _host_agents(fleet, host: HostConfig, base: str) -> dict[str, dict]:
    """The agents this host runs (or ran, stopped, in a worktree of its clone) for this repository."""
    root = str(fleet.repo.root)
    panes = [p for p in hosts.remote_tmux(fleet, host.name, host.tmux_socket).list_agent_panes()
             if p.options.get("repo") == root and p.options.get("name")]
    base_refs, checked_out, events = _clone_facts(fleet, host)
    out: dict[str, dict] = {}
    for pane in panes:
        out[pane.options["name"]] = _running_record(fleet, host, pane, base)
    branches = {rec["branch"] for rec in out.values()}
    now = time.time()
    for path, branch in checked_out.items():
        slug = branch.removeprefix(worktrees.BRANCH_PREFIX)
        if branch in branches or slug in out:
            continue
        out[slug] = {**host_fields(host), "task": slug, "agent": "?", "branch": branch, "worktree": path,
                     "base": base, "session": fleet.session, "started_at": 0.0, "killed_at": now}
    for name, rec in out.items():
        slug = rec["branch"].removeprefix(worktrees.BRANCH_PREFIX) or slugify(name)
        if rgit.BASE_REFS + slug in base_refs:
            rec["base_ref"] = rgit.BASE_REFS + slug
        rec["hooks"] = host_events.events_path(host.repo, name).rsplit("/", 1)[-1] in events
    return out


def host_fields(host: HostConfig) -> dict:
    """What every remote operation needs to reach the agent's host without the task file."""
    return {"host": host.name, "host_repo": host.repo, "host_ssh": list(host.ssh), "host_port": host.port,
            "socket": host.tmux_socket}


def _running_record(fleet, host: HostConfig, pane: PaneInfo, base: str) -> dict:
    opts = pane.options
    try:
        started = float(opts.get("started") or 0)
    except ValueError:
        started = 0.0
    return {**host_fields(host), "task": opts.get("task") or opts["name"], "agent": opts.get("agent") or "?",
            "branch": opts.get("branch", ""), "worktree": opts.get("worktree", ""), "base": base,
            "session": pane.session, "pane": pane.pane_id, "started_at": started, "port": None}


def _clone_facts(fleet, host: HostConfig) -> tuple[set[str], dict[str, str], set[str]]:
    """(the base refs, worktree path → paneboard branch, the events files' names) of the host's clone, one call."""
    line = script([["git", "-C", host.repo, "for-each-ref", "--format=%(refname)", rgit.BASE_REFS],
                   ["echo", _MARK],
                   ["git", "-C", host.repo, "worktree", "list", "--porcelain"],
                   ["echo", _MARK],
                   ["ls", "-1", "-A", "--", host_events.hooks_dir(host.repo)]], sep=";")
    res = hosts.remote(fleet, host.name).run_line(line, check=False, what="git")
    parts = res.stdout.split(_MARK + "\n")
    if len(parts) != 3:
        raise PaneboardError(f"host {host.name!r}: its clone {host.repo} could not be read")
    refs, listing, files = parts
    checked_out, path = {}, ""
    for item in listing.splitlines():
        if item.startswith("worktree "):
            path = item[len("worktree "):]
        elif item.startswith("branch refs/heads/" + worktrees.BRANCH_PREFIX) and path:
            checked_out[path] = item[len("branch refs/heads/"):]
    return set(refs.split()), checked_out, {f for f in files.splitlines() if f.endswith(".jsonl")}


def adopt_pending(fleet, force: bool = False) -> None:
    """Ask the hosts the rebuild could not reach again (at most every 10 s in a process) and add their agents."""
    pending = fleet.state.read().get(PENDING)
    if not pending:
        return
    now = time.monotonic()
    if not force and now - fleet.__dict__.get("_pending_tried", -_RETRY) < _RETRY:
        return
    fleet._pending_tried = now
    names = set(pending) if isinstance(pending, dict) else set()
    wanted = [h for h in fleet.settings.hosts if h.name in names]
    found, missing = from_hosts(fleet, wanted, configured_base(fleet))
    answered = {h.name for h in wanted} - set(missing)
    if not answered and isinstance(pending, dict):
        return
    added = []
    with fleet.state.edit() as data:
        left = data.get(PENDING) if isinstance(data.get(PENDING), dict) else {}
        for name, rec in found.items():
            if name not in data["agents"]:
                data["agents"][name] = rec
                added.append(name)
                gone = data.get("discarded", {}).get(name)
                if gone and gone.get("host") == rec["host"]:
                    data["discarded"].pop(name)       # restored on the host since its archive was made
        left = {h: why for h, why in left.items() if h not in answered}
        if left:
            data[PENDING] = left
        else:
            data.pop(PENDING, None)
    if answered:
        fleet.notices.append(f"host(s) {', '.join(sorted(answered))} answered again: "
                             f"{len(added)} agent(s) of theirs added to the rebuilt state"
                             + (f" ({', '.join(sorted(added))})" if added else ""))


def configured_base(fleet) -> str:
    """The configured base (else the checked-out branch): a remote agent's branch is not here to tell its own."""
    try:
        return worktrees.resolve_base(fleet.repo, fleet.settings.base)
    except PaneboardError:
        return fleet.settings.base or ""
