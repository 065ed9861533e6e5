"""ReviewScreen and CompareScreen under Pilot, on real git repositories."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import OptionList

from app.git.diff import snapshot_commit
from app.screens.review import CompareScreen, FilesDiffScreen, ReviewScreen
from tests.helpers import git, make_repo
from widgets.diff_view import DiffView

SIZE = (120, 40)


def numbered(count: int, changed: tuple[int, ...] = ()) -> str:
    return "".join(f"line {n}{' changed' if n in changed else ''}\n" for n in range(1, count + 1))


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    """An agent worktree: a three-hunk edit (committed), untracked, uncommitted and binary files."""
    repo = make_repo(tmp_path / "project", {
        "alpha.py": numbered(300),
        "with space.md": "# notes\n\nold words\n",
        "logo.bin": "placeholder\n",
    })
    path = tmp_path / "agent"
    git(repo, "worktree", "add", "-q", "-b", "paneboard/agent", str(path), "main")
    (path / "alpha.py").write_text(numbered(300, changed=(10, *range(140, 181), 280)))
    git(path, "commit", "-q", "-am", "agent edits alpha")
    (path / "beta.txt").write_text("brand new\n")  # untracked
    (path / "with space.md").write_text("# notes\n\nnew words\n")  # uncommitted
    (path / "logo.bin").write_bytes(b"\x00\x01binary\x00")
    return path


class ReviewApp(App):
    """A bare app that opens one screen over an empty default screen."""

    def __init__(self, screen_factory) -> None:
        super().__init__()
        self.screen_factory = screen_factory
        self.messages: list[object] = []

    def on_mount(self) -> None:
        self.push_screen(self.screen_factory())


def run(app: ReviewApp):
    return app.run_test(size=SIZE, message_hook=app.messages.append)


async def wait_for(pilot, predicate, timeout: float = 10.0):
    """Let the app run until predicate() is true; workers post their results asynchronously."""
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await pilot.pause(0.02)
    app = pilot.app
    state = {"screen": app.screen, "messages": app.messages[-5:] if hasattr(app, "messages") else None}
    if app.screen.query(DiffView):
        diff = app.screen.query_one(DiffView)
        state |= {"path": diff.path, "rows": len(diff.rows), "shown": shown(diff)[:2]}
    if app.screen.query("#review-files"):
        state["files"] = file_names(app)
    raise AssertionError(f"condition not met in time: {state}")


def file_names(app: App) -> list[str]:
    files = app.screen.query_one("#review-files", OptionList)
    return [str(files.get_option_at_index(i).prompt) for i in range(files.option_count)]


def shown(diff: DiffView) -> list[str]:
    return [diff.render_line(y).text for y in range(diff.size.height)]


def diff_ready(app: App, path: str):
    diff = app.screen.query_one(DiffView)
    return lambda: diff.path == path and (diff.rows or diff.binary)


async def test_file_list_and_moving_between_files(worktree: Path):
    app = ReviewApp(lambda: ReviewScreen(worktree, "main", "agent · review"))
    async with run(app) as pilot:
        await wait_for(pilot, lambda: len(file_names(app)) == 4)
        names = file_names(app)
        assert [re.sub(r"\s+", " ", name) for name in names] == [
            "M +43 -43 alpha.py", "A +1 -0 beta.txt", "M bin logo.bin", "M +1 -1 with space.md"]
        assert any(isinstance(m, FilesDiffScreen.FilesLoaded) for m in app.messages)

        await wait_for(pilot, diff_ready(app, "alpha.py"))
        diff = app.screen.query_one(DiffView)
        assert any(" 10 - line 10 " in line and " 10 + line 10 changed" in line for line in shown(diff))

        await pilot.press("j")
        await wait_for(pilot, diff_ready(app, "beta.txt"))
        assert any("1 + brand new" in line for line in shown(diff))
        await pilot.press("j")
        await wait_for(pilot, diff_ready(app, "logo.bin"))
        assert diff.binary and "binary file" in shown(diff)[0]
        await pilot.press("j")
        await wait_for(pilot, diff_ready(app, "with space.md"))
        await pilot.press("k", "k", "k")
        await wait_for(pilot, diff_ready(app, "alpha.py"))


async def test_split_toggle_hunks_and_back(worktree: Path):
    app = ReviewApp(lambda: ReviewScreen(worktree, "main", "agent · review"))
    async with run(app) as pilot:
        await wait_for(pilot, diff_ready(app, "alpha.py"))
        diff = app.screen.query_one(DiffView)
        assert diff.split
        assert "│" in shown(diff)[1]

        await pilot.press("|")
        assert not diff.split
        assert any(isinstance(m, DiffView.SplitChanged) and not m.split for m in app.messages)
        assert "│" not in shown(diff)[1]
        assert [line.rstrip() for line in shown(diff) if "line 10" in line][:2] == [
            " 10     - line 10",
            "     10 + line 10 changed",
        ]

        hunks = diff.hunks
        assert len(hunks) == 3
        assert diff.scroll_y == 0
        await pilot.press("n")
        await pilot.pause()
        assert diff.scroll_y == hunks[1]
        assert shown(diff)[0].strip().startswith("@@ -137,47 +137,47 @@")
        await pilot.press("n")
        await pilot.pause()
        assert diff.scroll_y > hunks[1]
        await pilot.press("p")
        await pilot.pause()
        assert diff.scroll_y == hunks[1]

        await pilot.press("|")
        assert diff.split
        assert shown(diff)[0].strip().startswith("@@ -137,47 +137,47 @@"), "toggling keeps the place"

        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, FilesDiffScreen)
        assert len(app.screen_stack) == 1


async def test_clean_worktree_says_no_changes(tmp_path: Path):
    repo = make_repo(tmp_path / "project")
    app = ReviewApp(lambda: ReviewScreen(repo, "main", "clean"))
    async with run(app) as pilot:
        diff = app.screen.query_one(DiffView)
        await wait_for(pilot, lambda: "no changes" in shown(diff)[0])
        assert file_names(app) == []


async def test_bad_base_is_reported_not_raised(worktree: Path):
    app = ReviewApp(lambda: ReviewScreen(worktree, "no-such-branch", "bad"))
    async with run(app) as pilot:
        diff = app.screen.query_one(DiffView)
        await wait_for(pilot, lambda: "could not read the diff" in shown(diff)[0])
        assert any(isinstance(m, FilesDiffScreen.LoadFailed) for m in app.messages)


async def test_compare_two_agents(worktree: Path, tmp_path: Path):
    repo = tmp_path / "project"
    other = tmp_path / "other"
    git(repo, "worktree", "add", "-q", "-b", "paneboard/other", str(other), "main")
    (other / "alpha.py").write_text(numbered(300, changed=(10,)))
    rev_a, rev_b = snapshot_commit(worktree), snapshot_commit(other)
    app = ReviewApp(lambda: CompareScreen(repo, rev_a, rev_b, "agent", "other"))
    async with run(app) as pilot:
        await wait_for(pilot, lambda: len(file_names(app)) == 4)
        assert [name.split()[-1] for name in file_names(app)] == [
            "alpha.py", "beta.txt", "logo.bin", "space.md"]
        await wait_for(pilot, diff_ready(app, "alpha.py"))
        diff = app.screen.query_one(DiffView)
        assert len(diff.hunks) == 2  # the agents agree on line 10
        assert "agent" in str(app.screen.query_one("#review-title").render())


def test_diff_view_css_uses_theme_variables_only():
    assert not re.search(r"#[0-9a-fA-F]{3,8}\b|rgb\(", DiffView.DEFAULT_CSS)
    assert {"diff.toggle_split", "diff.next_hunk", "diff.previous_hunk"} <= {
        binding.id for binding in DiffView.BINDINGS}
    assert all(binding.id and binding.tooltip for binding in DiffView.BINDINGS)
    assert all(binding.id and binding.tooltip for binding in FilesDiffScreen.BINDINGS)


class DiffApp(App):
    def compose(self):
        yield DiffView()


async def test_diff_view_crops_long_wide_and_control_characters():
    old = "short\nx = '" + "abcdefghij" * 10 + "'\n" + "文字" * 12 + "\tend\n"
    new = "short\nx = '" + "ABCDEFGHIJ" * 10 + "'\n" + "文字" * 12 + "\tEND\x1b[31m\n"
    app = DiffApp()
    async with app.run_test(size=(80, 12)) as pilot:
        diff = app.query_one(DiffView)
        diff.show(old, new, "example.py")
        await pilot.pause()
        assert diff.max_scroll_x > 0, "long lines scroll sideways"
        lines = shown(diff)
        assert all(diff.render_line(y).cell_length == diff.size.width for y in range(diff.size.height))
        assert "\x1b" not in "".join(lines)
        diff.scroll_to(x=20, animate=False, immediate=True)
        await pilot.pause()
        assert "fghijabcdefghij" in shown(diff)[2], "both sides scroll together"
        assert "FGHIJABCDEFGHIJ" in shown(diff)[2]
        await pilot.press("|")
        diff.scroll_to(x=0, animate=False, immediate=True)
        await pilot.pause()
        assert not diff.split
        assert any(line.rstrip().endswith("文字    END\ufffd[31m") for line in shown(diff))

        diff.show(None, "whatever", "logo.png")
        await pilot.pause()
        assert shown(diff)[0].strip() == "binary file: not shown"
        assert diff.hunks == [] and not diff.check_action("next_hunk", ())

        diff.show("same\n", "same\n", "same.txt")
        await pilot.pause()
        assert shown(diff)[0].strip() == "no changes"


async def test_what_changed_within_a_line_is_marked_on_both_sides_and_in_unified():
    old = 'def greet(name):\n\treturn f"hello, {name}"\n'
    new = 'def greet(name):\n\treturn f"Hello, {name}!"\n'
    app = DiffApp()
    async with app.run_test(size=(100, 8)) as pilot:
        view = app.query_one(DiffView)
        view.show(old, new, "greet.py")
        await pilot.pause()
        added = view.get_component_rich_style("diff-view--added")
        added_word = view.get_component_rich_style("diff-view--added-word")
        removed_word = view.get_component_rich_style("diff-view--removed-word")
        assert added_word.bgcolor != added.bgcolor

        def marked(y: int, style) -> list[str]:
            return [seg.text for seg in view.render_line(y) if seg.style and seg.style.bgcolor == style.bgcolor]

        row = next(y for y in range(view.size.height) if "return" in view.render_line(y).text)
        assert marked(row, removed_word) == ["hello"]
        assert marked(row, added_word) == ["Hello", "!"]       # after a tab shown as four spaces
        await pilot.press("vertical_line")
        await pilot.pause()
        rows = [y for y in range(view.size.height) if "return" in view.render_line(y).text]
        assert [marked(y, removed_word) for y in rows] == [["hello"], []]
        assert [marked(y, added_word) for y in rows] == [[], ["Hello", "!"]]
