"""Approve/merge, discard, compare (best-of-N), checks and the conflict matrix from the dashboard."""

from __future__ import annotations

from pathlib import Path

from app.config import Settings, Task
from app.dashboard import Dashboard
from app.fleet import Fleet
from app.screens.candidates import CandidatesScreen
from app.screens.confirm import ConfirmScreen
from app.screens.conflicts import ConflictsScreen
from app.screens.messages import ConflictsPredicted, MergeDone
from app.screens.review import CompareScreen, ReviewScreen
from app.git.worktrees import find_repo
from tests.helpers import git
from tests.ui.test_dashboard import wait_for


def sleeper(fleet: Fleet, name: str, files: dict[str, str], task: str | None = None) -> Path:
    a = fleet.spawn(Task(name=name, agent="sleep 300", prompt=f"work on {name}", group=task or ""))
    wt = Path(a.worktree)
    for path, text in files.items():
        (wt / path).parent.mkdir(parents=True, exist_ok=True)
        (wt / path).write_text(text)
    return wt


async def test_merge_key_confirms_then_merges(fleet: Fleet, repo: Path):
    sleeper(fleet, "feat", {"src/app.py": "print('feat')\n"})
    done = []
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(150, 44), message_hook=lambda m: isinstance(m, MergeDone) and done.append(m)) as pilot:
        await wait_for(pilot, lambda: app.main_screen.selected == "feat" and app.agents["feat"].files_changed == 1)
        await pilot.press("M")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        question = app.screen.question
        assert "commit its uncommitted work" in question and "predicted clean" in question
        await pilot.press("n")  # no: nothing happens
        await pilot.pause(0.3)
        assert git(repo, "log", "-1", "--format=%s").strip() == "initial"
        await pilot.press("M")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: bool(done))
        await wait_for(pilot, lambda: app.agents["feat"].merged)
    assert (repo / "src" / "app.py").read_text() == "print('feat')\n"
    assert git(repo, "status", "--porcelain") == ""


async def test_predicted_conflict_is_shown_and_merge_refused(fleet: Fleet, repo: Path):
    sleeper(fleet, "one", {"src/app.py": "print('one')\n"})
    sleeper(fleet, "two", {"src/app.py": "print('two')\n"})
    git(repo, "commit", "-q", "--allow-empty", "-m", "unrelated")  # base moves; still predicted
    (repo / "src" / "app.py").write_text("print('base changed')\n")
    git(repo, "commit", "-q", "-am", "base edits the same line")
    predicted: list[ConflictsPredicted] = []
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(150, 44), message_hook=lambda m: isinstance(m, ConflictsPredicted) and predicted.append(m)) as pilot:
        await wait_for(pilot, lambda: predicted and set(predicted[-1].vs_base) == {"one", "two"})
        last = predicted[-1]
        assert last.vs_base["one"] == ("src/app.py",) and last.pairs[("one", "two")] == ("src/app.py",)
        await pilot.press("X")
        assert isinstance(app.screen, ConflictsScreen)
        await pilot.press("escape")
        before = git(repo, "rev-parse", "main")
        await wait_for(pilot, lambda: app.main_screen.selected == "one")
        text = " ".join(line.text for line in app.main_screen.detail.render_lines(app.main_screen.detail.region.reset_offset))
        assert "with main in src/app.py" in text and "with two in src/app.py" in text
        await pilot.press("M")
        await wait_for(pilot, lambda: any("would conflict" in n.message for n in app._notifications))
        log_text = "".join(str(line.text) for line in app.query_one("#trigger-log").lines)   # wrapped lines
        assert "merge one: refused: one would conflict with main in src/app.py" in log_text
        assert not isinstance(app.screen, ConfirmScreen)
        assert git(repo, "rev-parse", "main") == before


async def test_discard_asks_with_counts_and_archives(fleet: Fleet, repo: Path):
    wt = sleeper(fleet, "junk", {"a.txt": "a\n", "b.txt": "b\n"})
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(150, 44)) as pilot:
        await wait_for(pilot, lambda: app.main_screen.selected == "junk")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "2 changed file(s)" in app.screen.question
        await pilot.press("y")
        await wait_for(pilot, lambda: not wt.exists())
        await wait_for(pilot, lambda: "junk" not in app.agents)
    assert "refs/paneboard/archive/" in git(repo, "for-each-ref", "refs/paneboard")


async def test_compare_candidates_of_a_task(fleet: Fleet, repo: Path):
    sleeper(fleet, "fix-1", {"src/app.py": "print('fix one')\n"}, task="fix")
    sleeper(fleet, "fix-2", {"src/app.py": "print('fix two')\n", "extra.py": "x = 1\n"}, task="fix")
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(150, 44)) as pilot:
        await wait_for(pilot, lambda: app.main_screen.selected == "fix-1" and len(app.agents) == 2)
        await pilot.press("c")
        assert isinstance(app.screen, CandidatesScreen)
        assert app.screen.query_one("DataTable").row_count == 2
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        await wait_for(pilot, lambda: app.screen.query_one("DiffView").path != "")
        await pilot.press("escape")
        await pilot.press("c")
        await pilot.press("j", "w")  # fix-2 wins: review it first (M merges; its merge offers to discard fix-1)
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen))
        assert app.main_screen.selected == "fix-2"
        await pilot.press("escape")  # not merged: nothing to discard yet
        await pilot.pause(0.5)
        assert not isinstance(app.screen, ConfirmScreen)


async def test_check_runs_in_background_and_result_shows(repo: Path, tmux_socket: str):
    fleet = Fleet(find_repo(repo), Settings(agent="demo", tmux_socket=tmux_socket,
                                            check="sh -c 'echo checking; sleep 0.3; test -f good.txt'"))
    sleeper(fleet, "checked", {"good.txt": "ok\n"})
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(150, 44)) as pilot:
        await wait_for(pilot, lambda: app.main_screen.selected == "checked")
        await pilot.press("t")
        await pilot.press("j")  # the UI answers while the check runs
        await wait_for(pilot, lambda: (app.agents["checked"].last_check or {}).get("passed") is True)
        await pilot.press("l")
        from app.screens.text import TextScreen
        assert isinstance(app.screen, TextScreen) and "checking" in app.screen.body


async def test_prediction_follows_a_base_that_moves_outside_paneboard(fleet: Fleet, repo: Path):
    sleeper(fleet, "one", {"src/app.py": "print('one')\n"})
    predicted: list[ConflictsPredicted] = []
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(150, 44), message_hook=lambda m: isinstance(m, ConflictsPredicted) and predicted.append(m)) as pilot:
        await wait_for(pilot, lambda: predicted and predicted[-1].vs_base == {"one": ()})
        # Someone commits to main in the main checkout: nothing about the agent changed.
        (repo / "src" / "app.py").write_text("print('base changed')\n")
        git(repo, "commit", "-q", "-am", "base edits the same line")
        await wait_for(pilot, lambda: predicted[-1].vs_base == {"one": ("src/app.py",)}, timeout=15)
        row = app.main_screen.table.render_line(app.main_screen.table.get_row_index("one") + 1).text
        assert "≠ 1 file" in row
        # The selected agent's panel says with whom and where.
        await pilot.pause(0.1)
        detail = app.main_screen.detail
        text = " ".join(line.text for line in detail.render_lines(detail.region.reset_offset))
        assert "≠ conflict" in text and "with main in src/app.py" in text
