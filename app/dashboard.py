"""The Textual app: screens, bindings, and workers that talk to the fleet and post messages."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from textual import work
from textual.app import App, ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from rich.markup import escape
from rich.text import Text
from textual.widgets import Footer, Header, Input, RichLog

import themes

# libtmux reads sys.stdout.encoding when first imported; Textual replaces sys.stdout while it
# runs, so load it now, before the app starts (Tmux.server imports it lazily for `ls`'s sake).
import libtmux  # noqa: E402,F401
from widgets.agent_detail import AgentDetail
from widgets.agent_table import AgentTable
from widgets.pane_preview import PanePreview

from . import presets, worktrees
from .config import Task
from .errors import PaneboardError
from .fleet import Fleet
from .model import Agent, Kind, Trigger
from .monitor import Monitor
from .screens.commands import AgentCommands
from .screens.confirm import ConfirmScreen
from .screens.help import HelpScreen
from .screens.reply import Reply, ReplyScreen
from .screens.spawn import SpawnRequest, SpawnScreen

REFRESH_SECONDS = 1.0
PREVIEW_SECONDS = 0.25
TOAST_BURST = 3       # more triggers than this within TOAST_WINDOW seconds become one summary toast
TOAST_WINDOW = 10.0
SNOOZE_SECONDS = 600


class AgentsRefreshed(Message):
    """A new picture of every agent arrived from the monitor, with the triggers raised and cleared."""

    def __init__(self, agents: list[Agent], raised: list[Trigger] | None = None,
                 cleared: list[Trigger] | None = None, found: list[Trigger] | None = None) -> None:
        super().__init__()
        self.agents = agents
        self.raised = raised or []
        self.cleared = cleared or []
        self.found = found or []      # already true when the dashboard started: logged, not announced


class ScreenCaptured(Message):
    """The selected agent's pane was captured."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__()
        self.name = name
        self.text = text


class ConflictsPredicted(Message):
    """Merge predictions: per agent against the base, and per pair of agents (conflicting files; () is clean)."""

    def __init__(self, base: str, vs_base: dict[str, tuple[str, ...]],
                 pairs: dict[tuple[str, str], tuple[str, ...]]) -> None:
        super().__init__()
        self.base = base
        self.vs_base = vs_base
        self.pairs = pairs


class ConfirmNeeded(Message):
    """A worker prepared a question for the user (what an action will do) and what to run on yes."""

    def __init__(self, question: str, label: str, on_yes) -> None:
        super().__init__()
        self.question = question
        self.label = label
        self.on_yes = on_yes


class TriggerRaised(Message):
    """A trigger fired (tests and scripts can watch for it)."""

    def __init__(self, trigger: Trigger) -> None:
        super().__init__()
        self.trigger = trigger


class MergeDone(Message):
    """An agent was merged into its base."""

    def __init__(self, name: str, result) -> None:
        super().__init__()
        self.name = name
        self.result = result


class ActionFinished(Message):
    """A fleet action ended; `error` is set when it failed."""

    def __init__(self, what: str, error: str | None = None) -> None:
        super().__init__()
        self.what = what
        self.error = error


