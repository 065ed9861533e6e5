"""Faults on the way to another host: a changed host key, a host gone mid-spawn or mid-merge, its repo deleted, ssh killed mid-fetch."""

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


def _refs(root: Path) -> str:
    return subprocess.run(["git", "for-each-ref", "--format=%(refname) %(objectname)"], cwd=root,
                          capture_output=True, text=True).stdout


def test_the_host_repo_deleted_fails_diff_merge_and_discard_in_one_line_and_loses_nothing_here(box, tmp_path):
    import shutil
    from app.errors import PaneboardError
    a = box.spawn(task(tmp_path, "api"))
    retry_until(lambda: assess_once(box)[0].status.kind in (Kind.IDLE, Kind.WORKING))
    shutil.rmtree(tmp_path / "box" / "shop")
    refs, main = _refs(box.repo.root), _refs(box.repo.root).count("refs/heads/main")
    for verb in (box.fetch_remote, box.merge, box.discard):
        with pytest.raises(PaneboardError) as err:
            verb("api")
        assert "\n" not in str(err.value) and "Traceback" not in str(err.value)
    assert _refs(box.repo.root) == refs and main == 1              # nothing changed here
    assert "api" in box.state.read()["agents"] and Path(a.worktree).is_dir()   # nothing forgotten there


def _kill_ssh_of_upload_pack(path: str, deadline: float) -> bool:
    """Kill (by pid) the local ssh that carries a `git-upload-pack` of this repository path; True once done."""
    import os
    import signal
    import time
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv[0] == b"ssh" and any(b"git-upload-pack" in w and path.encode() in w for w in argv):
                os.kill(int(entry.name), signal.SIGKILL)
                return True
        time.sleep(0.002)
    return False


def test_ssh_killed_mid_fetch_leaves_no_partial_ref_and_the_next_fetch_recovers(box, tmp_path):
    import os
    import threading
    import time
    from app.errors import PaneboardError
    a = box.spawn(task(tmp_path, "api"))
    (Path(a.worktree) / "big.bin").write_bytes(os.urandom(96 << 20))     # a fetch that takes a moment
    refs = _refs(box.repo.root)
    killed: list[bool] = []
    killer = threading.Thread(target=lambda: killed.append(
        _kill_ssh_of_upload_pack(str(tmp_path / "box" / "shop"), time.monotonic() + 60)))
    killer.start()
    with pytest.raises(PaneboardError) as err:
        box.fetch_remote("api")
    killer.join()
    assert killed == [True] and "\n" not in str(err.value)
    assert _refs(box.repo.root) == refs                             # no partial ref, nothing half-done
    ref = box.fetch_remote("api")                                   # the next command recovers
    size = subprocess.run(["git", "cat-file", "-s", f"{ref}:big.bin"], cwd=box.repo.root, capture_output=True,
                          text=True).stdout.strip()
    assert size == str(96 << 20)


def test_the_host_down_during_a_merge_leaves_the_local_base_unchanged_and_the_merge_works_after(box, sshd,
                                                                                                 tmp_path):
    from app.errors import PaneboardError
    a = box.spawn(task(tmp_path, "api"))
    (Path(a.worktree) / "remote.txt").write_text("work\n")
    before = _refs(box.repo.root)
    steps: list[str] = []

    def on_step(step):
        steps.append(step)
        if step == "commit":        # after the fetch and the checks: the host goes away mid-merge
            sshd.stop()

    with pytest.raises(PaneboardError) as err:
        box.merge("api", on_step=on_step)
    assert steps == ["commit"] and "unreachable" in str(err.value) and "\n" not in str(err.value)
    after = _refs(box.repo.root)
    main = [line for line in after.splitlines() if line.startswith("refs/heads/main ")]
    assert main == [line for line in before.splitlines() if line.startswith("refs/heads/main ")]
    rec = box.state.read()["agents"]["api"]
    assert "merging" not in rec and not rec.get("merged")
    assert not (box.repo.state_dir / "merge-journal.json").exists()
    sshd.start()
    result = box.merge("api")
    assert result.changed and subprocess.run(["git", "show", "main:remote.txt"], cwd=box.repo.root,
                                             capture_output=True, text=True).stdout == "work\n"
