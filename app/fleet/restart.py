"""Restarting a stopped agent in its own worktree and branch, its conversation resumed; adopting a forgotten one.

An agent stops in many ways: its CLI exits or crashes, `kill`, its pane or the whole tmux server
goes (a reboot), `restore` brings back its work without a process. Restart opens a new window
for it on the tmux socket and session recorded with it, with its task's env, PORT and hooks,
and changes nothing in its worktree. A CLI that can resume gets its session id (or its
continue-the-latest option) instead of the prompt; any other command starts as it was.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from .. import presets
from ..config import Task
from ..errors import AgentNotFound, PaneboardError, UnsafeOperation
from ..git import worktrees
from ..model import Agent, Kind
from ..names import slugify
from ..tmux import Tmux
from . import prompts, sessions
from .sockets import describe
from .start import StartVerbs, prompt_delivery


class RestartVerbs(StartVerbs):
    """Restart, restart_all and stopped: starting again what stopped, on the server it lives on."""

    def session_id_of(self, agent: Agent) -> str | None:
        """The newest session id the agent's CLI told (hook events, its exit hint, its record)."""
        return sessions.session_id_of(self, agent)

    def stopped(self) -> list[Agent]:
        """Every agent that is not running and not merged (discarded ones have no record): what `restart --all` starts."""
        return [a for a in self.agents(stats=False)
                if not a.pane_alive and not a.merged and a.status.kind != Kind.QUEUED]

    def restart_all(self) -> tuple[list[Agent], list[tuple[str, str]]]:
        """Restart every stopped agent; (restarted, [(name, why not)]) — one that cannot start never stops the rest."""
        started, failed = [], []
        for agent in self.stopped():
            try:
                started.append(self.restart(agent.name))
            except PaneboardError as exc:
                failed.append((agent.name, str(exc)))
        return started, failed

    def restart(self, name: str, force: bool = False, agent_spec: str | None = None) -> Agent:
        """Start a stopped agent again in its worktree and branch, resuming its conversation where its CLI can.

        A `paneboard/<slug>` branch without a record (`kill --forget`) is adopted: its task comes from
        the task file if it names one, its agent from `agent_spec` or the default agent.
        """
        data = self.state.read()
        adopting = None
        if name not in data["agents"]:
            if name in data.get("discarded", {}):
                raise PaneboardError(f"agent {name!r} was discarded: `paneboard restore {name}` brings its work "
                                     f"back, then `paneboard restart {name}`")
            adopting = self._adoption(name, agent_spec)
            self._startable(adopting.agent, name)
            self._adopt(adopting)
        agent = self.get(name, stats=False)
        self._refuse_restart(agent, force)
        preset = self._startable(agent.agent, name) if not agent.host else presets.resolve(agent.agent)
        # Read before the new start empties its hook events and pane: the conversation to resume.
        session_id = sessions.remember(self, agent)
        resumed = preset.resuming(session_id)
        started = self._start_again(agent, resumed or preset, session_id, prompt=resumed is None)
        self._record(name, "restart", f"resumed session {session_id}" if resumed and session_id
                     else "resumed its latest session" if resumed else "started again as it was first started")
        return started

    @staticmethod
    def _startable(spec: str, name: str) -> presets.Preset:
        """The agent's preset, if its command is on PATH and tmux can run it."""
        try:
            preset = presets.resolve(spec)
        except ValueError as exc:
            raise PaneboardError(f"agent {name!r} has no command to start ({exc})") from None
        missing = preset.missing_binary()
        if missing:
            raise PaneboardError(f"agent command {missing!r} is not on PATH (install it, or run `paneboard doctor`); "
                                 f"{name} was not restarted and nothing was changed")
        Tmux.version()
        return preset

    def _refuse_restart(self, agent: Agent, force: bool) -> None:
        name = agent.name
        if agent.merged:
            raise PaneboardError(f"agent {name!r} is merged into {agent.base or 'its base'}; nothing to restart "
                                 f"(start new work with `paneboard spawn`)")
        if agent.pane_alive:
            raise PaneboardError(f"agent {name!r} is already running (pane {agent.pane}); "
                                 f"`paneboard attach {name}` to see it")
        if agent.unreachable:
            raise PaneboardError(f"agent {name!r} was not restarted: host {agent.host!r} is unreachable "
                                 f"({agent.unreachable}); nothing was changed")
        if agent.pane_unseen and not force:
            raise UnsafeOperation(f"restart refused: agent {name!r} has no pane on {describe(agent.socket)} and no "
                                  f"record of where it runs or that it stopped (it may live on another tmux server: "
                                  f"pass --socket NAME); nothing was changed (--force to start it here anyway)")
        if not agent.worktree_exists:
            raise PaneboardError(f"agent {name!r} has no worktree to restart in ({agent.worktree or 'none'}); "
                                 f"nothing was changed")

    def _start_again(self, agent: Agent, preset: presets.Preset, session_id: str | None, prompt: bool) -> Agent:
        """A new window for the agent on its own server and session, its record saying so."""
        if agent.host:
            return self._start_again_on_host(agent, preset, prompt)      # remote_start.py
        name = agent.name
        with self.state.edit() as data:
            rec = data["agents"].get(name)
            if rec is None:
                raise AgentNotFound(f"agent {name!r} was forgotten meanwhile; nothing was started")
            socket = rec["socket"] if "socket" in rec else self.tmux.socket_name
            home = self._on_server(socket or None, rec.get("session") or self.session)
            old = agent.pane
            if old is not None:
                # The dead pane's window steps aside for the new one and closes after it opened: closed
                # first, it could be the session's last window and take the tmux server with it.
                home.tmux.run("rename-window", "-t", old, f"{slugify(name)}-stopped", check=False)
            task = Task(name=name, agent=rec.get("agent") or agent.agent,
                        prompt=(rec.get("prompt") or "") if prompt else "", env=dict(rec.get("env") or {}),
                        hooks=rec.get("hooks"), group=rec.get("task") if rec.get("task") != name else "",
                        allow=tuple(rec.get("allow") or ()), deny=tuple(rec.get("deny") or ()))
            port = rec.get("port") or self._free_port(data["agents"])
            started = time.time()
            try:
                pane = home._open_window(task, preset, slugify(name), rec.get("branch") or agent.branch,
                                         Path(rec.get("worktree") or agent.worktree), port, started)
            except BaseException:
                if old is not None:
                    home.tmux.run("rename-window", "-t", old, slugify(name), check=False)
                raise
            if old is not None:
                home.tmux.kill_window(old)   # its output is in the agent's log
            rec.update(pane=pane, port=port, started_at=started, restarted_at=started, socket=home.tmux.socket_name,
                       session=home.session, exit_code=None)
            # A prompt that never reached the agent is delivered now, even into a resumed conversation.
            undelivered = isinstance(rec.get(prompts.PENDING), dict) and bool(rec.get("prompt"))
            how = prompt_delivery(preset, task.prompt)
            pasted = how == "paste" or (undelivered and how not in ("arg", "placeholder"))
            if pasted:
                prompts.mark(rec, pane, started)
            if session_id:
                rec["session_id"] = session_id
        if pasted:
            prompts.start(self.repo.common_dir, name)
        return self.get(name, stats=False)

    def _on_server(self, socket: str | None, session: str) -> "RestartVerbs":
        """This fleet, or a view of it that opens windows on another tmux server or session."""
        if socket == self.tmux.socket_name and session == self.session:
            return self
        return type(self)(self.repo, replace(self.settings, tmux_socket=socket, session=session),
                          tmux=self.tmux_on(socket))

    def _adoption(self, name: str, agent_spec: str | None) -> Task:
        """The task a forgotten `paneboard/<slug>` branch is taken up with (nothing is changed yet)."""
        from ..config import DEFAULT_FILE, load
        branch = worktrees.BRANCH_PREFIX + slugify(name)
        if not name.strip() or not worktrees.branch_exists(self.repo, branch):
            raise AgentNotFound(f"no agent named {name!r} in {self.repo.root} and no branch {branch!r} "
                                f"(see `paneboard ls`)")
        task_file = self.task_file or self.repo.root / DEFAULT_FILE
        tasks = {t.name: t for t in (load(task_file).tasks if task_file.exists() else ())}
        task = tasks.get(name) or Task(name=name, agent=self.settings.agent)
        return replace(task, agent=agent_spec) if agent_spec else task

    def _adopt(self, task: Task) -> None:
        """A record again for a forgotten branch, its worktree found or added back (its work untouched)."""
        slug = slugify(task.name)
        branch = worktrees.BRANCH_PREFIX + slug
        base = worktrees.resolve_base(self.repo, self.settings.base)
        path = next((p for p, b in worktrees.list_worktrees(self.repo).items() if b == branch), None)
        if path is None:
            path = worktrees.worktree_root(self.repo, self.settings.worktree_root) / slug
            if path.exists():
                raise PaneboardError(f"branch {branch!r} has no worktree and {path} is taken; move it away "
                                     f"and run `paneboard restart {task.name}` again")
            worktrees.run_git(self.repo.root, "worktree", "add", "--quiet", str(path), branch)
        with self.state.edit() as data:
            if task.name in data["agents"]:
                return
            data["agents"][task.name] = {
                "task": task.group or task.name, "agent": task.agent, "branch": branch, "worktree": str(path),
                "base": base, "session": self.session, "socket": self.tmux.socket_name,
                "port": self._free_port(data["agents"]), "prompt": task.prompt, "scope": list(task.scope),
                "after": list(task.after), "env": task.env, "silence": task.silence, "check": task.check,
                "hooks": task.hooks, "rules": presets.resolve(task.agent).rules, "started_at": 0.0,
                "allow": list(task.allow), "deny": list(task.deny),
                "adopted_at": time.time(),
            }
