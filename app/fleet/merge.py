"""Merging an agent's work: its check, what a merge would do, the merge itself, and crash recovery."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..git import worktrees
from ..errors import PaneboardError
from ..names import slugify
from .core import FleetCore

if TYPE_CHECKING:
    from ..git.checks import CheckResult
    from ..git.merge import MergeResult


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
        self._record(name, "check", f"{'passed' if result.passed else 'FAILED'} in {result.duration:.1f}s: {result.summary_line}")
        return result

    def merge_preview(self, name: str) -> dict:
        """What approving would do, without doing any of it: files, commits, conflicts, check."""
        from ..git import merge as merging
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
        from ..git import merge as merging
        from ..errors import UnsafeOperation
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
        self._record(name, "merge", f"{strategy} into {result.base}: {result.old[:10]} -> {result.new[:10]}")
        on_step("clean up")
        if self.settings.close_on_merge:
            self._mark_stopped(name)
            self._close_window(agent)
        if self.settings.remove_on_merge:
            # Clean and merged by now; a plain (non-forced) remove refuses anything else.
            worktrees.run_git(self.repo.root, "worktree", "remove", agent.worktree, check=False)
        # A merge may be what queued tasks were waiting for (queue.py).
        self.start_ready()
        return result
