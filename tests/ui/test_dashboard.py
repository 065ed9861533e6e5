"""The dashboard under Pilot, on a real fleet (private tmux server, real git, the demo agent)."""

from __future__ import annotations

from pathlib import Path

from app.config import Task
from app.dashboard import Dashboard, key_table_markdown
from app.fleet import Fleet
from app.screens.confirm import ConfirmScreen
from app.screens.help import HelpScreen
from app.screens.reply import ReplyScreen
from app.screens.spawn import SpawnScreen
from widgets.agent_table import AgentTable
from widgets.pane_preview import PanePreview
from tests.helpers import demo_command, demo_script

ROOT = Path(__file__).resolve().parents[2]


async def wait_for(pilot, predicate, timeout: float = 15.0):
    """Let the app run until predicate() is true (workers post their results asynchronously)."""
    steps = int(timeout / 0.05)
    for _ in range(steps):
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not met in time")


def collect_triggers():
    """A list that fills with every trigger the app announces, and the message hook that fills it."""
    from app.screens.messages import TriggerRaised
    raised: list = []

    def hook(message):
        if isinstance(message, TriggerRaised):
            raised.append(message.trigger)
    return raised, hook


def idle_agent(fleet: Fleet, tmp_path: Path, name: str, edit: str = "notes.md"):
    script = demo_script(tmp_path, [{"do": "say", "text": f"{name} ready"},
                                    {"do": "idle", "reply_work": 0.1, "reply_edit": edit}])
    return fleet.spawn(Task(name=name, agent=demo_command(script)))


async def test_table_preview_and_selection(fleet: Fleet, tmp_path: Path):
    idle_agent(fleet, tmp_path, "first")
    idle_agent(fleet, tmp_path, "second")
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(140, 44)) as pilot:
        table = app.query_one(AgentTable)
        await wait_for(pilot, lambda: table.row_count == 2)
        await wait_for(pilot, lambda: app.main_screen.selected == "first")
        await wait_for(pilot, lambda: "first ready" in app.query_one(PanePreview).screen_text)
        await pilot.press("j")
        await wait_for(pilot, lambda: app.main_screen.selected == "second")
        await wait_for(pilot, lambda: "second ready" in app.query_one(PanePreview).screen_text)
        assert "2 agents" in app.title


async def test_reply_without_attaching_reaches_the_agent(fleet: Fleet, tmp_path: Path):
    agent = idle_agent(fleet, tmp_path, "helper", edit="answer.md")
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_for(pilot, lambda: app.main_screen.selected == "helper")
        await wait_for(pilot, lambda: "? for shortcuts" in app.query_one(PanePreview).screen_text)
        await pilot.press("i")
        assert isinstance(app.screen, ReplyScreen)
        await pilot.press(*"use $(no) please")
        await pilot.press("enter")
        answer = Path(agent.worktree) / "answer.md"
        await wait_for(pilot, lambda: answer.exists() and "use $(no) please" in answer.read_text())


async def test_stop_asks_first_and_keeps_work(fleet: Fleet, tmp_path: Path):
    agent = idle_agent(fleet, tmp_path, "victim")
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_for(pilot, lambda: app.main_screen.selected == "victim")
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # cancel: nothing happens
        await pilot.pause(0.3)
        assert fleet.get("victim", stats=False).pane_alive
        await pilot.press("x")
        await pilot.press("y")
        await wait_for(pilot, lambda: fleet.get("victim", stats=False).pane is None)
        await wait_for(pilot, lambda: app.agents["victim"].status.kind.value == "exited")
    assert Path(agent.worktree).is_dir()


async def test_spawn_form_starts_an_agent(fleet: Fleet, tmp_path: Path):
    script = demo_script(tmp_path, [{"do": "idle"}])
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(140, 50)) as pilot:
        await pilot.press("n")
        assert isinstance(app.screen, SpawnScreen)
        app.screen.query_one("#name").value = "from form"
        app.screen.query_one("#command").value = demo_command(script)
        app.screen.query_one("#scope").value = "src/**, docs/*.md"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "from form" in app.agents)
        assert app.agents["from form"].scope == ("src/**", "docs/*.md")


