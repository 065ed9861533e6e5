"""One look at the fleet without history: every agent's status and triggers now, for `paneboard ls`.

`since` is the moment a condition began, the same at every call: a screen's status began at the
pane's last output, files out of scope or shared with another agent when those files were
written; and while a dashboard runs (or ran), the moment it saw the same status or trigger begin
(its `status.json`), so `ls`, `ls --json`, `status.json` and the dashboard say the same.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..tmux import logs
from ..git import worktrees
from ..model import Agent, Kind
from ..triggers import TriggerBook, evaluate
from .agent_events import events_file, host_events_files
from .limits import resume_at
from .attention import carry_since, read_previous_status
from ..errors import PaneboardError
from .facts import Facts, apply_conflicts, apply_overlaps, apply_reading, apply_scope, apply_stats, classify, \
    restore_from_log, seed_errors_from_screen, snapshot, spinner_elapsed, status_of, stopped_why


def newest_mtime(worktree: str, files) -> float | None:
    """The newest modification time among these worktree files (None if none can be read)."""
    newest = None
    for f in files:
        try:
            m = os.stat(os.path.join(worktree, f)).st_mtime
        except OSError:
            continue
        newest = m if newest is None or m > newest else newest
    return newest


def stats_with_mtime(worktree: str, base: str, with_mtime: bool, run=None):
    """The worktree's git stats, and (when asked) its newest changed file's time, which after a
    restart stands in for the last file event; given a runner (the monitor's), git's refusal raises."""
    s = worktrees.stats(Path(worktree), base, run=run, strict=run is not None)
    return s, (newest_mtime(worktree, s.files) if with_mtime else None)


def _mtimes(worktree: str, files) -> dict[str, float]:
    out = {}
    for f in files:
        try:
            out[f] = os.stat(os.path.join(worktree, f)).st_mtime
        except OSError:
            continue
    return out


def settle_since(facts: dict[str, Facts], names) -> None:
    """For conditions found already true (no one saw them begin): since = when the files concerned were written.

    Out of scope: the oldest write among the files outside the scope. Overlap: for each shared file,
    the later of the two agents' writes (the moment it became shared); the earliest of those.
    A file that is gone tells nothing; then the time found stays.
    """
    for name in names:
        f = facts.get(name)
        if f is None or not f.agent.worktree_exists:
            continue
        # A host's worktree paths are not this machine's: its files' times are unknown here.
        mine = {} if f.agent.host else _mtimes(f.agent.worktree, set(f.oos) | {p for paths in f.overlaps.values()
                                                                               for p in paths})
        if f.oos and f.oos_since is not None:
            written = [mine[p] for p in f.oos if p in mine]
            f.oos_since = min(written) if written else f.oos_since
        if f.overlaps and f.overlap_since is not None:
            shared = []
            for other, paths in f.overlaps.items():
                o = facts.get(other)
                theirs = _mtimes(o.agent.worktree, paths) if o is not None and not o.agent.host else {}
                shared += [max(mine[p], theirs[p]) for p in paths if p in mine and p in theirs]
            f.overlap_since = min(shared) if shared else f.overlap_since


def _screen_since(f: Facts, status, now: float):
    """A status read from a live screen began with the output that drew it (the pane's last output)."""
    from dataclasses import replace
    if f.agent.pane_alive and status.kind in (Kind.NEEDS_INPUT, Kind.IDLE, Kind.ERROR) and f.last_output_at:
        return replace(status, since=min(f.last_output_at, now))
    return status


def _has_branch(root: Path, branch: str) -> bool:
    return bool(branch) and bool(worktrees.run_git(root, "rev-parse", "--verify", "--quiet",
                                                   f"refs/heads/{branch}^{{commit}}", check=False).strip())


def branch_stats(repo_root: Path, branch: str, base: str) -> worktrees.Stats:
    """A missing worktree's stats from its branch alone: its commits not in base (-1 when the branch is gone too)."""
    root = Path(repo_root)
    if not _has_branch(root, branch):
        return worktrees.Stats(commits=-1)
    span = f"refs/heads/{base}..refs/heads/{branch}" if _has_branch(root, base) else f"refs/heads/{branch}"
    count = worktrees.run_git(root, "rev-list", "--count", span, check=False).strip()
    return worktrees.Stats(commits=int(count) if count.isdigit() else 0)


def _capture_all(tmux, panes: list[str]) -> dict[str, str]:
    """Every pane's screen on one server; none when its host cannot be reached (the agent says why)."""
    from ..errors import HostUnreachable
    try:
        return tmux.capture_all(panes)
    except HostUnreachable:
        return {}


def _gather(fleet, now: float) -> tuple[list[Agent], dict[str, Facts], dict, dict[str, str]]:
    """In parallel: records, screens, git stats and logs of every agent, as facts."""
    settings = fleet.settings
    with ThreadPoolExecutor(8) as pool:
        records_f = pool.submit(lambda: fleet.state.read()["agents"])
        agents = fleet.agents(stats=False)
        live = [a for a in agents if a.pane and a.pane_alive]
        # Each agent's screen from the server it lives on (one call per server, here or on a host).
        servers = {(a.socket, a.host) for a in live}
        screens_f = [(pool.submit(_capture_all, fleet.tmux_on(*s), [a.pane for a in live if (a.socket, a.host) == s]),
                      {a.pane: a.name for a in live if (a.socket, a.host) == s}) for s in servers]
        stats_f = {a.name: pool.submit(stats_with_mtime, a.worktree, a.base, True)
                   for a in agents if a.worktree_exists and not a.merged and not a.host}
        # A host's agents: git runs there (the fleet reads it), one call each.
        remote_f = {a.name: pool.submit(fleet._fill_stats, a) for a in agents if a.host and not a.merged}
        # A host's agents' events: one read on each host.
        host_events_f = pool.submit(host_events_files, fleet, [a.name for a in agents if a.host])
        missing_f = {a.name: pool.submit(branch_stats, fleet.repo.root, a.branch, a.base)
                     for a in agents if a.worktree and not a.worktree_exists and not a.merged}
        facts: dict[str, Facts] = {}
        for a in agents:
            f = Facts.new(a, settings)
            f.kind_since = a.status.since
            f.exited_at = None if a.pane_alive else (a.last_activity_at or None)
            facts[a.name] = f
        log_f = [pool.submit(restore_from_log, facts[a.name], logs.log_path(fleet.repo.common_dir, a.name))
                 for a in agents]
        for a in agents:
            if not a.host:
                facts[a.name].hook_events = events_file(fleet.repo.common_dir, a.name)
        records = records_f.result()
        for name, ev in host_events_f.result().items():
            facts[name].hook_events = ev
        screens = {}      # by agent name: pane ids repeat across servers
        for fut, names in screens_f:
            screens.update({names[p]: s for p, s in fut.result().items() if p in names})
        for name, fut in stats_f.items():
            s, newest = fut.result()
            apply_stats(facts[name], s, None)
            facts[name].last_file_change_at = newest
        for name, fut in missing_f.items():
            apply_stats(facts[name], fut.result(), None)
        for a in agents:
            if a.name in remote_f:
                remote_f[a.name].result()
                apply_stats(facts[a.name], worktrees.Stats(files=a.files, added=a.added, removed=a.removed,
                                                           dirty=a.dirty, commits=a.commits), None)
        for fut in log_f:
            fut.result()
    return agents, facts, records, screens


def predicted_conflicts(repo_root: Path, agents: list[Agent]) -> dict[str, tuple[str, ...]]:
    """Per agent with changes: the files its merge into its base is predicted to conflict in (git merge-tree)."""
    from ..git import merge as merging
    todo = [a for a in agents if a.worktree_exists and not a.merged and a.files and not a.host]

    def one(a: Agent) -> tuple[str, ...]:
        try:
            # Only where the base moved since the agent forked can it conflict: two git calls for the rest.
            if not merging.may_conflict(Path(a.worktree), a.base, a.files):
                return ()
            return merging.predict_agent(repo_root, a.base, Path(a.worktree)).conflicts
        except (PaneboardError, OSError):
            return ()     # no base, or a worktree going away: nothing to predict, nothing to raise
    with ThreadPoolExecutor(8) as pool:
        return dict(zip([a.name for a in todo], pool.map(one, todo)))


STALE_FETCH = "as of its work last fetched; `paneboard ls --fetch` fetches it now"


def remote_conflicts(fleet, agents: list[Agent]) -> dict[str, tuple[tuple[str, ...], str]]:
    """Per remote agent with changes and a fetched work: its predicted conflicts with its base from that fetch (no
    ssh), with a note when its files on the host are no longer those of the fetch (or the host is away)."""
    todo = [a for a in agents if a.host and not a.merged and a.files]
    if not todo:
        return {}
    from ..git import merge as merging
    from .remote_work import changed_files
    root = Path(fleet.repo.root)

    def one(a: Agent) -> tuple[tuple[str, ...], str] | None:
        commit = fleet.fetched_work(a)
        if commit is None:
            return None
        try:
            files = changed_files(root, a.base, commit)
            note = STALE_FETCH if a.unreachable or files != frozenset(a.files) else ""
            if not merging.commit_may_conflict(root, a.base, commit, files):
                return (), note
            return merging.predict(root, f"refs/heads/{a.base}", commit).conflicts, note
        except (PaneboardError, OSError):
            return None
    with ThreadPoolExecutor(8) as pool:
        return {a.name: got for a, got in zip(todo, pool.map(one, todo)) if got is not None}


def fetch_remote_work(fleet, agents: list[Agent]) -> None:
    """Fetch every reachable remote agent's work with changes here (hosts in parallel, one fetch per host at a time);
    a host that does not answer keeps its agents' last fetch."""
    by_host: dict[str, list[Agent]] = {}
    for a in agents:
        if a.host and not a.merged and not a.unreachable and a.files:
            by_host.setdefault(a.host, []).append(a)

    def one_host(todo: list[Agent]) -> None:
        for a in todo:
            try:
                fleet.host_work(a)
            except (PaneboardError, OSError):
                return      # unreachable (or refused): the rest of this host keeps its last fetch too
    if by_host:
        with ThreadPoolExecutor(min(8, len(by_host))) as pool:
            list(pool.map(one_host, by_host.values()))


def assess_once(fleet, now: float | None = None, fetch: bool = False) -> list[Agent]:
    """Every agent with status and triggers from what can be known without history (for `ls --json`); `fetch`
    brings each remote agent's work here first, so its predicted conflicts are current."""
    from .publish import status_file_paths
    now = time.time() if now is None else now
    settings = fleet.settings
    agents, facts, records, screens = _gather(fleet, now)
    agents_by_name = {a.name: a for a in agents}
    _, shown, carried = read_previous_status(status_file_paths(fleet)[0])
    for a in agents:
        f = facts[a.name]
        f.stopped_why = stopped_why(records.get(a.name))
        f.killed = bool(f.stopped_why)
        if a.pane and a.pane_alive:
            # tmux's window_activity stands in for the last output when there is no log.
            f.last_output_at = max(f.last_output_at or 0.0, a.last_activity_at or 0.0) or None
            f.screen = screens.get(a.name, "")
            f.captured = True
            f.screen_output_at = f.last_output_at
            seed_errors_from_screen(f, f.last_output_at or now)
            apply_reading(f, classify(f.screen, a.rules), now)
            # Without history, progress is dated by the CLI's own spinner timer: no new line since it began.
            elapsed = spinner_elapsed(f.screen)
            f.progress_at = now - elapsed if elapsed is not None else now
            if f.limit:
                f.limit_since = min(f.last_output_at or now, now)    # the notice was the last thing printed
        apply_scope(f, now)
    apply_overlaps(facts, now)
    for a in agents:
        a.limit_resets_at = facts[a.name].limit_resets_at
    for name, at in resume_at(fleet, agents).items():
        facts[name].resume_at = agents_by_name[name].limit_resume_at = at
    settle_since(facts, list(facts))
    for name, files in predicted_conflicts(fleet.repo.root, agents).items():
        apply_conflicts(facts[name], files, now)
    if fetch:
        fetch_remote_work(fleet, agents)
    for name, (files, note) in remote_conflicts(fleet, agents).items():
        apply_conflicts(facts[name], files, now, note)
    book = TriggerBook()
    for a in agents:
        f = facts[a.name]
        a.status = _screen_since(f, status_of(f, now, settings), now)
        prev = shown.get(a.name)
        if prev is not None and prev[0] == a.status.kind.value:
            # The dashboard saw this status begin: its moment, as a restarted dashboard would carry it.
            from dataclasses import replace
            a.status = replace(a.status, since=prev[1])
        found = [carry_since(t, carried.get(t.key)) for t in evaluate(snapshot(f, a.status, now), now, settings)]
        book.update(a.name, found, now)
        a.triggers = book.active(a.name)
        a.last_activity_at = max(a.started_at, f.last_output_at or 0.0, f.last_file_change_at or 0.0)
        a.session_id = _session_id(fleet, a, f)
    return agents


def _session_id(fleet, a: Agent, f: Facts) -> str | None:
    """The agent CLI's session id: its hook events' newest, else the one recorded or left in its exit hint."""
    sid = f.hook_events.session_id if f.hook_events is not None else None
    if sid or a.pane_alive:
        return sid or a.session_id
    return fleet.session_id_of(a)


def assess_agent(fleet, name: str, now: float | None = None) -> Agent:
    """One agent's status now, from its pane, screen, hooks and log (no git, no triggers): a guard's cheap look."""
    return look_agent(fleet, name, now)[0]


def look_agent(fleet, name: str, now: float | None = None) -> tuple[Agent, Facts]:
    """One agent with its status now, and the facts it was judged on (its screen, reading, hook events)."""
    now = time.time() if now is None else now
    a = fleet.get(name, stats=False)
    f = Facts.new(a, fleet.settings)
    f.kind_since = a.status.since
    f.exited_at = None if a.pane_alive else (a.last_activity_at or None)
    restore_from_log(f, logs.log_path(fleet.repo.common_dir, a.name))
    records = fleet.state.read()["agents"]
    f.hook_events = host_events_files(fleet, [a.name], records).get(a.name) if a.host else \
        events_file(fleet.repo.common_dir, a.name)
    f.stopped_why = stopped_why(records.get(a.name))
    f.killed = bool(f.stopped_why)
    if a.pane and a.pane_alive:
        # As in assess_once: tmux's window_activity stands in for the last output.
        f.last_output_at = max(f.last_output_at or 0.0, a.last_activity_at or 0.0) or None
        f.screen = (fleet.tmux_on(a.socket, a.host) if a.host else fleet.tmux).capture(a.pane)
        f.captured = True
        f.screen_output_at = f.last_output_at
        apply_reading(f, classify(f.screen, a.rules), now)
    a.status = status_of(f, now, fleet.settings)
    return a, f
