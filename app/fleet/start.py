"""Starting agents: spawn one, start a whole task file, deliver pasted prompts, hand out ports."""

from __future__ import annotations

import errno
import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

from .. import events, presets
from ..tmux import logs
from ..git import worktrees
from ..config import Task, TaskFile, prompt_problem
from ..errors import PaneboardError, SpawnError, TmuxError
from ..model import Agent
from ..names import name_problem, slugify
from ..tmux import Tmux
from . import prepare, prompts, spawning
from .core import FleetCore


# A prompt longer than this (UTF-8 bytes) is pasted after the agent starts, even for an argument preset:
# tmux refuses a command over 16 KiB ("command too long") and Linux an argument over 128 KiB (E2BIG).
ARG_PROMPT_MAX_BYTES = 8 * 1024


def task_problem(task: Task) -> str | None:
    """Why a task cannot start (its name or its prompt), said in one line naming the task; None when it can."""
    problem = name_problem(task.name)
    if problem is None and (problem := prompt_problem(task.prompt)) is not None:
        problem = f"task {task.name!r}: {problem}"
    return problem


def prompt_delivery(preset: presets.Preset, prompt: str) -> str:
    """How the prompt reaches the agent: "arg" on its command line, "placeholder" in place of a custom
    command's `{prompt}`, "paste" once it runs, or "none"."""
    if not prompt or preset.prompt == "none":
        return "none"
    if preset.prompt == "arg" and len(prompt.encode("utf-8")) > ARG_PROMPT_MAX_BYTES:
        return "paste"
    return preset.prompt


def record_fields(task: Task, preset: presets.Preset, branch: str, path, base: str, session: str,
                  socket: str) -> dict:
    """An agent's state record but for its pane, port and start time (and, on a host, where that is)."""
    return {"task": task.group or task.name, "agent": task.agent, "branch": branch, "worktree": str(path),
            "base": base, "session": session, "socket": socket,
            "prompt": task.prompt, "scope": list(task.scope), "after": list(task.after),
            "env": task.env, "silence": task.silence, "check": task.check,
            "rules": preset.rules, "hooks": task.hooks, "allow": list(task.allow), "deny": list(task.deny)}