async def test_attach_headless_explains_how(fleet: Fleet, tmp_path: Path, tmux_socket: str):
    idle_agent(fleet, tmp_path, "target")
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_for(pilot, lambda: app.main_screen.selected == "target")
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("attach" in n.message for n in app._notifications))
        note = next(n.message for n in app._notifications if "attach" in n.message)
        assert f"tmux -L {tmux_socket} attach-session -t {fleet.session}" in note


async def test_keys_disabled_without_an_agent(fleet: Fleet):
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        for action in ("attach", "reply", "approve", "kill"):
            assert not app.check_action(action, ())
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_themes_are_registered_and_switchable(fleet: Fleet):
    app = Dashboard(fleet)
    async with app.run_test(size=(120, 40)) as pilot:
        assert {"paneboard-dark", "paneboard-light"} <= set(app.available_themes)
        assert app.theme == "paneboard-dark"
        app.theme = "paneboard-light"
        await pilot.pause()
        assert app.theme_variables["status-needs-input"] != ""


def test_every_binding_has_an_id_and_tooltip():
    from app.screens.help import HelpScreen as H
    for cls in (Dashboard, AgentTable, ReplyScreen, SpawnScreen, ConfirmScreen, H):
        for b in cls.BINDINGS:
            assert b.id and b.tooltip, (cls.__name__, b.key)


def test_readme_key_table_matches_bindings():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = key_table_markdown()
    start, end = "<!-- keys:start -->", "<!-- keys:end -->"
    assert start in readme and end in readme
    current = readme.split(start, 1)[1].split(end, 1)[0].strip()
    assert current == table.replace("# Keys\n\n", "").strip(), \
        "README key table drifted from the bindings: regenerate it with `python -m app.docs`"


async def test_command_palette_offers_agent_actions(fleet: Fleet, tmp_path: Path):
    idle_agent(fleet, tmp_path, "palette-agent")
    idle_agent(fleet, tmp_path, "other")
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_for(pilot, lambda: len(app.agents) == 2)
        await pilot.press("ctrl+p")
        await pilot.press(*"reply to other")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ReplyScreen))
        assert app.main_screen.selected == "other" and app.screen.agent_name == "other"


async def test_review_opens_on_the_agents_changes(fleet: Fleet, tmp_path: Path):
    from app.screens.review import ReviewScreen
    agent = idle_agent(fleet, tmp_path, "reviewed")
    (Path(agent.worktree) / "src" / "app.py").write_text("print('changed')\n")
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_for(pilot, lambda: app.main_screen.selected == "reviewed")
        await pilot.press("v")
        assert isinstance(app.screen, ReviewScreen)
        await wait_for(pilot, lambda: "src/app.py" in str(app.screen.query_one("DiffView").path))
        # Updates keep landing on the main screen while the review is on top.
        (Path(agent.worktree) / "extra.txt").write_text("more\n")
        await wait_for(pilot, lambda: app.agents["reviewed"].files_changed == 2)
        assert isinstance(app.screen, ReviewScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, ReviewScreen)


async def test_question_raises_a_trigger_and_one_key_answers_it(fleet: Fleet, tmp_path: Path):
    from app.model import Kind, TriggerKind
    script = demo_script(tmp_path, [{"do": "say", "text": "about to ask"},
                                    {"do": "work", "seconds": 30},  # 1.5 s at the test speed: after the first paint
                                    {"do": "ask", "question": "Run pytest -q?"},
                                    {"do": "edit", "path": "approved.txt", "text": "yes"},
                                    {"do": "idle"}])
    agent = fleet.spawn(Task(name="asker", agent=demo_command(script)))
    raised, hook = collect_triggers()
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(140, 44), message_hook=hook) as pilot:
        await wait_for(pilot, lambda: any(t.kind is TriggerKind.NEEDS_INPUT for t in raised))
        a = app.agents["asker"]
        assert a.status.kind is Kind.NEEDS_INPUT and "Do you want to proceed?" in a.status.evidence + a.status.why
        log_text = "\n".join(str(line.text) for line in app.query_one("#trigger-log").lines)
        assert "asker: needs input" in log_text
        assert any("asker" in (n.title or "") for n in app._notifications)
        await wait_for(pilot, lambda: app.main_screen.selected == "asker")
        await pilot.press("a")
        await wait_for(pilot, lambda: (Path(agent.worktree) / "approved.txt").exists())
        await wait_for(pilot, lambda: not any(t.kind is TriggerKind.NEEDS_INPUT for t in app.agents["asker"].triggers))
        assert app.agents["asker"].status.kind is not Kind.NEEDS_INPUT


