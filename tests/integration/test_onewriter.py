"""Several dashboards on one repository: one writer runs on_trigger and writes the timelines and status
files; when it goes another takes over without running or writing anything twice (app/monitor/writer.py).

Two real Monitors (two Fleet objects, as two dashboard processes have) on one repository and one
private tmux server, demo agents that ask a question, and an on_trigger command that appends a line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import pytest

from app.fleet import Fleet
from app.model import Kind, TriggerKind
from app.monitor import status_file_paths
from app.monitor.attention import read_hidden
from app.monitor.limits import RULE
from app.monitor.writer import WriterLock, holder
from tests.helpers import make_repo, until
from tests.integration.test_limits import limited
from tests.integration.test_monitor import Running, make_fleet, spawn

pytestmark = pytest.mark.slow

ASK = [{"do": "say", "text": "I want to run the tests."},
       {"do": "ask", "title": "Bash command", "question": "pytest -q"},
       {"do": "say", "text": "Tests ran."},
       {"do": "idle"}]


def on_trigger(out: Path) -> tuple[str, ...]:
    """An on_trigger argv that appends 'agent kind' to `out` (no shell)."""
    return (sys.executable, "-c",
            "import json, sys; t = json.load(sys.stdin); "
            f"open({str(out)!r}, 'a').write(t['agent'] + ' ' + t['kind'] + '\\n')")


def ran(out: Path) -> list[str]:
    return out.read_text().splitlines() if out.exists() else []


def raised_in_timeline(fleet, agent: str, kind: str) -> list:
    return [e for e in fleet.timeline.events(agent)
            if e.kind == "trigger" and (e.data or {}).get("state") == "raised" and e.data.get("trigger") == kind]


def statuses_in_timeline(fleet, agent: str) -> list[str]:
    return [e.data["status"] for e in fleet.timeline.events(agent) if e.kind == "status"]


@pytest.fixture
def socket_name(tmux_socket):
    return tmux_socket


@pytest.fixture
async def monitors():
    started: list[Running] = []

    def start(fleet, **kw) -> Running:
        r = Running(fleet, tick=0.2, rediscover_every=1.0, **kw)
        started.append(r)
        return r

    yield start
    for r in started:
        await r.stop()


async def test_two_dashboards_run_on_trigger_once_and_the_second_takes_over(tmp_path, socket_name, monitors):
    out = tmp_path / "ran.txt"
    first_fleet = make_fleet(tmp_path, socket_name, on_trigger=on_trigger(out), silence=60.0)
    second_fleet = make_fleet(tmp_path, socket_name, on_trigger=on_trigger(out), silence=60.0)
    first = monitors(first_fleet)
    await until(lambda: first.monitor.writes)
    second = monitors(second_fleet)
    await second.monitor.publisher.ready.wait()
    assert not second.monitor.writes and holder(first_fleet.repo.state_dir) is not None

    await asyncio.to_thread(spawn, first_fleet, tmp_path, "asker", ASK)
    for r in (first, second):     # both see it: their tables, toasts and bells are their own
        await until(lambda r=r: r.trigger("asker", TriggerKind.NEEDS_INPUT), timeout=20)
        await until(lambda r=r: r.raised(TriggerKind.NEEDS_INPUT, "asker"))
    await until(lambda: ran(out) == ["asker needs_input"])
    assert second.monitor.counters["hooks"] == 0 and not second.monitor.publisher._commands
    await until(lambda: raised_in_timeline(first_fleet, "asker", "needs_input"))
    status_json, _ = status_file_paths(first_fleet)
    await until(lambda: any(a["name"] == "asker" and a["triggers"]
                            for a in json.loads(status_json.read_text())["agents"]))

    # The writer goes: the other takes over on its tick and runs nothing again for what was already run.
    await first.stop()
    await until(lambda: second.monitor.writes, timeout=3)
    assert holder(first_fleet.repo.state_dir) is not None
    await asyncio.to_thread(spawn, second_fleet, tmp_path, "asker2", ASK)
    await until(lambda: "asker2 needs_input" in ran(out), timeout=25)
    await until(lambda: raised_in_timeline(second_fleet, "asker2", "needs_input"))
    assert sorted(ran(out)) == ["asker needs_input", "asker2 needs_input"]
    assert len(raised_in_timeline(second_fleet, "asker", "needs_input")) == 1
    assert len(raised_in_timeline(second_fleet, "asker2", "needs_input")) == 1
    for name in ("asker", "asker2"):
        kinds = statuses_in_timeline(second_fleet, name)
        assert all(a != b for a, b in zip(kinds, kinds[1:])), kinds     # no status written twice
    # The new writer writes the status files now.
    await until(lambda: any(a["name"] == "asker2" and a["triggers"]
                            for a in json.loads(status_json.read_text())["agents"]))


async def test_a_writer_that_died_before_acting_leaves_it_to_the_next(tmp_path, socket_name, monitors):
    """A writer that held the lock but wrote nothing (killed between raising and writing): the next
    writer runs on_trigger and writes the timeline line it lacks, once."""
    out = tmp_path / "ran.txt"
    fleet = make_fleet(tmp_path, socket_name, on_trigger=on_trigger(out), silence=60.0)
    gone_writer = WriterLock(fleet.repo.state_dir)
    assert gone_writer.take()
    try:
        watcher = monitors(fleet)
        await watcher.monitor.publisher.ready.wait()
        await asyncio.to_thread(spawn, fleet, tmp_path, "asker", ASK)
        await until(lambda: watcher.trigger("asker", TriggerKind.NEEDS_INPUT), timeout=20)
        await asyncio.sleep(0.5)    # a few ticks: it must not act while another holds the lock
        assert not watcher.monitor.writes and ran(out) == []
        assert raised_in_timeline(fleet, "asker", "needs_input") == []
    finally:
        gone_writer.release()
    await until(lambda: watcher.monitor.writes, timeout=3)
    await until(lambda: ran(out) == ["asker needs_input"])
    await until(lambda: len(raised_in_timeline(fleet, "asker", "needs_input")) == 1)
    assert statuses_in_timeline(fleet, "asker")[-1] == "needs_input"
    status_json, _ = status_file_paths(fleet)
    await until(lambda: status_json.exists() and json.loads(status_json.read_text())["agents"])


async def test_acknowledged_in_one_dashboard_and_snoozed_in_the_other_hides_them_in_both(tmp_path, socket_name, monitors):
    first_fleet = make_fleet(tmp_path, socket_name, silence=60.0)
    second_fleet = make_fleet(tmp_path, socket_name, silence=60.0)
    first = monitors(first_fleet)
    await until(lambda: first.monitor.writes)
    second = monitors(second_fleet)
    await second.monitor.publisher.ready.wait()
    for name in ("asker", "asker2"):
        await asyncio.to_thread(spawn, first_fleet, tmp_path, name, ASK)
    for r in (first, second):
        for name in ("asker", "asker2"):
            await until(lambda r=r, name=name: r.trigger(name, TriggerKind.NEEDS_INPUT), timeout=20)

    assert second.monitor.acknowledge("asker", "needs_input")      # in the dashboard that does not write
    await until(lambda: first.trigger("asker", TriggerKind.NEEDS_INPUT) is None, timeout=5)
    first.monitor.snooze("asker2", "needs_input", 600)             # in the writer: the other's ack stays
    await until(lambda: second.trigger("asker2", TriggerKind.NEEDS_INPUT) is None, timeout=5)
    acks, snoozes = read_hidden(first_fleet.repo.state_dir / "triggers.json", time.time())
    assert ("asker", "needs_input") in acks and ("asker2", "needs_input") in snoozes
    assert second.trigger("asker", TriggerKind.NEEDS_INPUT) is None
    acknowledged = [e for e in first_fleet.timeline.events("asker") if e.kind == "acknowledged"]
    assert len(acknowledged) == 1 and acknowledged[0].source == "dashboard"


LIMIT_TASKS = """\
defaults:
  agent: demo
  limit_margin: 0.5s
