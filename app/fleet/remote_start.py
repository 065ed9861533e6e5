"""Starting an agent on another host: its clone prepared, the base brought as a ref, worktree, tmux window.

Each step is undone when a later one fails, so a spawn on a host either starts the agent
or leaves the host as it was (its clone, once made, stays: it holds nobody's work).
"""

from __future__ import annotations

import time

from .. import presets
from ..config import Task
from ..errors import HostUnreachable, PaneboardError, SpawnError
from ..git import worktrees
from ..hosts import git as rgit
from ..model import Agent
from ..names import slugify
from . import prompts
from . import hosts
from .core import FleetCore


class RemoteStartVerbs(FleetCore):
    """Spawn on a host named in `hosts:` (StartVerbs.spawn hands a task with `host:` here)."""

    def _spawn_on_host(self, task: Task, base: str | None = None) -> Agent:
        """Create the agent's branch and worktree in the host's clone and start it in the host's tmux."""
        from .start import task_problem
        problem = task_problem(task)
        if problem is not None:
            raise PaneboardError(problem)
        if task.name in self.state.read()["agents"]:
            raise PaneboardError(f"an agent named {task.name!r} already exists (see `paneboard ls`)")
        host = hosts.host_config(self, task.host)
        preset = presets.resolve(task.agent)
        base = worktrees.resolve_base(self.repo, base or self.settings.base)
        commit = worktrees.run_git(self.repo.root, "rev-parse", "--verify", f"{base}^{{commit}}").strip()
        slug = slugify(task.name)
        branch = f"{worktrees.BRANCH_PREFIX}{slug}"
        path = host.worktree_path(slug)
        self._check_branch_free(task, branch)
        r = hosts.remote(self, host.name)
        try:
            rgit.ensure_clone(r, host.repo)
            ref = rgit.push_base(self.repo.root, r, host.repo, commit, slug)
            pipe = hosts.log_pipe(self, host.name, host.repo, task.name)
            rgit.add_worktree(r, host.repo, branch, path, ref)
        except HostUnreachable as exc:
            raise SpawnError("host", str(exc)) from None
        except PaneboardError as exc:
            raise SpawnError("worktree", str(exc)) from None
        tmux = self.tmux_on(host.tmux_socket, host.name)
        pane = None
        try:
            with self.state.edit() as data:
                if task.name in data["agents"]:
                    raise SpawnError("state", f"an agent named {task.name!r} appeared meanwhile")
                port = self._free_port(data["agents"])
                started = time.time()
                pane = self._open_remote_window(tmux, task, preset, slug, branch, path, host.repo, port, started,
                                                pipe)
                data["agents"][task.name] = {
                    "task": task.group or task.name, "agent": task.agent, "branch": branch, "worktree": path,
                    "base": base, "session": self.session, "socket": host.tmux_socket, "pane": pane, "port": port,
                    "host": host.name, "host_repo": host.repo, "base_ref": ref,
                    # How to reach the host without the task file (the prompt's delivery process).
                    "host_ssh": list(host.ssh), "host_port": host.port,
                    "prompt": task.prompt, "scope": list(task.scope), "after": list(task.after),
                    "env": task.env, "silence": task.silence, "check": task.check,
                    "rules": preset.rules, "started_at": started, "hooks": False,
                }
                data["queued"].pop(task.name, None)
        except BaseException as exc:
            try:
                if pane is not None:
                    tmux.kill_window(pane)
                rgit.remove_new_worktree(r, host.repo, branch, path)
            except PaneboardError:
                pass        # the host went away meanwhile: the worktree is new and holds no one's work
            if isinstance(exc, PaneboardError) and not isinstance(exc, SpawnError):
                raise SpawnError("tmux window", str(exc)) from None
            raise
        self._paste_later(task, preset, pane, tmux)
        self._record(task.name, "started", f"{task.agent} on {branch} from {base}, on host {host.name}")
        return self.get(task.name, stats=False)

    def fetch_remote(self, name: str) -> str:
        """Bring an agent's work from its host (uncommitted work too, its index untouched) into this repository
        as `refs/paneboard/remote/<host>/<branch>`; that ref."""
        agent = self.get(name, stats=False)
        if not agent.host:
            raise PaneboardError(f"agent {name!r} runs on this machine: its work is already here")
        ref = hosts.fetch_work(self, agent)
        self._record(name, "fetch", f"work fetched from host {agent.host} to {ref}")
        return ref

    def _start_again_on_host(self, agent: Agent, preset, prompt: bool) -> Agent:
        """Restart a stopped remote agent: a new window on its host's tmux with its task's command and env."""
        name, r = agent.name, hosts.remote(self, agent.host)
        if r.run(["test", "-d", agent.worktree], check=False).returncode != 0:
            raise PaneboardError(f"agent {name!r} has no worktree on host {agent.host!r} ({agent.worktree}); "
                                 f"nothing was changed")
        tmux = self.tmux_on(agent.socket, agent.host)
        # Its output goes on into the same log on the host (asked before the state is locked: an ssh call).
        pipe = hosts.log_pipe(self, agent.host, self.state.read()["agents"].get(name, {}).get("host_repo", ""), name)
        with self.state.edit() as data:
            rec = data["agents"].get(name)
            if rec is None:
                raise PaneboardError(f"agent {name!r} was forgotten meanwhile; nothing was started")
            old = agent.pane if agent.pane else None
            if old is not None:     # steps aside for the new window and closes after it opened (as here)
                tmux.run("rename-window", "-t", old, f"{slugify(name)}-stopped", check=False)
            task = Task(name=name, agent=rec.get("agent") or agent.agent, host=agent.host,
                        prompt=(rec.get("prompt") or "") if prompt else "", env=dict(rec.get("env") or {}),
                        group=rec.get("task") if rec.get("task") != name else "")
            port, started = rec.get("port") or self._free_port(data["agents"]), time.time()
            try:
                pane = self._open_remote_window(tmux, task, preset, slugify(name), rec["branch"], agent.worktree,
                                                rec.get("host_repo", ""), port, started, pipe)
            except BaseException:
                if old is not None:
                    tmux.run("rename-window", "-t", old, slugify(name), check=False)
                raise
            if old is not None:
                tmux.kill_window(old)
            rec.update(pane=pane, port=port, started_at=started, restarted_at=started, exit_code=None)
        if task.prompt:
            self._paste_later(task, preset, pane, tmux)
        return self.get(name, stats=False)

    def host_stats(self, agent: Agent) -> worktrees.Stats:
        """A remote agent's change stats, read by git on its host (HostUnreachable when it cannot be reached)."""
        return hosts.read_stats(self, agent)

    def host_commit_subjects(self, agent: Agent, count: int) -> list[str]:
        """A remote agent's newest `count` commits since its base, "<short id> <subject>", read on its host."""
        return hosts.commit_subjects(self, agent, count)

    def _open_remote_window(self, tmux, task, preset, slug, branch, path, repo, port, started, pipe) -> str:
        """The agent's window on the host's tmux server (no hooks there), its output piped to its log there;
        its pane id."""
        from .start import prompt_delivery
        env = {**preset.env, **task.env, "PORT": str(port), "PANEBOARD_AGENT": task.name,
               "PANEBOARD_TASK": task.group or task.name, "PANEBOARD_REPO": repo}
        options = {"name": task.name, "task": task.group or task.name, "branch": branch, "worktree": path,
                   "agent": task.agent, "repo": str(self.repo.root), "started": f"{started:.3f}"}
        on_command_line = prompt_delivery(preset, task.prompt) in ("arg", "placeholder")
        argv = preset.command(task.prompt if on_command_line else None, None)
        return tmux.new_agent_window(self.session, slug, path, argv, env, options, pipe=pipe)

    def _paste_later(self, task, preset, pane, tmux) -> None:
        """A pasted prompt is marked pending and delivered by a process of its own (app/fleet/prompts.py)."""
        from .start import prompt_delivery
        if prompt_delivery(preset, task.prompt) != "paste":
            return
        with self.state.edit() as data:
            rec = data["agents"].get(task.name)
            if rec is None:
                return
            prompts.mark(rec, pane, time.time())
        prompts.start(self.repo.common_dir, task.name)
