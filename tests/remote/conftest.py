"""Fixtures for agents on another host: a real sshd on 127.0.0.1, and the host's repository path."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.remote.sshd import Sshd, available


@pytest.fixture
def sshd(tmp_path: Path):
    """A running sshd for this test, stopped by its own pid at the end."""
    why = available()
    if why:
        pytest.skip(why)
    daemon = Sshd(tmp_path / "sshd")
    daemon.start()
    yield daemon
    daemon.stop()


@pytest.fixture
def remote_socket(sshd):
    """The tmux socket the remote host's agents run on; its server is killed at the end."""
    from tests.helpers import unique_socket
    name = unique_socket()
    yield name
    subprocess.run(["tmux", "-L", name, "kill-server"], capture_output=True)
