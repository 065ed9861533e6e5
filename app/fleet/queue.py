"""The queue: tasks that wait for their `after` tasks to be merged before they start."""

from __future__ import annotations

import dataclasses

from ..git import worktrees
from ..config import Task
from ..model import Agent, Kind, Status
from ..names import slugify
from .core import FleetCore


class QueueVerbs(FleetCore):
    """Queued, unqueue and start_ready: what waits, dropping a waiting task, and starting those now unblocked."""

    def start_ready(self) -> list[Agent]:
        """Start queued tasks whose `after` tasks are all merged now."""
        data = self.state.read()
        merged = {n for n, r in data["agents"].items() if r.get("merged")}
        started = []
        for name, task in list(data["queued"].items()):
            if all(dep in merged for dep in task.get("after", [])):
                known = {f.name for f in dataclasses.fields(Task)}
                fields = {k: tuple(v) if isinstance(v, list) else v for k, v in task.items() if k in known}
                # Started the way every agent is (start.py), which also takes it off the queue.
                started.append(self.spawn(Task(**fields)))
        return started

    def queued(self) -> list[Agent]:
        """Tasks waiting for their `after` tasks to be merged, as agents with status `queued` and what they wait for."""
        data = self.state.read()
        merged = {n for n, r in data["agents"].items() if r.get("merged")}
        out = []
        for name, task in data["queued"].items():
            waiting = [dep for dep in task.get("after", []) if dep not in merged]
            agent_spec = task.get("agent") or self.settings.agent
            out.append(Agent(
                name=name, task=task.get("group") or name, agent=agent_spec,
                branch=worktrees.BRANCH_PREFIX + slugify(name),
                worktree="", base=task.get("base") or self.settings.base or "", session=self.session,
                prompt=task.get("prompt") or "", scope=tuple(task.get("scope") or ()),
                after=tuple(task.get("after") or ()), worktree_exists=False,
                status=Status(Kind.QUEUED, ("waits for " + ", ".join(waiting) + " to be merged") if waiting
                              else "ready: starts at the next merge or `paneboard up`",
                              evidence=", ".join(waiting), since=task.get("queued_at", 0.0) or 0.0)))
        return out

    def unqueue(self, name: str) -> bool:
        """Drop a queued task (it never started, so nothing else exists for it). False if it was not queued."""
        with self.state.edit() as data:
            return data["queued"].pop(name, None) is not None
