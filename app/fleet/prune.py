"""Pruning: clearing away worktrees whose work is merged (or, asked to, archived)."""

from __future__ import annotations

from ..git import worktrees
from .core import FleetCore


class PruneVerbs(FleetCore):
    """Prune: remove merged agents' clean worktrees, and with archive_others the rest, archived first."""

    def prune(self, archive_others: bool = False) -> list:
        """Remove clean, merged agent worktrees (and with archive_others, archive and remove the rest)."""
        from ..git import archive
        base = worktrees.resolve_base(self.repo, self.settings.base)
        return archive.prune(self.repo.root, base, archive_others=archive_others)
