"""A check shows at once, wherever it was started: running (with its elapsed time) while it runs, its
result the moment it ends, on a real tmux server and git repository."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.fleet import Fleet
from app.monitor import Monitor
from tests.helpers import ROOT, demo_command, demo_script, make_repo, until

pytestmark = pytest.mark.slow

TASKS = "defaults:\n  agent: demo\n  check: sh -c 'echo checking; sleep 2; test -f good.txt'\n"


def quiet_agent(fleet: Fleet, tmp_path: Path, name: str) -> Path:
    from app.config import Task
    script = demo_script(tmp_path, [{"do": "say", "text": f"{name} ready"}, {"do": "idle"}])
    wt = Path(fleet.spawn(Task(name=name, agent=demo_command(script))).worktree)
    (wt / "good.txt").write_text("ok\n")
    return wt


def cli(*args: str, cwd: Path, socket: str) -> subprocess.Popen:
    """`paneboard ARGS` in another process, as from another terminal."""
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    env.update(PANEBOARD_TMUX_SOCKET=socket, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "app.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


async def test_a_check_from_another_terminal_shows_while_it_runs_and_when_it_ends(tmp_path, tmux_socket):
    repo = make_repo(tmp_path / "project", {"README.md": "# demo\n", "paneboard.yaml": TASKS})
    fleet = Fleet.open(repo, socket_name=tmux_socket)
    quiet_agent(fleet, tmp_path, "checked")
    # Rediscovery every 10 minutes: what the test sees comes from the check's own record, not a poll.
    monitor = Monitor(fleet, tick=0.2, rediscover_every=600)
    updates = []

    async def collect():
        async for u in monitor.updates():
            updates.append(u)
    tasks = [asyncio.create_task(monitor.run()), asyncio.create_task(collect())]
    shown = lambda: next((a for a in updates[-1].agents if a.name == "checked"), None) if updates else None
    try:
        await until(lambda: shown() and shown().status.kind.value == "idle")
        await asyncio.sleep(0.5)        # the agent is quiet now: nothing else would publish
        proc = await asyncio.to_thread(cli, "check", "checked", cwd=repo, socket=tmux_socket)
        running = await until(lambda: shown().check_running, timeout=10)
        assert running["command"].startswith("sh -c") and running["pid"] == proc.pid
        assert shown().last_check is None
        _, err = await asyncio.to_thread(proc.communicate, timeout=30)
        ended = time.time()
        assert proc.returncode == 0, err
        last = await until(lambda: shown().last_check, timeout=5)
        assert time.time() - ended < 3          # at once: within a watcher batch, not at the next poll
        assert last["passed"] is True and shown().check_running is None
        assert monitor.counters["rediscoveries"] >= 3    # the start, the check starting, the check ending
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def test_a_check_whose_process_died_is_not_shown_running(tmp_path, tmux_socket):
    # A dashboard killed mid-check leaves its record behind: nobody runs that check any more.
    repo = make_repo(tmp_path / "project", {"README.md": "# demo\n", "paneboard.yaml": TASKS})
    fleet = Fleet.open(repo, socket_name=tmux_socket)
    quiet_agent(fleet, tmp_path, "checked")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with fleet.state.edit() as data:
        data["agents"]["checked"]["check_running"] = {"started_at": time.time(), "command": "x", "log": "",
                                                      "pid": gone.pid}
    assert fleet.get("checked", stats=False).check_running is None
    with fleet.state.edit() as data:
        data["agents"]["checked"]["check_running"]["pid"] = os.getpid()
    assert fleet.get("checked", stats=False).check_running["command"] == "x"
    # Alive, but older than any check may run: a reused pid, not our check.
    with fleet.state.edit() as data:
        data["agents"]["checked"]["check_running"]["started_at"] = time.time() - fleet.settings.check_timeout - 61
    assert fleet.get("checked", stats=False).check_running is None
    with fleet.state.edit() as data:
        data["agents"]["checked"]["check_running"]["started_at"] = time.time()
    # `ls --json` says the same.
    proc = subprocess.run([sys.executable, "-m", "app.cli", "ls", "--json"], cwd=repo, capture_output=True, text=True,
                          check=True,
                          env={**os.environ, "PANEBOARD_TMUX_SOCKET": tmux_socket, "PYTHONPATH": str(ROOT)})
    assert json.loads(proc.stdout)[0]["check_running"]["command"] == "x"
