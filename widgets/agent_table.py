"""The agent table: one row per agent with its status, activity, changes and triggers."""

from __future__ import annotations

import time

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from app.limits import until_text
from app.model import Agent, TriggerKind, ago

STATUS_ICONS = {
    "starting": "◌", "working": "●", "needs_input": "?", "idle": "○", "silent": "…",
    "error": "✗", "exited": "■", "queued": "‖", "merged": "✓", "missing": "∅",
    "unreachable": "⌁",
}
TRIGGER_ICONS = {
    TriggerKind.SILENCE: "…", TriggerKind.NEEDS_INPUT: "?", TriggerKind.REPEATED_ERRORS: "!",
    TriggerKind.OUT_OF_SCOPE: "⊘", TriggerKind.OVERLAP: "⇄", TriggerKind.EXITED: "■",
    TriggerKind.LIMIT: "$", TriggerKind.CONFLICT: "≠", TriggerKind.MISSING: "∅",
    TriggerKind.RETRYING: "↻",
    TriggerKind.UNREACHABLE: "⌁",
}
# Most important first: on a narrow terminal the right-hand columns are the ones cut off.
COLUMNS = (("status", "Status"), ("name", "Agent"), ("triggers", "Triggers"), ("merge", "Merge"),
           ("files", "Files"), ("lines", "+/-"), ("check", "Check"), ("activity", "Last activity"),
           ("elapsed", "Elapsed"), ("agent", "Runs"))
FIXED_WIDTHS = {"status": 13}
ORDERS = ("fleet", "attention", "name")
"""Row orders: as the fleet lists them (spawn order), what needs a human first, by name."""
# Attention order: who needs a human most comes first (loud triggers before quiet ones within a kind).
_URGENCY = {"needs_input": 0, "missing": 1, "unreachable": 1, "error": 1, "exited": 2, "silent": 3, "starting": 4, "working": 5,
            "idle": 6, "queued": 7, "merged": 8}


def attention_key(a: Agent) -> tuple:
    """Sort key putting the agents that need a human first: loud triggers, questions, errors, exits..."""
    kind = "merged" if a.merged else a.status.kind.value
    loud = any(t.loud for t in a.triggers)
    return (not loud, not a.triggers, _URGENCY.get(kind, 9), a.name)


def matches(a: Agent, words: list[str]) -> bool:
    """True if every word occurs in the agent's name, task, status, command or trigger kinds."""
    kind = "merged" if a.merged else a.status.kind.value
    hay = " ".join((a.name, a.task, kind, kind.replace("_", " "), a.agent,
                    *(t.kind.value + " " + t.kind.value.replace("_", " ") for t in a.triggers))).lower()
    return all(w in hay for w in words)
MAX_WIDTHS = {"name": 28, "agent": 18, "triggers": 12}
GAP = 2  # cells between columns


