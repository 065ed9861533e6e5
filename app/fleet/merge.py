"""Merging an agent's work: its check, what a merge would do, the merge itself, and crash recovery."""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..git import worktrees
from ..errors import PaneboardError
from ..names import slugify
from ..state import write_atomic
from .core import FleetCore
from .sockets import refuse_unseen

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
        self._record_check(name, running={"started_at": time.time(), "command": command, "log": str(log),
                                          "pid": os.getpid()})
        result = None
        try:
            result = run_check(Path(agent.worktree), command, log, self.settings.check_timeout)
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
        refuse_unseen(agent, "merge", force)
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
                rec.update(merged=True, merged_at=time.time(), merge_commit=result.new, merge_strategy=strategy,
                           # What was merged stays known after the worktree goes (ls and the dashboard show it).
                           merged_files=list(agent.files), merged_added=agent.added, merged_removed=agent.removed)
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
