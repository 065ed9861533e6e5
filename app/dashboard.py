"""The Textual app: services, themes, the screen stack, and the worker that feeds the main screen."""

from __future__ import annotations

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

import themes

# libtmux reads sys.stdout.encoding when first imported; Textual replaces sys.stdout while it
# runs, so load it now, before the app starts (Tmux.server imports it lazily for `ls`'s sake).
import libtmux  # noqa: E402,F401
from widgets.agent_table import AgentTable

from .fleet import Fleet
from .model import Agent
from .monitor import Monitor
from .screens.commands import AgentCommands
from .screens.confirm import ConfirmScreen
from .screens.help import HelpScreen
from .screens.main import ACTIONS, KEYS, MainScreen
from .screens.messages import ActionFinished, AgentsRefreshed

REFRESH_SECONDS = 1.0

CHANGES = frozenset({
    # the main screen's keys: input to an agent (attach hands over its pane), its life, its work
    "attach", "reply", "approve", "reject", "spawn", "kill", "restart", "check", "merge", "discard",
    # triggers acknowledged or snoozed are hidden for every dashboard, `ls` and the status files
    "acknowledge", "snooze",
    # a review's comments (drafts are kept in the state directory) and a combined candidate
    "comment", "send_comments", "edit", "delete", "combine",
})
"""The actions `--read-only` refuses: each changes an agent, the repository or paneboard's state.
The screens only these open (reply, new agent, comment, confirmation) need no entry."""
READ_ONLY = "read-only: this dashboard can watch but not change anything"


def action_name(action) -> str:
    """The bare name of an action string or parsed action ("app.take('left')" -> "take")."""
    if not isinstance(action, str):
        return action[1]
    return action.partition("(")[0].rpartition(".")[2]


