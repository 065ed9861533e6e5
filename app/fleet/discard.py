"""Ending an agent: kill keeps its work, discard archives then removes it; restore and forget."""

from __future__ import annotations

import os
import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import AgentNotFound, PaneboardError
from ..model import Agent
from . import hosts
from .core import FleetCore
from .sockets import refuse_unseen

if TYPE_CHECKING:
    from ..git.archive import Archive


class DiscardVerbs(FleetCore):
    """Kill, discard_preview, discard, restore and forget: stopping an agent, and its work archived or brought back."""

    def kill(self, name: str, force: bool = False) -> Agent:
        """Stop the agent and close its window; its branch and worktree (its work) are kept."""
        agent = self.get(name, stats=False)
        refuse_unseen(agent, "kill", force)
        self._mark_stopped(name, exit_code=agent.exit_code)
        self._close_window(agent)
        self._record(name, "stopped", "stopped; its branch and worktree are kept")
        return agent

    def discard_preview(self, name: str) -> tuple[int, int]:
        """(files, commits) that discarding would take out of the branch and worktree (all archived first)."""
        from ..git import archive
        agent = self.get(name, stats=False)
        if agent.host:      # read by git on its host
            self._fill_stats(agent)
            return len(agent.files), agent.commits
        return archive.discard_preview(self.repo.root, Path(agent.worktree), agent.branch, self.base_of(agent))

    def discard_holdings(self, name: str, force: bool = False):
        """What the agent's worktree holds beyond its branch (ignored files to keep, submodules), or None
        without a worktree; raises UnsafeOperation when discard could not keep it all."""
        from ..git import archive, keep
        agent = self.get(name, stats=False)
        if agent.host:      # refuses here too, before anything stops
            hosts.refuse_discard(self, agent)
            return None
        if not agent.worktree_exists or not (Path(agent.worktree) / ".git").exists():
            return None
        holdings = keep.survey(Path(agent.worktree), self.settings.disposable)
        archive.refuse_what_cannot_be_kept(holdings, force)
        return holdings

    def discard(self, name: str, force: bool = False) -> "Archive":
        """Archive the agent's work (ref + patch, ignored files, submodules), then stop it and remove its
        worktree and branch; refuses before stopping it when the archive could not keep everything."""
        from ..git import archive
        agent = self.get(name, stats=False)
        if agent.host:
            return self._discard_on_host(agent)
        refuse_unseen(agent, "discard", force)
        self.discard_holdings(name, force)
        self._mark_stopped(name)
        self._close_window(agent)
        saved = archive.discard(self.repo.root, name, Path(agent.worktree), agent.branch, agent.base,
                                self.settings.disposable, force)
        with self.state.edit() as data:
            rec = data["agents"].pop(name, None) or {}
            data.setdefault("discarded", {})[name] = {**rec, "archive": saved.ref, "patch": str(saved.patch or ""),
                                                      "discarded_at": time.time()}
        self._record(name, "discard", f"archived at {saved.ref}, worktree and branch removed")
        return saved

    def _discard_on_host(self, agent: Agent) -> "Archive":
        """Stop the remote agent, archive its work on its host and here, and only then remove its worktree there."""
        hosts.refuse_discard(self, agent)
        self._mark_stopped(agent.name)
        self._close_window(agent)
        saved = hosts.archive_work(self, agent)      # on the host AND here, or it raises and nothing is removed
        hosts.remove_archived(self, agent)
        with self.state.edit() as data:
            rec = data["agents"].pop(agent.name, None) or {}
            data.setdefault("discarded", {})[agent.name] = {**rec, "archive": saved.ref, "patch": "",
                                                            "archive_commit": saved.commit,
                                                            "discarded_at": time.time()}
        self._record(agent.name, "discard", f"archived at {saved.ref} (here and on host {agent.host}), "
                                            f"worktree and branch removed on the host")
        return saved

    def restore(self, name: str) -> Agent:
        """Bring a discarded agent's worktree and branch back from its archive (the agent itself is not restarted)."""
        from ..git import archive
        data = self.state.read()
        if name in data["agents"]:
            rec = data["agents"][name]
            if rec.get("worktree") and not rec.get("host") and not os.path.lexists(rec["worktree"]) \
                    and not rec.get("merged"):
                return self._restore_missing(name, rec)
            raise PaneboardError(f"an agent named {name!r} exists; restore needs the name free")
        rec = data.get("discarded", {}).get(name)
        if rec is None:
            raise AgentNotFound(f"no discarded agent named {name!r} (archives: "
                                f"{', '.join(a.name for a in archive.list_archives(self.repo.root)) or 'none'})")
        if rec.get("host"):
            hosts.restore(self, name, rec)
        else:
            archive.restore(self.repo.root, name, Path(rec["worktree"]), rec["branch"])
        with self.state.edit() as data:
            rec = data.setdefault("discarded", {}).pop(name, rec)
            rec.pop("archive", None), rec.pop("patch", None), rec.pop("discarded_at", None)
            rec.pop("archive_commit", None)
            rec["restored_at"] = rec["killed_at"] = time.time()
            data["agents"][name] = rec
        self._record(name, "restore", f"{rec.get('branch', '')} in {rec.get('worktree', '')}")
        return self.get(name)

    def _restore_missing(self, name: str, rec: dict) -> Agent:
        """A worktree removed outside paneboard comes back from its branch (what was not committed is gone)."""
        from ..git import worktrees
        branch = rec.get("branch", "")
        if not branch or not worktrees.branch_exists(self.repo, branch):
            raise PaneboardError(f"cannot restore {name!r}: its worktree and its branch {branch or '?'} are both gone "
                                 f"(drop it from the list: paneboard kill --forget {shlex.quote(name)})")
        worktrees.run_git(self.repo.root, "worktree", "prune")
        Path(rec["worktree"]).parent.mkdir(parents=True, exist_ok=True)
        worktrees.run_git(self.repo.root, "worktree", "add", "--quiet", rec["worktree"], branch)
        return self.get(name)

    def forget(self, name: str) -> None:
        """Drop the record of an agent whose window is closed (its branch and worktree are untouched)."""
        with self.state.edit() as data:
            data["agents"].pop(name, None)
