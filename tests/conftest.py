"""Fixtures: a private tmux server per test (killed by the test) and real git repositories."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import kill_tmux, make_repo, unique_socket


@pytest.fixture
def tmux_socket(monkeypatch):
    """A unique tmux socket name; the server on it is killed when the test ends."""
    name = unique_socket()
    monkeypatch.setenv("PANEBOARD_TMUX_SOCKET", name)
    monkeypatch.delenv("TMUX", raising=False)
    monkeypatch.delenv("TMUX_PANE", raising=False)
    yield name
    kill_tmux(name)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A real git repository with one commit on main, inside tmp_path (worktrees go beside it)."""
    return make_repo(tmp_path / "project")


@pytest.fixture
def fleet(repo: Path, tmux_socket: str):
    """A Fleet on the test repository and the private tmux server."""
    from app.config import Settings
    from app.fleet import Fleet
    from app.git.worktrees import find_repo
    return Fleet(find_repo(repo), Settings(agent="demo", tmux_socket=tmux_socket, silence=5.0))


def pytest_configure(config):
    """No test reads the user's own agent files (~/.config/paneboard/agents): an empty config home."""
    import os
    import tempfile
    os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="paneboard-test-config-")
    # The agents under test run in tmux panes, as a user's do from a terminal. A CI runner's CI=true
    # (or GITHUB_ACTIONS) reaches them through the tmux server's environment, and Gemini CLI 0.61 then
    # takes itself for headless: it exits 55 in an untrusted folder instead of asking its trust question.
    for name in ("CI", "GITHUB_ACTIONS", "CONTINUOUS_INTEGRATION"):
        os.environ.pop(name, None)
