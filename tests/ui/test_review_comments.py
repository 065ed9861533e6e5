"""The review talks back, under Pilot on a real fleet: comments from the diff's cursor, drafts that
survive, one message to the agent; what changed since the last review; the table's "new" mark."""

from __future__ import annotations

from pathlib import Path

from app.config import Task
from app.dashboard import Dashboard
from app.fleet import Fleet
from app.screens.comment import CommentScreen
from app.screens.confirm import ConfirmScreen
from app.screens.review import ReviewScreen
from tests.helpers import demo_command, demo_script, git
from tests.ui.test_dashboard import wait_for
from widgets.comment_drafts import DraftList
from widgets.diff_view import CursorLine, DiffView

CALC = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"


def pane(fleet: Fleet, name: str) -> str:
    return fleet.tmux.capture(fleet.get(name, stats=False).pane)


async def open_review(pilot, app: Dashboard, name: str, path: str) -> DiffView:
    await wait_for(pilot, lambda: app.main_screen.selected == name and app.agents[name].files_changed >= 1)
    await pilot.press("v")
    await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen))
    diff = app.screen.query_one(DiffView)
    await wait_for(pilot, lambda: diff.path == path and diff.rows)
    return diff


async def comment(pilot, app: Dashboard, text: str) -> None:
    await pilot.press("c")
    await wait_for(pilot, lambda: isinstance(app.screen, CommentScreen))
    await pilot.press(*text, "enter")
    await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen))


async def test_comments_from_the_cursor_survive_a_restart_and_reach_the_agent_as_one_message(fleet: Fleet):
    wt = Path(fleet.spawn(Task(name="calc", agent="cat")).worktree)
    (wt / "src" / "calc.py").write_text(CALC)
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(140, 44)) as pilot:
        diff = await open_review(pilot, app, "calc", "src/calc.py")
        await pilot.press("tab")                 # from the file list to the diff
        assert diff.has_focus
        await pilot.press("j")                   # line 1 -> line 2 of the new file
        assert diff.cursor_line().line == 2 and diff.cursor_line().side == "new"
        await comment(pilot, app, "Use math.fsum here")
        await pilot.press("j", "j", "j", "j")
        await comment(pilot, app, "mul is fine")
        drafts = app.screen.query_one(DraftList)
        assert [(c.line, c.text) for c in drafts.comments] == [(2, "Use math.fsum here"), (6, "mul is fine")]
        assert ("new", 2) in diff._commented and "●" in diff.render_line(2).text
        await pilot.press("escape")
        await wait_for(pilot, lambda: git(fleet.repo.root, "for-each-ref", "refs/paneboard/reviewed/"))
    app = Dashboard(fleet, refresh_seconds=0.2)     # a restarted dashboard: the drafts are still there
    async with app.run_test(size=(140, 44)) as pilot:
        await open_review(pilot, app, "calc", "src/calc.py")
        drafts = app.screen.query_one(DraftList)
        assert [c.text for c in drafts.comments] == ["Use math.fsum here", "mul is fine"]
        drafts.focus()
        await pilot.press("j", "x")              # delete the second
        assert [c.text for c in drafts.comments] == ["Use math.fsum here"]
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, CommentScreen))
        await pilot.press(*" (floats)", "enter")
        await wait_for(pilot, lambda: drafts.comments and drafts.comments[0].text == "Use math.fsum here (floats)")
        await wait_for(pilot, lambda: app.agents["calc"].status.kind.value != "working")
        await pilot.press("S")
        await wait_for(pilot, lambda: "(floats)" in pane(fleet, "calc"))
        await wait_for(pilot, lambda: not drafts.comments)
    seen = pane(fleet, "calc")
    assert "Review comments on your changes:" in seen
    assert "src/calc.py:2 (new)   `return a + b`" in seen and "  Use math.fsum here (floats)" in seen
    assert "mul is fine" not in seen
    assert fleet.drafts("calc").items == []
    assert [e.source for e in fleet.timeline.events("calc") if e.kind == "comment"] == ["dashboard"]


async def test_sending_to_a_working_agent_asks_first(fleet: Fleet, tmp_path: Path):
    script = demo_script(tmp_path, [{"do": "edit", "path": "src/app.py", "text": "\n# more\n"},
                                    {"do": "work", "seconds": 100000, "label": "Thinking"}])
    fleet.spawn(Task(name="busy", agent=demo_command(script)))
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_for(pilot, lambda: "busy" in app.agents and app.agents["busy"].status.kind.value == "working")
        await open_review(pilot, app, "busy", "src/app.py")
        await pilot.press("tab")
        await comment(pilot, app, "stop and look")
        await pilot.press("S")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "is working: a message typed into a busy agent may be lost" in app.screen.question
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen))
        await pilot.pause(0.3)
        assert [c.text for c in fleet.drafts("busy").items] == ["stop and look"]
        assert "stop and look" not in pane(fleet, "busy")


