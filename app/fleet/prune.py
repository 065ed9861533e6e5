"""Pruning: clearing away worktrees whose work is merged (or, asked to, archived), never a running agent's."""

from __future__ import annotations

import shlex
from pathlib import Path

from ..git import worktrees
from .core import FleetCore


def _stopped(rec: dict | None) -> bool:
    """True when the agent's record says paneboard stopped it (kill, discard, merge, restore) since it started."""
    if not rec:
        return False
    started = float(rec.get("started_at") or 0)
    return bool(rec.get("merged")) or max(float(rec.get("killed_at") or 0), float(rec.get("restored_at") or 0)) > started


class PruneVerbs(FleetCore):
    """Prune: remove merged agents' clean worktrees, and with archive_others the rest, archived first."""

    def running_worktrees(self, force: bool = False) -> dict[Path, str]:
        """Worktree (resolved) -> why its agent may still be running: a live pane, or (unless forced) one
        paneboard cannot see."""
        data = self.state.read()
        records = data["agents"]
        # A spawn under way: its new worktree looks merged and clean, but its agent is about to start there.
        running = {Path(rec["worktree"]).resolve(): f"a spawn of {name} is under way (its agent is starting)"
                   for name, rec in (data.get("spawning") or {}).items()}
        for a in self.agents(stats=False):
            if not a.worktree:
                continue
            kill = f"paneboard kill {shlex.quote(a.name)}"
            if a.pane is not None and a.pane_alive:
                running[Path(a.worktree).resolve()] = f"its agent {a.name} is running (pane {a.pane}; stop it: {kill})"
            elif a.pane is None and not force and not _stopped(records.get(a.name)):
                running[Path(a.worktree).resolve()] = (
                    f"its agent {a.name} may be running on another tmux server: its pane is not on this one and "
                    f"paneboard did not stop it (if it is done: {kill}, or prune --force)")
        return running

    def prune_plan(self, force: bool = False) -> list:
        """Every agent worktree with whether prune would remove it, and what keeps it if not."""
        from ..git import archive
        base = worktrees.resolve_base(self.repo, self.settings.base)
        return archive.worktree_states(self.repo.root, base, self.settings.disposable, self.running_worktrees(force))

    def prune(self, archive_others: bool = False, force: bool = False) -> tuple[list, list]:
        """Remove clean, merged worktrees of agents that are not running and hold nothing else to keep
        (with archive_others, archive and remove the rest too; with force, also those whose pane cannot be
        seen): (removed, kept)."""
        from ..git import archive
        base = worktrees.resolve_base(self.repo, self.settings.base)
        states = self.prune_plan(force)
        removed = archive.prune(self.repo.root, base, archive_others=archive_others,
                                disposable=self.settings.disposable, states=states)
        self._forget_pruned({s.path.resolve() for s in removed})
        return removed, [s for s in states if s not in removed]

    def _forget_pruned(self, paths: set[Path]) -> None:
        """Agents whose worktree prune removed are done: their dead windows close and their records go."""
        gone = [a for a in self.agents(stats=False) if a.worktree and Path(a.worktree).resolve() in paths]
        for a in gone:
            if a.pane is not None and not a.pane_alive:
                self._close_window(a)
        with self.state.edit() as data:
            for a in gone:
                data["agents"].pop(a.name, None)
