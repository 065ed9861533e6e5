"""Each real agent CLI, from the shared cache, reports its session start through paneboard's own channel.

The CLI is spawned through the fleet with its shipped preset (only the command is the cached binary),
a temporary HOME, dummy keys and its model endpoint on a closed port of 127.0.0.1: no network, no
model. The test waits until the CLI's SessionStart-like event lands in the agent's events file. A turn
is needed only where the CLI starts its session with the first prompt (Codex, OpenCode): the prompt is
sent, its model call fails, and the session events have landed by then. A missing binary is a skip.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
from pathlib import Path

import pytest

from app import hooks
from app.config import Settings, Task
from app.fleet import Fleet
from app.git.worktrees import find_repo, worktree_root
from app.presets import PRESETS
from tests.helpers import git, retry_until

pytestmark = pytest.mark.slow

CACHE = Path(os.environ.get("PANEBOARD_AGENT_CLIS", "/root/.cache/paneboard/agent-clis"))
BIN = CACHE / "npm" / "node_modules" / ".bin"
CLOSED = "http://127.0.0.1:9"         # the discard port: nothing listens, every model call fails at once


def binary(name: str) -> Path:
    path = BIN / name
    if not path.exists():
        pytest.skip(f"{name} is not in the agent CLI cache ({path}): run .ci/run to install it")
    return path


def start(repo: Path, socket: str, monkeypatch, cli: str, home: Path, env: dict, prompt: str = "") -> tuple:
    """Spawn the real CLI with its own preset and channel; (fleet, the agent's events file, its worktree)."""
    monkeypatch.setitem(PRESETS, cli, dataclasses.replace(PRESETS[cli], argv=(str(binary(cli)),)))
    fleet = Fleet(find_repo(repo), Settings(agent="demo", tmux_socket=socket, silence=3600.0))
    env = {"HOME": str(home), "DISABLE_AUTOUPDATER": "1", "NO_UPDATE_NOTIFIER": "1", **env}
    fleet.spawn(Task(name=f"real-{cli}", agent=cli, prompt=prompt, env=env))
    return fleet, hooks.events_path(fleet.repo.common_dir, f"real-{cli}")


def worktree_of(repo: Path, cli: str) -> Path:
    return worktree_root(find_repo(repo), None) / f"real-{cli}"


def landed(events: Path, name: str, timeout: float = 60.0) -> list[dict]:
    """The events file's lines once one of them is `name`."""
    def read():
        try:
            rows = [json.loads(ln) for ln in events.read_text().splitlines() if ln.strip()]
        except OSError:
            return None
        return rows if any(r["event"] == name for r in rows) else None
    return retry_until(read, timeout=timeout)


@pytest.fixture
def stop_agents():
    """Stop every real CLI a test started, by its pane's process group (codex leaves children too)."""
    fleets: list[tuple[Fleet, str]] = []
    yield lambda fleet, name: fleets.append((fleet, name))
    for fleet, name in fleets:
        with contextlib.suppress(Exception):
            pid = fleet.get(name, stats=False).pid
            if pid:
                os.killpg(pid, signal.SIGTERM)


def test_claude_code_session_start(repo, tmux_socket, tmp_path, monkeypatch, stop_agents):
    home = tmp_path / "home"
    home.mkdir()
    key = "sk-ant-paneboard-test-0123456789abcdef"
    (home / ".claude.json").write_text(json.dumps({
        "hasCompletedOnboarding": True,
        "projects": {str(worktree_of(repo, "claude")): {"hasTrustDialogAccepted": True}},
        "customApiKeyResponses": {"approved": [key[-20:]], "rejected": []}}))
    fleet, events = start(repo, tmux_socket, monkeypatch, "claude", home,
                          {"ANTHROPIC_API_KEY": key, "ANTHROPIC_BASE_URL": CLOSED})
    stop_agents(fleet, "real-claude")
    rows = landed(events, "SessionStart")
    start_row = next(r for r in rows if r["event"] == "SessionStart")
    assert start_row["cli"] == "claude" and start_row["source"] == "startup" and hooks.session_id(start_row)
    assert git(worktree_of(repo, "claude"), "status", "--porcelain", "--untracked-files=all") == ""


def test_codex_session_start_with_its_hooks_trusted_by_hash(repo, tmux_socket, tmp_path, monkeypatch, stop_agents):
    """Codex 0.171 starts its session with the first turn; its hooks run without --dangerously-bypass-hook-trust."""
    home = tmp_path / "home"
    (home / ".codex").mkdir(parents=True)
    (home / ".codex" / "config.toml").write_text(
        'model = "gpt-test"\nmodel_provider = "mock"\n'
        f'[model_providers.mock]\nname = "mock"\nbase_url = "{CLOSED}/v1"\nwire_api = "responses"\n'
        f'[projects.{json.dumps(str(worktree_of(repo, "codex")))}]\ntrust_level = "trusted"\n')
    fleet, events = start(repo, tmux_socket, monkeypatch, "codex", home,
                          {"CODEX_HOME": str(home / ".codex"), "OPENAI_API_KEY": "sk-paneboard-test"}, prompt="hello")
    stop_agents(fleet, "real-codex")
    rows = landed(events, "UserPromptSubmit")
    names = [r["event"] for r in rows]
    assert names[:2] == ["SessionStart", "UserPromptSubmit"], names
    assert rows[0]["cli"] == "codex" and hooks.session_id(rows[0])
    agent = fleet.get("real-codex", stats=False)
    assert "Hooks need review" not in fleet.tmux.capture(agent.pane)
    argv = (Path("/proc") / str(agent.pid) / "cmdline").read_bytes().split(b"\0")
    assert b"--dangerously-bypass-hook-trust" not in argv and b"-c" in argv


def _gemini_home(home: Path, settings: dict | str) -> Path:
    """The user's own ~/.gemini/settings.json (an API-key login, folder trust off, plus what the test adds)."""
    (home / ".gemini").mkdir(parents=True)
    path = home / ".gemini" / "settings.json"
    path.write_text(settings if isinstance(settings, str) else json.dumps(
        {"security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": False}}, **settings}))
    return path