async def test_acknowledge_hides_a_trigger_until_it_fires_again(fleet: Fleet, tmp_path: Path):
    from app.model import TriggerKind
    script = demo_script(tmp_path, [{"do": "say", "text": "bye"}, {"do": "exit", "code": 4}])
    fleet.spawn(Task(name="dies", agent=demo_command(script)))
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_for(pilot, lambda: "dies" in app.agents and any(
            t.kind is TriggerKind.EXITED and t.loud for t in app.agents["dies"].triggers))
        await wait_for(pilot, lambda: app.main_screen.selected == "dies")
        await pilot.press("space")
        await wait_for(pilot, lambda: not app.agents["dies"].triggers)
        assert app.agents["dies"].status.kind.value == "exited"  # the status stays; only the alert is hidden


async def test_queued_task_shows_what_it_waits_for_and_can_be_dropped(fleet: Fleet, tmp_path: Path):
    from app.config import TaskFile
    from widgets.agent_detail import AgentDetail
    script = demo_script(tmp_path, [{"do": "say", "text": "api ready"}, {"do": "idle"}])
    tasks = TaskFile(path=tmp_path / "paneboard.yaml", settings=fleet.settings,
                     tasks=(Task(name="api", agent=demo_command(script)),
                            Task(name="ui", agent=demo_command(script), after=("api",))))
    started, queued, _ = fleet.up(tasks)
    assert [a.name for a in started] == ["api"] and queued == ["ui"]
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(140, 44)) as pilot:
        table = app.query_one(AgentTable)
        await wait_for(pilot, lambda: table.row_count == 2)
        app.select_agent("ui")
        await pilot.pause()
        assert "queued" in table.render_line(table.get_row_index("ui") + 1).text
        detail = app.query_one(AgentDetail)
        assert any("waits for api to be merged" in line.text for line in detail.render_lines(detail.region.reset_offset))
        assert app.agents["ui"].status.why == "waits for api to be merged"
        assert not app.check_action("attach", ()) and not app.check_action("review", ())
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: "ui" not in fleet.state.read()["queued"])
        await wait_for(pilot, lambda: table.row_count == 1)
        assert fleet.get("api", stats=False).pane_alive


async def test_markup_in_names_prompts_and_output_is_shown_as_typed(fleet: Fleet, tmp_path: Path):
    from widgets.agent_detail import AgentDetail
    name = "fix [/b] [red]x"
    script = demo_script(tmp_path, [{"do": "say", "text": "[/oops] [bold]ready"}, {"do": "idle"}])
    fleet.spawn(Task(name=name, agent=demo_command(script), prompt="close [/x] the [link=y]tag"))
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_for(pilot, lambda: app.main_screen.selected == name)
        await wait_for(pilot, lambda: "[/oops]" in app.query_one(PanePreview).screen_text)
        await pilot.pause(0.3)
        shown = app.query_one(AgentDetail).render_lines(app.query_one(AgentDetail).region.reset_offset)
        assert any("[/x]" in line.text for line in shown)
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.pause(0.2)
        assert "fix [/b] [red]x" in " ".join(s.text for s in app.screen.query_one("Static").render_lines(
            app.screen.query_one("Static").region.reset_offset))
        await pilot.press("n")
        await pilot.press("i")
        assert isinstance(app.screen, ReplyScreen)
        await pilot.press("escape")


