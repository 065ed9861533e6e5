"""The live monitor with one agent here and one on a host over a real sshd, their panes having the same id.

Each one's output, screen and status are its own; the remote one's status follows its pane through
control mode over SSH, its git stats are read on the host, and when the host goes away it is
`unreachable` and comes back with the host.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.config import Task
from app.model import Kind, TriggerKind
from app.monitor import Monitor
from tests.helpers import demo_command, demo_script, until
from tests.remote.conftest import remote_task

pytestmark = pytest.mark.slow


class Running:
    """A Monitor running in the test's loop."""

    def __init__(self, fleet, **kw):
        self.monitor = Monitor(fleet, write_status=False, **kw)
        self._run = asyncio.create_task(self.monitor.run())

    def agent(self, name: str):
        return next((a for a in self.monitor.agents() if a.name == name), None)

    def facts(self, name: str):
        return self.monitor._facts.get(name)

    async def stop(self):
        self._run.cancel()
        try:
            await self._run
        except (asyncio.CancelledError, Exception):
            pass


@pytest.fixture
async def running():
    started: list[Running] = []

    def start(fleet, **kw):
        started.append(Running(fleet, **kw))
        return started[-1]

    yield start
    for r in started:
        await r.stop()


def kind(r: Running, name: str) -> Kind | None:
    a = r.agent(name)
    return a.status.kind if a else None


async def test_a_local_and_a_remote_agent_with_the_same_pane_id_each_keep_their_own_output_and_status(
        box, tmp_path: Path, running):
    here = box.spawn(Task(name="here", agent=demo_command(demo_script(
        tmp_path, [{"do": "say", "text": "LOCAL-WORDS"}, {"do": "idle"}]))))
    there = box.spawn(remote_task(tmp_path, "there", [
        {"do": "work", "seconds": 4, "label": "Crunching"},
        {"do": "edit", "path": "src/remote_file.py", "text": "x = 1\n"},
        {"do": "say", "text": "REMOTE-WORDS"}, {"do": "idle"}], speed=1.0))
    assert here.pane == there.pane, "the test needs the same pane id on both servers"
    r = running(box)
    await until(lambda: kind(r, "there") == Kind.WORKING, timeout=20)
    await until(lambda: kind(r, "here") == Kind.IDLE and "LOCAL-WORDS" in r.facts("here").screen)
    # The remote screen is read on the host: never the local pane that has the same id.
    assert "LOCAL-WORDS" not in r.facts("there").screen
    await until(lambda: kind(r, "there") == Kind.IDLE and "REMOTE-WORDS" in r.facts("there").screen, timeout=20)
    assert "REMOTE-WORDS" not in r.facts("here").screen and "LOCAL-WORDS" not in r.facts("there").screen
    assert kind(r, "here") == Kind.IDLE
    # Its git stats are read on the host, after its output (no file events from there).
    await until(lambda: "src/remote_file.py" in r.agent("there").files, timeout=20)
    assert r.agent("here").files == ()
    # The file watcher is never handed a path on the host.
    assert Path(there.worktree) not in r.monitor.watcher.worktrees
    assert Path(here.worktree) in r.monitor.watcher.worktrees
    assert r.monitor.counters["remote_control_starts"] >= 1


async def test_a_host_that_goes_away_is_unreachable_in_the_monitor_and_its_table_comes_back(
        box, tmp_path: Path, sshd, running):
    box.spawn(Task(name="here", agent=demo_command(demo_script(tmp_path, [{"do": "idle"}]))))
    box.spawn(remote_task(tmp_path, "there", [{"do": "say", "text": "REMOTE-WORDS"}, {"do": "idle"}]))
    r = running(box)
    await until(lambda: kind(r, "there") == Kind.IDLE, timeout=20)
    sshd.stop()
    await until(lambda: kind(r, "there") == Kind.UNREACHABLE, timeout=20)
    a = r.agent("there")
    assert "Connection refused" in a.status.why
    assert [t.kind for t in a.triggers] == [TriggerKind.UNREACHABLE]
    assert kind(r, "here") == Kind.IDLE                       # the local agent is not touched
    assert "there" in box.state.read()["agents"]              # nothing forgotten
    sshd.start()
    await until(lambda: kind(r, "there") == Kind.IDLE, timeout=40)
    assert r.agent("there").triggers == []
    assert "REMOTE-WORDS" in r.facts("there").screen
