"""The table and the why panel show a running check with its elapsed time, its result the moment it
ends, and until when an agent's usage limit holds."""

from __future__ import annotations

from pathlib import Path

from app.config import Settings, Task
from app.dashboard import Dashboard
from app.fleet import Fleet
from app.git.worktrees import find_repo
from app.screens.text import TextScreen
from tests.helpers import demo_command, demo_script
from tests.ui.test_dashboard import wait_for


def row(app, name: str) -> str:
    table = app.main_screen.table
    return table.render_line(table.get_row_index(name) + 1).text


def detail(app) -> str:
    d = app.main_screen.detail
    return " ".join(line.text for line in d.render_lines(d.region.reset_offset))


async def test_a_running_check_shows_with_its_elapsed_time_then_its_result(repo: Path, tmux_socket: str,
                                                                         tmp_path: Path):
    fleet = Fleet(find_repo(repo), Settings(agent="demo", tmux_socket=tmux_socket,
                                            check="sh -c 'echo checking; sleep 2; test -f good.txt'"))
    script = demo_script(tmp_path, [{"do": "say", "text": "ready"}, {"do": "idle"}])
    wt = Path(fleet.spawn(Task(name="checked", agent=demo_command(script))).worktree)
    (wt / "good.txt").write_text("ok\n")
    # Rediscovery every 100 s: the check's own record is what brings the news.
    app = Dashboard(fleet, refresh_seconds=20)
    async with app.run_test(size=(150, 44)) as pilot:
        await wait_for(pilot, lambda: app.main_screen.selected == "checked"
                       and app.agents["checked"].status.kind.value == "idle")
        await pilot.press("t")
        await wait_for(pilot, lambda: "⧗ <10s" in row(app, "checked"), timeout=10)
        await pilot.pause(0.1)
        assert "running `sh -c" in detail(app)
        log = Path(app.agents["checked"].check_running["log"])
        await wait_for(pilot, lambda: "checking" in log.read_text())
        await pilot.press("l")                       # the log so far
        assert isinstance(app.screen, TextScreen) and "running" in app.screen.title_text \
            and "checking" in app.screen.body
        await pilot.press("escape")
        await wait_for(pilot, lambda: "✓" in row(app, "checked"), timeout=10)
        await pilot.pause(0.1)
        assert "passed in" in detail(app) and "⧗" not in row(app, "checked")


async def test_a_limit_shows_until_when(fleet: Fleet, tmp_path: Path):
    script = demo_script(tmp_path, [{"do": "limit", "resets_in": 600}, {"do": "idle"}])
    fleet.spawn(Task(name="limited", agent="demo", env={"PANEBOARD_DEMO_SCRIPT": str(script),
                                                       "PANEBOARD_DEMO_SPEED": "1"}))
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(150, 44)) as pilot:
        await wait_for(pilot, lambda: app.agents.get("limited") and app.agents["limited"].limit_resets_at)
        until = app.agents["limited"].to_json()["limit_resets_at"][11:16]      # "HH:MM" of the ISO time
        await wait_for(pilot, lambda: f"$ {until}" in row(app, "limited"))
        app.main_screen.select_agent("limited")
        await pilot.pause(0.2)
        assert f"until {until}" in detail(app)
