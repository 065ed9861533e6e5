"""Conflict prediction and "two agents on one file" across hosts, with the live monitor and a real sshd.

A remote agent's changed paths (read on its host in the stats call) feed the overlap index; its
work is fetched here when it changed and takes part in prediction like a local agent's snapshot;
a host that goes away keeps its agents' last fetched work in prediction, says so, and comes back.
"""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from app.config import HostConfig, Task
from app.model import Kind, TriggerKind
from tests.helpers import ROOT, demo_command, demo_script, git, unique_socket, until
from tests.remote.conftest import remote_task
from tests.remote.test_remote_monitor import kind, running  # noqa: F401  (the fixture)

pytestmark = pytest.mark.slow

LINE = "src/app.py"


def edits(tmp_path: Path, text: str) -> list[dict]:
    """Steps that write a second line of src/app.py (the demo agent appends), then wait."""
    return [{"do": "edit", "path": LINE, "text": text}, {"do": "say", "text": "EDITED"}, {"do": "idle"}]


def kinds(r, name: str) -> set:
    a = r.agent(name)
    return {t.kind for t in a.triggers} if a else set()


def trigger(r, name: str, k):
    a = r.agent(name)
    return next((t for t in a.triggers if t.kind == k), None) if a else None


def pair(r, a: str, b: str):
    return r.monitor.conflicts().pairs.get((a, b) if a < b else (b, a))


async def test_a_remote_and_a_local_agent_on_the_same_line_overlap_and_their_conflicts_are_predicted(
        box, tmp_path: Path, running):
    box.spawn(Task(name="here", agent=demo_command(demo_script(tmp_path, edits(tmp_path, "print('here')\n")))))
    box.spawn(remote_task(tmp_path, "there", edits(tmp_path, "print('there')\n")))
    r = running(box, predict_max_wait=1.0)
    # Two agents on one file: the remote one's paths, read on its host, meet the local one's.
    await until(lambda: TriggerKind.OVERLAP in kinds(r, "here") and TriggerKind.OVERLAP in kinds(r, "there"),
                timeout=40)
    assert "there (src/app.py)" in trigger(r, "here", TriggerKind.OVERLAP).what
    assert "here (src/app.py)" in trigger(r, "there", TriggerKind.OVERLAP).what
    # Its work was fetched here and predicted against the local agent's snapshot.
    await until(lambda: pair(r, "here", "there") == (LINE,), timeout=40)
    fetched = git(box.repo.root, "rev-parse", "refs/paneboard/remote/box/paneboard/there").strip()
    assert git(box.repo.root, "show", f"{fetched}:{LINE}") == "print('hi')\nprint('there')\n"
    # The base moves in that line: both merges into it are predicted to conflict, the remote one too.
    (box.repo.root / LINE).write_text("print('hi')\nprint('teammate')\n")
    git(box.repo.root, "commit", "-q", "-am", "a teammate edits the same line")
    await until(lambda: trigger(r, "there", TriggerKind.CONFLICT) is not None, timeout=40)
    assert trigger(r, "there", TriggerKind.CONFLICT).what == "would conflict with main in src/app.py"
    await until(lambda: trigger(r, "here", TriggerKind.CONFLICT) is not None, timeout=40)
    # The work did not change after it was fetched: one fetch, not one per stats read.
    assert r.monitor.remote_work.fetches == 1


@pytest.fixture
def two_hosts(box, tmp_path: Path, sshd, remote_socket):
    """`box` and `yard`: two hosts (the same sshd, their own clones and tmux servers)."""
    socket = unique_socket()
    yard = HostConfig(name="yard", ssh=tuple(sshd.ssh_args()), repo=str(tmp_path / "yard" / "shop"),
                      tmux_socket=socket)
    box.settings = replace(box.settings, hosts=(*box.settings.hosts, yard))
    yield box
    subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)


