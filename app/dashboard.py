"""The Textual app: screens, bindings, and workers that talk to the fleet and post messages."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from rich.text import Text
from textual.widgets import Footer, Header, RichLog

import themes
from widgets.agent_detail import AgentDetail
from widgets.agent_table import AgentTable
from widgets.pane_preview import PanePreview

from . import presets
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
SNOOZE_SECONDS = 600


class AgentsRefreshed(Message):
    """A new picture of every agent arrived from the monitor, with the triggers raised and cleared."""

    def __init__(self, agents: list[Agent], raised: list[Trigger] | None = None,
                 cleared: list[Trigger] | None = None) -> None:
        super().__init__()
        self.agents = agents
        self.raised = raised or []
        self.cleared = cleared or []


class ScreenCaptured(Message):
    """The selected agent's pane was captured."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__()
        self.name = name
        self.text = text


class TriggerRaised(Message):
    """A trigger fired (tests and scripts can watch for it)."""

    def __init__(self, trigger: Trigger) -> None:
        super().__init__()
        self.trigger = trigger


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
        Binding("z", "snooze", "Snooze", id="trigger.snooze", tooltip="Snooze the agent's triggers for 10 minutes"),
        Binding("v", "review", "Review", id="agent.review", tooltip="Review the agent's changes side by side"),
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
        self.agents: dict[str, Agent] = {}
        self.selected: str | None = None
        if title:
            self.title = title
        self.sub_title = f"{fleet.repo.root}  ·  tmux {fleet.tmux.socket_name or 'default'}:{fleet.session}"
        for theme in (*themes.BUILTIN, *themes.user_themes()):
            self.register_theme(theme)
        self.theme = fleet.settings.theme if fleet.settings.theme in self.available_themes else themes.DARK.name

    def compose(self) -> ComposeResult:
        yield Header()
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
                log = RichLog(id="trigger-log", markup=False, wrap=True, max_lines=500)
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

    # -- workers: fleet calls run in threads and only post messages -----------

    @work(exclusive=True, group="monitor")
    async def run_monitor(self) -> None:
        """The monitor runs on the app's event loop: it only awaits events and hands git work to threads."""
        await self.monitor.run()

    @work(exclusive=True, group="refresh")
    async def refresh_agents(self) -> None:
        """Post every coalesced update from the monitor."""
        async for update in self.monitor.updates():
            self.post_message(AgentsRefreshed(update.agents, update.raised, update.cleared))

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
        for t in message.raised:
            stamp = time.strftime("%H:%M:%S", time.localtime(t.since))
            style = self.theme_variables.get("trigger-loud" if t.loud else "trigger-quiet", "")
            log.write(Text.assemble((f"{stamp} ", "dim"), (f"{t.agent} {t.kind.value}", style), f": {t.what}"))
            self.notify(t.what, title=f"{t.agent}: {t.kind.value.replace('_', ' ')}",
                        severity="error" if t.loud else "warning", timeout=6)
            self.post_message(TriggerRaised(t))
        for t in message.cleared:
            log.write(Text.assemble((f"{time.strftime('%H:%M:%S')} ", "dim"), f"{t.agent} {t.kind.value} cleared"))
        if message.raised and self.fleet.settings.bell:
            self.bell()
        self.table.set_agents(message.agents)
        self._show_selected()
        counts: dict[str, int] = {}
        for a in message.agents:
            counts[a.status.kind.value] = counts.get(a.status.kind.value, 0) + 1
        summary = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(counts.items()))
        self.title = f"{self.fleet.repo.name}: {len(message.agents)} agents" + (f" ({summary})" if summary else "")

    def on_agent_table_agent_selected(self, message: AgentTable.AgentSelected) -> None:
        self.selected = message.name
        self._show_selected()

    def on_data_table_row_selected(self, message) -> None:
        # The table owns `enter` while focused; selecting a row means "attach to it".
        message.stop()
        self.action_attach()

    def on_screen_captured(self, message: ScreenCaptured) -> None:
        if message.name == self.selected:
            self.preview.screen_text = message.text

    def on_action_finished(self, message: ActionFinished) -> None:
        if message.error:
            self.notify(message.error, title=message.what, severity="error", timeout=8)
        else:
            self.trigger_log.write(Text(f"{time.strftime('%H:%M:%S')} {message.what}", style="dim"))

    def _show_selected(self) -> None:
        agent = self.agents.get(self.selected or "")
        self.detail.show(agent)
        preview = self.preview
        preview.border_title = f"Pane {agent.pane} · {agent.name}" if agent and agent.pane else "Pane"
        if agent is None or agent.pane is None:
            preview.screen_text = ""

    # -- actions ------------------------------------------------------------

    def select_agent(self, name: str) -> None:
        """Move the table cursor to an agent (used by the command palette)."""
        table = self.table
        try:
            table.move_cursor(row=table.get_row_index(name))
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
            return agent is not None and agent.pane is not None
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
        by_hand = " ".join(argv[:-3])
        try:
            with self.suspend():
                result = subprocess.run(argv, env=env, stderr=subprocess.PIPE, text=True)
        except SuspendNotSupported:
            self.notify(f"This terminal cannot be handed over; run: {by_hand}",
                        title="attach", severity="warning", timeout=10)
            return
        if result.returncode != 0:
            reason = (result.stderr or "").strip().splitlines()
            self.notify(f"attach failed ({reason[-1] if reason else result.returncode}); run: {by_hand}",
                        title="attach", severity="warning", timeout=10)

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

        def done(yes: bool | None) -> None:
            if yes:
                self.fleet_action(f"stopped {agent.name}", self.fleet.kill, agent.name)

        self.push_screen(ConfirmScreen(
            f"Stop agent [b]{agent.name}[/b]?\n\nIts process is ended and its tmux window closed. "
            f"Its branch [b]{agent.branch}[/b] and worktree stay as they are "
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

    def action_review(self) -> None:
        agent = self._current()
        if agent is None or not agent.worktree_exists:
            return
        from .screens.review import ReviewScreen
        self.push_screen(ReviewScreen(Path(agent.worktree), agent.base, f"{agent.name}: {agent.branch} vs {agent.base}"))

    def action_help(self) -> None:
        self.push_screen(HelpScreen(key_table_markdown()))


_KEY_NAMES = {"question_mark": "?", "vertical_line": "\\|", "left_square_bracket": "[",
              "right_square_bracket": "]"}


def key_table_markdown() -> str:
    """The key reference, generated from the bindings (the README's table comes from here)."""
    from .screens.reply import ReplyScreen as _R
    from .screens.spawn import SpawnScreen as _S
    from widgets.diff_view import DiffView
    from .screens.review import FilesDiffScreen
    sections = [("Dashboard", Dashboard.BINDINGS), ("Agent table", AgentTable.BINDINGS),
                ("Review and compare", FilesDiffScreen.BINDINGS), ("Diff view", DiffView.BINDINGS),
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


def run_dashboard(fleet: Fleet, title: str | None = None) -> None:
    """Run the dashboard until the user quits; agents keep running."""
    Dashboard(fleet, title=title).run()
