"""Faults around a task prompt that waits: its delivery process killed, its agent gone before it was ready."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from app.config import Task
from app.fleet import Fleet, prompts
from tests.delivery_helpers import fake_aider, fake_env, received, submitted
from tests.helpers import paneboard, retry_until

PROMPT = "fix the parser; then say `done` $(not run)"


@pytest.fixture
def aider_on_path(tmp_path: Path, monkeypatch) -> Path:
    bin_dir = tmp_path / "bin"
    fake_aider(bin_dir)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return bin_dir


def pending(fleet: Fleet, name: str) -> dict:
    return fleet.state.read()["agents"][name].get(prompts.PENDING) or {}


def answer(fleet: Fleet, pane: str, key: str = "y") -> None:
    retry_until(lambda: "(Y)es/(N)o" in fleet.tmux.capture(pane))
    fleet.tmux.run("send-keys", "-t", pane, key, "Enter")


def test_a_killed_delivery_is_resumed_by_the_next_command(fleet: Fleet, repo: Path, tmux_socket: str,
                                                         tmp_path: Path, aider_on_path):
    out = tmp_path / "aider.jsonl"
    agent = fleet.spawn(Task(name="helper", agent="aider", prompt=PROMPT, env=fake_env(out, "--ask")))
    pid = retry_until(lambda: pending(fleet, "helper").get("pid"))
    os.kill(pid, signal.SIGKILL)
    retry_until(lambda: not prompts.delivering(fleet.repo.state_dir, "helper"))
    answer(fleet, agent.pane)
    retry_until(lambda: received(out) == [{"answer": "y"}])
    assert submitted(out) == [] and pending(fleet, "helper")["pid"] == pid    # nobody delivers it now
    ls = paneboard("ls", "--json", cwd=repo, socket_name=tmux_socket)
    assert ls.returncode == 0, ls.stderr
    retry_until(lambda: submitted(out) == [PROMPT], timeout=20)
    retry_until(lambda: not pending(fleet, "helper"))
    retry_until(lambda: [e.text for e in fleet.timeline.events("helper")
                         if e.kind == "prompt"][-1].startswith("task prompt delivered"))


def test_an_agent_that_exits_before_it_was_ready_keeps_its_prompt_for_restart(fleet: Fleet, repo: Path,
                                                                              tmux_socket: str, tmp_path: Path,
                                                                              aider_on_path):
    out = tmp_path / "aider.jsonl"
    agent = fleet.spawn(Task(name="helper", agent="aider", prompt=PROMPT, env=fake_env(out, "--ask")))
    retry_until(lambda: "(Y)es/(N)o" in fleet.tmux.capture(agent.pane))
    pane_pid = int(fleet.tmux.run("display-message", "-p", "-t", agent.pane, "#{pane_pid}")[0])
    os.kill(pane_pid, signal.SIGTERM)
    retry_until(lambda: pending(fleet, "helper").get("exited"))
    assert fleet.state.read()["agents"]["helper"]["prompt"] == PROMPT
    # The delivery process marks the record, then writes the timeline line: wait for the line too.
    def told() -> bool:
        said = [e.text for e in fleet.timeline.events("helper") if e.kind == "prompt"]
        return bool(said) and said[-1].startswith("task prompt not delivered: the agent exited before it was ready")
    retry_until(told)
    ls = json.loads(paneboard("ls", "--json", cwd=repo, socket_name=tmux_socket).stdout)
    assert "its task prompt was never delivered" in ls[0]["status_why"]
    assert not prompts.delivering(fleet.repo.state_dir, "helper")     # nothing restarted a delivery for it
    # restart delivers it, though aider's restart resumes its chat instead of taking a prompt.
    again = fleet.restart("helper")
    assert pending(fleet, "helper")["pane"] == again.pane
    answer(fleet, again.pane, "n")
    retry_until(lambda: submitted(out) == [PROMPT], timeout=20)
    assert received(out)[-2:] == [{"answer": "n"}, {"submitted": PROMPT}]