async def test_since_review_shows_only_the_newer_change_and_the_table_marks_new_work(fleet: Fleet):
    wt = Path(fleet.spawn(Task(name="calc", agent="sleep 300")).worktree)
    (wt / "src" / "calc.py").write_text(CALC)
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(140, 44)) as pilot:
        await open_review(pilot, app, "calc", "src/calc.py")
        await pilot.press("s")                   # never reviewed: nothing to switch to
        assert not app.screen.since_review
        await pilot.press("escape")
        await wait_for(pilot, lambda: git(fleet.repo.root, "for-each-ref", "refs/paneboard/reviewed/"))
        assert "new" not in app.main_screen.table._cells_shown["calc"][4].plain
        (wt / "NOTES.md").write_text("what changed next\n")
        await wait_for(pilot, lambda: app.main_screen.table._cells_shown["calc"][4].plain == "2 new")
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen) and len(app.screen.changes) == 2)
        await pilot.press("s")
        await wait_for(pilot, lambda: [c.path for c in app.screen.changes] == ["NOTES.md"])
        assert "since your last review" in str(app.screen.query_one("#review-title").render())
        await pilot.press("s")
        await wait_for(pilot, lambda: len(app.screen.changes) == 2)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.main_screen.table._cells_shown["calc"][4].plain == "2")


async def test_new_work_marks_arrive_while_updates_keep_coming(fleet: Fleet):
    """A steady stream of updates (faster than the look's debounce) delays the "new" mark, never starves it."""
    import asyncio
    wt = Path(fleet.spawn(Task(name="calc", agent="sleep 300")).worktree)
    (wt / "src" / "calc.py").write_text(CALC)
    fleet.mark_reviewed("calc")
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(140, 44)) as pilot:
        screen = app.main_screen
        await wait_for(pilot, lambda: screen._new_work is not None and "calc" in (screen._new_work_keys or {}))
        assert screen._new_work == set()
        (wt / "NOTES.md").write_text("what changed next\n")
        for _ in range(80):     # an update every 0.1 s for 8 s, each asking for a look 0.5 s later
            screen.find_new_work(list(screen.agents.values()))
            await asyncio.sleep(0.1)
            if screen._new_work:
                break
        assert screen._new_work == {"calc"}


TWENTY = "".join(f"line {n}\n" for n in range(1, 21))


async def test_compare_takes_files_and_hunks_from_the_right_and_combines_them(fleet: Fleet, repo: Path):
    from app.screens.candidates import CandidatesScreen
    from app.screens.review import CompareScreen
    (repo / "long.txt").write_text(TWENTY)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "long")
    one = Path(fleet.spawn(Task(name="fix-1", agent="sleep 300", group="fix")).worktree)
    two = Path(fleet.spawn(Task(name="fix-2", agent="sleep 300", group="fix")).worktree)
    (one / "src" / "app.py").write_text("print('one')\n")
    (two / "src" / "app.py").write_text("print('two')\n")
    (two / "long.txt").write_text(TWENTY.replace("line 2\n", "line two\n").replace("line 18\n", "line eighteen\n"))
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_for(pilot, lambda: app.main_screen.selected == "fix-1" and app.agents["fix-2"].files_changed == 2)
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CandidatesScreen))
        await pilot.press("j", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and len(app.screen.changes) == 2)
        screen = app.screen
        diff = screen.query_one(DiffView)
        await wait_for(pilot, lambda: diff.path == "long.txt" and len(diff.hunks) == 2)
        await pilot.press("tab", "n", "greater_than_sign")            # the second hunk of long.txt from fix-2
        assert screen.choice.hunks == {"long.txt": ("@@ -15,6 +15,6 @@",)}
        shown = [diff.render_line(y).text for y in range(diff.size.height)]
        assert [line.split("@@")[-1].strip() for line in shown if "@@ -" in line] == ["", "▶ from fix-2"]
        await pilot.press("shift+tab", "j")                             # the file list: src/app.py
        await wait_for(pilot, lambda: diff.path == "src/app.py" and diff.rows)
        await pilot.press("greater_than_sign")
        assert screen.choice.files == ("src/app.py",)
        assert "taking 1 file(s) and 1 hunk(s) from fix-2" in str(screen.query_one("#review-title").render())
        await pilot.press("C")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: "fix-combined" in app.agents)
    wt = Path(fleet.get("fix-combined").worktree)
    assert (wt / "src" / "app.py").read_text() == "print('two')\n"
    assert (wt / "long.txt").read_text() == TWENTY.replace("line 18\n", "line eighteen\n")
    assert git(one, "status", "--porcelain") and git(two, "status", "--porcelain"), "candidates as they were"
    said = [(e.kind, e.text) for e in fleet.timeline.events("fix-combined")]
    assert ("combine", "src/app.py from fix-2; long.txt: 1 hunk(s) from fix-2; the rest from fix-1") in said


