"""Starting agents: spawn one, start a whole task file, deliver pasted prompts, hand out ports."""

from __future__ import annotations

import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

from .. import hooks, presets
from ..tmux import logs
from ..git import worktrees
from ..config import Task, TaskFile
from ..errors import PaneboardError, SpawnError, TmuxError
from ..model import Agent
from ..names import slugify
from ..tmux import Tmux
from .core import FleetCore


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
        if not task.name.strip():
            raise PaneboardError("an agent needs a name (got an empty one)")
        records = self.state.read()["agents"]
        if task.name in records:
            raise PaneboardError(f"an agent named {task.name!r} already exists (see `paneboard ls`; "
                                 f"pick another name or `paneboard kill` it)")
        preset = presets.resolve(task.agent)
        missing = preset.missing_binary()
        if missing:
            raise PaneboardError(f"agent command {missing!r} is not on PATH (install it, or run "
                                 f"`paneboard doctor` to see which agents are available)")
        Tmux.version()
        base = worktrees.resolve_base(self.repo, base or self.settings.base)
        slug = slugify(task.name)
        branch = f"{worktrees.BRANCH_PREFIX}{slug}"
        path = worktrees.worktree_root(self.repo, self.settings.worktree_root) / slug
        if any(rec.get("branch") == branch for rec in records.values()):
            raise PaneboardError(f"another agent already uses branch {branch!r}; pick a different name")
        try:
            worktrees.add_worktree(self.repo, branch, path, base)
        except PaneboardError as exc:
            raise SpawnError("worktree", str(exc)) from None
        pane = None
        try:
            with self.state.edit() as data:
                if task.name in data["agents"]:
                    raise SpawnError("state", f"an agent named {task.name!r} appeared meanwhile")
                port = self._free_port(data["agents"])
                started = time.time()
                pane = self._open_window(task, preset, slug, branch, path, port, started)
                data["agents"][task.name] = {
                    "task": task.group or task.name, "agent": task.agent, "branch": branch, "worktree": str(path),
                    "base": base, "session": self.session, "pane": pane, "port": port,
                    "prompt": task.prompt, "scope": list(task.scope), "after": list(task.after),
                    "env": task.env, "silence": task.silence, "check": task.check,
                    "rules": preset.rules, "started_at": started,
                }
                data["queued"].pop(task.name, None)
        except BaseException as exc:
            if pane is not None:
                self.tmux.kill_window(pane)
            worktrees.remove_new_worktree(self.repo, branch, path)
            if isinstance(exc, SpawnError):
                raise
            if isinstance(exc, PaneboardError):
                raise SpawnError("state", str(exc)) from None
            raise
        if task.prompt and preset.prompt == "paste":
            t = threading.Thread(target=self._paste_when_ready, args=(pane, task.prompt, preset.ready),
                                 daemon=True, name=f"paste-{slug}")
            t.start()
            self._paste_threads.append(t)
        self._record(task.name, "started", f"{task.agent} on {branch} from {base}")
        return self.get(task.name, stats=False)

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
            # Hook settings live beside the log, never in the worktree (no diff, no out_of_scope).
            hooks_file = hooks.install(self.repo.common_dir, task.name) \
                if preset.hooks and (self.settings.hooks if task.hooks is None else task.hooks) else None
            return self.tmux.new_agent_window(self.session, slug, str(path),
                                              preset.command(task.prompt, hooks_file), env, options,
                                              pipe=logs.pipe_command(log))
        except TmuxError as exc:
            raise SpawnError("tmux window", str(exc)) from None

    def wait_for_prompts(self, timeout: float = 60.0) -> None:
        """Block until every pending pasted prompt was delivered (the CLI calls this before exiting)."""
        deadline = time.time() + timeout
        for t in self._paste_threads:
            t.join(max(0.0, deadline - time.time()))

    def _paste_when_ready(self, pane: str, prompt: str, ready: str | None, timeout: float = 45.0) -> None:
        """Paste the prompt once the agent shows its ready pattern, or its screen has settled."""
        deadline = time.time() + timeout
        pattern = re.compile(ready) if ready else None
        last, stable_since = None, time.time()
        while time.time() < deadline:
            screen = self.tmux.capture(pane)
            if pattern and pattern.search(screen):
                break
            if screen != last:
                last, stable_since = screen, time.time()
            elif pattern is None and time.time() - stable_since > 1.5 and (
                    screen.strip() or time.time() - (deadline - timeout) > 3.0):
                break  # settled: a drawn prompt, or a program that draws nothing (cat, a plain REPL)
            time.sleep(0.2)
        try:
            self.tmux.paste(pane, prompt)
        except TmuxError:
            pass  # the pane died before it was ready; its exit shows in the dashboard

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
                if t.name in records:
                    skipped.append(t.name)
                elif all(dep in merged for dep in task.after):
                    to_start.append(t)
                else:
                    queued.append(t)
        # Validate every agent before starting any, so a typo does not leave half a fleet.
        for t in to_start:
            missing = presets.resolve(t.agent).missing_binary()
            if missing:
                raise PaneboardError(f"task {t.name!r}: agent command {missing!r} is not on PATH "
                                     f"(install it, or run `paneboard doctor`); nothing was started")
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