def intend(fleet, task: Task, preset: presets.Preset, fields) -> spawning.Intent:
    """The spawn's intent recorded (spawning.py) before anything exists: `fields()`, asked with its lock held,
    gives the record and base commit; the lock is let go if recording fails."""
    intent = spawning.Intent(fleet, task.name)
    try:
        intent.record({**fields(), "paste": prompt_delivery(preset, task.prompt) == "paste"})
    except BaseException:
        intent.release()
        raise
    spawning.crash_point("intent-recorded")
    return intent


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class StartVerbs(FleetCore):
    """Spawn and up: branch, worktree and tmux window for each task, its prompt delivered, its port its own."""

    def expand(self, task: Task) -> list[Task]:
        """A task with count N becomes N tasks NAME-1..NAME-N (best-of-N)."""
        if task.count <= 1:
            return [task]
        from dataclasses import replace
        return [replace(task, name=f"{task.name}-{i}", count=1, group=task.name) for i in range(1, task.count + 1)]

    def spawn(self, task: Task, base: str | None = None) -> Agent:
        """Create branch + worktree + tmux window for one task and start its agent; roll back on failure."""
        spawning.settle(self)       # an earlier spawn of this name that died is settled before this one
        if task.host:
            return self._spawn_on_host(task, base)     # remote_start.py
        preset = self._check_spawnable(task)
        files = self._files_to_copy(task)       # refused here, before anything exists
        base = worktrees.resolve_base(self.repo, base or self.settings.base)
        slug = slugify(task.name)
        branch = f"{worktrees.BRANCH_PREFIX}{slug}"
        path = worktrees.worktree_root(self.repo, self.settings.worktree_root) / slug
        self._check_branch_free(task, branch)
        intent = self._intend(task, preset, slug, branch, path, base)
        try:
            return self._spawn_recorded(task, preset, slug, branch, path, base, files, intent)
        finally:
            intent.release()

    def _intend(self, task: Task, preset: presets.Preset, slug: str, branch: str, path: Path, base: str):
        """The spawn's intent recorded (spawning.py) before anything exists, so a kill from here on is settled."""
        return intend(self, task, preset, lambda: {
            **self._record_fields(task, preset, branch, path, base),
            "commit": worktrees.run_git(self.repo.root, "rev-parse", "--verify", f"{base}^{{commit}}").strip()})

    def _record_fields(self, task: Task, preset: presets.Preset, branch: str, path: Path, base: str) -> dict:
        """The agent's state record but for its pane, port and start time."""
        return record_fields(task, preset, branch, path, base, self.session, self.tmux.socket_name)

    def _spawn_recorded(self, task: Task, preset: presets.Preset, slug: str, branch: str, path: Path, base: str,
                        files: list[str], intent) -> Agent:
        """Worktree, window and record of a spawn whose intent is recorded; everything undone on failure."""
        try:
            worktrees.add_worktree(self.repo, branch, path, base, hold=(intent.fd,))
        except PaneboardError as exc:
            intent.forget()
            raise SpawnError("worktree", str(exc)) from None
        spawning.crash_point("worktree-added")
        pane, pasted = None, False
        try:
            self._make_ready(task, path, files)
            spawning.crash_point("ready")
            with self.state.edit() as data:
                if task.name in data["agents"]:
                    raise SpawnError("state", f"an agent named {task.name!r} appeared meanwhile")
                port = self._free_port(data["agents"])
                started = time.time()
                pane = self._open_window(task, preset, slug, branch, path, port, started)
                spawning.crash_point("window-opened")
                data["agents"][task.name] = {**self._record_fields(task, preset, branch, path, base),
                                             "pane": pane, "port": port, "started_at": started}
                if pasted := prompt_delivery(preset, task.prompt) == "paste":
                    prompts.mark(data["agents"][task.name], pane, started)
                data["queued"].pop(task.name, None)
                data.get(spawning.SECTION, {}).pop(task.name, None)
        except BaseException as exc:
            if pane is not None:
                self.tmux.kill_window(pane)
                events.channel_files(self.repo.common_dir, task.name).remove()
            worktrees.remove_new_worktree(self.repo, branch, path)
            intent.forget()
            if isinstance(exc, SpawnError):
                raise
            if isinstance(exc, PaneboardError):
                raise SpawnError("state", str(exc)) from None
            raise
        spawning.crash_point("recorded")
        if pasted:
            prompts.start(self.repo.common_dir, task.name)   # never waits here: a process of its own does
        self._record(task.name, "started", f"{task.agent} on {branch} from {base}")
        return self.get(task.name, stats=False)

    def _check_spawnable(self, task: Task):
        """The task's preset, once the task, its name and its command are fit to start (nothing created yet)."""
        problem = task_problem(task)
        if problem is not None:
            raise PaneboardError(problem)
        data = self.state.read()
        if task.name in data["agents"]:
            raise PaneboardError(f"an agent named {task.name!r} already exists (see `paneboard ls`; "
                                 f"pick another name or `paneboard kill` it)")
        if task.name in (data.get(spawning.SECTION) or {}):
            raise PaneboardError(f"a spawn of {task.name!r} is under way in another paneboard; wait for it "
                                 f"(then see `paneboard ls`)")
        preset = presets.resolve(task.agent)
        missing = preset.missing_binary()
        if missing:
            raise PaneboardError(f"agent command {missing!r} is not on PATH (install it, or run "
                                 f"`paneboard doctor` to see which agents are available)")
        Tmux.version()
        return preset

    def _check_branch_free(self, task: Task, branch: str) -> None:
        """Refuse a branch another agent uses, or one that holds earlier work (restart takes that up)."""
        records = self.state.read()["agents"]
        if any(rec.get("branch") == branch for rec in records.values()):
            raise PaneboardError(f"another agent already uses branch {branch!r}; pick a different name")
        if worktrees.branch_exists(self.repo, branch):
            # An agent's work whose record was forgotten: restart takes it up again, nothing is deleted.
            raise SpawnError("worktree", f"branch {branch!r} already exists and holds earlier work: "
                                         f"`paneboard restart {task.name}` starts an agent on it again "
                                         f"(or pick another name)")

    def _files_to_copy(self, task: Task) -> list[str]:
        """The ignored files that the task's `copy:` (or the defaults') brings into its new worktree."""
        globs, where = (task.copy, task.copy_where) if task.copy is not None else \
            (self.settings.copy, self.settings.copy_where)
        return prepare.files_to_copy(self.repo.root, globs, where)

    def _make_ready(self, task: Task, path: Path, files: list[str]) -> None:
        """Copy the ignored files in, then run the task's `setup:` there, before its agent starts."""
        prepare.copy_files(self.repo.root, path, files)
        setup = task.setup if task.setup is not None else self.settings.setup
        if setup:
            env = {**task.env, "PANEBOARD_AGENT": task.name, "PANEBOARD_TASK": task.group or task.name,
                   "PANEBOARD_REPO": str(self.repo.root)}
            prepare.run_setup(setup, path, env, logs.log_path(self.repo.common_dir, task.name),
                              self.settings.check_timeout)

    def _open_window(self, task: Task, preset: presets.Preset, slug: str, branch: str, path: Path,
                     port: int, started: float) -> str:
        """The agent's tmux window, its output piped to its log; the pane id."""
        env = {**preset.env, **task.env, "PORT": str(port), "PANEBOARD_AGENT": task.name,
               "PANEBOARD_TASK": task.group or task.name,
               "PANEBOARD_REPO": str(self.repo.root)}
        options = {"name": task.name, "task": task.group or task.name, "branch": branch, "worktree": str(path),
                   "agent": task.agent, "repo": str(self.repo.root), "started": f"{started:.3f}"}
        try:
            log = logs.log_path(self.repo.common_dir, task.name)
            log.parent.mkdir(parents=True, exist_ok=True)
            # Channel files live beside the log, never in the worktree (no diff, no out_of_scope).
            channel = events.install(preset.hooks, self.repo.common_dir, task.name, task.allow, task.deny,
                                     {**os.environ, **env}) \
                if preset.hooks and (self.settings.hooks if task.hooks is None else task.hooks) else events.Channel()
            self.notices += channel.notices
            on_command_line = prompt_delivery(preset, task.prompt) in ("arg", "placeholder")
            argv = preset.command(task.prompt if on_command_line else None, channel.argv)
            try:
                return self.tmux.new_agent_window(self.session, slug, str(path), argv, {**env, **channel.env},
                                                  options, pipe=logs.pipe_command(log))
            except BaseException:
                channel.remove()
                raise
        except TmuxError as exc:
            raise SpawnError("tmux window", str(exc)) from None
        except OSError as exc:
            if exc.errno == errno.E2BIG:   # the environment given to the task is too big for a command line
                raise SpawnError("tmux window", f"the command line is too long ({exc.strerror})") from None
            raise

    def resume_prompts(self) -> list[str]:
        """Start a delivery again for every task prompt still waiting whose delivery process went; their names."""
        return prompts.resume(self)

    def wait_for_prompts(self, timeout: float = 60.0) -> bool:
        """Wait until no live agent's task prompt waits to be delivered; False on timeout (tests and scripts use it)."""
        deadline = time.time() + timeout
        while any(prompts.waiting_why(rec) == "prompt waiting" for rec in self.state.read()["agents"].values()):
            if time.time() > deadline:
                return False
            time.sleep(0.1)
        return True

    def _free_port(self, records: dict) -> int:
        used = {rec.get("port") for rec in records.values()}
        port = self.settings.port_base
        while port in used or not _port_free(port):
            port += 1
        return port

    def up(self, taskfile: TaskFile) -> tuple[list[Agent], list[str], list[str]]:
        """Start every task whose `after` tasks are merged; queue the rest. Returns (started, queued, skipped)."""
        records = self.state.read()["agents"]
        merged = {n for n, r in records.items() if r.get("merged")}
        to_start: list[Task] = []
        queued: list[Task] = []
        skipped: list[str] = []
        for task in taskfile.tasks:
            for t in self.expand(task):
                if t.name in records or worktrees.branch_exists(self.repo, worktrees.BRANCH_PREFIX + slugify(t.name)):
                    skipped.append(t.name)     # running, stopped (see `restart`) or merged: never started twice
                elif all(dep in merged for dep in task.after):
                    to_start.append(t)
                else:
                    queued.append(t)
        # Validate every task before starting any, so a typo does not leave half a fleet.
        for t in to_start + queued:
            problem = task_problem(t)
            if problem is not None:
                raise PaneboardError(f"{problem}; nothing was started")
        for t in to_start:
            missing = presets.resolve(t.agent).missing_binary()
            if missing:
                raise PaneboardError(f"task {t.name!r}: agent command {missing!r} is not on PATH "
                                     f"(install it, or run `paneboard doctor`); nothing was started")
            self._files_to_copy(t)
        worktrees.resolve_base(self.repo, self.settings.base)
        Tmux.version()
        if queued:
            with self.state.edit() as data:
                for t in queued:
                    data["queued"][t.name] = {**{k: (list(v) if isinstance(v, tuple) else v)
                                                 for k, v in asdict(t).items()}, "queued_at": time.time()}
        started: list[Agent] = []
        if to_start:
            # The first spawn creates the session; the rest run in parallel.
            started.append(self.spawn(to_start[0]))
            with ThreadPoolExecutor(4) as pool:
                started += list(pool.map(self.spawn, to_start[1:]))
        return started, [t.name for t in queued], skipped
