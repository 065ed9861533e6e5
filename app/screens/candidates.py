"""Best-of-N: every candidate of a task side by side in numbers; compare two, pick a winner."""

from __future__ import annotations

from rich.markup import escape

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from app.model import Agent
from app.model import ago
from widgets.agent_table import TRIGGER_ICONS


class CandidatesScreen(ModalScreen[tuple[str, str] | None]):
    """The candidates of one task. Dismisses with (verb, name): ("compare", other), ("base", name), ("winner", name).

    | Key | Description |
    | :- | :- |
    | enter | Compare the agent you came from with the one under the cursor. |
    | b | Compare the one under the cursor with the base. |
    | w | Pick the one under the cursor as the winner. |
    | escape | Back. |
    """

    DEFAULT_CSS = """
    CandidatesScreen { align: center middle; }
    CandidatesScreen > Static { width: 90%; height: auto; background: $primary; color: $background; padding: 0 1; }
    CandidatesScreen > DataTable { width: 90%; height: auto; max-height: 70%; border: thick $primary; }
    """

    BINDINGS = [
        Binding("enter", "compare", "Compare", priority=True, id="candidates.compare",
                tooltip="Side-by-side diff: the current agent's result against this one's"),
        Binding("b", "base", "vs base", id="candidates.base", tooltip="Review this candidate against the base"),
        Binding("w", "winner", "Winner", id="candidates.winner",
                tooltip="Pick this candidate: review and merge it, optionally discard the others"),
        Binding("escape", "cancel", "Back", id="candidates.back", tooltip="Close"),
        Binding("j", "cursor_down", "Down", show=False, id="candidates.down", tooltip="Next candidate"),
        Binding("k", "cursor_up", "Up", show=False, id="candidates.up", tooltip="Previous candidate"),
    ]

    def __init__(self, current: Agent, candidates: list[Agent], conflicts: dict[str, tuple[str, ...]]):
        super().__init__()
        self.current = current
        self.candidates = candidates
        self.conflicts = conflicts

    def compose(self) -> ComposeResult:
        same_task = all(a.task == self.current.task for a in self.candidates)
        what = (f"Task [b]{escape(self.current.task)}[/b]: {len(self.candidates)} candidates" if same_task else
                f"[b]{escape(self.current.task)}[/b] has no other candidates: compare with any agent, or b for the base")
        yield Static(f"{what} (comparing from [b]{escape(self.current.name)}[/b])", markup=True)
        yield DataTable(cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label in ("Agent", "Status", "Files", "+/-", "Check", "Merge", "Triggers", "Elapsed"):
            table.add_column(label)
        now = time.time()
        for a in self.candidates:
            check = "-" if not a.last_check else ("✓ pass" if a.last_check.get("passed") else "✗ fail")
            files = self.conflicts.get(a.name)
            merge = "?" if files is None else ("clean" if not files else f"≠ {len(files)}")
            table.add_row(Text(a.name, style="bold" if a.name == self.current.name else ""),
                          a.status.kind.value, str(a.files_changed), f"+{a.added}/-{a.removed}", check, merge,
                          "".join(TRIGGER_ICONS.get(t.kind, "•") for t in a.triggers) or "-",
                          ago(now - a.started_at), key=a.name)
        table.focus()

    def _under_cursor(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def action_compare(self) -> None:
        name = self._under_cursor()
        if name:
            self.dismiss(("base", name) if name == self.current.name else ("compare", name))

    def action_base(self) -> None:
        name = self._under_cursor()
        if name:
            self.dismiss(("base", name))

    def action_winner(self) -> None:
        name = self._under_cursor()
        if name:
            self.dismiss(("winner", name))

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_cursor_down(self) -> None:
        self.query_one(DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(DataTable).action_cursor_up()
