"""The agent table widget on its own: keys, mouse, and that an update repaints only what changed."""

from __future__ import annotations

import time
from dataclasses import replace

from textual.app import App, ComposeResult

from app.model import Agent, Kind, Status, Trigger, TriggerKind
from widgets.agent_table import AgentTable


def agent(i: int, kind: Kind = Kind.IDLE, **kw) -> Agent:
    now = time.time()
    return Agent(name=f"agent-{i:02d}", task=f"agent-{i:02d}", agent="demo", branch=f"paneboard/agent-{i:02d}",
                 worktree=f"/nowhere/{i}", base="main", session="s", pane=f"%{i}", started_at=now,
                 last_activity_at=now, status=Status(kind, "test"), pane_alive=True, **kw)


class TableApp(App):
    def __init__(self) -> None:
        super().__init__()
        self.selected: list[str | None] = []
        self.chosen: list[str] = []

    def compose(self) -> ComposeResult:
        yield AgentTable()

    def on_agent_table_agent_selected(self, message: AgentTable.AgentSelected) -> None:
        self.selected.append(message.name)

    def on_agent_table_chosen(self, message: AgentTable.Chosen) -> None:
        self.chosen.append(message.name)


def row_text(table: AgentTable, row: int) -> str:
    return table.render_line(row + 1 - table.scroll_offset.y).text


async def test_keys_move_the_cursor_and_enter_chooses():
    app = TableApp()
    async with app.run_test(size=(120, 12)) as pilot:
        table = app.query_one(AgentTable)
        table.focus()
        table.set_agents([agent(i) for i in range(30)])
        await pilot.pause()
        assert table.selected == "agent-00" and app.selected[-1] == "agent-00"
        await pilot.press("j", "j", "down")
        assert table.cursor_row == 3 and table.selected == "agent-03"
        await pilot.press("k")
        assert table.selected == "agent-02"
        await pilot.press("G")
        await pilot.pause()
        assert table.selected == "agent-29"
        # The cursor row is scrolled into view: the last row is on screen, under the fixed header.
        assert "agent-29" in row_text(table, 29)
        assert "Status" in table.render_line(0).text and "Agent" in table.render_line(0).text
        await pilot.press("g")
        await pilot.pause()
        assert table.selected == "agent-00" and table.scroll_offset.y == 0
        await pilot.press("pagedown")
        assert table.cursor_row > 3
        await pilot.press("enter")
        await pilot.pause()
        assert app.chosen == [table.selected]


async def test_click_selects_and_double_click_chooses():
    app = TableApp()
    async with app.run_test(size=(120, 12)) as pilot:
        table = app.query_one(AgentTable)
        table.set_agents([agent(i) for i in range(5)])
        await pilot.pause()
        await pilot.click(AgentTable, offset=(5, 3))     # line 3 = row 2 under the header
        await pilot.pause()
        assert table.selected == "agent-02" and app.chosen == []
        await pilot.click(AgentTable, offset=(5, 3), times=2)
        await pilot.pause()
        assert app.chosen == ["agent-02"]
        await pilot.click(AgentTable, offset=(5, 0))     # the header selects nothing
        await pilot.pause()
        assert table.selected == "agent-02"


async def test_update_rerenders_only_the_changed_row():
    app = TableApp()
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(AgentTable)
        agents = [agent(i) for i in range(20)]
        table.set_agents(agents)
        await pilot.pause()
        rendered: list[str] = []
        original = table._render_cells

        def counting(cells, style):
            rendered.append(cells[1].plain)
            return original(cells, style)

        table._render_cells = counting
        agents[7] = replace(agents[7], status=Status(Kind.WORKING, "spinner"))
        table.set_agents(agents)
        await pilot.pause()
        assert rendered == ["agent-07"]
        assert "working" in row_text(table, 7) and "idle" in row_text(table, 8)
        # Same data again: nothing re-rendered at all.
        rendered.clear()
        table.set_agents(list(agents))
        await pilot.pause()
        assert rendered == []