async def test_two_remote_agents_on_one_host_and_on_two_hosts_overlap_and_conflict(two_hosts, tmp_path: Path,
                                                                                   running):
    fleet = two_hosts
    fleet.spawn(remote_task(tmp_path, "one", edits(tmp_path, "print('one')\n")))
    fleet.spawn(remote_task(tmp_path, "two", edits(tmp_path, "print('two')\n")))
    fleet.spawn(Task(name="far", agent=demo_command(demo_script(tmp_path, edits(tmp_path, "print('far')\n")),
                                                    0.05), host="yard", env={"PYTHONPATH": str(ROOT)}))
    r = running(fleet, predict_max_wait=1.0)
    await until(lambda: all(TriggerKind.OVERLAP in kinds(r, n) for n in ("one", "two", "far")), timeout=40)
    assert "far (src/app.py)" in trigger(r, "one", TriggerKind.OVERLAP).what
    assert "two (src/app.py)" in trigger(r, "one", TriggerKind.OVERLAP).what
    await until(lambda: pair(r, "one", "two") == (LINE,) and pair(r, "one", "far") == (LINE,)
                and pair(r, "two", "far") == (LINE,), timeout=60)
    root = fleet.repo.root
    for host, name in (("box", "one"), ("box", "two"), ("yard", "far")):
        assert git(root, "show", f"refs/paneboard/remote/{host}/paneboard/{name}:{LINE}") == f"print('hi')\nprint('{name}')\n"


async def test_a_host_that_goes_away_keeps_its_last_prediction_says_it_is_stale_and_comes_back(
        box, tmp_path: Path, sshd, running):
    box.spawn(Task(name="here", agent=demo_command(demo_script(tmp_path, edits(tmp_path, "print('here')\n")))))
    box.spawn(remote_task(tmp_path, "there", edits(tmp_path, "print('there')\n")))
    r = running(box, predict_max_wait=1.0)
    await until(lambda: pair(r, "here", "there") == (LINE,), timeout=40)
    sshd.stop()
    await until(lambda: kind(r, "there") == Kind.UNREACHABLE, timeout=30)
    # Its last fetched work still takes part; the answers say they are as of that fetch.
    await until(lambda: "there" in r.monitor.conflicts().stale, timeout=20)
    c = r.monitor.conflicts()
    assert c.pairs[("here", "there")] == (LINE,)
    assert "as of its work fetched at" in c.stale["there"] and "unreachable" in c.stale["there"]
    assert TriggerKind.OVERLAP in kinds(r, "here")
    # The base moves while the host is away: the local agent's prediction goes on, with no error loop.
    (box.repo.root / LINE).write_text("print('hi')\nprint('teammate')\n")
    git(box.repo.root, "commit", "-q", "-am", "a teammate edits the same line")
    await until(lambda: trigger(r, "here", TriggerKind.CONFLICT) is not None, timeout=30)
    assert r.monitor.conflicts().vs_base["there"] == (LINE,)       # predicted from its last fetch
    notes = [n for n in r.monitor.publisher.log if "could not be fetched" in n["what"]]
    assert len(notes) <= 1
    sshd.start()
    await until(lambda: kind(r, "there") == Kind.IDLE, timeout=60)
    # Back: its stats are read again as its host's link restarts, its work is the one fetched, the note goes.
    await until(lambda: "there" not in r.monitor.conflicts().stale, timeout=60)
    await until(lambda: trigger(r, "there", TriggerKind.CONFLICT) is not None, timeout=30)
    assert "as of" not in trigger(r, "there", TriggerKind.CONFLICT).what


def test_ls_predicts_a_remote_agents_conflict_from_its_last_fetch_and_fetches_only_when_asked(box, tmp_path: Path):
    from app.monitor import assess_once
    from app.monitor.once import STALE_FETCH
    from tests.helpers import retry_until
    there = box.spawn(remote_task(tmp_path, "there", edits(tmp_path, "print('there')\n")))
    retry_until(lambda: next(a for a in assess_once(box) if a.name == "there" and a.files), timeout=30)
    (box.repo.root / LINE).write_text("print('hi')\nprint('teammate')\n")
    git(box.repo.root, "commit", "-q", "-am", "a teammate edits the same line")

    def conflict(**kw):
        a = next(a for a in assess_once(box, **kw) if a.name == "there")
        return next((t for t in a.triggers if t.kind == TriggerKind.CONFLICT), None)

    ref = "refs/paneboard/remote/box/paneboard/there"
    assert conflict() is None               # never fetched: `ls` does not reach for it on its own
    assert git(box.repo.root, "for-each-ref", ref) == ""
    t = conflict(fetch=True)
    assert t.what == "would conflict with main in src/app.py"
    assert git(box.repo.root, "show", f"{ref}:{LINE}") == "print('hi')\nprint('there')\n"
    fetched = git(box.repo.root, "rev-parse", ref)
    # Its files move on the host: `ls` still answers from the last fetch, says so, and fetches nothing.
    (Path(there.worktree) / "src" / "more.py").write_text("x = 1\n")
    t = conflict()
    assert t.what == f"would conflict with main in src/app.py ({STALE_FETCH})"
    assert git(box.repo.root, "rev-parse", ref) == fetched