tasks:
  - name: parked
    on_limit: resume
"""


def continues_sent(fleet, name: str) -> list:
    return [e for e in fleet.timeline.events(name) if e.kind == "reply" and (e.data or {}).get("rule") == RULE]


@pytest.mark.parametrize("writer_goes", [False, True], ids=["both-run", "writer-stops-before-the-reset"])
async def test_two_dashboards_send_the_continue_message_once(tmp_path, socket_name, monitors, writer_goes):
    repo = make_repo(tmp_path / "project", {"README.md": "# demo\n", "paneboard.yaml": LIMIT_TASKS})
    fleets = [Fleet.open(repo, socket_name=socket_name) for _ in range(2)]
    first = monitors(fleets[0])
    await until(lambda: first.monitor.writes)
    second = monitors(fleets[1])
    await second.monitor.publisher.ready.wait()
    worktree = Path(limited(tmp_path, fleets[0], "parked"))
    for r in (first, second):       # both show when it resumes
        await until(lambda r=r: r.agent("parked").limit_resume_at, timeout=20)
    if writer_goes:
        await first.stop()
        await until(lambda: second.monitor.writes, timeout=3)
    await until(lambda: (worktree / "resumed.md").exists(), timeout=20)
    await until(lambda: continues_sent(fleets[0], "parked"))
    await until(lambda: second.agent("parked").status.kind == Kind.IDLE
                and second.trigger("parked", TriggerKind.LIMIT) is None, timeout=15)
    assert len(continues_sent(fleets[0], "parked")) == 1
    notes = lambda r: [n for u in r.updates for n in u.notes if n.startswith("parked: ")]     # noqa: E731
    # Under load the writer may have sent it before it stopped: then the note is the first one's.
    await until(lambda: any("resumed after its usage limit reset" in n for n in notes(first) + notes(second)))
    if not writer_goes:
        assert notes(second) == []      # the one that does not write did not even try
