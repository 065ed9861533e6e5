"""The fleet: the one owner of agent state. Spawn, discover, send, kill."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
import dataclasses
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from . import hooks, logs, presets, worktrees
from .config import Settings, Task, TaskFile
from .errors import AgentNotFound, PaneboardError, SpawnError, TmuxError
from .model import Agent, Kind, Status
from .names import slugify
from .state import StateFile
from .tmux import PaneInfo, Tmux
from .worktrees import RepoInfo

if TYPE_CHECKING:
    from .archive import Archive
    from .checks import CheckResult
    from .merge import MergeResult

_POOL = 8


def session_name(info: RepoInfo) -> str:
    """One tmux session per repository, stable across restarts and distinct for same-named repos."""
    digest = hashlib.sha1(str(info.common_dir).encode()).hexdigest()[:6]
    readable = re.sub(r"[^A-Za-z0-9_-]+", "-", info.name)[:24].strip("-") or "repo"
    return f"paneboard-{readable}-{digest}"


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Fleet:
    """All agents of one repository on one tmux server."""

    def __init__(self, repo: RepoInfo, settings: Settings, tmux: Tmux | None = None):
        self.repo = repo
        self.settings = settings
        self.tmux = tmux or Tmux(settings.tmux_socket or os.environ.get("PANEBOARD_TMUX_SOCKET"))
        self.session = settings.session or session_name(repo)
        self.state = StateFile(repo.state_dir)
        self._paste_threads: list[threading.Thread] = []
        self.recovered = None  # what recover_interrupted_merge() did at start, if anything
        self.task_file: Path | None = None

    @classmethod
    def open(cls, path: Path, settings: Settings | None = None, socket_name: str | None = None,
             task_file: Path | None = None) -> "Fleet":
        """The fleet of the repository containing path, with settings from its task file."""
        from .config import load_settings, with_overrides
        repo = worktrees.find_repo(path)
        if settings is None:
            settings = load_settings(repo.root, task_file)
        settings = with_overrides(settings, tmux_socket=socket_name)
        fleet = cls(repo, settings)
        fleet.task_file = task_file
        fleet.recovered = fleet.recover_interrupted_merge()
        return fleet

    def recover_interrupted_merge(self):
        """Finish or roll back a merge that a crash interrupted (cheap: a file check when there is none)."""
        if not (self.repo.state_dir / "merge-journal.json").exists():
            return None
        from .merge import recover
        return recover(self.repo.root)

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

    # -- spawn --------------------------------------------------------------

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
                    pane = self.tmux.new_agent_window(self.session, slug, str(path),
                                                      preset.command(task.prompt, hooks_file), env, options,
                                                      pipe=logs.pipe_command(log))
                except TmuxError as exc:
                    raise SpawnError("tmux window", str(exc)) from None
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
        return self.get(task.name, stats=False)

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

    # -- acting on agents -----------------------------------------------------

    def _live_pane(self, name: str) -> str:
        agent = self.get(name, stats=False)
        if agent.pane is None or not agent.pane_alive:
            raise PaneboardError(f"agent {name!r} is not running ({agent.status.why})")
        return agent.pane

    def send(self, name: str, text: str, enter: bool = True) -> None:
        """Type text (literally) into the agent's pane, then Enter."""
        self.tmux.send_text(self._live_pane(name), text, enter=enter)

    def send_key(self, name: str, key: str) -> None:
        """Press one named key (Enter, Escape, Up, C-c...) in the agent's pane."""
        self.tmux.send_key(self._live_pane(name), key)

    def press(self, name: str, keys: tuple[str, ...]) -> None:
        """Press a sequence of named keys and literal text (a preset's approve/deny answer)."""
        pane = self._live_pane(name)
        for key in keys:
            if key in presets.NAMED_KEYS:
                self.tmux.send_key(pane, key)
            else:
                self.tmux.send_text(pane, key, enter=False)

    def kill(self, name: str) -> Agent:
        """Stop the agent and close its window; its branch and worktree (its work) are kept."""
        agent = self.get(name, stats=False)
        self._mark_stopped(name, exit_code=agent.exit_code)
        self._close_window(agent)
        return agent

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

    # -- checks, merge, discard -------------------------------------------------

    def reload_settings(self) -> None:
        """Pick up edits to the task file made while paneboard runs (the tmux socket stays as started)."""
        from .config import DEFAULT_FILE, load, with_overrides
        path = self.task_file or self.repo.root / DEFAULT_FILE
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return
        if mtime != getattr(self, "_settings_mtime", None):
            self._settings_mtime = mtime
            self.settings = with_overrides(load(path).settings, tmux_socket=self.tmux.socket_name,
                                           session=self.session)

    def check_command(self, name: str) -> str | None:
        """The check for this agent: its task's `check`, else the global one (task file re-read if edited)."""
        self.reload_settings()
        rec = self.state.read()["agents"].get(name, {})
        return rec.get("check") or self.settings.check

    def check(self, name: str) -> "CheckResult":
        """Run the agent's check in its worktree (blocking; call from a worker) and record the result."""
        from .checks import run_check
        agent = self.get(name, stats=False)
        command = self.check_command(name)
        if not command:
            raise PaneboardError("no check command: set `check:` in defaults or on the task (e.g. check: pytest -q)")
        if not agent.worktree_exists:
            raise PaneboardError(f"agent {name!r} has no worktree to check ({agent.worktree})")
        log = self.repo.state_dir / "checks" / f"{slugify(name)}.log"
        result = run_check(Path(agent.worktree), command, log, self.settings.check_timeout)
        with self.state.edit() as data:
            rec = data["agents"].get(name)
            if rec is not None:
                rec["last_check"] = {"passed": result.passed, "exit_code": result.exit_code,
                                     "duration": round(result.duration, 3), "log": str(result.log_path),
                                     "summary": result.summary_line, "at": time.time(), "command": command}
        return result

    def merge_preview(self, name: str) -> dict:
        """What approving would do, without doing any of it: files, commits, conflicts, check."""
        from . import merge as merging
        agent = self.get(name)
        if agent.merged:
            raise PaneboardError(f"agent {name!r} is already merged")
        if not agent.worktree_exists:
            raise PaneboardError(f"agent {name!r} has no worktree ({agent.worktree})")
        prediction = merging.predict_agent(self.repo.root, agent.base, Path(agent.worktree))
        return {"agent": agent, "prediction": prediction, "check": self.check_command(name),
                "strategy": self.settings.merge_strategy}

    def merge(self, name: str, strategy: str | None = None, force: bool = False,
              on_step=lambda step: None) -> "MergeResult":
        """Approve: commit the agent's work, run its check, merge into its base; refuse (changing nothing) if unsafe."""
        from . import merge as merging
        from .errors import UnsafeOperation
        strategy = strategy or self.settings.merge_strategy
        preview = self.merge_preview(name)
        agent, prediction = preview["agent"], preview["prediction"]
        if not prediction.clean:
            raise UnsafeOperation(f"merge refused: {name} conflicts with {agent.base} in "
                                  f"{', '.join(prediction.conflicts[:5])}; nothing was changed")
        rec = self.state.read()["agents"].get(name, {})
        first_line = (rec.get("prompt") or "").strip().splitlines()[0:1]
        message = f"{agent.task}: {first_line[0][:72]}" if first_line else f"{agent.task}: work by paneboard agent {name}"
        if preview["check"]:
            # The check sees the same files before or after the commit; running it first means a
            # refused merge leaves even the agent's branch as it was.
            on_step("check")
            result = self.check(name)
            if not result.passed and not force:
                raise UnsafeOperation(f"merge refused: check `{preview['check']}` failed ({result.summary_line}); "
                                      f"log: {result.log_path}; nothing was changed (use --force to merge anyway)")
        # Refuse before touching the agent's branch if the base's checkout could not take the merge.
        for checkout in merging._checkouts_of(self.repo, agent.base):
            merging._refuse_if_busy(checkout, agent.base)
        on_step("commit")
        merging.commit_work(Path(agent.worktree), message + f"\n\nPaneboard-Agent: {name}\n")
        on_step("merge")
        # A merge commit says what it merged; a squash commit stands for the work itself.
        result_message = (f"Merge {agent.branch} into {agent.base}: {message}" if strategy == "merge" else message) \
            + f"\n\nPaneboard-Agent: {name}\n"
        result = merging.merge(self.repo.root, agent.branch, agent.base, strategy, result_message)
        with self.state.edit() as data:
            rec = data["agents"].get(name)
            if rec is not None:
                rec.update(merged=True, merged_at=time.time(), merge_commit=result.new, merge_strategy=strategy)
        on_step("clean up")
        if self.settings.close_on_merge:
            self._mark_stopped(name)
            self._close_window(agent)
        if self.settings.remove_on_merge:
            # Clean and merged by now; a plain (non-forced) remove refuses anything else.
            worktrees.run_git(self.repo.root, "worktree", "remove", agent.worktree, check=False)
        self.start_ready()
        return result

    def start_ready(self) -> list[Agent]:
        """Start queued tasks whose `after` tasks are all merged now."""
        data = self.state.read()
        merged = {n for n, r in data["agents"].items() if r.get("merged")}
        started = []
        for name, task in list(data["queued"].items()):
            if all(dep in merged for dep in task.get("after", [])):
                known = {f.name for f in dataclasses.fields(Task)}
                fields = {k: tuple(v) if isinstance(v, list) else v for k, v in task.items() if k in known}
                started.append(self.spawn(Task(**fields)))
        return started

    def queued(self) -> list[Agent]:
        """Tasks waiting for their `after` tasks to be merged, as agents with status `queued` and what they wait for."""
        data = self.state.read()
        merged = {n for n, r in data["agents"].items() if r.get("merged")}
        out = []
        for name, task in data["queued"].items():
            waiting = [dep for dep in task.get("after", []) if dep not in merged]
            agent_spec = task.get("agent") or self.settings.agent
            out.append(Agent(
                name=name, task=task.get("group") or name, agent=agent_spec,
                branch=worktrees.BRANCH_PREFIX + slugify(name),
                worktree="", base=task.get("base") or self.settings.base or "", session=self.session,
                prompt=task.get("prompt") or "", scope=tuple(task.get("scope") or ()),
                after=tuple(task.get("after") or ()), worktree_exists=False,
                status=Status(Kind.QUEUED, ("waits for " + ", ".join(waiting) + " to be merged") if waiting
                              else "ready: starts at the next merge or `paneboard up`",
                              evidence=", ".join(waiting), since=task.get("queued_at", 0.0) or 0.0)))
        return out

    def unqueue(self, name: str) -> bool:
        """Drop a queued task (it never started, so nothing else exists for it). False if it was not queued."""
        with self.state.edit() as data:
            return data["queued"].pop(name, None) is not None

    def discard_preview(self, name: str) -> tuple[int, int]:
        """(files, commits) that discarding would take out of the branch and worktree (all archived first)."""
        from . import archive
        agent = self.get(name, stats=False)
        if not agent.worktree_exists:
            return (0, 0)
        return archive.discard_preview(self.repo.root, Path(agent.worktree), agent.branch, agent.base)

    def discard(self, name: str) -> "Archive":
        """Archive the agent's work (ref + patch), then stop it and remove its worktree and branch."""
        from . import archive
        agent = self.get(name, stats=False)
        self._mark_stopped(name)
        self._close_window(agent)
        saved = archive.discard(self.repo.root, name, Path(agent.worktree), agent.branch, agent.base)
        with self.state.edit() as data:
            rec = data["agents"].pop(name, None) or {}
            data.setdefault("discarded", {})[name] = {**rec, "archive": saved.ref, "patch": str(saved.patch or ""),
                                                      "discarded_at": time.time()}
        return saved

    def restore(self, name: str) -> Agent:
        """Bring a discarded agent's worktree and branch back from its archive (the agent itself is not restarted)."""
        from . import archive
        data = self.state.read()
        if name in data["agents"]:
            raise PaneboardError(f"an agent named {name!r} exists; restore needs the name free")
        rec = data.get("discarded", {}).get(name)
        if rec is None:
            raise AgentNotFound(f"no discarded agent named {name!r} (archives: "
                                f"{', '.join(a.name for a in archive.list_archives(self.repo.root)) or 'none'})")
        archive.restore(self.repo.root, name, Path(rec["worktree"]), rec["branch"])
        with self.state.edit() as data:
            rec = data.setdefault("discarded", {}).pop(name, rec)
            rec.pop("archive", None), rec.pop("patch", None), rec.pop("discarded_at", None)
            rec["restored_at"] = rec["killed_at"] = time.time()
            data["agents"][name] = rec
        return self.get(name)

    def prune(self, archive_others: bool = False) -> list:
        """Remove clean, merged agent worktrees (and with archive_others, archive and remove the rest)."""
        from . import archive
        base = worktrees.resolve_base(self.repo, self.settings.base)
        return archive.prune(self.repo.root, base, archive_others=archive_others)

    def forget(self, name: str) -> None:
        """Drop the record of an agent whose window is closed (its branch and worktree are untouched)."""
        with self.state.edit() as data:
            data["agents"].pop(name, None)

    def attach_argv(self, name: str) -> list[str]:
        """The tmux command that attaches a terminal to the agent's window."""
        pane = self._live_pane_or_dead(name)
        return [*self.tmux.base_argv, "attach-session", "-t", self.session, ";", "select-window", "-t", pane,
                ";", "display-message", "-d", "5000", "paneboard: detach (prefix d, usually C-b d) to come back"]

    def tmux_client_inside(self) -> bool:
        """True when this process runs inside a client of the agents' own tmux server."""
        tmux_env = os.environ.get("TMUX")
        if not tmux_env or not self.tmux.alive():
            return False
        try:
            ours = self.tmux.run("display-message", "-p", "#{socket_path}")[0]
        except (TmuxError, IndexError):
            return False
        return os.path.realpath(tmux_env.split(",")[0]) == os.path.realpath(ours)

    def switch_client_to(self, name: str) -> None:
        """Inside tmux: move this client to the agent's window and say how to come back."""
        pane = self._live_pane_or_dead(name)
        here = os.environ.get("TMUX_PANE")
        self.tmux.run("switch-client", "-t", pane)
        self.tmux.run("select-window", "-t", pane)
        back = "prefix l (last window)" if here and self._same_session(here, pane) else "prefix L (last session)"
        self.tmux.run("display-message", "-d", "5000", f"paneboard: {back} returns to the dashboard",
                      check=False)

    def _same_session(self, pane_a: str, pane_b: str) -> bool:
        fmt = "#{session_id}"
        a = self.tmux.run("display-message", "-p", "-t", pane_a, fmt, check=False)
        b = self.tmux.run("display-message", "-p", "-t", pane_b, fmt, check=False)
        return bool(a) and a == b

    def _live_pane_or_dead(self, name: str) -> str:
        agent = self.get(name, stats=False)
        if agent.pane is None:
            raise PaneboardError(f"agent {name!r} has no tmux pane any more ({agent.status.why})")
        return agent.pane