class Dashboard(App):
    """paneboard: the main screen on a fleet of agents, and the screens it opens."""

    TITLE = "paneboard"
    CSS_PATH = str(themes.css_path())
    COMMANDS = App.COMMANDS | {AgentCommands}

    # The main screen's keys are bound here, on the App: they act on the selected agent from any
    # screen that does not bind the key itself (a review shows them in its footer, and M merges).
    BINDINGS = [
        *KEYS,
        Binding("question_mark", "help", "Help", id="app.help", tooltip="Show every key"),
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit the dashboard (agents keep running)"),
    ]

    def __init__(self, fleet: Fleet, title: str | None = None, refresh_seconds: float = REFRESH_SECONDS,
                 monitor: Monitor | None = None, read_only: bool = False):
        super().__init__()
        self.fleet = fleet
        self.read_only = read_only
        fleet.source = "dashboard"     # who acted, in each agent's timeline
        self.monitor = monitor or Monitor(fleet, rediscover_every=max(refresh_seconds * 5, 2.0), watch_only=read_only)
        self.refresh_seconds = refresh_seconds
        self.main_screen = MainScreen(fleet, self.monitor)
        self._queued_key: tuple | None = None
        self._queued_agents: list[Agent] = []
        self._live_agents: list[Agent] = []
        if title:
            self.title = title
        self.sub_title = (f"{fleet.repo.root}  ·  tmux {fleet.tmux.socket_name or 'default'}:{fleet.session}"
                          + ("  ·  read-only" if read_only else ""))
        for theme in (*themes.BUILTIN, *themes.user_themes()):
            self.register_theme(theme)
        self.theme = fleet.settings.theme if fleet.settings.theme in self.available_themes else themes.DARK.name

    def get_default_screen(self) -> Screen:
        """The main screen is the bottom of the screen stack."""
        return self.main_screen

    def on_mount(self) -> None:
        """Start feeding the main screen."""
        self._show_notices()
        self.run_monitor()
        self.refresh_agents()

    def _show_notices(self) -> None:
        """A merge recovered, a state file moved aside and rebuilt: each one a notification, once."""
        for line in self.fleet.take_notices():
            self.notify(line, title="paneboard", severity="warning", timeout=30)

    # -- the main screen's keys and the command palette's agent commands ----

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """The main screen says which of its keys apply, whichever screen is on top."""
        if action in ACTIONS:
            return self.main_screen.check_action(action, parameters)
        return True

    def _check_action_state(self, action: str, default_namespace):
        # Textual's footer asks this of every binding, on every screen: read-only hides what it refuses.
        if self.read_only and action_name(action) in CHANGES:
            return False
        return super()._check_action_state(action, default_namespace)

    async def run_action(self, action, default_namespace=None, namespaces=None) -> bool:
        """Run an action (every key and palette command comes here): refused in one line when read-only and
        it changes something; the main screen's own run on it, from any screen."""
        if self.read_only and action_name(action) in CHANGES:
            self.notify(READ_ONLY, title="read-only", severity="warning", timeout=4, markup=False)
            return True
        if isinstance(action, str) and action in ACTIONS and default_namespace in (None, self):
            default_namespace = self.main_screen
        return await super().run_action(action, default_namespace, namespaces)

    @property
    def agents(self) -> dict[str, Agent]:
        """Every agent on the main screen, by name (the command palette offers actions on each)."""
        return self.main_screen.agents

    def select_agent(self, name: str) -> None:
        """Select an agent on the main screen (used by the command palette)."""
        self.main_screen.select_agent(name)

    def action_help(self) -> None:
        """Show every key."""
        # Which dashboard acts for the repository (app/monitor/writer.py): said here, where it is looked for.
        writer = self.monitor.writer.describe(self.read_only)
        self.push_screen(HelpScreen(f"{key_table_markdown()}\n\n## This dashboard\n\n{writer[:1].upper()}{writer[1:]}.\n"))

    # -- workers: they only post messages, to the main screen -----------------

    @work(exclusive=True, group="monitor")
    async def run_monitor(self) -> None:
        """The monitor runs on the app's event loop: it only awaits events and hands git work to threads."""
        await self.monitor.run()

    @work(exclusive=True, group="refresh")
    async def refresh_agents(self) -> None:
        """Post every coalesced update from the monitor."""
        async for update in self.monitor.updates():
            self._live_agents = update.agents
            self.main_screen.post_message(AgentsRefreshed(update.agents + self._queued(), update.raised,
                                                          update.cleared, update.found, update.notes))

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

    # -- what the main screen's messages mean for the App (they bubble up) ---

    def on_agents_refreshed(self, message: AgentsRefreshed) -> None:
        """The title counts the agents by status (every screen's header shows it)."""
        self._show_notices()
        counts: dict[str, int] = {}
        for a in message.agents:
            kind = "merged" if a.merged else a.status.kind.value
            counts[kind] = counts.get(kind, 0) + 1
        summary = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(counts.items()))
        self.title = f"{self.fleet.repo.name}: {len(message.agents)} agents" + (f" ({summary})" if summary else "")

    def on_action_finished(self, message: ActionFinished) -> None:
        """An action that queued, started or dropped a task shows in the table at once."""
        queued = self._queued_agents
        if self._queued() is not queued:
            self.main_screen.post_message(AgentsRefreshed(self._live_agents + self._queued_agents, [], []))


_KEY_NAMES = {"question_mark": "?", "vertical_line": "\\|", "slash": "/", "left_square_bracket": "[",
              "right_square_bracket": "]", "greater_than_sign": ">", "less_than_sign": "<"}


def key_table_markdown() -> str:
    """The key reference, generated from the bindings (the README's table comes from here)."""
    from .screens.candidates import CandidatesScreen as _C
    from .screens.reply import ReplyScreen as _R
    from .screens.spawn import SpawnScreen as _S
    from widgets.comment_drafts import DraftList
    from widgets.diff_view import DiffView
    from .screens.comment import CommentScreen
    from .screens.review import CompareScreen, FilesDiffScreen, ReviewScreen
    sections = [("Dashboard", Dashboard.BINDINGS), ("Agent table", AgentTable.BINDINGS),
                ("Review and compare", FilesDiffScreen.BINDINGS), ("Review of one agent", ReviewScreen.BINDINGS),
                ("Comparison of two candidates", CompareScreen.BINDINGS),
                ("Diff view", DiffView.BINDINGS), ("Draft comments", DraftList.BINDINGS),
                ("Comment dialog", CommentScreen.BINDINGS), ("Candidates (best-of-N)", _C.BINDINGS),
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


def run_dashboard(fleet: Fleet, title: str | None = None, read_only: bool = False) -> int:
    """Run the dashboard until the user quits (agents keep running); the exit code (1 if it crashed)."""
    app = Dashboard(fleet, title=title, read_only=read_only)
    app.run()
    return app.return_code or 0
