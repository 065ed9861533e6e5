"""The main screen: the agent table, the selected agent's live pane and details, the trigger log.

Its handlers own the agents' state; the App's monitor worker and its own workers feed it with
messages. Its keys (`KEYS`) are bound by the App rather than here, so that they also work, and
show in the footer, while a review or a comparison is on top (the winner's review says "M merges").
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, RichLog
from textual.worker import get_current_worker

from app import probe
from app.errors import PaneboardError
from app.model import Agent, Kind, Trigger
from widgets.agent_detail import AgentDetail
from widgets.agent_table import AgentTable
from widgets.pane_preview import PanePreview

from .agent_actions import AgentActions
from .confirm import ConfirmScreen
from .messages import (ActionFinished, AgentsRefreshed, ConfirmNeeded, ConflictsPredicted, ScreenCaptured,
                       TriggerRaised)
from .review_flow import ReviewFlow
from .review_marks import NewWorkFound, ReviewMarks

if TYPE_CHECKING:
    from app.fleet import Fleet
    from app.monitor import Monitor

PREVIEW_SECONDS = 0.25
TOAST_BURST = 3       # more triggers than this within TOAST_WINDOW seconds become one summary toast
TOAST_WINDOW = 10.0

KEYS = [
    Binding("enter", "attach", "Attach", id="agent.attach", tooltip="Attach to the agent's live pane (detach to come back)"),
    Binding("i", "reply", "Reply", id="agent.reply", tooltip="Type a line into the agent without attaching"),
    Binding("a", "approve", "Approve", id="agent.approve", tooltip="Answer the agent's question with yes"),
    Binding("r", "reject", "Reject", id="agent.reject", tooltip="Answer the agent's question with no"),
    Binding("space", "acknowledge", "Ack", id="trigger.acknowledge",
            tooltip="Acknowledge the agent's triggers (hidden until they clear and fire again)"),
    Binding("z", "snooze", "Snooze", show=False, id="trigger.snooze",
            tooltip="Snooze the agent's triggers for 10 minutes"),
    Binding("v", "review", "Review", id="agent.review", tooltip="Review the agent's changes side by side"),
    Binding("M", "merge", "Merge", id="agent.merge",
            tooltip="Approve: commit, check and merge into the base (asks first, shows what will happen)"),
    Binding("d", "discard", "Discard", id="agent.discard",
            tooltip="Archive the agent's work, then remove its worktree and branch (asks first; restorable)"),
    Binding("t", "check", "Check", id="agent.check", tooltip="Run the agent's check command in its worktree"),
    Binding("c", "compare", "Compare", id="agent.compare",
            tooltip="Compare this agent with the other candidates of its task, or with the base"),
    Binding("l", "check_log", "Check log", show=False, id="agent.check_log",
            tooltip="Show the output of the agent's last check"),
    Binding("o", "output_log", "Output log", show=False, id="agent.output_log",
            tooltip="Show the agent's recorded output (also after its pane is gone)"),
    Binding("L", "timeline", "Timeline", show=False, id="agent.timeline",
            tooltip="What happened to the agent and what was done to it, oldest first (live)"),
    Binding("X", "conflicts", "Conflicts", show=False, id="fleet.conflicts",
            tooltip="Matrix of predicted merge conflicts between agents and the base"),
    Binding("slash", "filter", "Filter", show=False, id="fleet.filter",
            tooltip="Show only agents matching words (name, status, trigger, command); esc clears"),
    Binding("s", "sort", "Sort", show=False, id="fleet.sort",
            tooltip="Order the table: as started, what needs you first, by name"),
    Binding("escape", "clear_filter", "Clear filter", show=False, id="fleet.clear_filter",
            tooltip="Clear the filter and show every agent"),
    Binding("n", "spawn", "New", id="fleet.spawn", tooltip="Start a new agent"),
    Binding("x", "kill", "Stop", id="agent.kill", tooltip="Stop the agent (asks first; its work is kept)"),
    Binding("R", "restart", "Restart", id="agent.restart",
            tooltip="Start the stopped agent again in its worktree, resuming its conversation"),
]
"""The main screen's keys, in the order the footer and the README show them."""

ACTIONS = frozenset(b.action for b in KEYS)
"""The actions of `KEYS`: the App runs them on the main screen, whichever screen is on top."""


