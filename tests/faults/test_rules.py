"""A user's agent file broken in each way a file can break: one line naming file, line and field,
exit 2, nothing created, and every other agent (the shipped ones, a good user file) still works.

Real CLI subprocesses, a real repository and a private tmux server per test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, git, kill_tmux, make_repo, unique_socket

SCREENS = ROOT / "tests" / "fixtures" / "screens"


def cli(*args: str, cwd: Path, config: Path, socket_name: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    env.update(PANEBOARD_TMUX_SOCKET=socket_name, PYTHONPATH=str(ROOT), XDG_CONFIG_HOME=str(config))
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=60)


@pytest.fixture
def setup(tmp_path):
    socket_name = unique_socket()
    repo = make_repo(tmp_path / "project")
    config = tmp_path / "config"
    agents = config / "paneboard" / "agents"
    agents.mkdir(parents=True)
    (agents / "good.yaml").write_text("extends: generic\ncommand: [good-cli]\n", encoding="utf-8")
    yield repo, config, agents, socket_name
    kill_tmux(socket_name)


def _break(agents: Path, how: str) -> Path:
    path = agents / "qwen.yaml"
    if how == "garbage":
        path.write_text("command: [qwen\nstatus: {{{\n", encoding="utf-8")
    elif how == "directory":
        path.mkdir()
    elif how == "bad-regex":
        path.write_text("command: [qwen]\nstatus:\n  working:\n    - pattern: ok\n    - pattern: '[unclosed'\n",
                        encoding="utf-8")
    elif how == "unknown-key":
        path.write_text("command: [qwen]\nsubmitt: Enter\n", encoding="utf-8")
    elif how == "not-utf8":
        path.write_bytes(b"command: [qwen]\ndescription: \xff\xfe broken\n")
    return path


EXPECTED = {
    "garbage": r":2: malformed YAML: ",
    "directory": r":1: is a directory, not an agent file",
    "bad-regex": r":5: status\.working\[1\]\.pattern: bad regular expression: unterminated character set",
    "unknown-key": r":2: submitt: unknown key \(did you mean 'submit'\?\)",
    "not-utf8": r":2: not UTF-8 text \(byte 0xff\): save it as UTF-8",
}


@pytest.mark.parametrize("how", sorted(EXPECTED))
def test_a_broken_agent_file_is_one_line_exit_2_and_breaks_no_other_agent(setup, how):
    repo, config, agents, socket_name = setup
    path = _break(agents, how)
    refs_before = git(repo, "for-each-ref")

    out = cli("spawn", "job", "--agent", "qwen", "--prompt", "hi", cwd=repo, config=config, socket_name=socket_name)
    assert out.returncode == 2, out
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert re.fullmatch(rf"paneboard: {re.escape(str(path))}{EXPECTED[how]}.*", lines[0]), lines[0]
    # Nothing was created: no branch, no worktree, no tmux server.
    assert git(repo, "for-each-ref") == refs_before
    assert git(repo, "worktree", "list").count("\n") == 1
    assert subprocess.run(["tmux", "-L", socket_name, "has-session"], capture_output=True).returncode != 0

    # The same line from explain, and from doctor among its checks.
    ex = cli("explain", "--agent", "qwen", "--screen", str(SCREENS / "claude/idle-80x24.txt"), cwd=repo,
             config=config, socket_name=socket_name)
    assert ex.returncode == 2 and ex.stderr.strip() == lines[0]
    doc = cli("doctor", cwd=repo, config=config, socket_name=socket_name)
    assert f"  problem: {lines[0].removeprefix('paneboard: ')}" in doc.stdout.splitlines() and doc.returncode == 1

    # Every other agent still works: the shipped ones and the good user file.
    for agent, screen, kind in (("claude", "claude/idle-80x24.txt", "idle"), ("codex", "codex/working-80x24.txt", "working"),
                                ("good", "claude/idle-80x24.txt", "idle")):
        ok = cli("explain", "--agent", agent, "--screen", str(SCREENS / screen), "--json", cwd=repo, config=config,
                 socket_name=socket_name)
        assert ok.returncode == 0, ok.stderr
        assert f'"kind": "{kind}"' in ok.stdout