class AgentTable(ScrollView, can_focus=True):
    """All agents, one row each; the cursor selects the agent the rest of the screen shows.

    Built on the line API: each row is rendered once into a cached strip and again only when one
    of its cells changed, and a refresh repaints just the lines that changed, so an update that
    touches one agent costs one line however many agents there are.

    | Key | Description |
    | :- | :- |
    | enter | Attach to the agent (posts AgentTable.Chosen). |
    | j / down | Next agent. |
    | k / up | Previous agent. |
    | g / G | First / last agent. |
    """

    BINDINGS = [
        Binding("enter", "choose", "Attach", id="table.attach",
                tooltip="Attach to the selected agent's live pane (detach to come back)"),
        Binding("j,down", "cursor_down", "Down", show=False, id="table.down", tooltip="Select the next agent"),
        Binding("k,up", "cursor_up", "Up", show=False, id="table.up", tooltip="Select the previous agent"),
        Binding("g,home", "first", "First", show=False, id="table.first", tooltip="Select the first agent"),
        Binding("G,end", "last", "Last", show=False, id="table.last", tooltip="Select the last agent"),
        Binding("pageup", "page_up", "Page up", show=False, id="table.page_up",
                tooltip="Move the selection up a screenful"),
        Binding("pagedown", "page_down", "Page down", show=False, id="table.page_down",
                tooltip="Move the selection down a screenful"),
    ]

    COMPONENT_CLASSES = {"agent-table--header", "agent-table--cursor", "agent-table--cursor-blurred"}

    DEFAULT_CSS = """
    AgentTable {
        background: $surface;
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-gutter: stable;
    }
    AgentTable > .agent-table--header {
        color: $primary;
        text-style: bold;
        background: $panel;
    }
    AgentTable > .agent-table--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: $block-cursor-text-style;
    }
    AgentTable > .agent-table--cursor-blurred {
        background: $block-cursor-blurred-background;
        color: $block-cursor-blurred-foreground;
        text-style: $block-cursor-blurred-text-style;
    }
    """

    cursor_row: reactive[int] = reactive(0, always_update=False, init=False)

    class AgentSelected(Message):
        """The cursor moved to another agent."""

        def __init__(self, name: str | None) -> None:
            super().__init__()
            self.name = name

    class Chosen(Message):
        """The user chose the agent under the cursor (enter or double click): attach to it."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._agents: dict[str, Agent] = {}      # the agents shown (after the filter)
        self._all: list[Agent] = []               # every agent, as the fleet lists them
        self._filter = ""
        self._order_by = "fleet"
        self._conflicts: dict[str, tuple[str, ...]] = {}
        self._new_work: frozenset[str] = frozenset()
        self._order: list[str] = []
        self._cells_shown: dict[str, tuple[Text, ...]] = {}
        self._looks: dict[str, tuple] = {}        # what each row's cells read and how they look
        self._source: dict[str, Agent] = {}       # the agent object each row's cells were built from
        self.cells_built = 0                      # agents whose cells were built (a test counts it)
        self.last_changed: set[str] = set()       # rows the last set_agents rendered anew
        self._strips: dict[str, Strip] = {}      # rendered rows, without the cursor
        self._header: Strip | None = None
        self._widths: tuple[int, ...] = tuple(len(label) for _, label in COLUMNS)
        self._selected: str | None = None

    def on_mount(self) -> None:
        self.watch(self.app, "theme", lambda _: self._restyle(), init=False)

    # -- what the rest of the app uses ----------------------------------------

    @property
    def selected(self) -> str | None:
        return self._selected

    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def row_names(self) -> tuple[str, ...]:
        """Agent names in display order."""
        return tuple(self._order)

    def get_row_index(self, name: str) -> int:
        """The row of an agent (ValueError if it has none)."""
        return self._order.index(name)

    def move_cursor(self, row: int) -> None:
        """Put the cursor on a row (clamped) and scroll it into view."""
        if self._order:
            self.cursor_row = max(0, min(row, len(self._order) - 1))

    @property
    def filter_text(self) -> str:
        return self._filter

    @property
    def order_by(self) -> str:
        return self._order_by

    @property
    def total(self) -> int:
        """How many agents there are, shown or filtered out."""
        return len(self._all)

    def set_view(self, filter_text: str | None = None, order_by: str | None = None) -> None:
        """Show only agents matching every word of filter_text, in one of ORDERS."""
        if filter_text is not None:
            self._filter = filter_text
        if order_by is not None:
            if order_by not in ORDERS:
                raise ValueError(f"unknown order {order_by!r}; one of {', '.join(ORDERS)}")
            self._order_by = order_by
        self.set_agents(self._all)

    def set_conflicts(self, conflicts: dict[str, tuple[str, ...]]) -> None:
        """Predicted merge result per agent: () merges cleanly, (files...) conflicts; missing = not known yet."""
        self._conflicts = dict(conflicts)
        self.set_agents(self._all, force=True)

    def set_new_work(self, names: set[str] | frozenset[str]) -> None:
        """Agents with work the reviewer has not seen since their last review: their Files cell says "new"."""
        if frozenset(names) != self._new_work:
            self._new_work = frozenset(names)
            self.set_agents(self._all, force=True)

    def set_agents(self, agents: list[Agent], force: bool = False) -> None:
        """Show these agents (filtered and ordered): re-render only rows whose cells changed, repaint only their lines.

        An agent that is the very object shown last time (the monitor hands out unchanged agents as the same
        copy) keeps its cells without building them again, unless `force` (the clock, the conflicts, the
        theme or new work changed what every row would say).
        """
        self._all = list(agents)
        words = self._filter.lower().split()
        if words:
            agents = [a for a in agents if matches(a, words)]
        if self._order_by == "attention":
            agents = sorted(agents, key=attention_key)
        elif self._order_by == "name":
            agents = sorted(agents, key=lambda a: a.name.lower())
        incoming = {a.name: a for a in agents}
        now = time.time()
        order = [a.name for a in agents]
        changed: set[str] = set()
        for agent in agents:
            if not force and self._source.get(agent.name) is agent and agent.name in self._cells_shown:
                continue
            self._source[agent.name] = agent
            self.cells_built += 1
            cells = self._cells(agent, now)
            look = tuple((c.plain, str(c.style), tuple(c.spans)) for c in cells)
            if self._looks.get(agent.name) != look:     # rich's Text compares characters only, not colours
                self._looks[agent.name] = look
                self._cells_shown[agent.name] = cells
                self._strips.pop(agent.name, None)
                changed.add(agent.name)
        for name in set(self._cells_shown) - set(incoming):
            del self._cells_shown[name]
            self._looks.pop(name, None)
            self._source.pop(name, None)
            self._strips.pop(name, None)
        self.last_changed = changed
        self._agents = incoming
        widths = self._measure()
        if order != self._order or widths != self._widths:
            self._order = order
            if widths != self._widths:
                self._widths = widths
                self._strips.clear()
                self._header = None
            self.virtual_size = Size(self._row_width(), len(order) + 1)
            self.refresh()
        else:
            for name in changed:
                self._refresh_row(self._order.index(name))
        if order:
            self.cursor_row = max(0, min(self.cursor_row, len(order) - 1))
            if self._selected is not None and self._selected in incoming and self._order.index(self._selected) != self.cursor_row:
                self.cursor_row = self._order.index(self._selected)   # the selected agent moved: follow it
        self._post_selection()

    def tick(self) -> None:
        """Advance the time columns without waiting for an update (only rows whose text changed)."""
        self.set_agents(self._all, force=True)

    # -- rendering --------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:   # the header stays put while the rows scroll under it
            if self._header is None:
                header_style = self.get_component_rich_style("agent-table--header")
                self._header = self._render_cells(tuple(Text(label) for _, label in COLUMNS), header_style)
            return self._header.crop_extend(0, width, self.get_component_rich_style("agent-table--header"))
        row = y - 1 + self.scroll_offset.y
        if row >= len(self._order):
            return Strip.blank(width, base)
        name = self._order[row]
        strip = self._strips.get(name)
        if strip is None:
            strip = self._strips[name] = self._render_cells(self._cells_shown[name], base)
        strip = strip.crop_extend(0, width, base)
        if row == self.cursor_row:
            cursor = self.get_component_rich_style(
                "agent-table--cursor" if self.has_focus else "agent-table--cursor-blurred")
            # The cursor's colours win over each cell's own, so the selected row is legible in every theme.
            strip = Strip(Segment.apply_style(list(strip), post_style=cursor), strip.cell_length)
        return strip

    def _render_cells(self, cells: tuple[Text, ...], style: Style) -> Strip:
        line = Text(" ", no_wrap=True, end="")
        for text, width in zip(cells, self._widths):
            cell = text.copy()
            cell.truncate(width, overflow="ellipsis", pad=True)
            line.append_text(cell)
            line.append(" " * GAP)
        # Text.render leaves the base style out: lay it under every cell's own colours.
        return Strip(line.render(self.app.console)).apply_style(style).simplify()

    def _measure(self) -> tuple[int, ...]:
        widths = []
        for i, (key, label) in enumerate(COLUMNS):
            if key in FIXED_WIDTHS:
                widths.append(FIXED_WIDTHS[key])
                continue
            w = max([len(label)] + [cells[i].cell_len for cells in self._cells_shown.values()])
            widths.append(min(w, MAX_WIDTHS.get(key, w)))
        return tuple(widths)

    def _row_width(self) -> int:
        return 1 + sum(self._widths) + GAP * len(self._widths)

    def _refresh_row(self, row: int) -> None:
        y = row + 1 - self.scroll_offset.y
        if 1 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    def _restyle(self) -> None:
        """The theme changed: every colour in every row changes with it."""
        self._cells_shown.clear()
        self._looks.clear()
        self._strips.clear()
        self._header = None
        self.set_agents(self._all, force=True)
        self.refresh()

    def _colour(self, variable: str) -> str:
        return self.app.theme_variables.get(variable, "")

    def _cells(self, a: Agent, now: float) -> tuple[Text, ...]:
        kind = "merged" if a.merged else a.status.kind.value
        status = Text(f"{STATUS_ICONS.get(kind, '·')} {kind.replace('_', ' ')}",
                      style=self._colour(f"status-{kind.replace('_', '-')}"))
        triggers = Text()
        for t in a.triggers:
            triggers.append(TRIGGER_ICONS.get(t.kind, "•"),
                            style=self._colour("trigger-loud" if t.loud else "trigger-quiet"))
        if a.limit_resets_at is not None and any(t.kind == TriggerKind.LIMIT for t in a.triggers):
            triggers.append(" " + until_text(a.limit_resets_at, now).split(" ")[-1])    # "$ 01:00": until when
        lines = Text()
        lines.append(f"+{a.added}", style=self._colour("success"))
        lines.append("/")
        lines.append(f"-{a.removed}", style=self._colour("error"))
        check = Text("-", style="dim")
        if a.check_running:
            check = Text(f"⧗ {ago(now - float(a.check_running.get('started_at') or now))}",
                         style=self._colour("warning"))
        elif a.last_check:
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
        files = Text(str(a.files_changed))
        if a.name in self._new_work:
            files.append(" new", style=self._colour("warning"))   # changed since its last review
        return (status, Text(a.name), triggers, merge, files, lines, check,
                Text(f"{ago(now - a.last_activity_at)} ago" if a.last_activity_at else "-"),
                Text(ago(now - a.started_at) if a.started_at else "-"), Text(a.agent))

    # -- cursor -------------------------------------------------------------------

    def watch_cursor_row(self, old: int, new: int) -> None:
        self._refresh_row(old)
        self._refresh_row(new)
        self._scroll_to_cursor()
        self._post_selection()

    def _scroll_to_cursor(self) -> None:
        rows_visible = max(1, self.scrollable_content_region.height - 1)
        top = self.scroll_offset.y
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False)
        elif self.cursor_row >= top + rows_visible:
            self.scroll_to(y=self.cursor_row - rows_visible + 1, animate=False)

    def _post_selection(self) -> None:
        name = self._order[self.cursor_row] if 0 <= self.cursor_row < len(self._order) else None
        if name != self._selected:
            self._selected = name
            self.post_message(self.AgentSelected(name))

    def on_focus(self) -> None:
        self._refresh_row(self.cursor_row)

    def on_blur(self) -> None:
        self._refresh_row(self.cursor_row)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor_row + 1)

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor_row - 1)

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self._order) - 1)

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor_row + max(1, self.scrollable_content_region.height - 2))

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor_row - max(1, self.scrollable_content_region.height - 2))

    def action_choose(self) -> None:
        if self._selected is not None:
            self.post_message(self.Chosen(self._selected))

    def on_click(self, event: events.Click) -> None:
        row = event.y - 1 + self.scroll_offset.y
        if event.y < 1 or not 0 <= row < len(self._order):
            return
        self.move_cursor(row)
        if event.chain >= 2:   # double click attaches, like enter
            self.action_choose()
