"""Every bad input gets one clear line, exit code 2, and leaves nothing half-created."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import demo_command, demo_script, git, paneboard


def snapshot(repo: Path, socket_name: str) -> tuple:
    """Everything a failed command must leave as it was: refs, worktrees, tmux windows, files."""
    refs = git(repo, "for-each-ref", "--format=%(refname) %(objectname)") if (repo / ".git").exists() else ""
    wts = git(repo, "worktree", "list", "--porcelain") if (repo / ".git").exists() else ""
    tmux = subprocess.run(["tmux", "-L", socket_name, "list-windows", "-a"], capture_output=True, text=True).stdout
    files = sorted(str(p.relative_to(repo.parent)) for p in repo.parent.rglob("*") if ".git" not in p.parts)
    return refs, wts, tmux, files


def assert_clean_failure(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("paneboard: ")
    for w in words:
        assert w in lines[0], lines[0]


def test_not_a_git_repository(tmp_path: Path, tmux_socket: str):
    plain = tmp_path / "plain"
    plain.mkdir()
    assert_clean_failure(paneboard("spawn", "a", "--agent", "demo", cwd=plain, socket_name=tmux_socket),
                         "not inside a git repository")
    assert_clean_failure(paneboard("ls", cwd=plain, socket_name=tmux_socket), "not inside a git repository")


def test_repository_without_commits(tmp_path: Path, tmux_socket: str):
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q", "-b", "main")
    assert_clean_failure(paneboard("spawn", "a", "--agent", "demo", cwd=empty, socket_name=tmux_socket),
                         "no commits")


def test_detached_head_base(repo: Path, tmux_socket: str):
    git(repo, "checkout", "-q", "--detach")
    before = snapshot(repo, tmux_socket)
    assert_clean_failure(paneboard("spawn", "a", "--agent", "demo", cwd=repo, socket_name=tmux_socket),
                         "detached HEAD")
    assert snapshot(repo, tmux_socket) == before


def test_base_branch_missing(repo: Path, tmux_socket: str):
    before = snapshot(repo, tmux_socket)
    assert_clean_failure(paneboard("spawn", "a", "--agent", "demo", "--base", "nope", cwd=repo,
                                   socket_name=tmux_socket), "'nope' does not exist")
    assert snapshot(repo, tmux_socket) == before


def test_branch_already_exists(repo: Path, tmux_socket: str):
    git(repo, "branch", "paneboard/taken")
    before = snapshot(repo, tmux_socket)
    assert_clean_failure(paneboard("spawn", "taken", "--agent", "demo", cwd=repo, socket_name=tmux_socket),
                         "worktree", "already exists")
    assert snapshot(repo, tmux_socket) == before


def test_worktree_path_already_exists(repo: Path, tmux_socket: str):
    occupied = repo.parent / "project.paneboard" / "busy"
    occupied.mkdir(parents=True)
    (occupied / "precious.txt").write_text("mine")
    before = snapshot(repo, tmux_socket)
    assert_clean_failure(paneboard("spawn", "busy", "--agent", "demo", cwd=repo, socket_name=tmux_socket),
                         "already exists")
    assert snapshot(repo, tmux_socket) == before
    assert (occupied / "precious.txt").read_text() == "mine"


def test_malformed_yaml_starts_nothing(repo: Path, tmux_socket: str):
    (repo / "paneboard.yaml").write_text("tasks:\n  - name: a\n    prompt: [unclosed\n", encoding="utf-8")
    before = snapshot(repo, tmux_socket)
    assert_clean_failure(paneboard("up", cwd=repo, socket_name=tmux_socket), "paneboard.yaml:", "malformed YAML")
    assert snapshot(repo, tmux_socket) == before


@pytest.mark.parametrize("text, words", [
    ("tasks:\n  - name: a\n    agent: demo\n    colour: red\n", ["paneboard.yaml:4", "colour", "unknown key"]),
    ("tasks:\n  - name: a\n    agent: demo\n  - name: a\n    agent: demo\n", ["paneboard.yaml:4", "duplicate task name"]),
    ("tasks:\n  - name: a\n    agent: clod\n", ["paneboard.yaml:3", "unknown preset 'clod'"]),
    ("tasks:\n  - name: a\n    scope: 3\n    agent: demo\n    after: [b]\n  - name: b\n    agent: demo\n    after: [a]\n",
     ["cycle"]),
    ("tasks:\n  - name: a\n    agent: demo\n    env: [1, 2]\n", ["paneboard.yaml:4", "tasks[0].env"]),
    ("defaults:\n  silence: soon\n", ["paneboard.yaml:2", "defaults.silence"]),
])
def test_invalid_task_file_names_file_line_and_field(repo: Path, tmux_socket: str, text: str, words: list[str]):
    (repo / "paneboard.yaml").write_text(text, encoding="utf-8")
    before = snapshot(repo, tmux_socket)
    assert_clean_failure(paneboard("up", cwd=repo, socket_name=tmux_socket), *words)
    assert snapshot(repo, tmux_socket) == before


def test_agent_command_not_on_path(repo: Path, tmux_socket: str):
    before = snapshot(repo, tmux_socket)
    assert_clean_failure(paneboard("spawn", "a", "--agent", "no-such-agent-cli --go", cwd=repo,
                                   socket_name=tmux_socket), "'no-such-agent-cli' is not on PATH", "doctor")
    assert snapshot(repo, tmux_socket) == before


def test_task_file_agent_not_on_path_starts_none(repo: Path, tmux_socket: str, tmp_path: Path):
    script = demo_script(tmp_path, [{"do": "idle"}])
    (repo / "paneboard.yaml").write_text(
        "tasks:\n"
        f"  - name: good\n    agent: {demo_command(script)!r}\n"
        "  - name: bad\n    agent: /nowhere/agent --x\n", encoding="utf-8")
    before = snapshot(repo, tmux_socket)
    assert_clean_failure(paneboard("up", cwd=repo, socket_name=tmux_socket), "'/nowhere/agent' is not on PATH")
    assert snapshot(repo, tmux_socket) == before


def test_duplicate_agent_name(repo: Path, tmux_socket: str, tmp_path: Path):
    script = demo_script(tmp_path, [{"do": "idle"}])
    assert paneboard("spawn", "twin", "--agent", demo_command(script), cwd=repo,
                     socket_name=tmux_socket).returncode == 0
    before = snapshot(repo, tmux_socket)
    assert_clean_failure(paneboard("spawn", "twin", "--agent", demo_command(script), cwd=repo,
                                   socket_name=tmux_socket), "'twin' already exists")
    assert snapshot(repo, tmux_socket) == before


def _path_without_tmux(tmp_path: Path, fake_version: str | None) -> str:
    """A PATH with git and python but no real tmux (optionally a fake old one)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("git", "sh", "env"):
        real = subprocess.run(["which", tool], capture_output=True, text=True).stdout.strip()
        os.symlink(real, bindir / tool)
    if fake_version:
        fake = bindir / "tmux"
        fake.write_text(f"#!/bin/sh\necho 'tmux {fake_version}'\nexit 0\n")
        fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return str(bindir)


