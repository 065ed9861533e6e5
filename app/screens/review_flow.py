"""The main screen's ways to a decision on an agent's work: predicted conflicts, check, review,
compare, merge, discard.

Each decision that changes git asks first: a thread worker works out what will happen and posts
`ConfirmNeeded`; the answer runs the change in another worker, which posts what came of it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.worker import get_current_worker

from app.git import worktrees

from .agent_actions import failure
from .messages import ActionFinished, ConfirmNeeded, ConflictsPredicted, MergeDone

if TYPE_CHECKING:
    from app.fleet import Fleet
    from app.model import Agent
    from app.monitor import Monitor


class ReviewFlow:
    """Predicted conflicts, and the checks, reviews, best-of-N comparisons, merges and discards of the selected agent.

    Mixed into `MainScreen`, whose services, agents, selection and trigger log these use.
    """

    fleet: Fleet
    monitor: Monitor
    agents: dict[str, Agent]
    conflicts: ConflictsPredicted | None
    _predicted_for: tuple | None = None     # what the last prediction was made for

    # -- predictions, the check, the review -----------------------------------

    @work(thread=True, exclusive=True, group="conflicts", description="conflict prediction")  # no repr of every agent
    def predict_conflicts(self, agents: list[Agent], force: bool = False) -> None:
        """Predict every agent's merge into its base and every pair's, with git merge-tree (touches nothing)."""
        from app.git import merge as merging
        time.sleep(0.5)  # debounce: a burst of updates is one prediction
        if get_current_worker().is_cancelled:
            return
        live = {a.name: Path(a.worktree) for a in agents if a.worktree_exists and not a.merged and a.files_changed}
        try:
            base = self.fleet.settings.base or worktrees.resolve_base(self.fleet.repo, None)
            base_sha = worktrees.run_git(self.fleet.repo.root, "rev-parse", base).strip()
            key = (base_sha, tuple(sorted((a.name, a.files, a.added, a.removed, a.commits) for a in agents
                                          if a.name in live)))
            if key == self._predicted_for and not force:
                return
            predicted, paired = merging.predict_fleet(self.fleet.repo.root, base, live)
            vs_base = {n: p.conflicts for n, p in predicted.items()}
            pairs = {k: p.conflicts for k, p in paired.items()}
        except Exception as exc:  # noqa: BLE001 - told in the log; predicted again at the next update
            self.post_message(failure("conflict prediction", exc, self.fleet.repo.common_dir))
            return
        self._predicted_for = key
        # A predicted conflict with the base is a trigger like any other (log, toast, status.json).
        self.monitor.set_conflicts(vs_base)
        self.post_message(ConflictsPredicted(base, vs_base, pairs))

    def action_check(self) -> None:
        """Run the selected agent's check in the background."""
        agent = self._current()
        if agent is None:
            return
        self.trigger_log.write(Text(f"{time.strftime('%H:%M:%S')} {agent.name}: check started", style="dim"))
        self.run_check(agent.name)

    @work(thread=True, group="check")
    def run_check(self, name: str) -> None:
        """Run an agent's check command in its worktree and post the verdict."""
        try:
            result = self.fleet.check(name)
        except Exception as exc:  # noqa: BLE001 - any failure is a toast and a log line; the dashboard goes on
            self.post_message(failure(f"check {name}", exc, self.fleet.repo.common_dir))
            return
        verdict = "passed" if result.passed else "FAILED"
        self.post_message(ActionFinished(f"{name}: check {verdict} in {result.duration:.1f}s: {result.summary_line}"))
        self.monitor.refresh()

    def action_check_log(self) -> None:
        """Show the output of the selected agent's running check so far, or of its last check."""
        agent = self._current()
        record = agent and (agent.check_running or agent.last_check)
        if not record:
            return
        from .text import TextScreen
        path = Path(record.get("log", ""))
        try:
            text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else "(the log is gone)"
        except OSError as exc:
            self.post_message(failure(f"check log of {agent.name}", exc, path))
            return
        verdict = "running" if agent.check_running else ("passed" if record.get("passed") else "failed")
        self.app.push_screen(TextScreen(f"{agent.name}: {record.get('command', 'check')} — {verdict}", text))

    def action_review(self) -> None:
        """Review the selected agent's changes against its base."""
        agent = self._current()
        if agent is None or not agent.worktree_exists:
            return
        self.open_review(agent, f"{agent.name}: {agent.branch} vs {agent.base}")   # review_marks.py

    def action_conflicts(self) -> None:
        """Show the matrix of predicted conflicts, and predict again at once."""
        from .conflicts import ConflictsScreen
        c = self.conflicts
        self.app.push_screen(ConflictsScreen(c.base if c else "base", c.vs_base if c else {}, c.pairs if c else {}))
        self.predict_conflicts(list(self.agents.values()), force=True)

    # -- merge ----------------------------------------------------------------

    def action_merge(self) -> None:
        """Approve the selected agent: ask, then commit, check and merge it."""
        agent = self._current()
        if agent is not None:
            self.prepare_merge(agent.name)

    @work(thread=True, group="action")
    def prepare_merge(self, name: str) -> None:
        """Work out what approving would do, then ask (conflicts are refused before asking)."""
        try:
            preview = self.fleet.merge_preview(name)
        except Exception as exc:  # noqa: BLE001 - any failure is a toast and a log line; the dashboard goes on
            self.post_message(failure(f"merge {name}", exc, self.fleet.repo.common_dir))
            return
        agent, prediction = preview["agent"], preview["prediction"]
        if preview.get("nothing"):
            # Nothing to ask: merging would change nothing, so nothing is closed or removed either.
            self.notify(f"{name} adds nothing to {agent.base}; nothing was changed", title="nothing to merge",
                        markup=False)
            self.post_message(ActionFinished(f"merge {name}: nothing to merge (it adds nothing to {agent.base})"))
            return
        if not prediction.clean:
            self.post_message(ActionFinished(
                f"merge {name}", f"refused: {name} would conflict with {agent.base} in "
                                 f"{', '.join(prediction.conflicts[:5])}; resolve it in the agent's worktree first"))
            return
        steps = []
        if agent.dirty:
            steps.append(f"commit its uncommitted work on {agent.branch}")
        steps.append(f"run its check `{preview['check']}`" if preview["check"] else "no check configured")
        steps.append(f"{preview['strategy']} {agent.branch} into {agent.base} "
                     f"({agent.files_changed} files, +{agent.added}/-{agent.removed}, predicted clean)")
        if self.fleet.settings.close_on_merge:
            steps.append("close its tmux window")
        if self.fleet.settings.remove_on_merge:
            steps.append("remove its worktree (the branch stays)")
        question = f"Approve and merge [b]{escape(name)}[/b]?\n\n" + "\n".join(f" • {escape(s)}" for s in steps)
        warning = self._live_warning(name)
        if warning:
            question += f"\n\n[$warning]⚠ {escape(warning)}[/]"
        self.post_message(ConfirmNeeded(question, "Merge", lambda: self.do_merge(name, False)))

    def _live_warning(self, name: str) -> str:
        """What merging now would do to an agent that is working or waiting for an answer ("" if it is not)."""
        from app.model import Kind
        live = self.agents.get(name)
        if live is None or not live.pane_alive or live.status.kind not in (Kind.WORKING, Kind.NEEDS_INPUT):
            return ""
        doing = "is working" if live.status.kind == Kind.WORKING else "is waiting for an answer"
        why = " ".join(live.status.why.split())[:80]
        closes = " and closes its window" if self.fleet.settings.close_on_merge else ""
        return f"{name} {doing} right now ({why}): merging takes its work mid-turn{closes}."

    @work(thread=True, group="action")
    def do_merge(self, name: str, force: bool) -> None:
        """Merge an agent; a failing check asks again before merging anyway."""
        from app.errors import UnsafeOperation
        try:
            result = self.fleet.merge(name, force=force)
        except UnsafeOperation as exc:
            if "check" in str(exc) and not force:
                self.post_message(ConfirmNeeded(
                    f"[b]{escape(name)}[/b]: {escape(str(exc))}\n\nMerge anyway, with the check failing?", "Merge anyway",
                    lambda: self.do_merge(name, True)))
            else:
                self.post_message(ActionFinished(f"merge {name}", str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - any failure is a toast and a log line; the dashboard goes on
            self.post_message(failure(f"merge {name}", exc, self.fleet.repo.common_dir))
            return
        self.post_message(MergeDone(name, result))
        self.post_message(ActionFinished(f"merged {name} into {result.base}: {result.old[:8]} -> {result.new[:8]}"))
        self.monitor.refresh()

    def on_merge_done(self, message: MergeDone) -> None:
        """The merged agent's review closes; if it won among candidates, discarding the others is offered."""
        from .review import ReviewScreen
        winner = self.agents.get(message.name)
        if winner is None:
            return
        top = self.app.screen
        if isinstance(top, ReviewScreen) and top.worktree == Path(winner.worktree):
            top.dismiss(None)       # its worktree is merged (and maybe removed): nothing left to review
        others = [a for a in self.agents.values() if a.task == winner.task and a.name != winner.name
                  and a.name != a.task and a.worktree_exists and not a.merged]
        if winner.name == winner.task or not others:
            return                  # not a best-of-N candidate, or the last one standing
        running = [a.name for a in others if a.pane_alive]
        intro = (f"[b]{escape(winner.name)}[/b] won and is merged into {escape(winner.base)}. "
                 f"Discard the other candidates of [b]{escape(winner.task)}[/b]?"
                 + (f" ({escape(', '.join(running))} still running: stopped first.)" if running else ""))
        self.prepare_discard([a.name for a in others], intro)

    # -- discard --------------------------------------------------------------

    def action_discard(self) -> None:
        """Discard the selected agent's work (asks first; archived, so restorable)."""
        agent = self._current()
        if agent is not None:
            self.prepare_discard([agent.name])

    @work(thread=True, group="action")
    def prepare_discard(self, names: list[str], intro: str = "") -> None:
        """Count what each agent would lose, then ask (after `intro`, markup, if given)."""
        lines = []
        for name in names:
            try:
                files, commits = self.fleet.discard_preview(name)
            except Exception as exc:  # noqa: BLE001 - any failure is a toast and a log line; the dashboard goes on
                self.post_message(failure(f"discard {name}", exc, self.fleet.repo.common_dir))
                return
            lines.append(f" • [b]{escape(name)}[/b]: {files} changed file(s), {commits} commit(s)")
        question = ((f"{intro}\n\n" if intro else "") + f"Discard {len(names)} agent(s)?\n\n" + "\n".join(lines) +
                    "\n\nEach is archived first (refs/paneboard/archive/… and a .patch), then its window, "
                    "worktree and branch are removed. `paneboard restore NAME` brings it back.")
        self.post_message(ConfirmNeeded(question, "Discard", lambda: self.do_discard(names)))

    @work(thread=True, group="action")
    def do_discard(self, names: list[str]) -> None:
        """Archive, then remove, each agent."""
        for name in names:
            try:
                saved = self.fleet.discard(name)
            except Exception as exc:  # noqa: BLE001 - any failure is a toast and a log line; the dashboard goes on
                self.post_message(failure(f"discard {name}", exc, self.fleet.repo.common_dir))
                continue
            self.post_message(ActionFinished(f"discarded {name} (archived at {saved.ref})"))
        self.monitor.refresh()

    # -- compare (best-of-N) --------------------------------------------------

    def action_compare(self) -> None:
        """Compare the selected agent with the other candidates of its task (or every agent), then act on the choice."""
        agent = self._current()
        if agent is None:
            return
        from .candidates import CandidatesScreen
        same_task = [a for a in self.agents.values() if a.task == agent.task and a.worktree_exists and not a.merged]
        candidates = same_task if len(same_task) > 1 else \
            [a for a in self.agents.values() if a.worktree_exists and not a.merged]
        conflicts = self.conflicts.vs_base if self.conflicts else {}

        def chosen(choice: tuple[str, str] | None) -> None:
            if choice is None:
                return
            verb, name = choice
            if verb == "compare":
                self.open_compare(agent.name, name)
            elif verb == "base":
                self.select_agent(name)
                self.action_review()
            elif verb == "winner":
                # Review the winner first; M merges from there, and its merge offers to discard the others.
                self.select_agent(name)
                winner = self.agents[name]
                from .review import ReviewScreen
                self.app.push_screen(ReviewScreen(Path(winner.worktree), winner.base,
                                                  f"winner {name}: {winner.branch} vs {winner.base}  (M merges)"))

        self.app.push_screen(CandidatesScreen(agent, candidates, conflicts), chosen)

    @work(thread=True, group="action")
    def open_compare(self, a: str, b: str) -> None:
        """Find the commits that stand for two candidates' work, then show one against the other."""
        from app.git import merge as merging
        try:
            left, right = self.agents[a], self.agents[b]
            rev_a = merging.candidate_commit(Path(left.worktree))
            rev_b = merging.candidate_commit(Path(right.worktree))
        except KeyError as exc:
            self.post_message(ActionFinished(f"compare {a} and {b}", f"agent {exc} is gone"))
            return
        except Exception as exc:  # noqa: BLE001 - any failure is a toast and a log line; the dashboard goes on
            self.post_message(failure(f"compare {a} and {b}", exc, self.fleet.repo.common_dir))
            return
        self.app.call_from_thread(self._push_compare, rev_a, rev_b, a, b)

    def _push_compare(self, rev_a: str, rev_b: str, a: str, b: str) -> None:
        from .review import CompareScreen
        self.app.push_screen(CompareScreen(self.fleet.repo.root, rev_a, rev_b, a, b), self.combine_chosen)
