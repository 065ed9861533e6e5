"""Agents on other hosts: where each runs (its record's `host`), reaching it, and its work brought here.

A remote agent's record names its host and the host's clone (`host_repo`); its worktree path is
a path on that host and is never looked at locally. One listing call per host per discovery;
a host that does not answer makes its agents `unreachable` (with ssh's error line), never
exited or missing, and nothing of theirs is pruned or forgotten.
"""

from __future__ import annotations

import logging
import math
import shlex
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ..config import HostConfig
from ..errors import HostUnreachable, PaneboardError
from ..hosts import git as rgit
from ..hosts import logs as rlogs
from ..hosts.remote import Remote
from ..hosts.tmux import RemoteTmux
from ..model import Agent
from ..tmux import PaneInfo

log = logging.getLogger(__name__)

REMOTE_REFS = "refs/paneboard/remote/"
_LOCK = threading.Lock()


def host_config(fleet, name: str) -> HostConfig:
    """The host of this name from the task file's `hosts:`; a one-line error when it is not there."""
    host = fleet.settings.host(name)
    if host is None:
        known = ", ".join(h.name for h in fleet.settings.hosts) or "none"
        raise PaneboardError(f"unknown host {name!r} (hosts in the task file: {known})")
    return host


def remote(fleet, name: str) -> Remote:
    """The one `Remote` of this host for this fleet (one shared ssh connection)."""
    with _LOCK:
        cache = fleet.__dict__.setdefault("_remotes", {})
        if name not in cache:
            h = host_config(fleet, name)
            cache[name] = Remote(name, h.ssh, h.port)
        return cache[name]


def remote_tmux(fleet, host: str, socket: str | None) -> RemoteTmux:
    """The tmux server on this host and socket (one object each)."""
    with _LOCK:
        cache = fleet.__dict__.setdefault("_remote_tmux", {})
    key = (host, socket or "paneboard")
    if key not in cache:
        cache[key] = RemoteTmux(remote(fleet, host), key[1])
    return cache[key]


def panes_by_host(fleet, records: dict) -> dict[tuple[str, str], dict[str, PaneInfo] | HostUnreachable]:
    """Each (host, socket) that a record names: its agent panes of this repository, or why it is unreachable."""
    wanted = sorted({(r["host"], r.get("socket") or "paneboard") for r in records.values() if r.get("host")})

    def one(key):
        try:
            panes = remote_tmux(fleet, *key).list_agent_panes()
        except HostUnreachable as exc:
            return exc
        except PaneboardError as exc:     # the host left the task file: say so, lose nothing
            return HostUnreachable(key[0], str(exc))
        return {p.options["name"]: p for p in panes if p.options.get("repo") == str(fleet.repo.root)}

    if not wanted:
        return {}
    with ThreadPoolExecutor(min(8, len(wanted))) as pool:
        return dict(zip(wanted, pool.map(one, wanted)))


def remote_agent(fleet, name: str, rec: dict, found: dict) -> Agent:
    """A remote agent from its record and its host's listing (its worktree is on the host, assumed there)."""
    key = (rec["host"], rec.get("socket") or "paneboard")
    listing = found.get(key, {})
    pane = listing.get(name) if isinstance(listing, dict) else None
    if isinstance(listing, HostUnreachable):
        # Nothing is known: the pane is not looked for, so it is neither exited nor unseen.
        pane = None
    agent = fleet._agent(name, rec, pane, rec.get("socket") or "paneboard")
    agent.host = rec["host"]
    agent.worktree_exists = True
    agent.pane_unseen = False
    if isinstance(listing, HostUnreachable):
        agent.unreachable = listing.detail
        agent.pane = rec.get("pane")
    return agent


def read_stats(fleet, agent: Agent):
    """The remote agent's change stats, read by git on its host; HostUnreachable when it cannot be reached."""
    rec = fleet.state.read()["agents"].get(agent.name, {})
    return rgit.stats(remote(fleet, agent.host), agent.worktree, rec.get("base_ref") or agent.base)


def fill_stats(fleet, agent: Agent) -> None:
    """The remote agent's change stats, read by git on its host (nothing when it cannot be reached)."""
    if agent.unreachable:
        return
    try:
        s = read_stats(fleet, agent)
    except (HostUnreachable, PaneboardError):
        return
    agent.files, agent.added, agent.removed, agent.dirty, agent.commits = s.files, s.added, s.removed, \
        s.dirty, s.commits


