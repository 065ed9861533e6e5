"""The dashboard's merge confirmation never surprises a live agent, and "nothing to merge" asks nothing."""

from __future__ import annotations

from pathlib import Path

from app.config import Task
from app.dashboard import Dashboard
from app.fleet import Fleet
from app.screens.confirm import ConfirmScreen
from tests.helpers import demo_command, demo_script, git
from tests.ui.test_dashboard import wait_for


def warned_text(app) -> str:
    """The text of the confirmation painted in the theme's warning colour."""
    from textual.color import Color
    static = app.screen.query_one("#question")
    warning = Color.parse(app.theme_variables["warning"]).rich_color
    painted = []
    for y in range(static.size.height):
        for segment in static.render_line(y):
            if segment.style is not None and segment.style.color == warning:
                painted.append(segment.text)
    return "".join(painted)


async def test_merge_confirmation_warns_in_the_warning_colour_when_the_agent_works(fleet: Fleet, tmp_path: Path):
    busy = demo_script(tmp_path, [{"do": "edit", "path": "busy.txt", "text": "b"},
                                  {"do": "work", "seconds": 300, "label": "Building"}])
    calm = demo_script(tmp_path, [{"do": "edit", "path": "calm.txt", "text": "c"}, {"do": "idle"}])
    fleet.spawn(Task(name="busy", agent=demo_command(busy, speed=1.0) + " {prompt}", prompt="b"))
    fleet.spawn(Task(name="calm", agent=demo_command(calm) + " {prompt}", prompt="c"))
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(150, 44)) as pilot:
        def ready() -> bool:
            busy_, calm_ = app.agents.get("busy"), app.agents.get("calm")
            return bool(busy_ and calm_ and busy_.status.kind == "working" and busy_.files_changed == 1
                        and calm_.status.kind == "idle" and calm_.files_changed == 1)
        await wait_for(pilot, ready)
        app.main_screen.select_agent("busy")
        await pilot.press("M")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        question = app.screen.question
        assert "busy is working right now" in question and "[$warning]" in question
        await pilot.pause(0.1)
        assert "busy is working right now" in warned_text(app)
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        app.main_screen.select_agent("calm")
        await pilot.press("M")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "right now" not in app.screen.question and "$warning" not in app.screen.question
        await pilot.press("n")


async def test_nothing_to_merge_asks_nothing_and_changes_nothing(fleet: Fleet, repo: Path, tmp_path: Path):
    idle = demo_script(tmp_path, [{"do": "idle"}])
    fleet.spawn(Task(name="empty", agent=demo_command(idle) + " {prompt}", prompt="nothing yet"))
    before = git(repo, "for-each-ref", "refs/heads")
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(150, 44)) as pilot:
        await wait_for(pilot, lambda: "empty" in app.agents and app.agents["empty"].status.kind == "idle")
        await pilot.press("M")
        await wait_for(pilot, lambda: any("adds nothing" in n.message for n in app._notifications))
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.pause(0.3)
        assert app.agents["empty"].pane_alive and not app.agents["empty"].merged
    assert git(repo, "for-each-ref", "refs/heads") == before
    assert Path(fleet.get("empty", stats=False).worktree).is_dir()


async def test_a_predicted_conflict_is_a_trigger_in_the_dashboard(fleet: Fleet, repo: Path, tmp_path: Path):
    from app.model import TriggerKind
    from tests.ui.test_dashboard import collect_triggers
    idle = demo_script(tmp_path, [{"do": "idle"}])
    a = fleet.spawn(Task(name="clash", agent=demo_command(idle) + " {prompt}", prompt="edit the app"))
    (Path(a.worktree) / "src" / "app.py").write_text("print('agent')\n")
    (repo / "src" / "app.py").write_text("print('teammate')\n")
    git(repo, "commit", "-q", "-am", "a teammate edits the same line")
    raised, hook = collect_triggers()
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(150, 44), message_hook=hook) as pilot:
        await wait_for(pilot, lambda: any(t.kind == TriggerKind.CONFLICT for t in raised))
        [t] = [t for t in raised if t.kind == TriggerKind.CONFLICT]
        assert t.agent == "clash" and "would conflict with main in src/app.py" in t.what
        # In the monitor's picture too, so status.json and on_trigger commands get it.
        await wait_for(pilot, lambda: any(t.kind == TriggerKind.CONFLICT for t in app.agents["clash"].triggers))
