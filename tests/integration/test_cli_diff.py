"""`paneboard diff`: an agent's whole work (committed, uncommitted, untracked) and agent vs agent."""

from __future__ import annotations

from pathlib import Path

from app.config import Task
from tests.helpers import git, paneboard


def test_diff_shows_committed_uncommitted_and_untracked_work(fleet, repo: Path, tmux_socket: str):
    a = fleet.spawn(Task(name="alpha", agent="sleep 60"))
    wt = Path(a.worktree)
    (wt / "src" / "app.py").write_text("print('alpha')\n")
    git(wt, "commit", "-q", "-am", "committed change")
    (wt / "README.md").write_text("# demo\nuncommitted line\n")
    (wt / "new file ü.txt").write_text("untracked\n")
    result = paneboard("diff", "alpha", "--stat", cwd=repo, socket_name=tmux_socket)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("# alpha") and "3 files" in lines[0]
    assert "M  src/app.py  +1 -1" in lines and "M  README.md  +1 -0" in lines
    assert "A  new file ü.txt  +1 -0" in lines
    full = paneboard("diff", "alpha", cwd=repo, socket_name=tmux_socket).stdout
    assert "+print('alpha')" in full and "+uncommitted line" in full
    assert git(wt, "status", "--porcelain")  # still uncommitted: diff touched nothing


def test_diff_between_two_agents(fleet, repo: Path, tmux_socket: str):
    a = fleet.spawn(Task(name="a", agent="sleep 60"))
    b = fleet.spawn(Task(name="b", agent="sleep 60"))
    (Path(a.worktree) / "src" / "app.py").write_text("print('from a')\n")
    (Path(b.worktree) / "src" / "app.py").write_text("print('from b')\n")
    result = paneboard("diff", "a", "b", cwd=repo, socket_name=tmux_socket)
    assert result.returncode == 0, result.stderr
    assert "-print('from a')" in result.stdout and "+print('from b')" in result.stdout