async def test_selection_follows_the_agent_when_rows_reorder_and_vanish():
    app = TableApp()
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(AgentTable)
        agents = [agent(i) for i in range(5)]
        table.set_agents(agents)
        await pilot.pause()
        table.move_cursor(3)
        await pilot.pause()
        assert table.selected == "agent-03"
        table.set_agents(list(reversed(agents)))
        await pilot.pause()
        assert table.selected == "agent-03" and table.cursor_row == 1
        table.set_agents([a for a in agents if a.name != "agent-03"])
        await pilot.pause()
        assert table.selected is not None and table.selected != "agent-03"
        table.set_agents([])
        await pilot.pause()
        assert table.selected is None and table.row_count == 0
        assert app.selected[-1] is None


async def test_long_names_are_cut_and_columns_line_up():
    app = TableApp()
    async with app.run_test(size=(160, 10)) as pilot:
        table = app.query_one(AgentTable)
        long = replace(agent(1), name="x" * 60)
        table.set_agents([agent(0), long])
        await pilot.pause()
        header = table.render_line(0).text
        first, second = row_text(table, 0), row_text(table, 1)
        assert "x" * 60 not in second and "…" in second
        col = header.index("Triggers")
        # Every row's third column starts where its header does.
        assert first[col - 2:col] == "  " and second[col - 2:col] == "  "


async def test_filter_and_attention_order():
    from app.model import Trigger, TriggerKind
    app = TableApp()
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(AgentTable)
        asks = agent(3, Kind.NEEDS_INPUT, triggers=[Trigger(TriggerKind.NEEDS_INPUT, "agent-03", "asks", 0.0)])
        crashed = agent(1, Kind.EXITED, triggers=[Trigger(TriggerKind.EXITED, "agent-01", "exit 3", 0.0, loud=True)])
        agents = [agent(0, Kind.WORKING), crashed, agent(2), asks]
        table.set_agents(agents)
        await pilot.pause()
        table.set_view(order_by="attention")
        await pilot.pause()
        assert table.row_names == ("agent-01", "agent-03", "agent-00", "agent-02")   # loud first, then the question
        table.set_view(filter_text="needs input")
        await pilot.pause()
        assert table.row_names == ("agent-03",) and table.selected == "agent-03" and table.total == 4
        table.set_view(filter_text="exited agent-01")        # every word must match
        await pilot.pause()
        assert table.row_names == ("agent-01",)
        table.set_view(filter_text="nothing-like-this")
        await pilot.pause()
        assert table.row_names == () and table.selected is None
        # New data while filtered keeps the filter; clearing it brings every agent back.
        table.set_agents(agents + [agent(4)])
        await pilot.pause()
        assert table.row_names == ()
        table.set_view(filter_text="", order_by="fleet")
        await pilot.pause()
        assert table.row_names == ("agent-00", "agent-01", "agent-02", "agent-03", "agent-04")
        assert table.selected is not None


async def test_unchanged_agent_objects_build_no_cells():
    """The monitor hands out an unchanged agent as the same object: the table builds cells only for the one that changed."""
    app = TableApp()
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(AgentTable)
        agents = [agent(i) for i in range(40)]
        table.set_agents(agents)
        await pilot.pause()
        assert table.cells_built == 40
        agents[7] = replace(agents[7], status=Status(Kind.WORKING, "spinner"))
        table.set_agents(list(agents))
        await pilot.pause()
        assert table.cells_built == 41 and table.last_changed == {"agent-07"}
        assert "working" in row_text(table, 7)
        # Equal but new objects are looked at (a caller that copies every time still sees changes).
        table.set_agents([replace(a) for a in agents])
        assert table.cells_built == 81 and table.last_changed == set()
        # The clock's tick looks at every row again, whatever the objects.
        table.tick()
        assert table.cells_built == 121


async def test_a_change_of_colour_alone_repaints_the_row():
    """A trigger that turns quiet keeps its icon: the row is rendered again for its colour."""
    import themes
    app = TableApp()
    async with app.run_test(size=(120, 30)) as pilot:
        app.register_theme(themes.DARK)
        app.theme = themes.DARK.name     # loud and quiet triggers have their colours in paneboard's themes
        table = app.query_one(AgentTable)
        loud = Trigger(TriggerKind.SILENCE, "agent-03", "no output for 20m", time.time(), loud=True)
        agents = [agent(i) for i in range(6)]
        agents[3] = replace(agents[3], triggers=[loud])
        table.set_agents(agents)
        await pilot.pause()
        agents[3] = replace(agents[3], triggers=[replace(loud, loud=False)])
        table.set_agents(list(agents))
        assert table.last_changed == {"agent-03"}
