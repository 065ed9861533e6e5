"""The fleet's core: construction, settings, and agents rebuilt from the state file, tmux and git."""

from __future__ import annotations

import hashlib
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Self

from ..git import worktrees
from ..config import Settings
from ..errors import AgentNotFound, PaneboardError
from ..model import Agent, Kind, Status
from ..state import StateFile
from . import rebuild_hosts
from .rebuild import rebuild_state
from ..timeline import Timeline
from ..tmux import PaneInfo, Tmux
from ..git.worktrees import RepoInfo
from . import hosts, prompts, sessions, spawning
from .sockets import recorded_socket, stopped_on_purpose

_POOL = 8


def session_name(info: RepoInfo) -> str:
    """One tmux session per repository, stable across restarts and distinct for same-named repos."""
    digest = hashlib.sha1(str(info.common_dir).encode()).hexdigest()[:6]
    readable = re.sub(r"[^A-Za-z0-9_-]+", "-", info.name)[:24].strip("-") or "repo"
    return f"paneboard-{readable}-{digest}"


def running_check(rec, timeout: float) -> dict | None:
    """A state file's `check_running` record if its process still lives (a dashboard killed mid-check
    leaves one) and it is not older than the check timeout allows (its pid was reused)."""
    if not isinstance(rec, dict):
        return None
    try:
        if time.time() - float(rec.get("started_at") or 0) > timeout + 60:
            return None
        os.kill(int(rec.get("pid")), 0)
    except (ProcessLookupError, TypeError, ValueError, OverflowError):
        return None
    except PermissionError:
        pass            # alive, someone else's
    return rec