class MainScreen(AgentActions, ReviewFlow, ReviewMarks, Screen):
    """paneboard's main screen: agents, the selected agent's live pane, its details."""

    def __init__(self, fleet: Fleet, monitor: Monitor) -> None:
        super().__init__()
        self.fleet = fleet
        self.monitor = monitor
        self.agents: dict[str, Agent] = {}
        self.selected: str | None = None
        self.conflicts: ConflictsPredicted | None = None
        self._keys_enabled: tuple[bool, ...] | None = None
        self._recent_news: list[tuple[float, Trigger]] = []
        self._first_update = True
        self._preview_title = "Pane"

    def compose(self) -> ComposeResult:
        """The header, the (hidden) filter box, the agent table, and below it the pane, details and log."""
        yield Header()
        yield Input(placeholder="filter: words in name, status, trigger or command (enter keeps it, esc clears)",
                    id="filter")
        table = AgentTable(id="agents")
        table.border_title = "Agents"
        yield table
        with Horizontal(id="lower"):
            preview = PanePreview(id="preview")
            preview.border_title = "Pane"
            yield preview
            with Vertical(id="side"):
                detail = AgentDetail(id="detail")
                detail.border_title = "Why"
                yield detail
                log = RichLog(id="trigger-log", markup=False, wrap=True, max_lines=500, min_width=20)
                log.border_title = "Triggers"
                yield log
        yield Footer()

    def on_mount(self) -> None:
        """Keep the widgets at hand (updates land here while another screen is on top) and focus the table."""
        self.table = self.query_one(AgentTable)
        self.preview = self.query_one(PanePreview)
        self.detail = self.query_one(AgentDetail)
        self.trigger_log = self.query_one("#trigger-log", RichLog)
        self.table.focus()
        self.detail.show(None)
        self.watch_preview()
        self.set_interval(5.0, self.table.tick)
        # The base can move under us (a commit in the main checkout): re-check predictions every few
        # seconds (one `git rev-parse` when nothing moved).
        self.set_interval(5.0, lambda: self.predict_conflicts(list(self.agents.values()), force=False))

    # -- workers: they only post messages -----------------------------------

    @work(thread=True, exclusive=True, group="preview")
    def watch_preview(self) -> None:
        """Capture the selected agent's pane when it is selected and whenever it printed since."""
        worker = get_current_worker()
        shown: tuple[str, str, float | None] | None = None
        while not worker.is_cancelled:
            agent = self.agents.get(self.selected or "")
            if agent is not None and agent.pane:
                seen = (agent.name, agent.pane, self.monitor.last_output_at(agent.name))
                if seen != shown:
                    shown = seen
                    self._post_capture(agent)
            time.sleep(PREVIEW_SECONDS)

    @work(thread=True, exclusive=True, group="capture-now")
    def capture_now(self) -> None:
        """Show a newly selected agent's pane at once rather than at the next preview poll."""
        agent = self.agents.get(self.selected or "")
        if agent is not None and agent.pane:
            self._post_capture(agent)

    def _post_capture(self, agent) -> None:
        """Capture the agent's pane on the server it lives on (a remote one over ssh) and post it (in a worker)."""
        tmux = self.fleet.tmux_on(agent.socket, agent.host) if agent.host else self.fleet.tmux
        try:
            text = tmux.capture(agent.pane, ansi=True)
        except PaneboardError:      # its host went away: the last screen stays, the table says why
            return
        self.post_message(ScreenCaptured(agent.name, text))

    # -- handlers own the state ---------------------------------------------

    def on_agents_refreshed(self, message: AgentsRefreshed) -> None:
        """Show the new picture of the agents; log every trigger, announce only the news."""
        self.agents = {a.name: a for a in message.agents}
        log = self.trigger_log
        stamp = time.strftime("%H:%M:%S")
        # What was already true before this dashboard started (the first update, and whatever the
        # first diffs of the worktrees reveal) is logged but not news: no toast, no bell.
        news = [] if self._first_update else message.raised
        if self._first_update:
            self._say_stopped(message.agents)
        for t in message.found + message.raised:
            style = self.app.theme_variables.get("trigger-loud" if t.loud else "trigger-quiet", "")
            label = t.kind.value.replace("_", " ")
            log.write(Text.assemble((f"{stamp} ", "dim"), (f"{t.agent}: {label}", style), f" — {t.what}"))
            self.post_message(TriggerRaised(t))
        self._announce(news)
        for t in message.cleared:
            log.write(Text.assemble((f"{stamp} ", "dim"), f"{t.agent}: {t.kind.value.replace('_', ' ')} cleared"))
        for note in message.notes:
            log.write(Text.assemble((f"{stamp} ", "dim"), note))
            self.notify(note, title="paneboard", severity="information", timeout=6, markup=False)
        if news and self.fleet.settings.bell:
            self.app.bell()
        self._first_update = False
        self.predict_conflicts(message.agents)
        self.find_new_work(message.agents)
        self._refresh_keys()
        self.table.set_agents(message.agents)
        if self.table.filter_text:
            self._show_view()     # "3 of 12 match"
        self._show_selected()

    def _say_stopped(self, agents: list[Agent]) -> None:
        """Once, at start: agents whose window is gone (a reboot, `tmux kill-server`) and how to bring them back."""
        stopped = [a for a in agents if a.pane is None and not a.merged and a.status.kind != Kind.QUEUED]
        if stopped:
            n = len(stopped)
            self.notify(f"{n} agent{'s are' if n != 1 else ' is'} stopped: press R on one, or run "
                        f"`paneboard restart --all`", title="stopped agents", severity="warning", timeout=12,
                        markup=False)

    def _announce(self, news: list[Trigger]) -> None:
        """One toast per trigger; a burst (more than TOAST_BURST within TOAST_WINDOW s) becomes one summary."""
        if not news:
            return
        now = time.monotonic()
        self._recent_news = [(at, t) for at, t in self._recent_news if now - at < TOAST_WINDOW]
        self._recent_news += [(now, t) for t in news]
        if len(self._recent_news) <= TOAST_BURST:
            for t in news:
                self.notify(t.what, title=f"{t.agent}: {t.kind.value.replace('_', ' ')}",
                            severity="error" if t.loud else "warning", timeout=6, markup=False)
            return
        burst = [t for _, t in self._recent_news]
        self.app.clear_notifications()
        lines = [f"{t.agent}: {t.kind.value.replace('_', ' ')}" for t in burst[-8:]]
        if len(burst) > 8:
            lines.insert(0, f"… and {len(burst) - 8} more")
        self.notify("\n".join(lines), title=f"{len(burst)} triggers in {TOAST_WINDOW:.0f} s (see the trigger log)",
                    severity="error" if any(t.loud for t in burst) else "warning", timeout=8, markup=False)

    def on_conflicts_predicted(self, message: ConflictsPredicted) -> None:
        """Mark predicted conflicts in the table and the details (the monitor raises them as `conflict` triggers)."""
        self.conflicts = message
        probe.mark("conflicts")
        self.table.set_conflicts(message.vs_base)
        self._show_selected()

    def on_new_work_found(self, message: NewWorkFound) -> None:
        """Mark in the table the agents that changed since their last review."""
        self.table.set_new_work(message.names)

    def on_confirm_needed(self, message: ConfirmNeeded) -> None:
        """Ask the worker's question; run its follow-up on yes."""
        def answered(yes: bool | None) -> None:
            if yes:
                message.on_yes()
        self.app.push_screen(ConfirmScreen(message.question, message.label), answered)

    _STATEFUL_ACTIONS = ("attach", "reply", "approve", "reject", "kill", "merge", "discard", "check", "compare",
                         "check_log", "output_log", "acknowledge", "snooze", "review", "restart")

    def _refresh_keys(self) -> None:
        # Which keys apply depends on the selected agent's state; an update can land while quitting.
        # Refreshing bindings recomposes the footer (a full layout), so do it only when the answer changed.
        # The App's, not this screen's: the keys also show in the footer of a review on top.
        if not (self.app.is_running and self.app.screen_stack):
            return
        enabled = tuple(bool(self.check_action(a, ())) for a in self._STATEFUL_ACTIONS)
        if enabled != self._keys_enabled:
            self._keys_enabled = enabled
            self.app.refresh_bindings()

    def on_agent_table_agent_selected(self, message: AgentTable.AgentSelected) -> None:
        """The selected agent's keys, pane and details follow the table's cursor."""
        self.selected = message.name
        self._refresh_keys()
        self.capture_now()
        self._show_selected()

    async def on_agent_table_chosen(self, message: AgentTable.Chosen) -> None:
        """Choosing a row means "attach to it"."""
        # The table owns `enter` while focused; the App's run_action says whether attaching is allowed.
        message.stop()
        await self.app.run_action("attach")

    def on_screen_captured(self, message: ScreenCaptured) -> None:
        """Show the captured pane if its agent is still the selected one."""
        if message.name == self.selected:
            self.preview.screen_text = message.text

    def on_action_finished(self, message: ActionFinished) -> None:
        """Say how an action ended: an error as a toast and in the log, a success in the log."""
        if message.error:
            self.notify(message.error, title=message.what, severity="error", timeout=8, markup=False)
            # Logged too: a toast goes away (a burst of triggers replaces them), the log stays.
            self.trigger_log.write(Text.assemble((f"{time.strftime('%H:%M:%S')} ", "dim"),
                                                 (f"{message.what}: ", self.app.theme_variables.get("error", "")),
                                                 message.error))
        else:
            self.trigger_log.write(Text(f"{time.strftime('%H:%M:%S')} {message.what}", style="dim"))

    def _show_selected(self) -> None:
        agent = self.agents.get(self.selected or "")
        self.detail.show(agent, self._conflicts_of(agent.name) if agent else [])
        preview = self.preview
        title = f"Pane {agent.pane} · {agent.name}" if agent and agent.pane else "Pane"
        if title != self._preview_title:
            # Set only when it changed: a title set anew repaints the whole pane, on every update.
            # Content, not a str: a str title is read as markup, and agent names may hold brackets.
            self._preview_title = title
            preview.border_title = Content(title) if agent and agent.pane else "Pane"
        if agent is None or agent.pane is None:
            preview.screen_text = ""

    def _conflicts_of(self, name: str) -> list[tuple[str, tuple[str, ...]]]:
        """Whom this agent's work is predicted to conflict with (the base, other agents) and in which files."""
        c = self.conflicts
        if c is None:
            return []
        out = [(c.base, c.vs_base[name])] if c.vs_base.get(name) else []
        for (a, b), files in sorted(c.pairs.items()):
            if files and name in (a, b):
                out.append((b if a == name else a, files))
        return out

    # -- the selected agent and the keys that apply to it --------------------

    def select_agent(self, name: str) -> None:
        """Move the table cursor to an agent (used by the command palette)."""
        table = self.table
        try:
            table.move_cursor(table.get_row_index(name))
        except Exception:  # noqa: BLE001 - the agent vanished meanwhile
            return
        self.selected = name
        self._show_selected()

    def _current(self) -> Agent | None:
        return self.agents.get(self.selected or "")

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """Which keys make sense for the selected agent (and for the table, when it is on screen)."""
        agent = self._current()
        if action in ("attach",):
            return agent is not None and agent.pane is not None
        if action in ("reply", "approve", "reject"):
            return agent is not None and agent.pane_alive
        if action == "kill":
            return agent is not None and (agent.pane is not None or agent.status.kind == Kind.QUEUED)
        if action in ("merge", "discard", "check", "compare"):
            return agent is not None and agent.worktree_exists and not agent.merged
        if action == "restart":
            return agent is not None and not agent.pane_alive and not agent.merged \
                and agent.status.kind != Kind.QUEUED and agent.worktree_exists
        if action == "check_log":
            return agent is not None and bool(agent.last_check or agent.check_running)
        if action == "output_log":
            return agent is not None
        if action in ("filter", "sort", "clear_filter") and len(self.app.screen_stack) > 1:
            return False     # the table they act on is not on screen
        if action == "clear_filter":
            return self.query_one("#filter", Input).has_class("-shown") or bool(self.table.filter_text)
        if action in ("acknowledge", "snooze"):
            return agent is not None and bool(agent.triggers)
        if action == "review":
            return agent is not None and agent.worktree_exists
        return True

    # -- filter and order -----------------------------------------------------

    def action_filter(self) -> None:
        """Show the filter box and type into it."""
        box = self.query_one("#filter", Input)
        box.add_class("-shown")
        box.focus()

    def action_clear_filter(self) -> None:
        """Clear and hide the filter: every agent shows again."""
        box = self.query_one("#filter", Input)
        box.value = ""
        box.remove_class("-shown")
        self.table.set_view(filter_text="")
        self.table.focus()
        self._show_view()

    def action_sort(self) -> None:
        """Order the table the next way: as started, what needs you first, by name."""
        from widgets.agent_table import ORDERS
        self.table.set_view(order_by=ORDERS[(ORDERS.index(self.table.order_by) + 1) % len(ORDERS)])
        self._show_view()

    def on_input_changed(self, message: Input.Changed) -> None:
        """The table follows the filter as it is typed."""
        if message.input.id == "filter":
            self.table.set_view(filter_text=message.value)
            self._show_view()

    def on_input_submitted(self, message: Input.Submitted) -> None:
        """Enter keeps the filter and goes back to the table (an empty one is cleared)."""
        if message.input.id == "filter":
            if not message.value.strip():
                self.action_clear_filter()
            else:
                self.table.focus()

    def _show_view(self) -> None:
        """The table's title says when it shows less than everything, or in another order."""
        table = self.table
        parts = []
        if table.filter_text.strip():
            parts.append(f"{table.row_count} of {table.total} match “{table.filter_text.strip()}”")
        if table.order_by != "fleet":
            parts.append("what needs you first" if table.order_by == "attention" else "by name")
        table.border_title = Content("Agents" + (" · " + " · ".join(parts) if parts else ""))