async def test_overlap_already_true_at_start_is_logged_not_announced(fleet: Fleet, tmp_path: Path):
    """Two agents that edited the same file before the dashboard started: a fact to log, not news to toast."""
    from app.model import TriggerKind
    a = idle_agent(fleet, tmp_path, "left")
    b = idle_agent(fleet, tmp_path, "right")
    for agent in (a, b):
        (Path(agent.worktree) / "src" / "app.py").write_text(f"print({agent.name!r})\n")
    raised, hook = collect_triggers()
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(140, 44), message_hook=hook) as pilot:
        await wait_for(pilot, lambda: {t.agent for t in raised if t.kind is TriggerKind.OVERLAP} == {"left", "right"})
        log_text = "\n".join(str(line.text) for line in app.query_one("#trigger-log").lines)
        assert "left: overlap" in log_text and "right: overlap" in log_text
        assert not [n for n in app._notifications if "overlap" in (n.title or "")]
        # A third agent touching the same file later is news.
        c = idle_agent(fleet, tmp_path, "late")
        app.monitor.refresh()
        await wait_for(pilot, lambda: "late" in app.agents and app.agents["late"].status.kind.value == "idle")
        await pilot.pause(0.5)
        (Path(c.worktree) / "src" / "app.py").write_text("print('late')\n")
        await wait_for(pilot, lambda: any(t.agent == "late" and t.kind is TriggerKind.OVERLAP for t in raised))
        await wait_for(pilot, lambda: any("late: overlap" in (n.title or "") for n in app._notifications))


async def test_filter_and_sort_keys(fleet: Fleet, tmp_path: Path):
    from textual.widgets import Input
    idle_agent(fleet, tmp_path, "api-server")
    idle_agent(fleet, tmp_path, "web-ui")
    idle_agent(fleet, tmp_path, "api-client")
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(140, 44)) as pilot:
        table = app.query_one(AgentTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        await pilot.press("slash")
        box = app.query_one("#filter", Input)
        assert box.has_focus and box.display
        await pilot.press(*"api")
        await wait_for(pilot, lambda: set(table.row_names) == {"api-server", "api-client"})
        assert "2 of 3" in str(table.border_title)
        await pilot.press("enter")                  # keep the filter, back to the table
        assert table.has_focus and table.filter_text == "api"
        await pilot.press("s", "s")                 # fleet -> attention -> name
        assert table.order_by == "name" and table.row_names == ("api-client", "api-server")
        assert "by name" in str(table.border_title)
        await pilot.press("escape")                 # clears the filter, keeps the order
        await wait_for(pilot, lambda: table.row_count == 3)
        assert not box.display and table.row_names == ("api-client", "api-server", "web-ui")
        await pilot.press("s")
        assert table.order_by == "fleet" and str(table.border_title) == "Agents"


async def test_a_burst_of_triggers_becomes_one_summary_toast(fleet: Fleet, tmp_path: Path):
    from app.model import TriggerKind
    script = demo_script(tmp_path, [{"do": "say", "text": "working"},
                                    {"do": "work", "seconds": 30},      # 1.5 s at the test speed: after the first paint
                                    {"do": "exit", "code": 3}])
    for i in range(5):
        fleet.spawn(Task(name=f"crash-{i}", agent=demo_command(script)))
    raised, hook = collect_triggers()
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(140, 44), message_hook=hook) as pilot:
        await wait_for(pilot, lambda: len({t.agent for t in raised if t.kind is TriggerKind.EXITED}) == 5)
        await pilot.pause(0.2)
        toasts = list(app._notifications)
        assert len(toasts) == 1, [n.title for n in toasts]
        assert toasts[0].title.startswith("5 triggers in 10 s") and toasts[0].severity == "error"
        assert all(f"crash-{i}: exited" in toasts[0].message for i in range(5))
        log_text = "\n".join(str(line.text) for line in app.query_one("#trigger-log").lines)
        assert all(f"crash-{i}: exited" in log_text for i in range(5))     # every one is still logged
