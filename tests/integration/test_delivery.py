"""Replies and task prompts that land: real tmux, the scripted fake CLI (tests/fake_cli.py), the real fleet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.config import Task
from app.errors import DeliveryNotConfirmed
from app.fleet import Fleet
from app.fleet import prompts
from app.monitor import assess_once
from tests.delivery_helpers import fake_aider, fake_command, fake_env, received, submitted
from tests.helpers import retry_until

LONG = "please refactor the parser so that " + " ".join(f"word{i}" for i in range(60)) + " and say done"
MULTI = "first line of the task\n" + "\n".join(f"line {i}: keep `this` $(literal)" for i in range(12)) + "\nlast"


def start_fake(fleet: Fleet, name: str, out: Path, *options: str) -> str:
    """A running fake CLI agent (no prompt) whose input box is drawn; its pane."""
    agent = fleet.spawn(Task(name=name, agent=fake_command(out, *options)))
    retry_until(lambda: fleet.tmux.capture(agent.pane).rstrip().endswith(">"))
    return agent.pane


def test_the_fake_takes_an_enter_that_comes_with_a_paste_as_a_newline(fleet: Fleet, tmp_path: Path):
    # What Codex and Gemini do, and what paste-then-Enter at once (the old `send`) ran into.
    out = tmp_path / "fake.jsonl"
    pane = start_fake(fleet, "codexlike", out)
    fleet.tmux.paste(pane, "lost reply", enter=True)
    retry_until(lambda: "lost reply" in fleet.tmux.capture(pane))
    fleet.tmux.run("display-message", "-p", "x")      # a beat for a late submit to show
    assert submitted(out) == []


def test_send_lands_in_a_cli_that_takes_a_quick_enter_as_a_newline(fleet: Fleet, tmp_path: Path):
    out = tmp_path / "fake.jsonl"
    start_fake(fleet, "codexlike", out)
    done = fleet.send("codexlike", "yes, go ahead")
    assert done.confirmed and done.saw == "the text left its input box"
    assert submitted(out) == ["yes, go ahead"]
    # Long text wraps over several rows; it is still seen, submitted once, literally.
    assert fleet.send("codexlike", LONG).confirmed
    assert submitted(out) == ["yes, go ahead", LONG]
    events = [e for e in fleet.timeline.events("codexlike") if e.kind == "reply"]
    assert [e.data["delivered"] for e in events] == ["confirmed", "confirmed"]


def test_a_submit_taken_as_a_newline_is_pressed_once_more(fleet: Fleet, tmp_path: Path):
    # An Enter within 1 s of a paste is a newline here: the first submit only adds one, the retry submits.
    out = tmp_path / "fake.jsonl"
    start_fake(fleet, "slow", out, "--newline-ms", "1000")
    assert fleet.send("slow", "take this").confirmed
    assert submitted(out) == ["take this\n"]


def test_a_collapsed_paste_counts_as_shown(fleet: Fleet, tmp_path: Path):
    out = tmp_path / "fake.jsonl"
    pane = start_fake(fleet, "collapser", out, "--collapse", "40", "--newline-ms", "0")
    fleet.send("collapser", MULTI, enter=False)     # what the box shows of it: a placeholder, none of its words
    screen = retry_until(lambda: (s := fleet.tmux.capture(pane)) and "[Pasted text #1 +14 lines]" in s and s)
    assert "last" not in screen
    fleet.send_key("collapser", "Enter")
    retry_until(lambda: submitted(out) == [MULTI])
    assert fleet.send("collapser", MULTI).confirmed
    assert submitted(out) == [MULTI, MULTI]


def test_a_cli_that_never_submits_is_not_confirmed(fleet: Fleet, tmp_path: Path):
    out = tmp_path / "fake.jsonl"
    start_fake(fleet, "stuck", out, "--never-submit")
    with pytest.raises(DeliveryNotConfirmed) as err:
        fleet.send("stuck", "will not land")
    assert "still in its input box after pressing Enter twice" in str(err.value)
    assert submitted(out) == []
    event = [e for e in fleet.timeline.events("stuck") if e.kind == "reply"][-1]
    assert event.data["delivered"] == "not confirmed"


@pytest.fixture
def aider_on_path(tmp_path: Path, monkeypatch) -> Path:
    """A fake `aider` first on PATH (the tmux server this test starts runs it)."""
    bin_dir = tmp_path / "bin"
    fake_aider(bin_dir)
    monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")
    return bin_dir


def status_of(fleet: Fleet, name: str):
    """The agent's status as `paneboard ls` reads it."""
    return next(a for a in assess_once(fleet) if a.name == name).status


def test_a_task_prompt_waits_while_the_agent_asks_then_lands(fleet: Fleet, tmp_path: Path, aider_on_path):
    out = tmp_path / "aider.jsonl"
    agent = fleet.spawn(Task(name="helper", agent="aider", prompt=MULTI, env=fake_env(out, "--ask")))
    # spawn returned with the question still open: nothing answered it, the prompt is marked waiting.
    assert received(out) == []
    assert fleet.state.read()["agents"]["helper"][prompts.PENDING]["pane"] == agent.pane
    a = retry_until(lambda: (a := status_of(fleet, "helper")).why.startswith("prompt waiting: the agent asks") and a)
    assert "(Y)es/(N)o" in a.why
    assert fleet.get("helper", stats=False).to_json()["prompt_waiting"] == "prompt waiting"
    retry_until(lambda: any(e.kind == "prompt" and "asks" in e.text for e in fleet.timeline.events("helper")))
    assert received(out) == []      # still waiting: never pasted into the question
    # The user answers in the pane (as when attached): the prompt follows, submitted whole.
    fleet.tmux.run("send-keys", "-t", agent.pane, "y", "Enter")
    retry_until(lambda: submitted(out) == [MULTI], timeout=20)
    assert received(out)[0] == {"answer": "y"}
    retry_until(lambda: prompts.PENDING not in fleet.state.read()["agents"]["helper"])
    last = retry_until(lambda: (e := [e for e in fleet.timeline.events("helper") if e.kind == "prompt"][-1])
                       and e.text.startswith("task prompt delivered") and e)
    assert last.data["delivered"] == "confirmed"
    assert fleet.get("helper", stats=False).prompt_waiting is None


def test_spawn_cli_returns_while_the_question_is_open(repo: Path, tmux_socket: str, tmp_path: Path, aider_on_path):
    from tests.helpers import paneboard
    out = tmp_path / "aider.jsonl"
    env_arg = f"FAKE_CLI_ARGS={json.dumps(['--out', str(out), '--ask'])}"
    r = paneboard("spawn", "helper", "--agent", "aider", "--prompt", "do the thing", "--env", env_arg,
                  cwd=repo, socket_name=tmux_socket)
    assert r.returncode == 0, r.stderr
    assert received(out) == []       # it returned, and the question is still unanswered
    ls = paneboard("ls", "--json", cwd=repo, socket_name=tmux_socket)
    assert json.loads(ls.stdout)[0]["prompt_waiting"] == "prompt waiting"
    pane = json.loads(ls.stdout)[0]["pane"]
    retry_until(lambda: "(Y)es/(N)o" in __import__("subprocess").run(
        ["tmux", "-L", tmux_socket, "capture-pane", "-p", "-t", pane], capture_output=True, text=True).stdout)
    __import__("subprocess").run(["tmux", "-L", tmux_socket, "send-keys", "-t", pane, "n", "Enter"], check=True)
    retry_until(lambda: submitted(out) == ["do the thing"], timeout=20)