def commit_subjects(fleet, agent: Agent, count: int) -> list[str]:
    """The remote agent's newest `count` commits since its base, "<short id> <subject>", read by git on its host."""
    rec = fleet.state.read()["agents"].get(agent.name, {})
    return rgit.commit_subjects(remote(fleet, agent.host), agent.worktree, rec.get("base_ref") or agent.base, count)


def log_writer(fleet, host: str, repo: str):
    """The output-log writer in this host's clone, put there when missing (`Installed`; one ssh call).

    Asked each time a pipe is opened (a spawn, a restart, a pane found without one): rare, and a
    writer removed on the host meanwhile is put back rather than named in a pipe that would fail."""
    return rlogs.prepare(remote(fleet, host), repo)


def log_pipe(fleet, host: str, repo: str, name: str) -> str:
    """The `pipe-pane` command that writes the agent's output to its log on its host."""
    return rlogs.pipe_command(log_writer(fleet, host, repo), name)


def open_log_pipes(fleet, agents: list[Agent]) -> list[str]:
    """Pipe every live remote pane of these agents whose output goes nowhere into its log on its host; the
    names piped now. A host that does not answer is skipped (its pipes are looked at when it is back)."""
    records = fleet.state.read()["agents"]
    servers: dict[tuple, dict[str, str]] = {}
    for a in agents:
        rec = records.get(a.name)
        if a.host and a.pane and a.pane_alive and not a.unreachable and rec and rec.get("host_repo"):
            servers.setdefault((a.host, a.socket or "paneboard", rec["host_repo"]), {})[a.pane] = a.name
    opened: list[str] = []
    for (host, socket, repo), panes in servers.items():
        try:
            opened += rlogs.open_pipes(remote_tmux(fleet, host, socket), log_writer(fleet, host, repo), panes)
        except PaneboardError as exc:
            log.info("log pipes on host %s: %s", host, exc)
    return opened


def read_log(fleet, name: str, rec: dict, n_bytes: int) -> tuple[float | None, str, str]:
    """(last written or None, recent text, "host:path") of a remote agent's output log, read on its host."""
    mtime, text, path = rlogs.read(remote(fleet, rec["host"]), rec.get("host_repo") or "", name, n_bytes)
    return mtime, text, f"{rec['host']}:{path}"


def fetch_work(fleet, agent: Agent) -> str:
    """Bring the remote agent's work, uncommitted included, into the local repository; the local ref."""
    rec = fleet.state.read()["agents"].get(agent.name, {})
    r = remote(fleet, agent.host)
    src = rgit.snapshot(r, agent.worktree, agent.branch.rsplit("/", 1)[-1])
    dst = f"{REMOTE_REFS}{agent.host}/{agent.branch}"
    rgit.fetch(fleet.repo.root, r, rec["host_repo"], src, dst)
    return dst


def attach_argv(fleet, agent: Agent) -> list[str]:
    """The local argv of an SSH terminal attached to the agent's window on its host."""
    t = remote_tmux(fleet, agent.host, agent.socket)
    return t.launch(["attach-session", "-t", agent.session or fleet.session, ";", "select-window", "-t",
                     agent.pane or "", ";", "display-message", "-d", "5000",
                     "paneboard: detach (prefix d, usually C-b d) to come back"], tty=True)


def run_check(fleet, agent: Agent, command: str, log_path, timeout: float):
    """Run the check on the agent's host, in its worktree, as argv (split as locally, no shell parses it),
    killed there after `timeout` (coreutils `timeout`); its output is logged here. A CheckResult."""
    from ..git import checks
    argv = shlex.split(command)
    started = time.monotonic()
    if not argv:
        return checks.result_from_output(command, b"", None, False, timeout, started, log_path)
    # The worktree and argv are positional parameters of a fixed script: never parsed as code.
    res = remote(fleet, agent.host).run(
        ["timeout", "-k", "5", str(max(1, math.ceil(timeout))), "sh", "-c", 'cd -- "$1" && shift && exec "$@" 2>&1',
         "sh", agent.worktree, *argv], check=False, timeout=timeout + 20)
    timed_out = res.returncode in (124, 137)
    output = (res.stdout + res.stderr).encode("utf-8", "replace")
    return checks.result_from_output(command, output, None if timed_out else res.returncode, timed_out, timeout,
                                     started, log_path)


