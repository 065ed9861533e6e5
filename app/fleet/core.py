"""The fleet's core: construction, settings, and agents rebuilt from the state file, tmux and git."""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Self

from ..git import worktrees
from ..config import Settings
from ..errors import AgentNotFound
from ..model import Agent, Kind, Status
from ..state import StateFile
from ..timeline import Timeline
from ..tmux import PaneInfo, Tmux
from ..git.worktrees import RepoInfo

_POOL = 8


def session_name(info: RepoInfo) -> str:
    """One tmux session per repository, stable across restarts and distinct for same-named repos."""
    digest = hashlib.sha1(str(info.common_dir).encode()).hexdigest()[:6]
    readable = re.sub(r"[^A-Za-z0-9_-]+", "-", info.name)[:24].strip("-") or "repo"
    return f"paneboard-{readable}-{digest}"


class FleetCore:
    """What every family of verbs builds on: the repository, settings, tmux, the state file and the agents."""

    def __init__(self, repo: RepoInfo, settings: Settings, tmux: Tmux | None = None):
        self.repo = repo
        self.settings = settings
        self.tmux = tmux or Tmux(settings.tmux_socket or os.environ.get("PANEBOARD_TMUX_SOCKET"))
        self.session = settings.session or session_name(repo)
        self.state = StateFile(repo.state_dir)
        self._paste_threads: list[threading.Thread] = []
        self.recovered = None  # what recover_interrupted_merge() did at start, if anything
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
        return fleet

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
        records = self.state.read()["agents"]
        panes = {p.options["name"]: p for p in self.tmux.list_agent_panes()
                 if p.options.get("repo") == str(self.repo.root)}
        agents = [self._agent(name, rec, panes.get(name)) for name, rec in records.items()]
        # Panes that carry our options but have no record (state file lost): still show them.
        for name, pane in panes.items():
            if name not in records:
                rec = {"task": pane.options.get("task") or name, "agent": pane.options.get("agent", "?"),
                       "branch": pane.options.get("branch", ""), "worktree": pane.options.get("worktree", ""),
                       "started_at": float(pane.options.get("started") or 0)}
                agents.append(self._agent(name, rec, pane))
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

    def _agent(self, name: str, rec: dict, pane: PaneInfo | None) -> Agent:
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
            worktree_exists=bool(worktree) and Path(worktree).is_dir(),
        )
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

    def _fill_stats(self, agent: Agent) -> None:
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
        if agent.pane is not None:
            if agent.pane_alive and agent.pid:
                self.tmux.kill_pane_processes(agent.pane, agent.pid)
            self.tmux.kill_window(agent.pane)

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