async def test_a_long_line_is_never_cut_silently_and_its_change_is_reachable():
    from textual.app import App

    class DiffApp(App):
        def compose(self):
            yield DiffView()

    old = "short\nx = [" + ", ".join(str(n) for n in range(60)) + "]\n"
    new = "short\nx = [" + ", ".join(str(n) for n in range(59)) + ", 'CHANGED']\n"
    app = DiffApp()
    async with app.run_test(size=(100, 10)) as pilot:
        diff = app.query_one(DiffView)
        diff.show(old, new, "long.py")
        diff.focus()
        await pilot.pause()
        row = next(y for y in range(diff.size.height) if "x = [" in diff.render_line(y).text)
        left, right = diff.render_line(row).text.split("│")
        assert left.rstrip().endswith("›") and right.rstrip().endswith("›"), "the cut is marked on both sides"
        assert diff.check_action("scroll_sideways", (8,)), "the footer offers the keys that scroll there"
        assert "CHANGED" not in diff.render_line(row).text
        for _ in range(60):
            await pilot.press("right")
        assert "CHANGED" in diff.render_line(row).text.split("│")[1]
        assert not diff.render_line(row).text.split("│")[1].rstrip().endswith("›"), "the end is in view"
        diff.show("a\n", "b\n", "short.py")
        await pilot.pause()
        assert not diff.check_action("scroll_sideways", (8,)), "nothing to scroll to: no keys offered"


async def test_the_line_cursor_walks_both_sides_and_keeps_its_line_across_layouts():
    from textual.app import App

    class DiffApp(App):
        def compose(self):
            yield DiffView()

    old = "".join(f"line {n}\n" for n in range(1, 200))
    new = old.replace("line 5\n", "line five\n").replace("line 150\n", "line 150\nline 150b\n")
    app = DiffApp()
    async with app.run_test(size=(100, 12)) as pilot:
        diff = app.query_one(DiffView)
        diff.show(old, new, "n.txt")
        diff.focus()
        await pilot.pause()
        assert diff.cursor_line() == CursorLine("new", 2, "line 2")     # the first line, not the @@ row
        await pilot.press("j", "j", "j")
        assert (diff.cursor_line().side, diff.cursor_line().line, diff.cursor_line().code) == ("new", 5, "line five")
        await pilot.press("h")
        assert (diff.cursor_line().side, diff.cursor_line().code) == ("old", "line 5")
        cursor = diff.get_component_rich_style("diff-view--cursor")
        row = diff.render_line(diff.cursor_row - round(diff.scroll_y))
        assert [s.text.strip() for s in row if s.style and s.style.bgcolor == cursor.bgcolor][:2] == ["5", ""]
        await pilot.press("vertical_line")                  # unified: the removed line, on its own row
        assert not diff.split and (diff.cursor_line().side, diff.cursor_line().code) == ("old", "line 5")
        await pilot.press("j")
        assert (diff.cursor_line().side, diff.cursor_line().code) == ("new", "line five")
        await pilot.press("vertical_line")
        assert diff.split and (diff.cursor_line().side, diff.cursor_line().code) == ("new", "line five")
        await pilot.press("n")                              # the next hunk: the cursor goes with it
        assert diff.cursor_line().line >= 147 and diff.rows[diff.cursor_row - 1].kind == "hunk"
        for _ in range(30):
            await pilot.press("j")
        top = round(diff.scroll_y)
        assert top <= diff.cursor_row < top + diff.size.height, "the cursor stays in view"
        diff.scroll_to(y=0, animate=False, immediate=True)  # scrolled away with the mouse
        await pilot.pause()
        await pilot.press("j")
        assert diff.cursor_row < diff.size.height, "the cursor comes back into the view, not the view to it"


def test_every_new_binding_has_an_id_and_a_tooltip():
    from app.screens.main import KEYS
    from app.screens.review import CompareScreen
    from app.screens.timeline import TimelineScreen
    for cls in (DiffView, DraftList, ReviewScreen, CompareScreen, CommentScreen, TimelineScreen):
        for b in cls.BINDINGS:
            assert b.id and b.tooltip, (cls.__name__, b.key)
    assert "agent.timeline" in {b.id for b in KEYS}
