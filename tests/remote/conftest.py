"""Fixtures for agents on another host: a real sshd on 127.0.0.1, the host's repository path, a fleet with it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from app.config import HostConfig, Task
from tests.helpers import ROOT, demo_command, demo_script
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


@pytest.fixture
def host_repo(tmp_path: Path) -> Path:
    """Where the host's clone lives (made by paneboard on the first spawn)."""
    return tmp_path / "box" / "shop"


@pytest.fixture
def box(fleet, sshd, remote_socket, host_repo):
    """The fleet with one host, `box`, reached through the test's sshd."""
    from dataclasses import replace
    host = HostConfig(name="box", ssh=tuple(sshd.ssh_args()), repo=str(host_repo), tmux_socket=remote_socket)
    fleet.settings = replace(fleet.settings, hosts=(host,))
    yield fleet
    for r in fleet.__dict__.get("_remotes", {}).values():
        r.close()


def remote_task(tmp_path: Path, name: str, steps: list[dict], speed: float = 0.05, **kw) -> Task:
    """A demo-agent task on host `box`."""
    script = demo_script(tmp_path, steps)
    # PYTHONPATH reaches the agent through its tmux environment, not a shell.
    return Task(name=name, agent=demo_command(script, speed), host="box", env={"PYTHONPATH": str(ROOT)}, **kw)


def remote_git(path: Path, *args: str) -> str:
    """git's output in a directory of the host (this machine's file system, reached directly)."""
    return subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True).stdout