class Dashboard(App):
    """paneboard's main screen: agents, the selected agent's live pane, its details."""

    TITLE = "paneboard"
    CSS_PATH = str(themes.css_path())
    COMMANDS = App.COMMANDS | {AgentCommands}

    BINDINGS = [
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
        Binding("question_mark", "help", "Help", id="app.help", tooltip="Show every key"),
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit the dashboard (agents keep running)"),
    ]

    def __init__(self, fleet: Fleet, title: str | None = None, refresh_seconds: float = REFRESH_SECONDS,
                 monitor: Monitor | None = None):
        super().__init__()
        self.fleet = fleet
        self.monitor = monitor or Monitor(fleet, rediscover_every=max(refresh_seconds * 5, 2.0))
        self.refresh_seconds = refresh_seconds
        self._keys_enabled: tuple[bool, ...] | None = None
        self._queued_key: tuple | None = None
        self._queued_agents: list[Agent] = []
        self._live_agents: list[Agent] = []
        self._recent_news: list[tuple[float, Trigger]] = []
        self.agents: dict[str, Agent] = {}
        self.selected: str | None = None
        self.conflicts: ConflictsPredicted | None = None
        self._first_update = True
        self._predicted_for: tuple | None = None
        if title:
            self.title = title
        self.sub_title = f"{fleet.repo.root}  ·  tmux {fleet.tmux.socket_name or 'default'}:{fleet.session}"
        for theme in (*themes.BUILTIN, *themes.user_themes()):
            self.register_theme(theme)
        self.theme = fleet.settings.theme if fleet.settings.theme in self.available_themes else themes.DARK.name

    def compose(self) -> ComposeResult:
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
        # The main screen's widgets, kept so updates still land while another screen is on top.
        self.table = self.query_one(AgentTable)
        self.preview = self.query_one(PanePreview)
        self.detail = self.query_one(AgentDetail)
        self.trigger_log = self.query_one("#trigger-log", RichLog)
        self.table.focus()
        self.detail.show(None)
        self.run_monitor()
        self.refresh_agents()
        self.watch_preview()
        self.set_interval(5.0, self.table.tick)
        # The base can move under us (a commit in the main checkout): re-check predictions every few
        # seconds (one `git rev-parse` when nothing moved).
        self.set_interval(5.0, lambda: self.predict_conflicts(list(self.agents.values()), force=False))

    # -- workers: fleet calls run in threads and only post messages -----------

    @work(exclusive=True, group="monitor")
    async def run_monitor(self) -> None:
        """The monitor runs on the app's event loop: it only awaits events and hands git work to threads."""
        await self.monitor.run()

    @work(exclusive=True, group="refresh")
    async def refresh_agents(self) -> None:
        """Post every coalesced update from the monitor."""
        async for update in self.monitor.updates():
            self._live_agents = update.agents
            self.post_message(AgentsRefreshed(update.agents + self._queued(), update.raised, update.cleared,
                                              update.found))

    def _queued(self) -> list[Agent]:
        """Queued tasks, re-read only when the state file changed (a stat per update, no git or tmux)."""
        try:
            st = self.fleet.state.path.stat()
            key: tuple | None = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            key = None
        if key != self._queued_key:
            self._queued_key = key
            self._queued_agents = self.fleet.queued()
        return self._queued_agents

    @work(thread=True, exclusive=True, group="preview")
    def watch_preview(self) -> None:
        """Capture the selected agent's pane when it is selected and whenever it printed since."""
        from textual.worker import get_current_worker
        worker = get_current_worker()
        shown: tuple[str, str, float | None] | None = None
        while not worker.is_cancelled:
            agent = self.agents.get(self.selected or "")
            if agent is not None and agent.pane:
                seen = (agent.name, agent.pane, self.monitor.last_output_at(agent.name))
                if seen != shown:
                    shown = seen
                    self.post_message(ScreenCaptured(agent.name, self.fleet.tmux.capture(agent.pane, ansi=True)))
            time.sleep(PREVIEW_SECONDS)

    @work(thread=True, exclusive=True, group="conflicts")
    def predict_conflicts(self, agents: list[Agent], force: bool = False) -> None:
        """Predict every agent's merge into its base and every pair's, with git merge-tree (touches nothing)."""
        from textual.worker import get_current_worker
        from . import merge as merging
        from .errors import PaneboardError as _Err
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
        except (_Err, OSError) as exc:
            self.post_message(ActionFinished("conflict prediction", str(exc)))
            return
        self._predicted_for = key
        self.post_message(ConflictsPredicted(base, vs_base, pairs))

    @work(thread=True, exclusive=True, group="capture-now")
    def capture_now(self) -> None:
        """Show a newly selected agent's pane at once rather than at the next preview poll."""
        agent = self.agents.get(self.selected or "")
        if agent is not None and agent.pane:
            self.post_message(ScreenCaptured(agent.name, self.fleet.tmux.capture(agent.pane, ansi=True)))

    @work(thread=True, group="action")
    def fleet_action(self, what: str, fn, *args) -> None:
        try:
            fn(*args)
        except PaneboardError as exc:
            self.post_message(ActionFinished(what, str(exc)))
        else:
            self.post_message(ActionFinished(what))
        self.monitor.refresh()

    # -- handlers own the state ---------------------------------------------

    def on_agents_refreshed(self, message: AgentsRefreshed) -> None:
        self.agents = {a.name: a for a in message.agents}
        log = self.trigger_log
        stamp = time.strftime("%H:%M:%S")
        # What was already true before this dashboard started (the first update, and whatever the
        # first diffs of the worktrees reveal) is logged but not news: no toast, no bell.
        news = [] if self._first_update else message.raised
        for t in message.found + message.raised:
            style = self.theme_variables.get("trigger-loud" if t.loud else "trigger-quiet", "")
            label = t.kind.value.replace("_", " ")
            log.write(Text.assemble((f"{stamp} ", "dim"), (f"{t.agent}: {label}", style), f" — {t.what}"))
            self.post_message(TriggerRaised(t))
        self._announce(news)
        for t in message.cleared:
            log.write(Text.assemble((f"{stamp} ", "dim"), f"{t.agent}: {t.kind.value.replace('_', ' ')} cleared"))
        if news and self.fleet.settings.bell:
            self.bell()
        self._first_update = False
        self.predict_conflicts(message.agents)
        self._refresh_keys()
        self.table.set_agents(message.agents)
        if self.table.filter_text:
            self._show_view()     # "3 of 12 match"
        self._show_selected()
        counts: dict[str, int] = {}
        for a in message.agents:
            kind = "merged" if a.merged else a.status.kind.value
            counts[kind] = counts.get(kind, 0) + 1
        summary = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(counts.items()))
        self.title = f"{self.fleet.repo.name}: {len(message.agents)} agents" + (f" ({summary})" if summary else "")

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
        self.clear_notifications()
        lines = [f"{t.agent}: {t.kind.value.replace('_', ' ')}" for t in burst[-8:]]
        if len(burst) > 8:
            lines.insert(0, f"… and {len(burst) - 8} more")
        self.notify("\n".join(lines), title=f"{len(burst)} triggers in {TOAST_WINDOW:.0f} s (see the trigger log)",
                    severity="error" if any(t.loud for t in burst) else "warning", timeout=8, markup=False)

    def on_conflicts_predicted(self, message: ConflictsPredicted) -> None:
        before = self.conflicts.vs_base if self.conflicts else {}
        self.conflicts = message
        self.table.set_conflicts(message.vs_base)
        self._show_selected()
        for name, files in message.vs_base.items():
            if files and not before.get(name):
                self.trigger_log.write(Text.assemble(
                    (f"{time.strftime('%H:%M:%S')} ", "dim"),
                    (f"{name} conflict", self.theme_variables.get("conflict", "")),
                    f": would conflict with {message.base} in {', '.join(files[:3])}"))

    def on_confirm_needed(self, message: ConfirmNeeded) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                message.on_yes()
        self.push_screen(ConfirmScreen(message.question, message.label), answered)

    _STATEFUL_ACTIONS = ("attach", "reply", "approve", "reject", "kill", "merge", "discard", "check", "compare",
                         "check_log", "output_log", "acknowledge", "snooze", "review")

    def _refresh_keys(self) -> None:
        # Which keys apply depends on the selected agent's state; an update can land while quitting.
        # Refreshing bindings recomposes the footer (a full layout), so do it only when the answer changed.
        if not (self.is_running and self.screen_stack):
            return
        enabled = tuple(bool(self.check_action(a, ())) for a in self._STATEFUL_ACTIONS)
        if enabled != self._keys_enabled:
            self._keys_enabled = enabled
            self.refresh_bindings()

    def on_agent_table_agent_selected(self, message: AgentTable.AgentSelected) -> None:
        self.selected = message.name
        self._refresh_keys()
        self.capture_now()
        self._show_selected()

    def on_agent_table_chosen(self, message: AgentTable.Chosen) -> None:
        # The table owns `enter` while focused; choosing a row means "attach to it".
        message.stop()
        self.action_attach()

    def on_screen_captured(self, message: ScreenCaptured) -> None:
        if message.name == self.selected:
            self.preview.screen_text = message.text

    def on_action_finished(self, message: ActionFinished) -> None:
        queued = self._queued_agents
        if self._queued() is not queued:   # the action queued, started or dropped a task: show it now
            self.post_message(AgentsRefreshed(self._live_agents + self._queued_agents, [], []))
        if message.error:
            self.notify(message.error, title=message.what, severity="error", timeout=8, markup=False)
            # Logged too: a toast goes away (a burst of triggers replaces them), the log stays.
            self.trigger_log.write(Text.assemble((f"{time.strftime('%H:%M:%S')} ", "dim"),
                                                 (f"{message.what}: ", self.theme_variables.get("error", "")),
                                                 message.error))
        else:
            self.trigger_log.write(Text(f"{time.strftime('%H:%M:%S')} {message.what}", style="dim"))

    def _show_selected(self) -> None:
        agent = self.agents.get(self.selected or "")
        self.detail.show(agent, self._conflicts_of(agent.name) if agent else [])
        preview = self.preview
        # Content, not a str: a str title is read as markup, and agent names may hold brackets.
        preview.border_title = Content(f"Pane {agent.pane} · {agent.name}") if agent and agent.pane else "Pane"
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

    # -- actions ------------------------------------------------------------

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
        agent = self._current()
        if action in ("attach",):
            return agent is not None and agent.pane is not None
        if action in ("reply", "approve", "reject"):
            return agent is not None and agent.pane_alive
        if action == "kill":
            return agent is not None and (agent.pane is not None or agent.status.kind == Kind.QUEUED)
        if action in ("merge", "discard", "check", "compare"):
            return agent is not None and agent.worktree_exists and not agent.merged
        if action == "check_log":
            return agent is not None and bool(agent.last_check)
        if action == "output_log":
            return agent is not None
        if action in ("filter", "sort", "clear_filter") and len(self.screen_stack) > 1:
            return False     # the table they act on is not on screen
        if action == "clear_filter":
            return self.query_one("#filter", Input).has_class("-shown") or bool(self.table.filter_text)
        if action in ("acknowledge", "snooze"):
            return agent is not None and bool(agent.triggers)
        if action == "review":
            return agent is not None and agent.worktree_exists
        return True

    def action_attach(self) -> None:
        agent = self._current()
        if agent is None or agent.pane is None:
            return
        if self.fleet.tmux_client_inside():
            self.fleet_action(f"switched to {agent.name}", self.fleet.switch_client_to, agent.name)
            return
        argv = self.fleet.attach_argv(agent.name)
        env = {k: v for k, v in os.environ.items() if k != "TMUX"}
        by_hand = " ".join(argv[:argv.index(";")])
        try:
            with self.suspend():
                result = subprocess.run(argv, env=env, stderr=subprocess.PIPE, text=True)
        except SuspendNotSupported:
            self.notify(f"This terminal cannot be handed over; run: {by_hand}",
                        title="attach", severity="warning", timeout=10, markup=False)
            return
        if result.returncode != 0:
            reason = (result.stderr or "").strip().splitlines()
            self.notify(f"attach failed ({reason[-1] if reason else result.returncode}); run: {by_hand}",
                        title="attach", severity="warning", timeout=10, markup=False)

    def action_reply(self) -> None:
        agent = self._current()
        if agent is None:
            return

        def send(reply: Reply | None) -> None:
            if reply is None:
                return
            if reply.key:
                self.fleet_action(f"{agent.name}: pressed {reply.key}", self.fleet.send_key, agent.name, reply.key)
            else:
                self.fleet_action(f"{agent.name}: sent {reply.text!r}", self.fleet.send, agent.name, reply.text)

        self.push_screen(ReplyScreen(agent.name, agent.status.evidence[-200:]), send)

    def _answer(self, approve: bool) -> None:
        agent = self._current()
        if agent is None:
            return
        keys = presets.resolve(agent.agent).approve if approve else presets.resolve(agent.agent).deny
        self.fleet_action(f"{agent.name}: {'approved' if approve else 'rejected'}", self.fleet.press, agent.name, keys)

    def action_approve(self) -> None:
        self._answer(True)

    def action_reject(self) -> None:
        self._answer(False)

    def action_spawn(self) -> None:
        def start(req: SpawnRequest | None) -> None:
            if req is None:
                return
            task = Task(name=req.name, agent=req.agent, prompt=req.prompt, scope=req.scope, count=req.count)
            self.fleet_action(f"started {req.name}", self._spawn_all, task)

        self.push_screen(SpawnScreen(list(presets.PRESETS), self.fleet.settings.agent), start)

    def _spawn_all(self, task: Task) -> None:
        for t in self.fleet.expand(task):
            self.fleet.spawn(t)

    def action_kill(self) -> None:
        agent = self._current()
        if agent is None:
            return

        if agent.status.kind == Kind.QUEUED:
            def dropped(yes: bool | None) -> None:
                if yes:
                    self.fleet_action(f"dropped queued task {agent.name}", self.fleet.unqueue, agent.name)
            self.push_screen(ConfirmScreen(
                f"Drop queued task [b]{escape(agent.name)}[/b]?\n\nIt has not started ({escape(agent.status.why)}); "
                f"no branch, worktree or window exists for it yet. `paneboard up` queues it again.", "Drop"), dropped)
            return

        def done(yes: bool | None) -> None:
            if yes:
                self.fleet_action(f"stopped {agent.name}", self.fleet.kill, agent.name)

        self.push_screen(ConfirmScreen(
            f"Stop agent [b]{escape(agent.name)}[/b]?\n\nIts process is ended and its tmux window closed. "
            f"Its branch [b]{escape(agent.branch)}[/b] and worktree stay as they are "
            f"({agent.files_changed} files changed, {'uncommitted work kept' if agent.dirty else 'clean'}).",
            "Stop"), done)

    def action_acknowledge(self) -> None:
        agent = self._current()
        if agent is None:
            return
        for t in agent.triggers:
            self.monitor.acknowledge(agent.name, t.kind.value)
        self.trigger_log.write(Text(f"{time.strftime('%H:%M:%S')} {agent.name}: acknowledged "
                                    f"{', '.join(t.kind.value for t in agent.triggers)}", style="dim"))

    def action_snooze(self) -> None:
        agent = self._current()
        if agent is None:
            return
        for t in agent.triggers:
            self.monitor.snooze(agent.name, t.kind.value, SNOOZE_SECONDS)
        self.trigger_log.write(Text(f"{time.strftime('%H:%M:%S')} {agent.name}: snoozed for "
                                    f"{SNOOZE_SECONDS // 60} min", style="dim"))

    def action_check(self) -> None:
        agent = self._current()
        if agent is None:
            return
        self.trigger_log.write(Text(f"{time.strftime('%H:%M:%S')} {agent.name}: check started", style="dim"))
        self.run_check(agent.name)

    @work(thread=True, group="check")
    def run_check(self, name: str) -> None:
        try:
            result = self.fleet.check(name)
        except PaneboardError as exc:
            self.post_message(ActionFinished(f"check {name}", str(exc)))
            return
        verdict = "passed" if result.passed else "FAILED"
        self.post_message(ActionFinished(f"{name}: check {verdict} in {result.duration:.1f}s: {result.summary_line}"))
        self.monitor.refresh()

    def action_check_log(self) -> None:
        agent = self._current()
        if agent is None or not agent.last_check:
            return
        from .screens.text import TextScreen
        path = Path(agent.last_check.get("log", ""))
        text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else "(the log is gone)"
        self.push_screen(TextScreen(f"{agent.name}: {agent.last_check.get('command', 'check')} — "
                                    f"{'passed' if agent.last_check.get('passed') else 'failed'}", text))

    def action_output_log(self) -> None:
        agent = self._current()
        if agent is None:
            return
        from . import logs
        from .screens.text import TextScreen
        path = logs.log_path(self.fleet.repo.common_dir, agent.name)
        self.push_screen(TextScreen(f"{agent.name}: recorded output ({path})", logs.tail(path, 256 * 1024)))

    def action_merge(self) -> None:
        agent = self._current()
        if agent is not None:
            self.prepare_merge(agent.name)

    @work(thread=True, group="action")
    def prepare_merge(self, name: str) -> None:
        """Work out what approving would do, then ask (conflicts are refused before asking)."""
        try:
            preview = self.fleet.merge_preview(name)
        except PaneboardError as exc:
            self.post_message(ActionFinished(f"merge {name}", str(exc)))
            return
        agent, prediction = preview["agent"], preview["prediction"]
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
        self.post_message(ConfirmNeeded(question, "Merge", lambda: self.do_merge(name, False)))

    @work(thread=True, group="action")
    def do_merge(self, name: str, force: bool) -> None:
        from .errors import UnsafeOperation
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
        except PaneboardError as exc:
            self.post_message(ActionFinished(f"merge {name}", str(exc)))
            return
        self.post_message(MergeDone(name, result))
        self.post_message(ActionFinished(f"merged {name} into {result.base}: {result.old[:8]} -> {result.new[:8]}"))
        self.monitor.refresh()

    def action_discard(self) -> None:
        agent = self._current()
        if agent is not None:
            self.prepare_discard([agent.name])

    @work(thread=True, group="action")
    def prepare_discard(self, names: list[str]) -> None:
        lines = []
        for name in names:
            try:
                files, commits = self.fleet.discard_preview(name)
            except PaneboardError as exc:
                self.post_message(ActionFinished(f"discard {name}", str(exc)))
                return
            lines.append(f" • [b]{escape(name)}[/b]: {files} changed file(s), {commits} commit(s)")
        question = (f"Discard {len(names)} agent(s)?\n\n" + "\n".join(lines) +
                    "\n\nEach is archived first (refs/paneboard/archive/… and a .patch), then its window, "
                    "worktree and branch are removed. `paneboard restore NAME` brings it back.")
        self.post_message(ConfirmNeeded(question, "Discard", lambda: self.do_discard(names)))

    @work(thread=True, group="action")
    def do_discard(self, names: list[str]) -> None:
        for name in names:
            try:
                saved = self.fleet.discard(name)
            except PaneboardError as exc:
                self.post_message(ActionFinished(f"discard {name}", str(exc)))
                continue
            self.post_message(ActionFinished(f"discarded {name} (archived at {saved.ref})"))
        self.monitor.refresh()

    def action_compare(self) -> None:
        agent = self._current()
        if agent is None:
            return
        from .screens.candidates import CandidatesScreen
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
                # Review the winner first (M merges from there); then offer to discard the others.
                self.select_agent(name)
                losers = [a.name for a in same_task if a.name != name]
                winner = self.agents[name]
                from .screens.review import ReviewScreen
                self.push_screen(ReviewScreen(Path(winner.worktree), winner.base,
                                              f"winner {name}: {winner.branch} vs {winner.base}  (M merges)"),
                                 lambda _: losers and self.prepare_discard(losers))

        self.push_screen(CandidatesScreen(agent, candidates, conflicts), chosen)

    @work(thread=True, group="action")
    def open_compare(self, a: str, b: str) -> None:
        from . import merge as merging
        try:
            left, right = self.agents[a], self.agents[b]
            rev_a = merging.candidate_commit(Path(left.worktree))
            rev_b = merging.candidate_commit(Path(right.worktree))
        except (KeyError, PaneboardError) as exc:
            self.post_message(ActionFinished(f"compare {a} and {b}", str(exc)))
            return
        self.call_from_thread(self._push_compare, rev_a, rev_b, a, b)

    def _push_compare(self, rev_a: str, rev_b: str, a: str, b: str) -> None:
        from .screens.review import CompareScreen
        self.push_screen(CompareScreen(self.fleet.repo.root, rev_a, rev_b, a, b))

    def action_conflicts(self) -> None:
        from .screens.conflicts import ConflictsScreen
        c = self.conflicts
        self.push_screen(ConflictsScreen(c.base if c else "base", c.vs_base if c else {}, c.pairs if c else {}))
        self.predict_conflicts(list(self.agents.values()), force=True)

    def action_review(self) -> None:
        agent = self._current()
        if agent is None or not agent.worktree_exists:
            return
        from .screens.review import ReviewScreen
        self.push_screen(ReviewScreen(Path(agent.worktree), agent.base, f"{agent.name}: {agent.branch} vs {agent.base}"))

    def action_help(self) -> None:
        self.push_screen(HelpScreen(key_table_markdown()))

    # -- filter and order -----------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("-shown")
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.remove_class("-shown")
        self.table.set_view(filter_text="")
        self.table.focus()
        self._show_view()

    def action_sort(self) -> None:
        from widgets.agent_table import ORDERS
        self.table.set_view(order_by=ORDERS[(ORDERS.index(self.table.order_by) + 1) % len(ORDERS)])
        self._show_view()

    def on_input_changed(self, message: Input.Changed) -> None:
        if message.input.id == "filter":
            self.table.set_view(filter_text=message.value)
            self._show_view()

    def on_input_submitted(self, message: Input.Submitted) -> None:
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


