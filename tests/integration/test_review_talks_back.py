"""Review that talks back, on real git and tmux: comments reach the agent, review since the last look,
candidates combined per file, and each agent's timeline."""

from __future__ import annotations

import json
from pathlib import Path

from app.config import Task
from tests.helpers import git, paneboard, retry_until

CALC = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"


def cat_agent(fleet, name: str = "calc") -> Path:
    """A `cat` agent (it prints back what it is sent) whose worktree has src/calc.py."""
    agent = fleet.spawn(Task(name=name, agent="cat"))
    wt = Path(agent.worktree)
    (wt / "src" / "calc.py").write_text(CALC)
    return wt


def screen(fleet, name: str) -> str:
    return fleet.tmux.capture(fleet.get(name, stats=False).pane)


def test_comment_reaches_the_agent_with_path_line_code_and_text(fleet, repo: Path, tmux_socket: str):
    cat_agent(fleet)
    result = paneboard("comment", "calc", "src/calc.py:2", "Use math.fsum here: the inputs are floats.",
                       cwd=repo, socket_name=tmux_socket)
    assert result.returncode == 0, result.stderr
    assert "src/calc.py:2 (new)" in result.stdout
    seen = retry_until(lambda: (s := screen(fleet, "calc")) and "Use math.fsum" in s and s)
    assert "Review comments on your changes:" in seen
    assert "src/calc.py:2 (new)   `return a + b`" in seen
    assert "  Use math.fsum here: the inputs are floats." in seen
    events = [e for e in fleet.timeline.events("calc") if e.kind == "comment"]
    assert len(events) == 1 and "return a + b" in events[0].text and events[0].source == "cli"


def test_comment_on_a_place_that_is_not_there_is_one_line_and_exit_2(fleet, repo: Path, tmux_socket: str):
    cat_agent(fleet)
    for place, says in (("src/nope.py:1", "no such file"), ("src/calc.py:99", "out of range"),
                        ("src/calc.py", "PATH:LINE"), ("../outside.py:1", "not a file of the agent's worktree"),
                        ("src:1", "directory")):
        result = paneboard("comment", "calc", place, "text", cwd=repo, socket_name=tmux_socket)
        assert result.returncode == 2, (place, result.stdout, result.stderr)
        assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Review comments" not in screen(fleet, "calc")


def test_since_review_shows_only_the_newer_change(fleet, repo: Path, tmux_socket: str):
    wt = cat_agent(fleet)
    first = paneboard("diff", "calc", "--stat", cwd=repo, socket_name=tmux_socket)
    assert "A  src/calc.py" in first.stdout
    never = paneboard("diff", "calc", "--since-review", cwd=repo, socket_name=tmux_socket)
    assert never.returncode == 2 and "never reviewed" in never.stderr
    marked = paneboard("diff", "calc", "--mark", cwd=repo, socket_name=tmux_socket)
    assert marked.returncode == 0 and "marked as reviewed" in marked.stderr
    assert git(wt, "status", "--porcelain").strip() == "?? src/calc.py", "marking touched nothing"
    assert git(repo, "rev-parse", "refs/paneboard/reviewed/calc^{tree}").strip()
    nothing = paneboard("diff", "calc", "--since-review", "--stat", cwd=repo, socket_name=tmux_socket)
    assert nothing.stdout.splitlines() == ["# calc: what changed since the last review: 0 files, +0 -0"]
    # The agent edits again: one line of calc.py, and a new file.
    (wt / "src" / "calc.py").write_text(CALC.replace("a * b", "b * a"))
    (wt / "NOTES.md").write_text("notes\n")
    since = paneboard("diff", "calc", "--since-review", cwd=repo, socket_name=tmux_socket)
    assert since.returncode == 0, since.stderr
    assert "M  src/calc.py  +1 -1" in since.stdout and "A  NOTES.md  +1 -0" in since.stdout
    assert "-    return a * b" in since.stdout and "+    return b * a" in since.stdout
    assert "return a + b" not in since.stdout, "what was reviewed before is not shown again"
    whole = paneboard("diff", "calc", "--stat", cwd=repo, socket_name=tmux_socket)
    assert "A  src/calc.py  +6 -0" in whole.stdout, "the whole work against the base, as before"
    both = paneboard("diff", "calc", "calc", "--mark", cwd=repo, socket_name=tmux_socket)
    assert both.returncode == 2 and "one agent" in both.stderr


