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
from . import prompts, spawning
from . import hosts
from .core import FleetCore
from .start import intend, record_fields


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
        intent = self._intend_on_host(task, preset, branch, path, base, commit, host, slug)
        try:
            rgit.ensure_clone(r, host.repo)
            ref = rgit.push_base(self.repo.root, r, host.repo, commit, slug)
            pipe = hosts.log_pipe(self, host.name, host.repo, task.name)
            rgit.add_worktree(r, host.repo, branch, path, ref)
        except HostUnreachable as exc:
            intent.forget()
            raise SpawnError("host", str(exc)) from None
        except PaneboardError as exc:
            intent.forget()
            raise SpawnError("worktree", str(exc)) from None
        spawning.crash_point("worktree-added")
        tmux = self.tmux_on(host.tmux_socket, host.name)
        pane = None
        try:
            with self.state.edit() as data:
                if task.name in data["agents"]:
                    raise SpawnError("state", f"an agent named {task.name!r} appeared meanwhile")
                port = self._free_port(data["agents"])
                started = time.time()
                pane, channel = self._open_remote_window(tmux, task, preset, slug, branch, path, host.repo, port,
                                                         started, pipe)
                spawning.crash_point("window-opened")
                data["agents"][task.name] = {**spawning.agent_record(intent.fields, pane, started, port), **channel}
                data["queued"].pop(task.name, None)
                data.get(spawning.SECTION, {}).pop(task.name, None)
        except BaseException as exc:
            try:
                if pane is not None:
                    tmux.kill_window(pane)
                rgit.remove_new_worktree(r, host.repo, branch, path)
            except PaneboardError:
                pass        # the host went away meanwhile: the worktree is new and holds no one's work
            intent.forget()
            if isinstance(exc, PaneboardError) and not isinstance(exc, SpawnError):
                raise SpawnError("tmux window", str(exc)) from None
            raise
        intent.release()
        spawning.crash_point("recorded")
        self._paste_later(task, preset, pane, tmux)
        self._record(task.name, "started", f"{task.agent} on {branch} from {base}, on host {host.name}")
        return self.get(task.name, stats=False)

    def _intend_on_host(self, task: Task, preset, branch: str, path: str, base: str, commit: str, host,
                        slug: str) -> "spawning.Intent":
        """The spawn's intent recorded before anything exists on the host (spawning.py settles it if this dies)."""
        return intend(self, task, preset, lambda: {
            **record_fields(task, preset, branch, path, base, self.session, host.tmux_socket), "hooks": False,
            "host": host.name, "host_repo": host.repo, "base_ref": rgit.BASE_REFS + slug,
            # How to reach the host without the task file (the prompt's delivery process).
            "host_ssh": list(host.ssh), "host_port": host.port, "commit": commit})

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
            # A channel that was off by choice stays off; one the host could not take is tried again.
            wanted = None if rec.get("hooks") or rec.get("host_events_why") else rec.get("hooks")
            task = Task(name=name, agent=rec.get("agent") or agent.agent, host=agent.host, hooks=wanted,
                        prompt=(rec.get("prompt") or "") if prompt else "", env=dict(rec.get("env") or {}),
                        group=rec.get("task") if rec.get("task") != name else "",
                        allow=tuple(rec.get("allow") or ()), deny=tuple(rec.get("deny") or ()))
            port, started = rec.get("port") or self._free_port(data["agents"]), time.time()
            try:
                pane, channel = self._open_remote_window(tmux, task, preset, slugify(name), rec["branch"],
                                                         agent.worktree, rec.get("host_repo", ""), port, started, pipe)
            except BaseException:
                if old is not None:
                    tmux.run("rename-window", "-t", old, slugify(name), check=False)
                raise
            if old is not None:
                tmux.kill_window(old)
            rec.pop("host_events_why", None)
            rec.update(pane=pane, port=port, started_at=started, restarted_at=started, exit_code=None, **channel)
        if task.prompt:
            self._paste_later(task, preset, pane, tmux)
        return self.get(name, stats=False)

    def host_events_where(self, name: str, rec: dict | None):
        """Where a remote agent's events are on its host (`HostEvents`), None when it has no channel there."""
        from . import host_events
        return host_events.where(name, rec)

    def host_events_newest(self, names: list[str], records: dict | None = None) -> dict[str, bytes]:
        """The newest events of these remote agents, read on their hosts (one call per host)."""
        from . import host_events
        return host_events.read_newest(self, names, records)

    def follow_host_events(self, host: str, repo: str, python: str) -> tuple[list[str], str]:
        """(the local argv of a host clone's events reader, the hooks directory it follows there)."""
        from . import host_events
        return host_events.follow_argv(self, host, repo, python), host_events.hooks_dir_of(repo)

    def host_stats(self, agent: Agent) -> worktrees.Stats:
        """A remote agent's change stats, read by git on its host (HostUnreachable when it cannot be reached)."""
        return hosts.read_stats(self, agent)

    def host_work(self, agent: Agent) -> str:
        """Bring a remote agent's work here for conflict prediction (no timeline line: the monitor asks this
        whenever the work changed); the commit now at its `refs/paneboard/remote/...` ref."""
        ref = hosts.fetch_work(self, agent)
        return worktrees.run_git(self.repo.root, "rev-parse", "--verify", f"{ref}^{{commit}}").strip()

    def fetched_work(self, agent: Agent) -> str | None:
        """The commit of a remote agent's work as last fetched here (no ssh); None when it never was."""
        ref = f"{hosts.REMOTE_REFS}{agent.host}/{agent.branch}"
        return worktrees.run_git(self.repo.root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}",
                                 check=False).strip() or None

    def host_commit_subjects(self, agent: Agent, count: int) -> list[str]:
        """A remote agent's newest `count` commits since its base, "<short id> <subject>", read on its host."""
        return hosts.commit_subjects(self, agent, count)

    def _open_remote_window(self, tmux, task, preset, slug, branch, path, repo, port, started,
                            pipe) -> tuple[str, dict]:
        """The agent's window on the host's tmux server, its event channel installed there first and its output
        piped to its log there: (its pane id, the record's fields that say whether it has a channel)."""
        from .start import prompt_delivery
        env = {**preset.env, **task.env, "PORT": str(port), "PANEBOARD_AGENT": task.name,
               "PANEBOARD_TASK": task.group or task.name, "PANEBOARD_REPO": repo}
        options = {"name": task.name, "task": task.group or task.name, "branch": branch, "worktree": path,
                   "agent": task.agent, "repo": str(self.repo.root), "started": f"{started:.3f}"}
        on_command_line = prompt_delivery(preset, task.prompt) in ("arg", "placeholder")
        channel, fields = self._host_channel(tmux.remote, task, preset, repo, env)
        argv = preset.command(task.prompt if on_command_line else None, tuple(channel.get("argv") or ()))
        try:
            pane = tmux.new_agent_window(self.session, slug, path, argv, {**env, **(channel.get("env") or {})},
                                         options, pipe=pipe)
        except BaseException:
            if channel.get("files"):
                tmux.remote.run(["rm", "-rf", "--", *channel["files"]], check=False)
            raise
        return pane, fields

    def _host_channel(self, remote, task, preset, repo: str, env: dict) -> tuple[dict, dict]:
        """The agent's event channel installed on its host (app/hosts/events.py): (the channel, record fields)."""
        from ..hosts import events as host_events
        wanted = self.settings.hooks if task.hooks is None else task.hooks
        if not (preset.hooks and wanted):
            return {}, {"hooks": False}
        channel, why = host_events.install(remote, repo, preset.hooks, task.name, task.allow, task.deny, env)
        if channel is None:
            self.notices.append(f"agent {task.name!r} on host {remote.name!r}: {why}; its status comes from its "
                                f"screen only")
            return {}, {"hooks": False, "host_events_why": why}
        self.notices += [str(n) for n in channel.get("notices") or ()]
        return channel, {"hooks": True, "host_python": str(channel.get("python") or "python3")}

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
