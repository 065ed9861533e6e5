"""The agent table: one row per agent with its status, activity, changes and triggers."""

from __future__ import annotations

import time

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from app.model import Agent, TriggerKind, ago

STATUS_ICONS = {
    "starting": "◌", "working": "●", "needs_input": "?", "idle": "○", "silent": "…",
    "error": "✗", "exited": "■", "queued": "‖", "merged": "✓",
}
TRIGGER_ICONS = {
    TriggerKind.SILENCE: "…", TriggerKind.NEEDS_INPUT: "?", TriggerKind.REPEATED_ERRORS: "!",
    TriggerKind.OUT_OF_SCOPE: "⊘", TriggerKind.OVERLAP: "⇄", TriggerKind.EXITED: "■",
    TriggerKind.LIMIT: "$", TriggerKind.CONFLICT: "≠",
}
# Most important first: on a narrow terminal the right-hand columns are the ones cut off.
COLUMNS = (("status", "Status"), ("name", "Agent"), ("triggers", "Triggers"), ("merge", "Merge"),
           ("files", "Files"), ("lines", "+/-"), ("check", "Check"), ("activity", "Last activity"),
           ("elapsed", "Elapsed"), ("agent", "Runs"))


class AgentTable(DataTable):
    """All agents, one row each; the cursor selects the agent the rest of the screen shows.

    | Key | Description |
    | :- | :- |
    | enter | Attach to the agent (posts DataTable.RowSelected). |
    | j / down | Next agent. |
    | k / up | Previous agent. |
    | g / G | First / last agent. |
    """

    BINDINGS = [
        Binding("enter", "select_cursor", "Attach", id="table.attach",
                tooltip="Attach to the selected agent's live pane (detach to come back)"),
        Binding("j", "cursor_down", "Down", show=False, id="table.down", tooltip="Select the next agent"),
        Binding("k", "cursor_up", "Up", show=False, id="table.up", tooltip="Select the previous agent"),
        Binding("g", "scroll_top", "First", show=False, id="table.first", tooltip="Select the first agent"),
        Binding("G", "scroll_bottom", "Last", show=False, id="table.last", tooltip="Select the last agent"),
    ]

    class AgentSelected(Message):
        """The cursor moved to another agent."""

        def __init__(self, name: str | None) -> None:
            super().__init__()
            self.name = name

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self._agents: dict[str, Agent] = {}
        self._conflicts: dict[str, tuple[str, ...]] = {}
        self._cells_shown: dict[str, tuple] = {}
        self._selected: str | None = None

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key, width=14 if key == "status" else None)
        self.watch(self.app, "theme", lambda _: self._redraw_all_styles(), init=False)

    @property
    def selected(self) -> str | None:
        return self._selected

    def set_conflicts(self, conflicts: dict[str, tuple[str, ...]]) -> None:
        """Predicted merge result per agent: () merges cleanly, (files...) conflicts; missing = not known yet."""
        self._conflicts = dict(conflicts)
        self.set_agents(list(self._agents.values()))

    def set_agents(self, agents: list[Agent]) -> None:
        """Show these agents: update changed cells in place, add new rows, drop vanished ones."""
        incoming = {a.name: a for a in agents}
        for name in list(self._agents):
            if name not in incoming:
                self.remove_row(name)
                self._cells_shown.pop(name, None)
        now = time.time()
        for agent in agents:
            cells = self._cells(agent, now)
            shown = self._cells_shown.get(agent.name)
            if shown is None:
                self.add_row(*cells, key=agent.name)
            else:
                # Only what changed: every update_cell re-measures its whole column.
                for (key, _), value, old in zip(COLUMNS, cells, shown):
                    if value != old:
                        self.update_cell(agent.name, key, value, update_width=key != "status")
            self._cells_shown[agent.name] = cells
        self._agents = incoming
        if self.row_count and self._selected not in incoming:
            self._post_selection()

    def tick(self) -> None:
        """Advance the time columns without waiting for an update (only cells whose text changed)."""
        self.set_agents(list(self._agents.values()))

    def _redraw_all_styles(self) -> None:
        self._cells_shown.clear()
        self.clear()
        self.set_agents(list(self._agents.values()))

    def _colour(self, variable: str) -> str:
        return self.app.theme_variables.get(variable, "")

    def _cells(self, a: Agent, now: float) -> tuple:
        kind = "merged" if a.merged else a.status.kind.value
        status = Text(f"{STATUS_ICONS.get(kind, '·')} {kind.replace('_', ' ')}",
                      style=self._colour(f"status-{kind.replace('_', '-')}"))
        triggers = Text()
        for t in a.triggers:
            triggers.append(TRIGGER_ICONS.get(t.kind, "•"),
                            style=self._colour("trigger-loud" if t.loud else "trigger-quiet"))
        lines = Text()
        lines.append(f"+{a.added}", style=self._colour("success"))
        lines.append("/")
        lines.append(f"-{a.removed}", style=self._colour("error"))
        check = Text("-", style="dim")
        if a.last_check:
            ok = a.last_check.get("passed")
            check = Text(f"{'✓' if ok else '✗'} {a.last_check.get('duration', 0):.1f}s",
                         style=self._colour("success" if ok else "error"))
        merge = Text("·", style="dim")
        if a.merged:
            merge = Text("merged", style=self._colour("status-merged"))
        elif a.name in self._conflicts:
            files = self._conflicts[a.name]
            merge = Text(f"≠ {len(files)} file{'s' if len(files) != 1 else ''}", style=self._colour("conflict")) \
                if files else Text("clean", style=self._colour("success"))
        name = a.name if len(a.name) <= 28 else a.name[:27] + "…"
        return (status, name, triggers, merge, str(a.files_changed), lines, check,
                f"{ago(now - a.last_activity_at)} ago" if a.last_activity_at else "-",
                ago(now - a.started_at) if a.started_at else "-",
                a.agent if len(a.agent) <= 18 else a.agent[:17] + "…")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._post_selection()

    def _post_selection(self) -> None:
        name = None
        if self.row_count:
            try:
                name = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
            except Exception:  # noqa: BLE001 - cursor outside rows while the table is rebuilt
                name = None
        if name != self._selected:
            self._selected = name
            self.post_message(self.AgentSelected(name))
