"""Pruning: clearing away worktrees whose work is merged (or, asked to, archived)."""

from __future__ import annotations

from pathlib import Path

from ..errors import UnsafeOperation
from ..git import worktrees
from .core import FleetCore
from .sockets import refuse_unseen


class PruneVerbs(FleetCore):
    """Prune: remove merged agents' clean worktrees, and with archive_others the rest, archived first."""

    def prune(self, archive_others: bool = False, force: bool = False) -> list:
        """Remove clean, merged agent worktrees (and with archive_others, archive and remove the rest)."""
        from ..git import archive
        base = worktrees.resolve_base(self.repo, self.settings.base)
        states = archive.worktree_states(self.repo.root, base)
        doomed = {str(s.path.resolve()) for s in states if s.prunable or archive_others}
        for agent in self.agents(stats=False):
            if agent.worktree and str(Path(agent.worktree).resolve()) in doomed:
                # A live agent's worktree is never pruned from under it; one whose pane is unseen only if forced.
                if agent.pane_alive:
                    raise UnsafeOperation(f"prune refused: agent {agent.name!r} still runs in {agent.worktree} "
                                          f"(stop it first: `paneboard kill {agent.name}`); nothing was changed")
                refuse_unseen(agent, "prune", force)
        return archive.prune(self.repo.root, base, archive_others=archive_others)
