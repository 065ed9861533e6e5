"""Who shares files with whom, kept one agent at a time: a change in one worktree touches only the
agents that own one of the paths it added or dropped, never a pass over the fleet."""

from __future__ import annotations

from .facts import Facts


def _files_of(f: Facts | None) -> frozenset[str]:
    if f is None or not f.agent.files or f.agent.merged or not f.agent.worktree_exists:
        return frozenset()
    return frozenset(f.agent.files)


class OverlapIndex:
    """Each agent's changed paths and, per path, the agents that changed it (as `facts.apply_overlaps` sees them)."""

    def __init__(self):
        self._files: dict[str, frozenset[str]] = {}
        self._owners: dict[str, set[str]] = {}

    def owners(self, path: str) -> set[str]:
        """The agents whose changes hold this path."""
        return set(self._owners.get(path, ()))

    def update(self, facts: dict[str, Facts], name: str, now: float) -> list[str]:
        """Take the agent's current files; the agents whose overlaps changed (their facts updated)."""
        new, old = _files_of(facts.get(name)), self._files.get(name, frozenset())
        if new == old:
            return []
        touched = {name}
        for path in old - new:
            owners = self._owners.get(path)
            if owners is not None:
                owners.discard(name)
                touched |= owners
                if not owners:
                    del self._owners[path]
        for path in new - old:
            owners = self._owners.setdefault(path, set())
            touched |= owners
            owners.add(name)
        if new:
            self._files[name] = new
        else:
            self._files.pop(name, None)
        return [n for n in sorted(touched) if self._apply(facts, n, now)]

    def _apply(self, facts: dict[str, Facts], name: str, now: float) -> bool:
        f = facts.get(name)
        if f is None:
            return False
        # A best-of-N candidate is named after its task ("parser-2" of "parser"): candidates of one
        # task are meant to touch the same files, so they never overlap each other.
        group = f.agent.task if f.agent.task != name else None
        new: dict[str, list[str]] = {}
        for path in self._files.get(name, ()):
            for other in self._owners.get(path, ()):
                o = facts.get(other)
                if other == name or o is None:
                    continue
                if group is not None and o.agent.task != other and o.agent.task == group:
                    continue
                new.setdefault(other, []).append(path)
        for paths in new.values():
            paths.sort()
        if new == f.overlaps:
            return False
        if new and not f.overlaps:
            f.overlap_since = now
        elif not new:
            f.overlap_since = None
        f.overlaps = new
        return True
