"""`paneboard send`: says whether delivery was confirmed; exit 0 confirmed, 1 not confirmed, 2 for usage errors."""

from __future__ import annotations

from pathlib import Path

from app.config import Task
from app.fleet import Fleet
from tests.delivery_helpers import fake_command, submitted
from tests.helpers import paneboard, retry_until


def started(fleet: Fleet, name: str, out: Path, *options: str) -> str:
    agent = fleet.spawn(Task(name=name, agent=fake_command(out, *options)))
    retry_until(lambda: fleet.tmux.capture(agent.pane).rstrip().endswith(">"))
    return agent.pane


def test_send_confirmed_exits_zero_and_says_how(fleet: Fleet, repo: Path, tmux_socket: str, tmp_path: Path):
    out = tmp_path / "fake.jsonl"
    started(fleet, "codexlike", out)
    r = paneboard("send", "codexlike", "yes, go ahead", cwd=repo, socket_name=tmux_socket)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "sent to codexlike: confirmed, the text left its input box"
    assert submitted(out) == ["yes, go ahead"]


def test_send_not_confirmed_exits_one_with_one_line(fleet: Fleet, repo: Path, tmux_socket: str, tmp_path: Path):
    out = tmp_path / "fake.jsonl"
    started(fleet, "stuck", out, "--never-submit")
    r = paneboard("send", "stuck", "will not land", cwd=repo, socket_name=tmux_socket)
    assert r.returncode == 1
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "stuck: delivery not confirmed: the text is still in its input box" in lines[0]
    assert "Traceback" not in r.stderr


def test_send_no_enter_pastes_only(fleet: Fleet, repo: Path, tmux_socket: str, tmp_path: Path):
    out = tmp_path / "fake.jsonl"
    pane = started(fleet, "draft", out)
    r = paneboard("send", "draft", "a draft", "--no-enter", cwd=repo, socket_name=tmux_socket)
    assert r.returncode == 0, r.stderr
    retry_until(lambda: "> a draft" in fleet.tmux.capture(pane))
    assert submitted(out) == []


def test_send_to_a_stopped_agent_or_without_text_is_a_usage_error(fleet: Fleet, repo: Path, tmux_socket: str,
                                                                     tmp_path: Path):
    out = tmp_path / "fake.jsonl"
    started(fleet, "gone", out)
    fleet.kill("gone")
    r = paneboard("send", "gone", "hello", cwd=repo, socket_name=tmux_socket)
    assert r.returncode == 2 and "is not running" in r.stderr
    r = paneboard("send", "gone", cwd=repo, socket_name=tmux_socket)
    assert r.returncode == 2 and "send needs TEXT or --key KEY" in r.stderr
