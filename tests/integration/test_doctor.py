"""`paneboard doctor` reports tmux, git, the agent CLIs on PATH and the repository."""

from __future__ import annotations

from pathlib import Path

from app.config import Task
from tests.helpers import paneboard


def test_doctor_reports_tools_agents_and_repo(fleet, repo: Path, tmux_socket: str):
    fleet.spawn(Task(name="one", agent="sleep 60"))
    result = paneboard("doctor", cwd=repo, socket_name=tmux_socket)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "tmux    tmux 3." in out and "git     git version" in out
    assert "demo      found at" in out
    assert "on main, has commits, clean; 2 worktree(s), 1 paneboard branch(es)" in out
