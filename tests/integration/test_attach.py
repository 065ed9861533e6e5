"""Attach from the real dashboard running in a terminal, then detach back to it (no Pilot: a real tty)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import demo_command, demo_script, paneboard, retry_until

ROOT = Path(__file__).resolve().parents[2]


def term(sock: str, *args: str) -> str:
    return subprocess.run(["tmux", "-L", sock, *args], capture_output=True, text=True).stdout


def test_enter_attaches_and_detach_returns_to_the_dashboard(repo: Path, tmux_socket: str, tmp_path: Path):
    script = demo_script(tmp_path, [{"do": "say", "text": "AGENT-SCREEN-MARKER"}, {"do": "idle"}])
    assert paneboard("spawn", "target", "--agent", demo_command(script), cwd=repo,
                     socket_name=tmux_socket).returncode == 0
    terminal = f"{tmux_socket}-term"
    env = {"PANEBOARD_TMUX_SOCKET": tmux_socket, "PYTHONPATH": str(ROOT), "PATH": os.environ["PATH"],
           "HOME": os.environ.get("HOME", "/tmp"), "TERM": "xterm-256color", "LANG": "C.UTF-8"}
    try:
        # The dashboard runs inside a tmux pane ($TMUX is set there), like most users run it.
        subprocess.run(["tmux", "-L", terminal, "new-session", "-d", "-x", "140", "-y", "40", "-c", str(repo),
                        "--", "env", *[f"{k}={v}" for k, v in env.items()], sys.executable, "-m", "app.cli"],
                       check=True)
        retry_until(lambda: "target" in term(terminal, "capture-pane", "-p"), timeout=20)
        term(terminal, "send-keys", "Enter")
        # The terminal now shows the agent's own pane through a nested tmux client...
        retry_until(lambda: "AGENT-SCREEN-MARKER" in term(terminal, "capture-pane", "-p")
                    and "Agents" not in term(terminal, "capture-pane", "-p"), timeout=20)
        clients = term(tmux_socket, "list-clients", "-F", "#{client_name}")
        assert clients.strip(), "no client attached to the agents' server"
        # ...and detaching brings the dashboard back, still alive.
        subprocess.run(["tmux", "-L", tmux_socket, "detach-client", "-a"], capture_output=True)
        for client in clients.split():
            subprocess.run(["tmux", "-L", tmux_socket, "detach-client", "-t", client], capture_output=True)
        retry_until(lambda: "Agents" in term(terminal, "capture-pane", "-p"), timeout=20)
        screen = term(terminal, "capture-pane", "-p")
        assert "Traceback" not in screen and "target" in screen
    finally:
        subprocess.run(["tmux", "-L", terminal, "kill-server"], capture_output=True)
