"""The main screen's reviews that talk back: a review linked to its agent (comments, since the last
review), what it showed recorded as reviewed, and which agents have new work since their last review."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from textual import work
from textual.message import Message
from textual.worker import get_current_worker

from app.errors import PaneboardError
from app.model import Kind

from .messages import ActionFinished

if TYPE_CHECKING:
    from app.fleet import Fleet
    from app.model import Agent
    from app.monitor import Monitor


# A burst of updates delays the look for new work by at most this long (a maximum wait, not a restartable timer).
NEW_WORK_MAX_WAIT = 2.0
_NEW_WORK_LOCK = threading.Lock()


class NewWorkFound(Message, bubble=False):
    """Which agents changed since the reviewer last saw them."""

    def __init__(self, names: set[str]) -> None:
        super().__init__()
        self.names = names


class ReviewMarks:
    """Mixed into `MainScreen`: opening linked reviews, recording them, and the table's "new" marks."""

    fleet: Fleet
    monitor: Monitor
    agents: dict[str, Agent]
    _new_work_keys: dict[str, tuple] | None = None
    _new_work: set[str] | None = None
    # The newest ask for a look: (agents, agents to ask again anyway, due by debounce, first ask not yet served).
    _new_work_ask: tuple | None = None
    _new_work_looking = False

    def open_review(self, agent: Agent, title: str, then: Callable[[str | None], object] | None = None) -> None:
        """Review an agent, linked to it: comments reach it, and closing records what was shown as reviewed."""
        from .review import AgentLink, ReviewScreen
        name = agent.name
        link = AgentLink(
            name=name, drafts=self.fleet.drafts(name),
            send=lambda comments: self.fleet.send_comments(name, comments),
            busy=lambda: "is working" if name in self.agents and self.agents[name].status.kind == Kind.WORKING
            else None,
            reviewed_tree=lambda: self.fleet.reviewed_tree(name))

        def closed(tree: str | None) -> None:
            if tree and not getattr(self.app, "read_only", False):   # a read-only look records nothing
                self.record_reviewed(name, tree)
            if then is not None:
                then(tree)

        self.app.push_screen(ReviewScreen(Path(agent.worktree), agent.base, title, link=link), closed)

    def combine_chosen(self, choice: object) -> None:
        """The comparison closed with choices to combine: ask, then build `<task>-combined`."""
        from .review import CombineChoice
        if not isinstance(choice, CombineChoice):
            return
        left = self.agents.get(choice.left)
        if left is None:
            return
        from rich.markup import escape
        from .confirm import ConfirmScreen
        hunks = sum(len(h) for h in choice.hunks.values())
        question = (f"Build [b]{escape(left.task)}-combined[/b]?\n\n"
                    f" • from {escape(choice.right)}: {len(choice.files)} file(s) and {hunks} hunk(s)\n"
                    f" • everything else from {escape(choice.left)}\n\n"
                    "A new branch and worktree, a stopped agent to review, check and merge; "
                    "no candidate's worktree is touched.")
        self.app.push_screen(ConfirmScreen(question, "Combine"), lambda yes: yes and self.do_combine(left.task, choice))

    @work(thread=True, group="action")
    def do_combine(self, task: str, choice) -> None:
        """Build the combination and say how it went."""
        from app.git.combine import HunkChoice
        try:
            agent = self.fleet.combine(task, {path: choice.right for path in choice.files}, start_from=choice.left,
                                       hunks=[HunkChoice(p, choice.left, choice.right, h)
                                              for p, h in choice.hunks.items()])
        except PaneboardError as exc:
            self.post_message(ActionFinished(f"combine {task}", str(exc)))
            return
        self.post_message(ActionFinished(f"created {agent.name} (stopped) on {agent.branch}: review it with v"))
        self.monitor.refresh()

    def action_timeline(self) -> None:
        """Show the selected agent's timeline, live."""
        agent = self._current()
        if agent is not None:
            from .timeline import TimelineScreen
            self.app.push_screen(TimelineScreen(self.fleet.timeline, agent.name))

    @work(thread=True, group="reviewed")
    def record_reviewed(self, name: str, tree: str) -> None:
        """Remember what the review showed of this agent; its "new" mark goes."""
        try:
            self.fleet.mark_reviewed(name, tree)
        except PaneboardError as exc:
            self.post_message(ActionFinished(f"record the review of {name}", str(exc)))
            return
        self.find_new_work(list(self.agents.values()), wait=0.0, force=frozenset({name}))

    def find_new_work(self, agents: list[Agent], wait: float = 0.5, force: frozenset[str] = frozenset()) -> None:
        """Look for new work `wait` after the last ask, but never later than NEW_WORK_MAX_WAIT after the first one
        not yet served: a steady stream of updates delays the look, it never starves it (any thread)."""
        now = time.monotonic()
        with _NEW_WORK_LOCK:
            ask = self._new_work_ask
            first = now if ask is None else ask[3]
            self._new_work_ask = (agents, (ask[1] if ask else frozenset()) | force, now + wait, first)
            if self._new_work_looking:
                return          # the running look takes this ask when it is due
            self._new_work_looking = True
        self._look_for_new_work()

    @work(thread=True, group="new-work", description="new work since review")  # no repr of every agent
    def _look_for_new_work(self) -> None:
        """Serve the asks one look at a time, each when it is due; only agents whose stats moved are asked of git."""
        worker = get_current_worker()
        while not worker.is_cancelled:
            with _NEW_WORK_LOCK:
                ask = self._new_work_ask
                if ask is None:
                    self._new_work_looking = False
                    return
                wait = min(ask[2], ask[3] + NEW_WORK_MAX_WAIT) - time.monotonic()
                if wait <= 0:
                    self._new_work_ask = None
            if wait > 0:
                time.sleep(min(wait, 0.1))
                continue
            self._look(ask[0], ask[1], worker)
        with _NEW_WORK_LOCK:
            self._new_work_looking = False

    def _look(self, agents: list[Agent], force: frozenset[str], worker) -> None:
        from app.git.reviewed import has_new_work, reviewed_refs
        keys = self._new_work_keys if self._new_work_keys is not None else {}
        found = set(self._new_work or ())
        try:    # an agent never reviewed has no new work since: no git for it
            reviewed = reviewed_refs(self.fleet.repo.root)
        except (PaneboardError, OSError):
            reviewed = None
        for a in agents:
            if worker.is_cancelled:
                return
            if not a.worktree_exists or a.merged:
                found.discard(a.name)
                continue
            key = (a.files, a.added, a.removed, a.commits, a.dirty, a.worktree)
            if keys.get(a.name) == key and a.name not in force:
                continue
            if reviewed is not None and self.fleet.reviewed_ref(a) not in reviewed:
                keys[a.name] = key
                found.discard(a.name)
                continue
            try:
                new = has_new_work(Path(a.worktree), self.fleet.reviewed_ref(a))
            except (PaneboardError, OSError):
                continue
            keys[a.name] = key
            (found.add if new else found.discard)(a.name)
        found &= {a.name for a in agents}
        self._new_work_keys, self._new_work = keys, found
        self.post_message(NewWorkFound(set(found)))
