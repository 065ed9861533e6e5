"""A spawn on a host killed half-way (its crash hook SIGKILLs the spawning process at a step): the next listing
undoes a fresh worktree on the host, or records an agent whose window opened there."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from app.fleet.spawning import CRASH_ENV
from tests.helpers import ROOT
from tests.remote.conftest import remote_git, remote_task

_CHILD = """
import pickle, sys
from app.fleet import Fleet
from app.git.worktrees import find_repo
repo, settings, task = pickle.load(open(sys.argv[1], "rb"))
Fleet(find_repo(repo), settings).spawn(task)
"""


def crashed_spawn_on_host(box, tmp_path: Path, step: str) -> None:
    """Spawn `api` on host box from another process that kills itself (SIGKILL) at this step."""
    args = tmp_path / "spawn-args.pickle"
    args.write_bytes(pickle.dumps((box.repo.root, box.settings, remote_task(tmp_path, "api", [{"do": "idle"}]))))
    env = {**os.environ, "PYTHONPATH": str(ROOT), CRASH_ENV: step}
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(args)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr


@pytest.mark.parametrize("step", ["worktree-added", "window-opened"])
def test_a_spawn_on_a_host_killed_half_way_is_settled_by_the_next_listing(box, tmp_path, host_repo, remote_socket,
                                                                          step):
    crashed_spawn_on_host(box, tmp_path, step)
    worktree = Path(f"{host_repo}.paneboard/api")
    assert worktree.exists() and remote_git(host_repo, "branch", "--list", "paneboard/api").strip()
    names = [a.name for a in box.agents(stats=False)]
    notes = box.take_notices()
    assert len(notes) == 1 and "a spawn of 'api' was interrupted" in notes[0], notes
    if step == "worktree-added":
        assert names == [] and "on host box held nothing and were removed" in notes[0]
        assert not worktree.exists() and not remote_git(host_repo, "branch", "--list", "paneboard/api").strip()
        again = box.spawn(remote_task(tmp_path, "api", [{"do": "idle"}]))
        assert again.host == "box" and worktree.exists()
    else:
        assert names == ["api"] and "recorded now" in notes[0]
        agent = box.get("api", stats=False)
        assert agent.host == "box" and agent.pane_alive
    assert box.state.read().get("spawning") == {}
