"""Merging an agent's work: its check, what a merge would do, the merge itself, and crash recovery.

Every refusal comes before any change (the check, then `preflight` on the work as it would be
committed), so a refused merge leaves even the agent's branch and index as they were. While a
merge runs, the agent's record carries a `merging` mark and this process holds
`agent-merge.lock`; a mark without the lock is a merge that died (kill -9 of the CLI or the
dashboard), and the next paneboard gives it every effect of a merge if the base holds its work
now (recorded merged, window closed, worktree removed, `after:` tasks started), or drops it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from ..git import worktrees
from ..errors import PaneboardError
from ..names import slugify
from ..state import write_atomic
from . import hosts
from .core import FleetCore
from .sockets import refuse_unseen

if TYPE_CHECKING:
    from ..git.checks import CheckResult
    from ..git.merge import MergeResult


CRASH_BEFORE_RECORD = "merged-not-recorded"
"""Test hook (PANEBOARD_MERGE_CRASH_AT): die after the base moved and its journal went, before the state says merged."""


class MergeVerbs(FleetCore):
    """Check, merge_preview and merge (approve), and finishing a merge that a crash interrupted."""

    def recover_interrupted_merge(self):
        """Finish or roll back a merge that a crash interrupted (cheap: a file check when there is none)."""
        if not (self.repo.state_dir / "merge-journal.json").exists():
            return None
        from ..git.merge import recover
        return recover(self.repo.root)

    def check_command(self, name: str) -> str | None:
        """The check for this agent: its task's `check`, else the global one (task file re-read if edited)."""
        self.reload_settings()
        rec = self.state.read()["agents"].get(name, {})
        return rec.get("check") or self.settings.check

    def check(self, name: str) -> "CheckResult":
        """Run the agent's check in its worktree (blocking; call from a worker) and record the result."""
        from ..git.checks import run_check
        agent = self.get(name, stats=False)
        command = self.check_command(name)
        if not command:
            raise PaneboardError("no check command: set `check:` in defaults or on the task (e.g. check: pytest -q)")
        if not agent.worktree_exists and not agent.host:
            raise PaneboardError(f"agent {name!r} has no worktree to check ({agent.worktree})")
        log = self.repo.state_dir / "checks" / f"{slugify(name)}.log"
        self._record_check(name, running={"started_at": time.time(), "command": command, "log": str(log),
                                          "pid": os.getpid()})
        result = None
        try:
            result = hosts.run_check(self, agent, command, log, self.settings.check_timeout) if agent.host else \
                run_check(Path(agent.worktree), command, log, self.settings.check_timeout)
        finally:
            self._record_check(name, result=result, command=command)
        return result

    def _record_check(self, name: str, running: dict | None = None, result: "CheckResult | None" = None,
                      command: str = "") -> None:
        """Record a check that starts (`running`) or ended (its result, or none if it was cut short) in the
        state file, then say so in `checks/records/NAME.json`, which the live monitor watches."""
        with self.state.edit() as data:
            rec = data["agents"].get(name)
            if rec is not None:
                if running is not None:
                    rec["check_running"] = running
                else:
                    rec.pop("check_running", None)
                if result is not None:
                    rec["last_check"] = {"passed": result.passed, "exit_code": result.exit_code,
                                         "duration": round(result.duration, 3), "log": str(result.log_path),
                                         "summary": result.summary_line, "at": time.time(), "command": command}
        state = "running" if running is not None else ("done" if result is not None else "interrupted")
        with contextlib.suppress(OSError):      # the news is late then (the next rediscovery), never lost
            write_atomic(self.state.check_records / f"{slugify(name)}.json",
                         json.dumps({"agent": name, "state": state, "at": time.time()}))
        if result is not None:
            self._record(name, "check", f"{'passed' if result.passed else 'FAILED'} in {result.duration:.1f}s: "
                                        f"{result.summary_line}")

    def merge_preview(self, name: str) -> dict:
        """What approving would do, without doing any of it: files, commits, conflicts, check."""
        from ..git import merge as merging
        agent = self.get(name)
        if agent.merged:
            raise PaneboardError(f"agent {name!r} is already merged")
        if not agent.worktree_exists:
            raise PaneboardError(f"agent {name!r} has no worktree ({agent.worktree})")
        agent.base = self.base_of(agent)
        if agent.host:      # its work is fetched from its host first (uncommitted too): the tip judged here
            tip = hosts.merge_tip(self, agent)
            base = f"refs/heads/{agent.base}"
            return {"agent": agent, "prediction": merging.predict(self.repo.root, base, tip), "tip": tip,
                    "check": self.check_command(name), "strategy": self.settings.merge_strategy,
                    "nothing": merging.holds(self.repo.root, base, tip)}
        prediction = merging.predict_agent(self.repo.root, agent.base, Path(agent.worktree))
        return {"agent": agent, "prediction": prediction, "check": self.check_command(name),
                "strategy": self.settings.merge_strategy,
                "nothing": merging.adds_nothing(self.repo.root, agent.base, Path(agent.worktree))}

    def merge(self, name: str, strategy: str | None = None, force: bool = False,
              on_step=lambda step: None) -> "MergeResult":
        """Approve: commit the agent's work, run its check, merge into its base; refuse (changing nothing) if unsafe."""
        from ..git import merge as merging
        from ..errors import UnsafeOperation
        strategy = strategy or self.settings.merge_strategy
        self._settle_before_merge()
        preview = self.merge_preview(name)
        agent, prediction = preview["agent"], preview["prediction"]
        refuse_unseen(agent, "merge", force)
        if preview["nothing"]:
            return self._nothing_to_merge(agent, strategy)
        if not prediction.clean:
            raise UnsafeOperation(f"merge refused: {name} conflicts with {agent.base} in "
                                  f"{', '.join(prediction.conflicts[:5])}; nothing was changed")
        message = self._merge_message(name, agent)
        if preview["check"]:
            # The check sees the same files before or after the commit; running it first means a
            # refused merge leaves even the agent's branch as it was.
            on_step("check")
            result = self.check(name)
            if not result.passed and not force:
                raise UnsafeOperation(f"merge refused: check `{preview['check']}` failed ({result.summary_line}); "
                                      f"log: {result.log_path}; nothing was changed (use --force to merge anyway)")
        # Every refusal the merge itself could make is made now, on the work as it would be committed,
        # so that a refused merge leaves the agent's branch, its index and every checkout as they were.
        merging.preflight(self.repo.root, agent.branch, agent.base, strategy,
                          preview.get("tip") or merging.candidate_commit(Path(agent.worktree)))
        with self._merging(name, agent.base, strategy):
            on_step("commit")
            if agent.host:      # committed on its host, its branch brought here (hosts.py)
                hosts.commit_work(self, agent, message + f"\n\nPaneboard-Agent: {name}\n")
            else:
                merging.commit_work(Path(agent.worktree), message + f"\n\nPaneboard-Agent: {name}\n")
            on_step("merge")
            # A merge commit says what it merged; a squash commit stands for the work itself.
            result_message = (f"Merge {agent.branch} into {agent.base}: {message}" if strategy == "merge"
                              else message) + f"\n\nPaneboard-Agent: {name}\n"
            result = merging.merge(self.repo.root, agent.branch, agent.base, strategy, result_message)
            if not result.changed:
                # e.g. a squash of work the base already has: the agent goes on as it was.
                self._drop_merging_mark(name)
                return result
            merging._crash_point(CRASH_BEFORE_RECORD)
            self._record_merged(name, result.new, strategy, agent)
        self._record(name, "merge", f"{strategy} into {result.base}: {result.old[:10]} -> {result.new[:10]}")
        on_step("clean up")
        self._after_merge(agent)
        return result

    def _merge_message(self, name: str, agent) -> str:
        rec = self.state.read()["agents"].get(name, {})
        first_line = (rec.get("prompt") or "").strip().splitlines()[0:1]
        return f"{agent.task}: {first_line[0][:72]}" if first_line else f"{agent.task}: work by paneboard agent {name}"

    def _record_merged(self, name: str, commit: str, strategy: str, agent=None) -> None:
        with self.state.edit() as data:
            rec = data["agents"].get(name)
            if rec is not None:
                rec.pop("merging", None)
                rec.update(merged=True, merged_at=time.time(), merge_commit=commit, merge_strategy=strategy)
                if agent is not None:
                    # What was merged stays known after the worktree goes (ls and the dashboard show it).
                    rec.update(merged_files=list(agent.files), merged_added=agent.added, merged_removed=agent.removed)

    def _after_merge(self, agent) -> None:
        """What follows every merge, a normal one or one a crash interrupted: window, worktree, queued tasks."""
        if self.settings.close_on_merge:
            self._mark_stopped(agent.name)
            self._close_window(agent)
        if self.settings.remove_on_merge and agent.worktree and agent.host:
            hosts.remove_worktree(self, agent)
        elif self.settings.remove_on_merge and agent.worktree:
            # Clean and merged by now; a plain (non-forced) remove refuses anything else.
            worktrees.run_git(self.repo.root, "worktree", "remove", agent.worktree, check=False)
        # A merge may be what queued tasks were waiting for (queue.py).
        self.start_ready()

    # -- merges a crash interrupted ------------------------------------------

    @contextlib.contextmanager
    def _merging(self, name: str, base: str, strategy: str) -> Iterator[None]:
        """Mark the agent as being merged, for as long as this process merges it.

        The mark outlives a crash (kill -9 of the CLI or the dashboard) and the lock does not, so
        finish_interrupted_merges() can tell a merge that died from one still running.
        """
        from ..git.merge import _rev
        with self._merge_claim(block=True):
            with self.state.edit() as data:
                rec = data["agents"].get(name)
                if rec is not None:
                    rec["merging"] = {"base": base, "strategy": strategy, "at": time.time(),
                                      "base_commit": _rev(self.repo.root, f"refs/heads/{base}")}
            try:
                yield
            except BaseException:
                self._drop_merging_mark(name)
                raise

    def _drop_merging_mark(self, name: str) -> None:
        """The merge ended without moving the base (refused, failed, or nothing to add): no mark stays."""
        with self.state.edit() as data:
            rec = data["agents"].get(name)
            if rec is not None:
                rec.pop("merging", None)

    @contextlib.contextmanager
    def _merge_claim(self, block: bool) -> Iterator[bool]:
        self.repo.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.repo.state_dir / "agent-merge.lock", "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _settle_before_merge(self) -> None:
        from ..errors import UnsafeOperation
        recovery = self.recover_interrupted_merge()
        if recovery is not None:
            self.notices.append(recovery.summary())
            if recovery.outcome == "blocked":
                raise UnsafeOperation(f"merge refused: {recovery.summary()}")
        self.notices.extend(self.finish_interrupted_merges())

    def finish_interrupted_merges(self) -> list[str]:
        """Give a merge that a crash interrupted every effect of a normal one (or drop its mark); what was done."""
        pending = [n for n, r in self.state.read()["agents"].items() if isinstance(r.get("merging"), dict)]
        if not pending:
            return []
        done = []
        with self._merge_claim(block=False) as ours:
            if not ours:
                return []  # another paneboard is merging right now: its mark is not a leftover
            for name in pending:
                line = self._finish_one(name)
                if line:
                    done.append(line)
        return done

    def _finish_one(self, name: str) -> str | None:
        from ..git.merge import _rev, holds
        rec = self.state.read()["agents"].get(name) or {}
        mark = rec.get("merging") or {}
        base, branch = str(mark.get("base") or rec.get("base") or ""), rec.get("branch", "")
        before = mark.get("base_commit")
        tip = _rev(self.repo.root, f"refs/heads/{branch}") if branch else None
        head = _rev(self.repo.root, f"refs/heads/{base}") if base else None
        # Merged by the interrupted merge: the base holds the branch now and did not before it began
        # (a branch with nothing of its own yet, its work still uncommitted, was not merged).
        if (tip is None or head is None or not isinstance(before, str) or not holds(self.repo.root, head, tip)
                or _rev(self.repo.root, before) is None or holds(self.repo.root, before, tip)):
            with self.state.edit() as data:
                data["agents"].get(name, {}).pop("merging", None)
            return f"the merge of {name} into {base} was interrupted before it moved {base}; {name} is not merged"
        agent = self.get(name, stats=False)
        self._record_merged(name, head, str(mark.get("strategy") or self.settings.merge_strategy))
        line = f"the merge of {name} into {base} was interrupted after it moved {base}; it is now recorded as merged"
        try:
            self._after_merge(agent)
        except PaneboardError as exc:
            # Found while opening the fleet for any command: that command must still run.
            return f"{line}, but what follows a merge failed: {exc}"
        return line


    def _nothing_to_merge(self, agent, strategy: str) -> "MergeResult":
        """The base already has all of the agent's work: change nothing (no commit, no window closed, no worktree removed)."""
        from ..git.merge import MergeResult
        base = worktrees.run_git(self.repo.root, "rev-parse", f"refs/heads/{agent.base}").strip()
        return MergeResult(strategy, agent.base, base, base, ())
