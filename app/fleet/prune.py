"""Pruning: clearing away worktrees whose work is merged (or, asked to, archived)."""

from __future__ import annotations

from pathlib import Path

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
                # An agent that may run on a tmux server we are not looking at keeps its worktree unless forced.
                refuse_unseen(agent, "prune", force)
        return archive.prune(self.repo.root, base, archive_others=archive_others)
