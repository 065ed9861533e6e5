"""`--read-only`: the dashboard watches, and every key that would change something is refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import Task
from app.dashboard import CHANGES, READ_ONLY, Dashboard
from app.fleet import Fleet
from app.model import Kind, TriggerKind
from app.monitor.publish import status_file_paths
from tests.helpers import demo_command, demo_script
from tests.ui.test_dashboard import collect_triggers, wait_for


def asking_agent(fleet: Fleet, tmp_path: Path):
    script = demo_script(tmp_path, [{"do": "say", "text": "about to ask"},
                                    {"do": "ask", "question": "Run pytest -q?"},
                                    {"do": "edit", "path": "approved.txt", "text": "yes"},
                                    {"do": "idle"}])
    return fleet.spawn(Task(name="asker", agent=demo_command(script)))


def shown_actions(app) -> set[str]:
    """The actions of the bindings the footer may show on the current screen."""
    return {active.binding.action for active in app.screen.active_bindings.values()}


def refusals(app) -> list[str]:
    return [n.message for n in app._notifications if n.message == READ_ONLY]


async def test_read_only_refuses_every_changing_key_and_changes_nothing(fleet: Fleet, tmp_path: Path):
    agent = asking_agent(fleet, tmp_path)
    raised, hook = collect_triggers()
    app = Dashboard(fleet, refresh_seconds=0.2, read_only=True)
    async with app.run_test(size=(140, 44), message_hook=hook) as pilot:
        await wait_for(pilot, lambda: any(t.kind is TriggerKind.NEEDS_INPUT for t in raised))
        await wait_for(pilot, lambda: app.main_screen.selected == "asker")
        assert not shown_actions(app) & CHANGES                  # the footer offers none of them
        assert {"review", "help", "quit"} <= shown_actions(app)   # watching still works
        assert "read-only" in app.sub_title
        for key in ("a", "r", "space", "z", "M", "d", "t", "x", "R", "n", "i", "enter"):
            before = len(refusals(app))
            await pilot.press(key)
            await wait_for(pilot, lambda: len(refusals(app)) == before + 1)   # each one says so, once
            assert app.screen is app.main_screen, key                       # no dialog opened
        await app.run_action("spawn")                            # the command palette's way in
        assert app.screen is app.main_screen
        assert app.agents["asker"].status.kind is Kind.NEEDS_INPUT
        assert app.agents["asker"].triggers                      # not acknowledged or snoozed
        await pilot.press("v")                                    # a review opens, and closing it records nothing
        await wait_for(pilot, lambda: app.screen is not app.main_screen)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main_screen)
    assert not (Path(agent.worktree) / "approved.txt").exists()
    assert "Run pytest -q?" in fleet.tmux.capture(agent.pane)  # still asking
    state = fleet.repo.state_dir
    assert not (state / "triggers.json").exists()
    assert not any(path.exists() for path in status_file_paths(fleet))
    assert fleet.reviewed_tree("asker") is None
    timeline = fleet.timeline.path("asker").read_text(encoding="utf-8") if fleet.timeline.path("asker").exists() else ""
    assert "dashboard" not in timeline and "needs_input" not in timeline, timeline


@pytest.mark.parametrize("read_only", [False])
async def test_without_read_only_the_same_keys_are_offered(fleet: Fleet, tmp_path: Path, read_only: bool):
    asking_agent(fleet, tmp_path)
    app = Dashboard(fleet, refresh_seconds=0.2, read_only=read_only)
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_for(pilot, lambda: app.main_screen.selected == "asker")
        await wait_for(pilot, lambda: app.agents["asker"].status.kind is Kind.NEEDS_INPUT)
        assert {"approve", "reject", "merge", "discard", "spawn", "kill"} <= shown_actions(app)
