"""The help screen says, quietly, which dashboard runs on_trigger and writes the timelines (app/monitor/writer.py)."""

from __future__ import annotations

import os

from app.dashboard import Dashboard
from app.monitor.writer import WriterLock
from app.screens.help import HelpScreen
from tests.helpers import until


async def _help_text(app, pilot) -> str:
    await pilot.press("question_mark")
    await until(lambda: isinstance(app.screen, HelpScreen))
    return app.screen.markdown


async def test_the_writer_says_it_runs_on_trigger(fleet):
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.monitor.writes)
        assert "This dashboard runs on_trigger and writes the timelines and status files." in await _help_text(app, pilot)


async def test_a_second_dashboard_names_the_one_that_does(fleet):
    other = WriterLock(fleet.repo.state_dir)      # a dashboard already running on this repository
    assert other.take()
    try:
        app = Dashboard(fleet, refresh_seconds=0.2)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(lambda: app.monitor.publisher.ready.is_set())
            text = await _help_text(app, pilot)
            assert not app.monitor.writes
            assert f"Another dashboard (pid {os.getpid()}) runs on_trigger" in text
    finally:
        other.release()
