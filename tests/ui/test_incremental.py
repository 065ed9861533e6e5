"""The detail and the pane preview cost nothing when an update leaves the selected agent as it was."""

from __future__ import annotations

from dataclasses import replace

from textual.app import App, ComposeResult

from app.model import Kind, Status
from tests.ui.test_agent_table import agent
from widgets.agent_detail import AgentDetail
from widgets.pane_preview import PanePreview


class DetailApp(App):
    def compose(self) -> ComposeResult:
        yield AgentDetail()
        yield PanePreview()


async def test_the_detail_renders_only_when_its_rows_change():
    app = DetailApp()
    async with app.run_test(size=(100, 30)) as pilot:
        detail = app.query_one(AgentDetail)
        a = agent(1)
        detail.show(a)
        detail.show(replace(a))         # an equal agent, as the next update hands it
        await pilot.pause()
        assert detail.renders == 1
        detail.show(replace(a, status=Status(Kind.WORKING, "spinner")))
        assert detail.renders == 2
        detail.show(None)
        detail.show(None)
        assert detail.renders == 3


async def test_the_preview_reflows_only_when_its_line_count_changes():
    app = DetailApp()
    async with app.run_test(size=(100, 30)) as pilot:
        preview = app.query_one(PanePreview)
        layouts: list[bool] = []
        original = preview.update

        def update(content, *, layout: bool = True):
            layouts.append(layout)
            return original(content, layout=layout)

        preview.update = update
        preview.screen_text = "a\nb\nc"
        await pilot.pause()
        preview.screen_text = "b\nc\nd"
        preview.screen_text = "c\nd\ne"
        await pilot.pause()
        preview.screen_text = "c\nd"
        await pilot.pause()
        assert layouts == [True, False, False, True]
