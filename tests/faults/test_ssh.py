"""Faults on the way to another host: a changed host key, a host gone mid-spawn. One line, nothing half-done."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from app.config import HostConfig, Task
from app.errors import SpawnError
from app.model import Kind
from app.monitor import assess_once
from tests.helpers import ROOT, demo_command, demo_script, retry_until
from tests.remote.conftest import remote_socket, sshd  # noqa: F401  (the real sshd fixtures)


@pytest.fixture
def box(fleet, sshd, remote_socket, tmp_path):
    host = HostConfig(name="box", ssh=tuple(sshd.ssh_args()), repo=str(tmp_path / "box" / "shop"),
                      tmux_socket=remote_socket)
    fleet.settings = replace(fleet.settings, hosts=(host,))
    yield fleet
    for r in fleet.__dict__.get("_remotes", {}).values():
        r.close()


def task(tmp_path: Path, name: str) -> Task:
    return Task(name=name, agent=demo_command(demo_script(tmp_path, [{"do": "idle"}])), host="box",
                env={"PYTHONPATH": str(ROOT)})


def test_a_changed_host_key_makes_the_host_unreachable_with_ssh_own_words_and_refuses_a_spawn(box, sshd, tmp_path):
    box.spawn(task(tmp_path, "api"))
    retry_until(lambda: assess_once(box)[0].status.kind in (Kind.IDLE, Kind.WORKING))
    sshd.new_host_key()
    a = assess_once(box)[0]
    assert a.status.kind == Kind.UNREACHABLE and "Host key verification failed" in a.status.why
    with pytest.raises(SpawnError) as err:
        box.spawn(task(tmp_path, "web"))
    assert "Host key verification failed" in str(err.value) and "\n" not in str(err.value)
    assert set(box.state.read()["agents"]) == {"api"}          # nothing half-created, nothing forgotten
    assert not (tmp_path / "box" / "shop.paneboard" / "web").exists()


def test_a_host_that_is_down_fails_a_spawn_in_one_line_and_leaves_nothing(box, sshd, tmp_path):
    sshd.stop()
    with pytest.raises(SpawnError, match="host 'box' is unreachable: ssh: connect to host 127.0.0.1"):
        box.spawn(task(tmp_path, "api"))
    assert box.state.read()["agents"] == {}
    out = subprocess.run(["git", "branch", "--list", "paneboard/*"], cwd=box.repo.root, capture_output=True,
                         text=True).stdout
    assert out == ""