def merge_tip(fleet, agent: Agent) -> str:
    """Fetch the remote agent's work (uncommitted too) and return the commit a merge would take."""
    ref = fetch_work(fleet, agent)
    tip = subprocess.run(["git", "rev-parse", "--verify", "--quiet", ref], cwd=fleet.repo.root,
                         capture_output=True, text=True).stdout.strip()
    if not tip:
        raise PaneboardError(f"the work of {agent.name!r} fetched from host {agent.host!r} is not in {ref}; "
                             f"nothing was changed")
    return tip


def commit_work(fleet, agent: Agent, message: str) -> None:
    """Commit the remote agent's work on its host (as a local merge commits it in the worktree) and bring its
    branch here as the local branch of the same name, which the merge takes."""
    rec = fleet.state.read()["agents"].get(agent.name, {})
    r = remote(fleet, agent.host)
    r.run(["git", "-C", agent.worktree, "add", "-A"])
    if r.run(["git", "-C", agent.worktree, "diff", "--cached", "--quiet"], check=False).returncode == 1:
        r.run(["git", "-C", agent.worktree, *_identity(fleet.repo.root), "commit", "-q", "-F", "-"], stdin=message)
    ref = f"refs/heads/{agent.branch}"
    rgit.fetch(fleet.repo.root, r, rec["host_repo"], ref, ref)


def _identity(root) -> list[str]:
    """The identity of whoever merges here, for the commit made on the host in their name."""
    args = []
    for key, fallback in (("user.name", "paneboard"), ("user.email", "paneboard@localhost")):
        value = subprocess.run(["git", "config", "--get", key], cwd=root, capture_output=True, text=True).stdout
        args += ["-c", f"{key}={value.strip() or fallback}"]
    return args


def remove_worktree(fleet, agent: Agent) -> None:
    """After a merge: remove the agent's worktree on its host (a plain remove: it refuses anything not merged)."""
    rec = fleet.state.read()["agents"].get(agent.name, {})
    try:
        remote(fleet, agent.host).run(["git", "-C", rec.get("host_repo") or "", "worktree", "remove",
                                       agent.worktree], check=False)
    except HostUnreachable:
        pass        # it stays on the host, merged: nothing of anyone's is lost


def refuse_discard(fleet, agent: Agent, force: bool = False):
    """What the remote agent's worktree holds beyond its branch (None when the worktree is gone from the host);
    refuses (one line, nothing changed) when its host is away or discard could not keep it all."""
    from ..git import archive as larchive
    from ..hosts import keep as rkeep
    if agent.unreachable:
        raise PaneboardError(f"discard refused: host {agent.host!r} is unreachable ({agent.unreachable}); "
                             f"nothing was changed")
    r = remote(fleet, agent.host)
    if not rkeep.existing(r, [f"{agent.worktree}/.git"]):
        return None         # gone from the host: its branch is what is left to archive
    holdings = rkeep.survey(r, agent.worktree, fleet.settings.disposable)
    larchive.refuse_what_cannot_be_kept(holdings, force)
    return holdings


def archive_work(fleet, agent: Agent, holdings=None):
    """Archive the remote agent's work on its host (ignored files and submodules' work too) AND fetch that
    archive into the local repository's `refs/paneboard/archive/<slug>`; the local Archive. Nothing is removed."""
    from ..git import archive as larchive
    from ..hosts import archive as rarchive
    rec = fleet.state.read()["agents"].get(agent.name, {})
    r, slug = remote(fleet, agent.host), larchive.archive_slug(agent.name, agent.branch)
    modules = rarchive.keep_dir(r, rec["host_repo"], slug) if holdings is not None and holdings.submodules else None
    commit = rarchive.archive(r, rec["host_repo"], agent.worktree, agent.name, agent.branch, agent.base, slug,
                              holdings, modules)
    ref = larchive.ARCHIVE_PREFIX + slug
    incoming = f"refs/paneboard/incoming/{slug}"
    # Fetched beside the archive first: the local archive ref only ever moves to a complete commit (the
    # ignored files' commit is one of its parents, so it comes along).
    rgit.fetch(fleet.repo.root, r, rec["host_repo"], ref, incoming)
    root = fleet.repo.root
    got = _local_git(root, "rev-parse", "--verify", "--quiet", incoming)
    if got != commit:
        raise PaneboardError(f"the archive of {agent.name!r} did not arrive from host {agent.host!r}; "
                             f"nothing was removed")
    previous = _local_git(root, "rev-parse", "--verify", "--quiet", ref)
    if previous and previous != commit:
        _local_git(root, "update-ref", f"{larchive.HISTORY_PREFIX}{slug}-{int(time.time() * 1e6)}", previous)
    _local_git(root, "update-ref", "-m", f"paneboard: archive {agent.name} from host {agent.host}", ref, commit)
    _local_git(root, "update-ref", "-d", incoming)
    return saved_archive(fleet, agent, commit)


