"""Faults around `paneboard serve`: a port that is taken or wrong, Ctrl-C or SIGTERM while a browser
session is open, a dashboard that dies under its session, the server killed outright, and a
read-only session that is asked to approve.

Each test runs the real server and real dashboards against a private tmux server with scripted
agents, and checks the exact outcome: exit code, the one line said, processes, panes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from tests.faults.helpers import cli_argv, cli_env, one_line_error, processes
from tests.helpers import until
from tests.serve_helpers import Served, live_panes, open_session, start_agents

pytestmark = pytest.mark.slow


def serve_once(repo: Path, socket_name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(cli_argv("serve", *args), cwd=repo, env=cli_env(socket_name), capture_output=True,
                          text=True, timeout=60)


def test_a_port_in_use_is_one_line_and_exit_2(repo: Path, tmux_socket: str):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = serve_once(repo, tmux_socket, "--port", str(port))
    line = one_line_error(result)
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in line and "--port" in line, line
    assert result.stdout == ""


@pytest.mark.parametrize("port", ["http", "70000", "-1", "80.5"])
def test_a_bad_port_is_one_line_and_exit_2(repo: Path, tmux_socket: str, port: str):
    result = serve_once(repo, tmux_socket, f"--port={port}")
    line = one_line_error(result)
    assert result.returncode == 2 and "--port" in line, line


def test_a_missing_repository_is_one_line_and_exit_2(tmp_path: Path, tmux_socket: str):
    result = serve_once(tmp_path, tmux_socket, "--repo", str(tmp_path / "nowhere"))
    assert one_line_error(result) and result.returncode == 2


@pytest.fixture
def served_agents(repo: Path, tmux_socket: str, tmp_path: Path):
    start_agents(repo, tmux_socket, tmp_path, ("api", "web"))
    return live_panes(tmux_socket)


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
async def test_stopping_with_a_session_open_closes_it_and_leaves_the_agents_running(
        repo: Path, tmux_socket: str, served_agents: list[str], how: str):
    served = Served(repo, tmux_socket)
    try:
        client, websocket = await open_session(served)
        await until(lambda: len(served.dashboards()) == 1, timeout=30)
        await asyncio.wait_for(websocket.receive(), 30)           # the dashboard painted
        dashboard = next(iter(served.dashboards()))
        if how == "ctrl-c":
            code = await asyncio.to_thread(served.interrupt)
        else:
            os.kill(served.proc.pid, signal.SIGTERM)
            code = await asyncio.to_thread(served.proc.wait, 20)
        assert code == 0, served.lines
        assert served.wait_for("stopping: closing 1 browser session(s); the agents keep running")
        assert served.wait_for("session 1 ended")
        assert not [p for p in processes().values() if p.cmdline == dashboard]   # no dashboard left behind
        assert live_panes(tmux_socket) == served_agents                          # the agents keep running
        await client.close()
    finally:
        served.close()


async def test_a_dashboard_that_dies_ends_its_session_only(repo: Path, tmux_socket: str, served_agents: list[str]):
    served = Served(repo, tmux_socket)
    try:
        client, websocket = await open_session(served)
        await until(lambda: len(served.dashboards()) == 1, timeout=30)
        pid = int(served.wait_for("session 1 started").rsplit("pid ", 1)[1].rstrip(")"))
        os.kill(pid, signal.SIGKILL)
        await asyncio.to_thread(served.wait_for, "session 1 ended")

        async def closed():
            message = await websocket.receive()
            return websocket.closed or message.type.name in ("CLOSE", "CLOSED", "CLOSING")

        assert await until(closed, timeout=30)
        await client.close()
        client, websocket = await open_session(served)           # the server still serves
        await asyncio.to_thread(served.wait_for, "session 2 started")
        await client.close()
        assert served.proc.poll() is None
        assert live_panes(tmux_socket) == served_agents
    finally:
        served.close()


async def test_killing_the_server_outright_leaves_no_dashboard_behind(
        repo: Path, tmux_socket: str, served_agents: list[str]):
    served = Served(repo, tmux_socket)
    try:
        client, _ = await open_session(served)
        await until(lambda: len(served.dashboards()) == 1, timeout=30)
        dashboard = served.dashboards()[0]
        os.kill(served.proc.pid, signal.SIGKILL)
        served.proc.wait()
        # Its standard input closed: the dashboard quits on its own.
        await until(lambda: not [p for p in processes().values() if p.cmdline == dashboard], timeout=30)
        assert live_panes(tmux_socket) == served_agents
        await client.close()
    finally:
        served.close()


async def test_a_read_only_session_refuses_to_approve(repo: Path, tmux_socket: str, served_agents: list[str]):
    served = Served(repo, tmux_socket, "--read-only")
    try:
        client, websocket = await open_session(served)
        await until(lambda: len(served.dashboards()) == 1, timeout=30)
        assert served.dashboards()[0].endswith(" --read-only")
        seen = bytearray()

        async def shows(words: bytes):
            message = await asyncio.wait_for(websocket.receive(), 30)
            if isinstance(message.data, bytes):
                seen.extend(message.data)
            return words in seen

        await until(lambda: shows(b"needs input"), timeout=60)   # the table is drawn, the agent asks
        await websocket.send_json(["stdin", "a"])
        await until(lambda: shows(b"read-only"), timeout=30)      # the refusal, in one line
        await client.close()
        out = subprocess.run(["tmux", "-L", tmux_socket, "capture-pane", "-p", "-t", served_agents[0]],
                             capture_output=True, text=True, check=True).stdout
        assert "Do you want to proceed?" in out                    # still asking: nothing was answered
    finally:
        served.close()


async def test_a_repository_path_with_spaces_and_quotes_is_served_from_inside_tmux(tmux_socket: str, tmp_path: Path):
    from tests.helpers import make_repo
    repo = make_repo(tmp_path / "my project's; $(touch pwned)")
    start_agents(repo, tmux_socket, tmp_path, ("api",))
    # serve started from a tmux pane: the dashboards it starts must not think they are inside tmux.
    served = Served(repo, tmux_socket, env={"TMUX": "/tmp/not-a-socket,1,0", "TMUX_PANE": "%9"})
    try:
        client, websocket = await open_session(served)
        await until(lambda: len(served.dashboards()) == 1, timeout=30)
        pid = int(served.wait_for("session 1 started").rsplit("pid ", 1)[1].rstrip(")"))
        assert Path(f"/proc/{pid}/cwd").resolve() == repo.resolve()
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert str(repo).encode() in argv                   # one argument, exactly the path
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert not [v for v in environ if v.startswith((b"TMUX=", b"TMUX_PANE="))]
        assert (await asyncio.wait_for(websocket.receive(), 30)).data   # it paints
        await client.close()
        assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()
    finally:
        served.close()
