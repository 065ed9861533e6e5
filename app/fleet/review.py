"""Review verbs: comments sent to an agent, what the reviewer last saw, and candidates combined."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from .. import comments as remarks
from ..errors import AgentNotFound, PaneboardError
from ..names import slugify
from .core import FleetCore

if TYPE_CHECKING:
    from ..git.combine import HunkChoice
    from ..model import Agent


class ReviewVerbs(FleetCore):
    """Comment, send_comments, drafts, mark_reviewed, reviewed_tree and combine."""

    # -- comments -------------------------------------------------------------

    def drafts(self, name: str) -> remarks.Drafts:
        """The agent's unsent review comments (persisted on every change)."""
        return remarks.Drafts(self.repo.state_dir, name)

    def send_comments(self, name: str, comments: list[remarks.Comment]) -> str:
        """Deliver comments to the agent as one literal message, like `send`; returns the message."""
        if not comments:
            raise PaneboardError("no comments to send")
        text = remarks.message(comments)
        tmux, pane = self._live_pane(name)   # type: ignore[attr-defined] - AnswerVerbs: on the agent's own server
        tmux.send_text(pane, text)
        self._record(name, "comment", text, count=len(comments))
        return text

    def comment(self, name: str, place: str, text: str) -> remarks.Comment:
        """Send one comment on PATH:LINE of the agent's current version at once."""
        agent = self.get(name, stats=False)
        if not agent.worktree_exists:
            raise PaneboardError(f"agent {name!r} has no worktree any more ({agent.worktree})")
        path, line = remarks.parse_place(place)
        comment = remarks.comment_on_file(Path(agent.worktree), path, line, text)
        self.send_comments(name, [comment])
        return comment

    # -- what the reviewer saw --------------------------------------------------

    def reviewed_ref(self, agent: Agent) -> str:
        """The ref that holds what the reviewer last saw of this agent."""
        from ..git.reviewed import ref_of
        return ref_of(agent.name, agent.branch)

    def reviewed_tree(self, name: str) -> str | None:
        """The tree the reviewer last saw of this agent, None if never reviewed."""
        from ..git.reviewed import reviewed_tree
        return reviewed_tree(self.repo.root, self.reviewed_ref(self.get(name, stats=False)))

    def mark_reviewed(self, name: str, tree: str | None = None) -> str:
        """Record `tree` (default: the worktree now) as what the reviewer saw; returns the commit."""
        from ..git.reviewed import mark
        agent = self.get(name, stats=False)
        if not agent.worktree_exists:
            raise PaneboardError(f"agent {name!r} has no worktree any more ({agent.worktree})")
        commit = mark(Path(agent.worktree), self.reviewed_ref(agent), tree, name)
        self._record(name, "reviewed", f"reviewed up to {commit[:10]}")
        return commit

    # -- combining candidates -----------------------------------------------------

    def candidates(self, task: str) -> dict[str, Agent]:
        """The task's candidates that still have a worktree, by name."""
        found = {a.name: a for a in self.agents(stats=False)
                 if a.task == task and a.worktree_exists and a.name != f"{task}-combined"}
        if not found:
            raise AgentNotFound(f"task {task!r} has no candidates with a worktree (see `paneboard ls`)")
        return found

    def combine(self, task: str, take: dict[str, str], start_from: str | None = None,
                hunks: list[HunkChoice] | None = None) -> Agent:
        """Build `<task>-combined` from chosen files (and hunks) of the task's candidates: a stopped agent.

        Nothing is created (no branch, worktree or record) when a choice cannot be honoured.
        """
        from ..git import combine as combining
        from ..git import diff
        hunks = list(hunks or [])
        name = f"{task}-combined"
        found = self.candidates(task)
        named = [start_from] if start_from else []
        named += list(take.values()) + [n for h in hunks for n in (h.left, h.right)]
        if not named:
            raise PaneboardError("say what to take: --take PATH=CANDIDATE (and --from CANDIDATE for the rest)")
        resolve = lambda n: n if n in found else f"{task}-{n}" if f"{task}-{n}" in found else None
        missing = [n for n in named if resolve(n) is None]
        if missing:
            raise PaneboardError(f"{missing[0]!r} is not a candidate of task {task!r} "
                                 f"(candidates: {', '.join(sorted(found))})")
        if name in self.state.read()["agents"]:
            raise PaneboardError(f"an agent named {name!r} already exists: discard it first "
                                 f"(`paneboard discard {name}`) or merge it")
        first = found[resolve(named[0])]
        trees = {n: diff.snapshot_tree(Path(found[n].worktree)) for n in {resolve(x) for x in named}}
        fork = diff.merge_base(Path(first.worktree), first.base)
        plan = combining.Plan(start=trees[resolve(start_from)] if start_from else fork, trees=trees,
                              files={p: resolve(c) for p, c in take.items()},
                              hunks=[combining.HunkChoice(h.path, resolve(h.left), resolve(h.right), h.from_right)
                                     for h in hunks])
        tree = combining.build_tree(self.repo.root, plan)
        what = combine_summary(resolve(start_from) if start_from else first.base, plan)
        commit = combining.commit(self.repo.root, tree, fork, f"{name}: {what}\n\nPaneboard-Agent: {name}\n")
        return self._stopped_agent(name, first, commit, what)

    def _stopped_agent(self, name: str, like: Agent, commit: str, what: str) -> Agent:
        """Branch + worktree at `commit` and a state record like a spawned agent's, with no pane."""
        from ..git import worktrees
        slug = slugify(name)
        branch = f"{worktrees.BRANCH_PREFIX}{slug}"
        path = worktrees.worktree_root(self.repo, self.settings.worktree_root) / slug
        worktrees.add_worktree(self.repo, branch, path, commit)
        try:
            with self.state.edit() as data:
                if name in data["agents"]:
                    raise PaneboardError(f"an agent named {name!r} appeared meanwhile; nothing was created")
                source = data["agents"].get(like.name, {})
                now = time.time()
                data["agents"][name] = {
                    "task": like.task, "agent": source.get("agent", like.agent), "branch": branch,
                    "worktree": str(path), "base": like.base, "session": self.session, "pane": None, "port": None,
                    "prompt": source.get("prompt", ""), "scope": source.get("scope", []), "after": [],
                    "env": source.get("env", {}), "check": source.get("check"), "rules": source.get("rules", "generic"),
                    "started_at": now, "killed_at": now + 0.001, "combined": what,
                }
        except BaseException:
            worktrees.remove_new_worktree(self.repo, branch, path)
            raise
        self._record(name, "combine", what)
        return self.get(name, stats=False)


def combine_summary(rest: str, plan) -> str:
    """One line: where each chosen file and hunk came from, and the rest."""
    parts = [f"{path} from {who}" for path, who in plan.files.items()]
    parts += [f"{h.path}: {len(h.from_right)} hunk(s) from {h.right}" for h in plan.hunks]
    return "; ".join(parts + [f"the rest from {rest}"])