def saved_archive(fleet, agent: Agent, commit: str):
    """The local Archive of a remote agent's archive commit (here already), with what it keeps beyond the branch."""
    from ..git import archive as larchive
    from ..git import keep as lkeep
    ignored, subs = lkeep.trailers(fleet.repo.root, commit)
    count = len(_local_git(fleet.repo.root, "ls-tree", "-r", "-z", "--name-only", ignored).split("\0")) - 1 \
        if ignored else 0
    return larchive.Archive(name=agent.name, slug=larchive.archive_slug(agent.name, agent.branch),
                            ref=larchive.ARCHIVE_PREFIX + larchive.archive_slug(agent.name, agent.branch),
                            commit=commit, head="", branch=agent.branch, worktree=agent.worktree, base=agent.base,
                            created=time.time(), patch=None, ignored=count, submodules=len(subs))


def remove_archived(fleet, name: str, rec: dict, commit: str, on_step=lambda step: None) -> None:
    """Remove the remote agent's worktree and branch on its host, its submodules' git dirs moved into the host
    clone's keep area first (its archive is on the host and here); running it again finishes the job."""
    from ..git import keep as lkeep
    from ..hosts import archive as rarchive
    _, subs = lkeep.trailers(fleet.repo.root, commit)
    held = set(_local_git(fleet.repo.root, "rev-list", "--parents", "-n", "1", commit).split()[1:])
    rarchive.remove(remote(fleet, rec["host"]), rec["host_repo"], rec["worktree"], rec["branch"], held, subs,
                    on_step)


def restore(fleet, name: str, rec: dict, on_step=lambda step: None) -> list[str]:
    """Bring a discarded remote agent's worktree and branch back on its host from its archive (pushed there
    from here first when the host's clone lost it), with its ignored files and submodules; what could not
    come back, in words."""
    from ..git import archive as larchive
    from ..git import keep as lkeep
    from ..hosts import archive as rarchive
    r = remote(fleet, rec["host"])
    ref = larchive.ARCHIVE_PREFIX + larchive.archive_slug(name, rec["branch"])
    commit = rec.get("archive_commit") or _local_git(fleet.repo.root, "rev-parse", "--verify", "--quiet", ref)
    if not commit:
        raise PaneboardError(f"no archive of {name!r} here ({ref}); nothing was changed")
    rgit.ensure_clone(r, rec["host_repo"])
    if r.run(["git", "-C", rec["host_repo"], "cat-file", "-e", f"{commit}^{{commit}}"], check=False).returncode:
        rgit.local_git(fleet.repo.root, r, "push", "--quiet", "--force", "--no-verify",
                       r.remote_url(rec["host_repo"]), f"{commit}:{ref}")
    ignored, subs = lkeep.trailers(fleet.repo.root, commit)
    if rec.get("restoring"):        # an earlier restore stopped halfway: take it back first
        head = _local_git(fleet.repo.root, "rev-parse", f"{commit}^1")
        rarchive.undo_restore(r, rec["host_repo"], rec["worktree"], rec["branch"], {head}, subs)
    return rarchive.restore(r, rec["host_repo"], rec["worktree"], rec["branch"], commit, ignored, subs, on_step)


def _local_git(root, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    if proc.returncode != 0 and args[0] != "rev-parse":
        raise PaneboardError(f"git {args[0]} failed here: {proc.stderr.strip().splitlines()[-1:]}")
    return proc.stdout.strip()
