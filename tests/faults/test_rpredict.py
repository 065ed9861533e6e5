"""Faults in bringing a remote agent's work here for prediction: its fetch killed halfway, its branch force-moved.

Each test runs the live monitor over a real sshd, breaks one thing, and checks the refs, the
predictions and the notes: the local ref only ever names a complete commit, the last fetched
work stays in prediction (and says so), and the next fetch recovers.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from app.config import Task
from tests.faults.test_ssh import _kill_ssh_of_upload_pack
from tests.helpers import demo_command, demo_script, git, until
from tests.remote.conftest import box, host_repo, remote_socket, remote_task, sshd  # noqa: F401  (fixtures)
from tests.remote.test_remote_monitor import running  # noqa: F401  (the fixture)

pytestmark = pytest.mark.slow

REF = "refs/paneboard/remote/box/paneboard/there"


def _ref(root: Path) -> str:
    return subprocess.run(["git", "rev-parse", "--verify", "--quiet", REF], cwd=root, capture_output=True,
                          text=True).stdout.strip()


def _locks(root: Path) -> list[str]:
    return [str(p) for p in (root / ".git" / "refs").rglob("*.lock")]


async def test_a_fetch_killed_halfway_leaves_the_last_complete_ref_and_the_next_one_recovers(
        box, tmp_path: Path, running):
    there = box.spawn(remote_task(tmp_path, "there", [{"do": "idle"}]))
    wt = Path(there.worktree)
    (wt / "src" / "app.py").write_text("print('there')\n")
    r = running(box, predict_max_wait=1.0)
    await until(lambda: r.monitor.remote_work.fetches == 1 and "there" in r.monitor.conflicts().vs_base, timeout=40)
    first = _ref(box.repo.root)
    # A large change: its fetch takes a moment, and the ssh that carries it is killed halfway.
    (wt / "big.bin").write_bytes(os.urandom(96 << 20))
    killed: list[bool] = []
    killer = threading.Thread(target=lambda: killed.append(
        _kill_ssh_of_upload_pack(str(tmp_path / "box" / "shop"), time.monotonic() + 60)))
    killer.start()
    r.monitor.stats.schedule("there", delay=0.0)
    await until(lambda: "there" in r.monitor.conflicts().stale, timeout=60)
    await asyncio.to_thread(killer.join)
    assert killed == [True]
    # No half ref: the last complete fetch stays, and prediction goes on from it, saying so.
    assert _ref(box.repo.root) == first and _locks(box.repo.root) == []
    assert git(box.repo.root, "show", f"{first}:src/app.py") == "print('there')\n"
    assert "fetching it again failed" in r.monitor.conflicts().stale["there"]
    assert [n["agent"] for n in r.monitor.publisher.log if "could not be fetched" in n["what"]] == ["there"]
    # The next stats read that finds the work fetches it whole.
    r.monitor.stats.schedule("there", delay=0.0)
    await until(lambda: "there" not in r.monitor.conflicts().stale, timeout=90)
    size = git(box.repo.root, "cat-file", "-s", f"{REF}:big.bin").strip()
    assert size == str(96 << 20) and r.monitor.remote_work.fetches == 2


async def test_a_remote_branch_force_moved_is_fetched_as_it_is_now_and_predicted_again(box, tmp_path: Path,
                                                                                       running):
    here = demo_script(tmp_path, [{"do": "edit", "path": "src/app.py", "text": "print('here')"}, {"do": "idle"}])
    box.spawn(Task(name="here", agent=demo_command(here)))
    there = box.spawn(remote_task(tmp_path, "there", [{"do": "idle"}]))
    wt = Path(there.worktree)
    fork = git(wt, "rev-parse", "HEAD").strip()
    (wt / "src" / "app.py").write_text("print('hi')\nprint('there')\n")
    git(wt, "commit", "-q", "-am", "there edits app.py")
    r = running(box, predict_max_wait=1.0)
    await until(lambda: r.monitor.conflicts().pairs.get(("here", "there")) == ("src/app.py",), timeout=40)
    old = _ref(box.repo.root)
    # On the host its branch is moved back and on to another history: its old commit is no longer in it.
    git(wt, "reset", "-q", "--hard", fork)
    (wt / "README.md").write_text("# there\n")
    git(wt, "commit", "-q", "-am", "there edits the readme instead")
    r.monitor.stats.schedule("there", delay=0.0)
    await until(lambda: r.monitor.conflicts().pairs.get(("here", "there")) == (), timeout=40)
    new = _ref(box.repo.root)
    assert new != old and new == git(wt, "rev-parse", "HEAD").strip()
    assert subprocess.run(["git", "merge-base", "--is-ancestor", old, new], cwd=box.repo.root).returncode == 1
    assert r.monitor.conflicts().stale == {} and r.monitor.remote_work.fetches == 2