_KEY_NAMES = {"question_mark": "?", "vertical_line": "\\|", "slash": "/", "left_square_bracket": "[",
              "right_square_bracket": "]"}


def key_table_markdown() -> str:
    """The key reference, generated from the bindings (the README's table comes from here)."""
    from .screens.candidates import CandidatesScreen as _C
    from .screens.reply import ReplyScreen as _R
    from .screens.spawn import SpawnScreen as _S
    from widgets.diff_view import DiffView
    from .screens.review import FilesDiffScreen
    sections = [("Dashboard", Dashboard.BINDINGS), ("Agent table", AgentTable.BINDINGS),
                ("Review and compare", FilesDiffScreen.BINDINGS), ("Diff view", DiffView.BINDINGS),
                ("Candidates (best-of-N)", _C.BINDINGS),
                ("Reply dialog", _R.BINDINGS), ("New agent form", _S.BINDINGS),
                ("Confirmation", ConfirmScreen.BINDINGS)]
    lines = ["# Keys", ""]
    for title, bindings in sections:
        lines += [f"### {title}", "", "| Key | Action | What it does |", "| :- | :- | :- |"]
        for b in bindings:
            keys = ", ".join(_KEY_NAMES.get(k.strip(), k.strip()) for k in b.key.split(","))
            lines.append(f"| `{keys}` | {b.description or b.action} | {b.tooltip} |")
        lines.append("")
    lines.append("Textual's command palette (`ctrl+p`) also offers every action and the theme switcher.")
    return "\n".join(lines) + "\n"


def run_dashboard(fleet: Fleet, title: str | None = None) -> int:
    """Run the dashboard until the user quits (agents keep running); the exit code (1 if it crashed)."""
    app = Dashboard(fleet, title=title)
    app.run()
    return app.return_code or 0