class FleetCore:
    """What every family of verbs builds on: the repository, settings, tmux, the state file and the agents."""

    def __init__(self, repo: RepoInfo, settings: Settings, tmux: Tmux | None = None):
        self.repo = repo
        self.settings = settings
        self.session = settings.session or session_name(repo)
        self.tmux = tmux or Tmux(settings.tmux_socket or os.environ.get("PANEBOARD_TMUX_SOCKET"))
        # An unreadable state file is moved aside and rebuilt from tmux, git and the archives (rebuild.py).
        self.state = StateFile(repo.state_dir, rebuild=lambda: rebuild_state(self))
        if tmux is None and not settings.tmux_socket:
            # Where the agents live is recorded with them (sockets.py): no flag or variable needed to find them.
            recorded = recorded_socket(self.state.read()["agents"])
            if recorded:
                self.tmux = Tmux(recorded[0])
        self._servers: dict[str | None, Tmux] = {self.tmux.socket_name: self.tmux}
        self.recovered = None  # what recover_interrupted_merge() did at start, if anything
        self.notices: list[str] = []  # one-line warnings for the CLI or the dashboard to show (take_notices)
        self.task_file: Path | None = None
        self.timeline = Timeline(repo.state_dir)
        self.source = "cli"     # who acts, for each agent's timeline: the dashboard sets "dashboard"

    @classmethod
    def open(cls, path: Path, settings: Settings | None = None, socket_name: str | None = None,
             task_file: Path | None = None) -> Self:
        """The fleet of the repository containing path, with settings from its task file."""
        from ..config import load_settings, with_overrides
        repo = worktrees.find_repo(path)
        if settings is None:
            settings = load_settings(repo.root, task_file)
        settings = with_overrides(settings, tmux_socket=socket_name)
        fleet = cls(repo, settings)
        fleet.task_file = task_file
        # A crash mid-merge is finished or rolled back before anyone reads the agents (merge.py).
        fleet.recovered = fleet.recover_interrupted_merge()
        if fleet.recovered is not None:
            fleet.notices.append(fleet.recovered.summary())
        fleet.state.read()  # an unreadable state file is moved aside and rebuilt now, with a warning
        rebuild_hosts.adopt_pending(fleet, force=True)  # hosts the rebuild could not reach, asked again
        fleet.notices += fleet.finish_interrupted_merges()
        spawning.settle(fleet)  # a spawn killed half-way is finished or undone, with one line (spawning.py)
        prompts.resume(fleet)   # a task prompt whose delivery process was killed is delivered again
        return fleet

    def take_notices(self) -> list[str]:
        """The one-line warnings not shown yet (state file moved aside, merge recovered); each is taken once."""
        taken = []
        for source in (self.state.warnings, self.notices):
            while source:
                taken.append(source.pop(0))
        return taken

    def reload_settings(self) -> None:
        """Pick up edits to the task file made while paneboard runs (the tmux socket stays as started)."""
        from ..config import DEFAULT_FILE, load, with_overrides
        path = self.task_file or self.repo.root / DEFAULT_FILE
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return
        if mtime != getattr(self, "_settings_mtime", None):
            self._settings_mtime = mtime
            self.settings = with_overrides(load(path).settings, tmux_socket=self.tmux.socket_name,
                                           session=self.session)

    # -- discovery ----------------------------------------------------------

    def agents(self, stats: bool = True) -> list[Agent]:
        """Every agent, rebuilt from the state file, tmux pane options and git worktrees."""
        data = self.state.read()
        if data.get(spawning.SECTION):
            spawning.settle(self)   # a spawn that died half-way (its intent is cheap to see, rare to act on)
            data = self.state.read()
        if data.get(rebuild_hosts.PENDING):
            rebuild_hosts.adopt_pending(self)   # a host the rebuild could not reach: its agents, once it answers
            data = self.state.read()
        records = data["agents"]
        found = self._panes_by_socket({n: r for n, r in records.items() if not r.get("host")})
        remote_found = hosts.panes_by_host(self, records)
        agents = []
        for name, rec in records.items():
            if rec.get("host"):
                agents.append(hosts.remote_agent(self, name, rec, remote_found))
                continue
            socket, pane = self._find_pane(name, rec, found)
            agents.append(self._agent(name, rec, pane, socket))
        # Panes that carry our options but have no record (state file lost): still show them.
        for socket, panes in found.items():
            for name, pane in panes.items():
                if name not in records:
                    rec = {"task": pane.options.get("task") or name, "agent": pane.options.get("agent", "?"),
                           "branch": pane.options.get("branch", ""), "worktree": pane.options.get("worktree", ""),
                           "started_at": float(pane.options.get("started") or 0), "session": pane.session}
                    agents.append(self._agent(name, rec, pane, socket))
        if stats:
            with ThreadPoolExecutor(_POOL) as pool:
                list(pool.map(self._fill_stats, [a for a in agents if a.worktree_exists and not a.merged]))
        agents.sort(key=lambda a: (a.started_at, a.name))
        return agents

    def get(self, name: str, stats: bool = True) -> Agent:
        """The agent with this name, or AgentNotFound."""
        for agent in self.agents(stats=stats):
            if agent.name == name:
                return agent
        raise AgentNotFound(f"no agent named {name!r} in {self.repo.root} (see `paneboard ls`)")

    def tmux_on(self, socket: str | None, host: str | None = None) -> Tmux:
        """The tmux server on this socket (None: the default server) of this host (None: here), one object each."""
        if host:
            return hosts.remote_tmux(self, host, socket)
        socket = socket or None
        if socket == self.tmux.socket_name:
            return self.tmux
        if socket not in self._servers:
            self._servers[socket] = Tmux(socket)
        return self._servers[socket]

    def _panes_by_socket(self, records: dict) -> dict[str | None, dict[str, PaneInfo]]:
        """This repository's agent panes on the fleet's server and every server a record names (one call each)."""
        sockets = [self.tmux.socket_name]
        for rec in records.values():
            if "socket" in rec and (rec["socket"] or None) not in sockets:
                sockets.append(rec["socket"] or None)
        return {s: {p.options["name"]: p for p in self.tmux_on(s).list_agent_panes()
                    if p.options.get("repo") == str(self.repo.root)} for s in sockets}

    def _find_pane(self, name: str, rec: dict, found: dict) -> tuple[str | None, PaneInfo | None]:
        """(socket, pane) of a recorded agent: on its recorded socket, or for an older record wherever it is."""
        if "socket" in rec:
            socket = rec["socket"] or None
            return socket, found.get(socket, {}).get(name)
        for socket, panes in found.items():
            if name in panes:
                return socket, panes[name]
        return self.tmux.socket_name, None

    def _agent(self, name: str, rec: dict, pane: PaneInfo | None, socket: str | None = None) -> Agent:
        worktree = rec.get("worktree", "")
        agent = Agent(
            name=name, task=rec.get("task", name), agent=rec.get("agent", "?"),
            branch=rec.get("branch", ""), worktree=worktree, base=rec.get("base", ""),
            session=rec.get("session", self.session), port=rec.get("port"),
            prompt=rec.get("prompt", ""), scope=tuple(rec.get("scope", ())),
            after=tuple(rec.get("after", ())), rules=rec.get("rules", "generic"),
            silence=float(rec.get("silence") or self.settings.silence),
            started_at=float(rec.get("started_at", 0)), merged=bool(rec.get("merged")),
            last_check=rec.get("last_check"),
            check_running=running_check(rec.get("check_running"), self.settings.check_timeout),
            worktree_exists=bool(worktree) and Path(worktree).is_dir(),
            socket=socket, session_id=rec.get("session_id"),
            pane_unseen=pane is None and "socket" not in rec and not stopped_on_purpose(rec),
            prompt_waiting=prompts.waiting_why(rec),
        )
        if agent.merged and "merged_files" in rec:
            # What was merged, recorded at merge time: the worktree may be gone, the branch part of the base.
            agent.files = tuple(rec.get("merged_files") or ())
            agent.added, agent.removed = int(rec.get("merged_added") or 0), int(rec.get("merged_removed") or 0)
        agent.last_activity_at = agent.started_at
        if pane is not None:
            agent.pane, agent.pid = pane.pane_id, pane.pid
            agent.pane_alive = not pane.dead
            agent.last_activity_at = max(agent.started_at, pane.window_activity)
            if pane.dead:
                agent.exit_code = pane.dead_status
                agent.status = Status(Kind.EXITED, f"process exited with code {pane.dead_status}",
                                      since=pane.window_activity or agent.started_at)
            else:
                agent.status = Status(Kind.WORKING, f"{pane.command} is running in {pane.pane_id}",
                                      since=agent.started_at)
        else:
            agent.exit_code = rec.get("exit_code")
            why = "merged" if agent.merged else "its tmux pane vanished"
            agent.status = Status(Kind.EXITED, why, since=agent.started_at)
        if not agent.worktree_exists and not agent.merged:
            agent.status = Status(agent.status.kind, f"{agent.status.why}; worktree {worktree} is missing",
                                  since=agent.status.since)
        return agent

    def base_of(self, agent: Agent) -> str:
        """The branch this agent merges into (its recorded base, else `base:`); BaseBranchMissing when gone."""
        return worktrees.agent_base(self.repo, agent.base, self.settings.base, agent.branch, agent.name)

    def _fill_stats(self, agent: Agent) -> None:
        if agent.host:
            hosts.fill_stats(self, agent)
            return
        s = worktrees.stats(Path(agent.worktree), agent.base)
        agent.files, agent.added, agent.removed = s.files, s.added, s.removed
        agent.dirty, agent.commits = s.dirty, s.commits

    # -- stopping (kill, merge and discard all stop an agent the same way) ----

    def _mark_stopped(self, name: str, **fields) -> None:
        # Recorded before the window closes, so a watcher never mistakes a deliberate stop for a crash.
        with self.state.edit() as data:
            rec = data["agents"].get(name)
            if rec is not None:
                rec["killed_at"] = time.time()
                rec.update(fields)

    def _close_window(self, agent: Agent) -> None:
        try:
            sessions.remember(self, agent)   # the conversation a later restart resumes
        except (PaneboardError, OSError):
            pass
        if agent.pane is not None:
            tmux = self.tmux_on(agent.socket, agent.host)
            if agent.pane_alive and agent.pid:
                tmux.kill_pane_processes(agent.pane, agent.pid)
            tmux.kill_window(agent.pane)

    # -- the timeline (app/timeline.py): one call per verb --------------------

    def _record(self, name: str, kind: str, text: str, **data) -> None:
        """Add an event to the agent's timeline; a failed write never fails the verb that did the thing."""
        try:
            self.timeline.record(name, kind, text, source=self.source, **data)
        except OSError:
            pass

    def _answered(self, name: str, keys: tuple[str, ...]) -> None:
        """Record keys pressed as an answer: approve or reject when they are the agent's preset answer."""
        from .. import presets
        kind = "answer"
        try:
            preset = presets.resolve(self.state.read()["agents"].get(name, {}).get("agent", ""))
            kind = "approve" if tuple(keys) == tuple(preset.approve) else \
                "reject" if tuple(keys) == tuple(preset.deny) else kind
        except Exception:  # noqa: BLE001 - an unknown preset is still an answer
            pass
        self._record(name, kind, " ".join(keys))