def test_gemini_session_start_with_the_repo_under_tmp(repo, tmux_socket, tmp_path, monkeypatch, stop_agents):
    """Gemini 0.61 ignores a system-defaults file that root does not own, under a world-writable /tmp too;
    the agent's own GEMINI_CLI_HOME settings it reads from anyone, and the user's own settings hold there."""
    assert any(p.stat().st_mode & 0o002 for p in repo.parents), "the repo should sit under a world-writable dir"
    home = tmp_path / "home"
    user_settings = _gemini_home(home, {"ui": {"theme": "ANSI", "hideTips": True}})
    before = user_settings.read_bytes()
    fleet, events = start(repo, tmux_socket, monkeypatch, "gemini", home,
                          {"GEMINI_API_KEY": "paneboard-test", "GOOGLE_GEMINI_BASE_URL": CLOSED})
    stop_agents(fleet, "real-gemini")
    rows = landed(events, "SessionStart")
    row = next(r for r in rows if r["event"] == "SessionStart")
    assert row["cli"] == "gemini" and hooks.session_id(row)
    agent = fleet.get("real-gemini", stats=False)
    environ = dict(v.split(b"=", 1) for v in (Path("/proc") / str(agent.pid) / "environ").read_bytes().split(b"\0")
                   if b"=" in v)
    assert b"GEMINI_CLI_SYSTEM_DEFAULTS_PATH" not in environ
    merged = Path(environ[b"GEMINI_CLI_HOME"].decode()) / ".gemini" / "settings.json"
    assert merged.parent.parent.parent == hooks.hooks_dir(fleet.repo.common_dir)
    doc = json.loads(merged.read_text())
    assert doc["ui"] == {"theme": "ANSI", "hideTips": True} and "SessionStart" in doc["hooks"]
    # The user's setting is in effect (no tips under the banner), their file untouched, their dir used.
    def ready():
        screen = fleet.tmux.capture(agent.pane)
        return screen if "Type your message" in screen else None
    screen = retry_until(ready, timeout=30)
    assert "Tips for getting started" not in screen
    assert user_settings.read_bytes() == before
    assert (home / ".gemini" / "installation_id").is_file() and not (home / ".gemini" / "installation_id").is_symlink()
    assert list((home / ".gemini" / "tmp").glob("*/chats/session-*")), "the session should land in the user's ~/.gemini"
    assert git(worktree_of(repo, "gemini"), "status", "--porcelain", "--untracked-files=all") == ""


def test_gemini_starts_with_its_hooks_when_the_users_settings_are_garbage(repo, tmux_socket, tmp_path, monkeypatch,
                                                                         stop_agents):
    home = tmp_path / "home"
    user_settings = _gemini_home(home, '{"ui": {"theme": ')
    # Without the user's settings folder trust is on: the user's own trusted folders (read through
    # GEMINI_CLI_TRUSTED_FOLDERS_PATH) let the worktree start without Gemini's trust dialog.
    (home / ".gemini" / "trustedFolders.json").write_text(json.dumps({str(worktree_of(repo, "gemini")): "TRUST_FOLDER"}))
    fleet, events = start(repo, tmux_socket, monkeypatch, "gemini", home,
                          {"GEMINI_API_KEY": "paneboard-test", "GOOGLE_GEMINI_BASE_URL": CLOSED,
                           "GEMINI_DEFAULT_AUTH_TYPE": "gemini-api-key"})
    stop_agents(fleet, "real-gemini")
    [notice] = fleet.take_notices()
    assert str(user_settings) in notice and "not valid JSON" in notice
    assert landed(events, "SessionStart")
    assert user_settings.read_text() == '{"ui": {"theme": '


def test_opencode_session_start(repo, tmux_socket, tmp_path, monkeypatch, stop_agents):
    """OpenCode creates its session with the first prompt: session.created reaches the plugin as SessionStart."""
    home = tmp_path / "home"
    home.mkdir()
    fleet, events = start(repo, tmux_socket, monkeypatch, "opencode", home,
                          {"OPENAI_API_KEY": "sk-paneboard-test", "OPENAI_BASE_URL": f"{CLOSED}/v1"}, prompt="hello")
    stop_agents(fleet, "real-opencode")
    rows = landed(events, "SessionStart", timeout=90.0)
    row = next(r for r in rows if r["event"] == "SessionStart")
    assert row["cli"] == "opencode" and hooks.session_id(row)
    assert git(worktree_of(repo, "opencode"), "status", "--porcelain", "--untracked-files=all") == ""


def test_aider_needs_a_turn():
    binary_path = CACHE / "aider" / "bin" / "aider"
    if not binary_path.exists():
        pytest.skip(f"aider is not in the agent CLI cache ({binary_path})")
    pytest.skip("aider has no session-start event: its --notifications-command runs only once a reply ended "
                "and it waits again, which needs a model turn (the live CLI tests drive turns)")