@pytest.mark.parametrize("fake_version, words", [(None, "tmux is not installed"), ("2.9", "tmux 2.9 is too old")])
def test_tmux_missing_or_too_old(repo: Path, tmp_path: Path, fake_version, words):
    env = {**os.environ, "PATH": _path_without_tmux(tmp_path, fake_version), "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    before = git(repo, "for-each-ref"), git(repo, "worktree", "list")
    result = subprocess.run([sys.executable, "-m", "app.cli", "spawn", "a", "--agent", "sh -c true"], cwd=repo,
                            capture_output=True, text=True, env=env)
    assert_clean_failure(result, words)
    assert (git(repo, "for-each-ref"), git(repo, "worktree", "list")) == before


def test_usage_errors_exit_2(repo: Path, tmux_socket: str):
    assert_clean_failure(paneboard("spawn", cwd=repo, socket_name=tmux_socket), "required")
    assert_clean_failure(paneboard("frobnicate", cwd=repo, socket_name=tmux_socket), "invalid choice")
    assert_clean_failure(paneboard("send", "ghost", "hi", cwd=repo, socket_name=tmux_socket), "no agent named 'ghost'")


def test_common_options_work_before_or_after_the_command(repo: Path, tmux_socket: str, tmp_path: Path):
    script = demo_script(tmp_path, [{"do": "idle"}])
    assert paneboard("spawn", "opt", "--agent", demo_command(script), cwd=repo, socket_name=tmux_socket).returncode == 0
    import json
    before = json.loads(paneboard("--socket", tmux_socket, "ls", "--json", cwd=repo, socket_name="pb-wrong").stdout)
    after = json.loads(paneboard("ls", "--json", "--socket", tmux_socket, cwd=repo, socket_name="pb-wrong").stdout)
    assert before[0]["pane_alive"] and after[0]["pane_alive"]
    assert_clean_failure(paneboard("--repo", str(tmp_path / "nowhere"), "ls", cwd=repo, socket_name=tmux_socket),
                         "no such directory")


def test_unknown_key_and_empty_name(repo: Path, tmux_socket: str, tmp_path: Path):
    script = demo_script(tmp_path, [{"do": "idle"}])
    assert paneboard("spawn", "keys", "--agent", demo_command(script), cwd=repo, socket_name=tmux_socket).returncode == 0
    assert_clean_failure(paneboard("send", "keys", "--key", "NotAKey", cwd=repo, socket_name=tmux_socket),
                         "unknown key 'NotAKey'")
    assert paneboard("send", "keys", "--key", "Escape", cwd=repo, socket_name=tmux_socket).returncode == 0
    assert paneboard("send", "keys", "--key", "C-c", cwd=repo, socket_name=tmux_socket).returncode == 0
    before = snapshot(repo, tmux_socket)
    assert_clean_failure(paneboard("spawn", "", "--agent", "demo", cwd=repo, socket_name=tmux_socket), "empty")
    assert snapshot(repo, tmux_socket) == before
