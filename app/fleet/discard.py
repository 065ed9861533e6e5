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
            if self.state.read()["agents"].get(name, {}).get("discarding"):
                return None     # archived already: this discard finishes removing it
            return hosts.refuse_discard(self, agent, force)
        if not agent.worktree_exists or not (Path(agent.worktree) / ".git").exists():
            return None
        holdings = keep.survey(Path(agent.worktree), self.settings.disposable)
        archive.refuse_what_cannot_be_kept(holdings, force)
        return holdings

    def discard(self, name: str, force: bool = False, on_step=lambda step: None) -> "Archive":
        """Archive the agent's work (ref + patch, ignored files, submodules), then stop it and remove its
        worktree and branch; refuses before stopping it when the archive could not keep everything."""
        from ..git import archive
        agent = self.get(name, stats=False)
        if agent.host:
            return self._discard_on_host(agent, force, on_step)
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

    def _discard_on_host(self, agent: Agent, force: bool = False, on_step=lambda step: None) -> "Archive":
        """Stop the remote agent, archive its work (ignored files and submodules too) on its host and here, note
        that in its record, and only then remove its worktree there; a discard that stopped halfway finishes."""
        commit = self.state.read()["agents"].get(agent.name, {}).get("discarding")
        if commit:
            saved = hosts.saved_archive(self, agent, commit)
            if agent.unreachable:
                raise PaneboardError(f"discard refused: host {agent.host!r} is unreachable ({agent.unreachable}); "
                                     f"its work is archived at {saved.ref}, the next discard finishes")
        else:
            holdings = hosts.refuse_discard(self, agent, force)
            self._mark_stopped(agent.name)
            self._close_window(agent)
            on_step("archive")
            saved = hosts.archive_work(self, agent, holdings)     # on the host AND here, or it raises
            with self.state.edit() as data:
                if agent.name in data["agents"]:
                    data["agents"][agent.name]["discarding"] = saved.commit
        on_step("move")
        rec = self.state.read()["agents"].get(agent.name, {})
        hosts.remove_archived(self, agent.name, rec, saved.commit, on_step)
        with self.state.edit() as data:
            rec = data["agents"].pop(agent.name, None) or {}
            rec.pop("discarding", None)
            data.setdefault("discarded", {})[agent.name] = {**rec, "archive": saved.ref, "patch": "",
                                                            "archive_commit": saved.commit,
                                                            "discarded_at": time.time()}
        self._record(agent.name, "discard", f"archived at {saved.ref} (here and on host {agent.host}), "
                                            f"worktree and branch removed on the host")
        return saved

    def restore(self, name: str, notes: list[str] | None = None, on_step=lambda step: None) -> Agent:
        """Bring a discarded agent's worktree and branch back from its archive (the agent itself is not restarted);
        what could not come back is added to notes."""
        from ..git import archive
        data = self.state.read()
        if name in data["agents"]:
            rec = data["agents"][name]
            if rec.get("host") and rec.get("discarding"):
                self._discard_on_host(self.get(name, stats=False))     # it stopped halfway: finish it first
                data = self.state.read()
            elif rec.get("worktree") and not rec.get("host") and not os.path.lexists(rec["worktree"]) \
                    and not rec.get("merged"):
                return self._restore_missing(name, rec)
            else:
                raise PaneboardError(f"an agent named {name!r} exists; restore needs the name free")
        rec = data.get("discarded", {}).get(name)
        if rec is None:
            raise AgentNotFound(f"no discarded agent named {name!r} (archives: "
                                f"{', '.join(a.name for a in archive.list_archives(self.repo.root)) or 'none'})")
        if rec.get("host"):
            def step(what: str) -> None:
                if what == "restore":       # from here on, things are made on the host
                    self._mark_restoring(name)
                on_step(what)

            said = hosts.restore(self, name, rec, step)
            (notes if notes is not None else []).extend(said)
        else:
            archive.restore(self.repo.root, name, Path(rec["worktree"]), rec["branch"])
            said = []
        with self.state.edit() as data:
            rec = data.setdefault("discarded", {}).pop(name, rec)
            for key in ("archive", "patch", "discarded_at", "archive_commit", "restoring"):
                rec.pop(key, None)
            rec["restored_at"] = rec["killed_at"] = time.time()
            data["agents"][name] = rec
        self._record(name, "restore", f"{rec.get('branch', '')} in {rec.get('worktree', '')}"
                     + "".join(f"; {n}" for n in said))
        return self.get(name)

    def _mark_restoring(self, name: str) -> None:
        """Note that a remote restore is making things on the host: one that stops halfway is taken back first."""
        with self.state.edit() as data:
            if name in data.get("discarded", {}):
                data["discarded"][name]["restoring"] = time.time()

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