def test_combine_takes_the_chosen_file_from_each_candidate_and_passes_the_check(fleet, repo: Path,
                                                                                 tmux_socket: str):
    (repo / "paneboard.yaml").write_text("defaults:\n  check: python -m unittest -q\n")
    (repo / "test_calc.py").write_text(
        "import unittest\nfrom src.calc import add\nfrom src.text import shout\n\n\n"
        "class T(unittest.TestCase):\n    def test(self):\n"
        "        self.assertEqual(add(2, 3), 5)\n        self.assertEqual(shout('a'), 'A!')\n")
    (repo / "src" / "__init__.py").write_text("")
    (repo / "src" / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (repo / "src" / "text.py").write_text("def shout(s):\n    return s\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "broken calc and text")
    one = Path(fleet.spawn(Task(name="fix-1", agent="sleep 300", group="fix")).worktree)
    two = Path(fleet.spawn(Task(name="fix-2", agent="sleep 300", group="fix")).worktree)
    (one / "src" / "calc.py").write_text("def add(a, b):\n    return a + b\n")       # right
    (one / "src" / "text.py").write_text("def shout(s):\n    return s.lower()\n")   # wrong
    (two / "src" / "calc.py").write_text("def add(a, b):\n    return b - a\n")       # wrong
    (two / "src" / "text.py").write_text("def shout(s):\n    return s.upper() + '!'\n")  # right
    before = {wt: git(wt, "status", "--porcelain") for wt in (one, two)}
    bad = paneboard("combine", "fix", "--take", "src/calc.py=1", "--take", "src/nope.py=2",
                    cwd=repo, socket_name=tmux_socket)
    assert bad.returncode == 2 and "src/nope.py" in bad.stderr and len(bad.stderr.splitlines()) == 1
    assert "fix-combined" not in git(repo, "branch", "--list", "paneboard/*")
    result = paneboard("combine", "fix", "--take", "src/calc.py=fix-1", "--take", "src/text.py=2",
                       cwd=repo, socket_name=tmux_socket)
    assert result.returncode == 0, result.stderr
    combined = fleet.get("fix-combined")
    wt = Path(combined.worktree)
    assert (wt / "src" / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert (wt / "src" / "text.py").read_text() == "def shout(s):\n    return s.upper() + '!'\n"
    assert combined.pane is None and combined.task == "fix" and combined.files_changed == 2
    assert {wt: git(wt, "status", "--porcelain") for wt in (one, two)} == before, "candidates untouched"
    check = paneboard("check", "fix-combined", cwd=repo, socket_name=tmux_socket)
    assert check.returncode == 0, check.stdout + check.stderr
    again = paneboard("combine", "fix", "--take", "src/calc.py=1", cwd=repo, socket_name=tmux_socket)
    assert again.returncode == 2 and "already exists" in again.stderr


async def test_timeline_of_an_agent_that_asks_is_answered_edits_commits_and_is_merged(fleet, repo: Path,
                                                                                     tmux_socket: str, tmp_path):
    from app.dashboard import Dashboard
    from app.screens.confirm import ConfirmScreen
    from app.screens.timeline import TimelineScreen
    from tests.helpers import demo_command, demo_script
    from tests.ui.test_dashboard import wait_for
    script = demo_script(tmp_path, [
        {"do": "say", "text": "I want to run the tests first."},
        {"do": "ask", "title": "Bash command", "question": "pytest -q"},
        {"do": "edit", "path": "src/app.py", "text": "print('answered')\n"},
        {"do": "idle"}])
    wt = Path(fleet.spawn(Task(name="asker", agent=demo_command(script))).worktree)
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_for(pilot, lambda: "asker" in app.agents and app.agents["asker"].status.kind.value == "needs_input")
        await wait_for(pilot, lambda: app.main_screen.selected == "asker")
        await pilot.press("a")
        await wait_for(pilot, lambda: app.agents["asker"].status.kind.value == "idle"
                       and app.agents["asker"].files_changed == 1)
        await wait_for(pilot, lambda: any(e.kind == "file" for e in fleet.timeline.events("asker")))
    git(wt, "commit", "-q", "-am", "print the answer")          # while no dashboard watches
    app = Dashboard(fleet, refresh_seconds=0.2)                  # the dashboard again
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_for(pilot, lambda: any(e.kind == "commit" for e in fleet.timeline.events("asker")))
        await wait_for(pilot, lambda: app.main_screen.selected == "asker")
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, TimelineScreen) and app.screen.events)
        await pilot.press("escape")
        await pilot.press("M")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: app.agents["asker"].merged)
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, TimelineScreen)
                       and any(e.kind == "merge" for e in app.screen.events))
    result = paneboard("log", "asker", cwd=repo, socket_name=tmux_socket)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in
              paneboard("log", "asker", "--json", cwd=repo, socket_name=tmux_socket).stdout.splitlines()]
    said = [(e["kind"], e["text"]) for e in events]
    order = [next(i for i, (k, t) in enumerate(said) if k == kind and want in t) for kind, want in (
        ("started", "paneboard/asker"), ("status", "needs_input"), ("trigger", "needs_input raised"),
        ("approve", ""), ("trigger", "needs_input cleared"), ("file", "first touched src/app.py"),
        ("commit", "print the answer"), ("merge", "into main"))]
    assert order == sorted(order), said
    assert [e["source"] for e in events if e["kind"] in ("approve", "merge")] == ["dashboard", "dashboard"]
    assert sum(1 for k, t in said if k == "trigger" and "raised" in t) == 1, "a restart repeats nothing"
    assert sum(1 for k, t in said if k == "file") == 1
    lines = result.stdout.splitlines()
    assert any("approve" in line and "(dashboard)" in line for line in lines)
    assert all(line[:4].isdigit() for line in lines), "every line starts with its date and time"


def test_a_timeline_that_cannot_be_written_never_fails_the_verb(fleet, repo: Path, tmux_socket: str):
    cat_agent(fleet)
    fleet.timeline.dir.parent.mkdir(parents=True, exist_ok=True)
    if fleet.timeline.dir.exists():
        import shutil
        shutil.rmtree(fleet.timeline.dir)
    fleet.timeline.dir.write_text("not a directory")           # as if the disk refused it
    result = paneboard("comment", "calc", "src/calc.py:1", "still delivered", cwd=repo, socket_name=tmux_socket)
    assert result.returncode == 0, result.stderr
    retry_until(lambda: "still delivered" in screen(fleet, "calc"))
    log = paneboard("log", "calc", cwd=repo, socket_name=tmux_socket)
    assert log.returncode == 0 and log.stdout.strip() == "nothing recorded for calc yet"
