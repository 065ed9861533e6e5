"""Two real dashboards on one repository, and the one that writes killed with -9 (app/monitor/writer.py).

Exactly one dashboard runs `on_trigger` and writes the timelines and status files; when it is killed
the other takes over on its next tick, runs nothing again for what the dead one already ran, and the
next trigger runs once. `paneboard doctor` names the dashboard that writes.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from app.config import Settings, Task
from app.fleet import Fleet
from app.git.worktrees import find_repo
from app.monitor.writer import holder
from tests.faults.helpers import Dashboard, no_traceback
from tests.helpers import ROOT, demo_command, demo_script, make_repo, paneboard, retry_until

pytestmark = pytest.mark.slow

ASK = [{"do": "say", "text": "I want to run the tests."},
       {"do": "ask", "title": "Bash command", "question": "pytest -q"},
       {"do": "idle"}]


@pytest.fixture
def dashboards(tmux_socket: str):
    started: list[Dashboard] = []

    def start(repo: Path, fresh_status: bool = True) -> Dashboard:
        d = Dashboard(repo, tmux_socket)
        started.append(d)
        return d.start(fresh_status=fresh_status)

    yield start
    for d in started:
        d.close()


def ran(out: Path) -> list[str]:
    return out.read_text().splitlines() if out.exists() else []


def raised(fleet: Fleet, agent: str) -> list:
    return [e for e in fleet.timeline.events(agent)
            if e.kind == "trigger" and (e.data or {}).get("state") == "raised"]


def test_killed_writer_hands_over_and_nothing_runs_twice(tmp_path, tmux_socket, dashboards):
    repo = make_repo(tmp_path / "project")
    out = tmp_path / "ran.txt"
    # Each run appends "<the dashboard's pid> <agent> <kind>": the dashboard is the command's parent.
    code = ("import json, os, sys; t = json.load(sys.stdin); "
            f"open({str(out)!r}, 'a').write(f\"{{os.getppid()}} {{t['agent']}} {{t['kind']}}\\n\")")
    (repo / "paneboard.yaml").write_text(json.dumps({"defaults": {"on_trigger": [sys.executable, "-c", code],
                                                                  "silence": "10m"}}))
    state_dir = repo / ".git" / "paneboard"
    first = dashboards(repo)
    retry_until(lambda: holder(state_dir) == first.pid, timeout=20)
    second = dashboards(repo, fresh_status=False)
    retry_until(lambda: "project: 0 agents" in second.screen(), timeout=20)
    assert holder(state_dir) == first.pid

    fleet = Fleet(find_repo(repo), Settings(agent="demo", tmux_socket=tmux_socket))
    spawn = lambda name: fleet.spawn(Task(name=name, agent=demo_command(demo_script(tmp_path, ASK), 0.1),  # noqa: E731
                                          env={"PYTHONPATH": str(ROOT)}))
    spawn("asker")
    retry_until(lambda: ran(out) == [f"{first.pid} asker needs_input"], timeout=20)
    retry_until(lambda: "asker" in second.screen() and "needs_input" in second.screen(), timeout=20)
    retry_until(lambda: len(raised(fleet, "asker")) == 1)

    # kill -9 the writer: the other takes over on its next tick.
    first.kill9()
    killed = time.monotonic()
    retry_until(lambda: holder(state_dir) == second.pid, timeout=10, interval=0.02)
    print(f"the second dashboard took over {time.monotonic() - killed:.2f}s after the writer was killed")
    doctor = paneboard("doctor", cwd=repo, socket_name=tmux_socket)
    no_traceback(doctor)
    assert f"dashboard pid {second.pid} runs on_trigger" in doctor.stdout

    spawn("asker2")
    retry_until(lambda: f"{second.pid} asker2 needs_input" in ran(out), timeout=25)
    retry_until(lambda: any(a["name"] == "asker2" and a["triggers"] for a in second.document()["agents"]))
    retry_until(lambda: len(raised(fleet, "asker2")) == 1)
    assert ran(out) == [f"{first.pid} asker needs_input", f"{second.pid} asker2 needs_input"]
    assert len(raised(fleet, "asker")) == 1, raised(fleet, "asker")
    assert second.alive()
    assert second.quit() == 0
    doctor = paneboard("doctor", cwd=repo, socket_name=tmux_socket)
    assert "no dashboard runs on_trigger" in doctor.stdout


async def test_two_served_tabs_one_writer_and_the_other_takes_over(tmp_path, tmux_socket):
    """`paneboard serve` runs a dashboard process per browser tab: the same one writer, handed over likewise."""
    from tests.helpers import until
    from tests.serve_helpers import Served, open_session
    repo = make_repo(tmp_path / "project")
    out = tmp_path / "ran.txt"
    code = ("import json, os, sys; t = json.load(sys.stdin); "
            f"open({str(out)!r}, 'a').write(f\"{{os.getppid()}} {{t['agent']}} {{t['kind']}}\\n\")")
    (repo / "paneboard.yaml").write_text(json.dumps({"defaults": {"on_trigger": [sys.executable, "-c", code],
                                                                  "silence": "10m"}}))
    state_dir = repo / ".git" / "paneboard"
    served = Served(repo, tmux_socket)
    sessions = []
    try:
        for n in (1, 2):
            sessions.append(await open_session(served))
            await asyncio.wait_for(sessions[-1][1].receive(), 30)       # its dashboard painted
        pids = [int(served.wait_for(f"session {n} started").rsplit("pid ", 1)[1].rstrip(")")) for n in (1, 2)]
        writer = await until(lambda: holder(state_dir) in pids and holder(state_dir), timeout=20)
        other = next(p for p in pids if p != writer)
        fleet = Fleet(find_repo(repo), Settings(agent="demo", tmux_socket=tmux_socket))
        spawn = lambda name: fleet.spawn(Task(name=name, agent=demo_command(demo_script(tmp_path, ASK), 0.1),  # noqa: E731
                                              env={"PYTHONPATH": str(ROOT)}))
        await asyncio.to_thread(spawn, "asker")
        await until(lambda: ran(out) == [f"{writer} asker needs_input"], timeout=20)
        await until(lambda: len(raised(fleet, "asker")) == 1)

        os.kill(writer, signal.SIGKILL)             # the writer's tab dies
        await until(lambda: holder(state_dir) == other, timeout=10)
        await asyncio.to_thread(spawn, "asker2")
        await until(lambda: f"{other} asker2 needs_input" in ran(out), timeout=25)
        await until(lambda: len(raised(fleet, "asker2")) == 1)
        assert ran(out) == [f"{writer} asker needs_input", f"{other} asker2 needs_input"]
        assert len(raised(fleet, "asker")) == 1
    finally:
        for client, websocket in sessions:
            await websocket.close()
            await client.close()
        served.close()
