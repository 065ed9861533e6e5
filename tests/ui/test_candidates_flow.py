"""Best-of-N in the dashboard: once the winner is merged, its review closes and the other candidates
are offered for discard (archived, restorable)."""

from __future__ import annotations

from pathlib import Path

from app.config import Task
from app.dashboard import Dashboard
from app.fleet import Fleet
from app.screens.candidates import CandidatesScreen
from app.screens.confirm import ConfirmScreen
from app.screens.messages import MergeDone
from app.screens.review import ReviewScreen
from tests.helpers import demo_command, demo_script, git
from tests.ui.test_dashboard import wait_for


def candidate(fleet: Fleet, tmp_path: Path, name: str, task: str, files: dict[str, str]) -> Path:
    """A candidate of `task` that wrote its files and waits at its prompt."""
    script = demo_script(tmp_path, [{"do": "say", "text": f"{name} done"}, {"do": "idle"}])
    wt = Path(fleet.spawn(Task(name=name, agent=demo_command(script), prompt="fix it", group=task)).worktree)
    for path, text in files.items():
        (wt / path).parent.mkdir(parents=True, exist_ok=True)
        (wt / path).write_text(text)
    return wt


async def test_merging_the_winner_closes_its_review_and_offers_to_discard_the_others(fleet: Fleet, repo: Path,
                                                                                      tmp_path: Path):
    one = candidate(fleet, tmp_path, "fix-1", "fix", {"src/app.py": "print('fix one')\n"})
    candidate(fleet, tmp_path, "fix-2", "fix", {"src/app.py": "print('fix two')\n"})
    three = candidate(fleet, tmp_path, "fix-3", "fix", {"src/app.py": "print('fix three')\n"})
    other = candidate(fleet, tmp_path, "docs", "docs", {"README.md": "# docs\n"})    # another task: kept
    merged = []
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(150, 44), message_hook=lambda m: isinstance(m, MergeDone) and merged.append(m)) \
            as pilot:
        await wait_for(pilot, lambda: len(app.agents) == 4 and all(a.files_changed for a in app.agents.values())
                       and all(a.status.kind.value == "idle" for a in app.agents.values()))
        app.main_screen.select_agent("fix-1")
        await pilot.press("c")
        assert isinstance(app.screen, CandidatesScreen)
        await pilot.press("j", "w")                     # fix-2 wins: its review opens
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen))
        await pilot.press("M")                          # merge it from its review
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "fix-2" in app.screen.question
        await pilot.press("y")
        await wait_for(pilot, lambda: merged and isinstance(app.screen, ConfirmScreen))
        # The merged winner's review closed; the question names the other candidates, not docs.
        assert not any(isinstance(s, ReviewScreen) for s in app.screen_stack)
        question = app.screen.question
        assert "fix-2" in question.split("\n\n")[0] and "won and is merged" in question
        assert "fix-1" in question and "fix-3" in question and "docs" not in question
        assert "restore" in question
        await pilot.press("y")
        await wait_for(pilot, lambda: not one.exists() and not three.exists())
        await wait_for(pilot, lambda: "fix-1" not in app.agents and "fix-3" not in app.agents)
        assert "docs" in app.agents and other.exists()
    assert (repo / "src" / "app.py").read_text() == "print('fix two')\n"
    refs = git(repo, "for-each-ref", "--format=%(refname)", "refs/paneboard/archive")
    assert "fix-1" in refs and "fix-3" in refs     # archived: `paneboard restore` brings them back


async def test_merging_a_lone_agent_offers_no_discard(fleet: Fleet, repo: Path, tmp_path: Path):
    candidate(fleet, tmp_path, "solo", "", {"src/app.py": "print('solo')\n"})
    candidate(fleet, tmp_path, "docs", "", {"README.md": "# docs\n"})
    merged = []
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(150, 44), message_hook=lambda m: isinstance(m, MergeDone) and merged.append(m)) \
            as pilot:
        await wait_for(pilot, lambda: len(app.agents) == 2 and app.agents["solo"].files_changed
                       and app.agents["solo"].status.kind.value == "idle")
        app.main_screen.select_agent("solo")
        await pilot.press("M")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: bool(merged))
        await pilot.pause(0.5)
        assert not isinstance(app.screen, ConfirmScreen)
