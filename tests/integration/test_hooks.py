"""Hooks end to end: a real tmux server, real worktrees, the monitor, and hook commands run as Claude runs them.

A stand-in for Claude (`fake_claude.py`: records its argv, drops `--settings FILE`, runs the demo
agent) is spawned through a preset with `hooks="claude"`; the test then pipes hook JSON into the
command string of the settings file paneboard generated, through `sh -c` (Claude's contract), and
watches the monitor. With the real `claude` binary (PANEBOARD_TEST_CLAUDE=/path/to/claude, or
`claude` on PATH) one more test runs Claude Code itself, offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app import hooks
from app.config import Settings, Task
from app.fleet import Fleet
from app.model import Kind, TriggerKind
from app.monitor import HOOK_GRACE, assess_once
from app.presets import PRESETS, Preset
from app.git.worktrees import find_repo
from tests.helpers import ROOT, demo_script, git, until
from tests.integration.test_monitor import running  # noqa: F401  (the fixture)

pytestmark = pytest.mark.slow

FAKE_CLAUDE = '''
import json, os, sys
argv = sys.argv[1:]
with open(os.environ["FAKE_ARGV_FILE"] + ".tmp", "w") as fh:     # atomic: the test polls for it
    json.dump(argv, fh)
os.replace(os.environ["FAKE_ARGV_FILE"] + ".tmp", os.environ["FAKE_ARGV_FILE"])
if "--settings" in argv:
    i = argv.index("--settings")
    del argv[i:i + 2]
os.execv(sys.executable, [sys.executable, "-m", "app.demo_agent", *argv])
'''

ASK = {"hook_event_name": "Notification", "message": "Claude needs your permission to use Bash",
       "notification_type": "permission_prompt"}
STOP = {"hook_event_name": "Stop", "stop_hook_active": False}
PROMPT = {"hook_event_name": "UserPromptSubmit", "prompt": "go on"}


@pytest.fixture
def fake_claude(tmp_path, monkeypatch):
    """A preset named `fakeclaude` with Claude's hooks, running the demo agent on a script."""
    wrapper = tmp_path / "fake_claude.py"
    wrapper.write_text(FAKE_CLAUDE, encoding="utf-8")

    def install(steps: list[dict]) -> Path:
        script = demo_script(tmp_path, steps)
        monkeypatch.setitem(PRESETS, "fakeclaude", Preset(
            "fakeclaude", (sys.executable, str(wrapper), "--script", str(script), "--speed", "1"),
            prompt="arg", rules="demo", approve=("1", "Enter"), deny=("2", "Enter"), hooks="claude",
            env={"PYTHONPATH": str(ROOT)}))
        return tmp_path / "argv.json"
    return install


def make_fleet(repo: Path, socket: str, **settings) -> Fleet:
    return Fleet(find_repo(repo), Settings(agent="demo", tmux_socket=socket, silence=3600.0, **settings))


def spawn(fleet: Fleet, name: str, argv_file: Path):
    return fleet.spawn(Task(name=name, agent="fakeclaude", env={"FAKE_ARGV_FILE": str(argv_file)}))


def fire(fleet: Fleet, name: str, payload: dict) -> None:
    """Run every command the generated settings file gives for this event, as Claude Code does."""
    doc = json.loads(hooks.settings_path(fleet.repo.common_dir, name).read_text(encoding="utf-8"))
    agent = fleet.get(name, stats=False)
    data = {"session_id": "sess-1", "transcript_path": "/nowhere.jsonl", "cwd": agent.worktree, **payload}
    env = {**os.environ, "PANEBOARD_AGENT": name, "CLAUDE_PROJECT_DIR": agent.worktree}
    for group in doc["hooks"][payload["hook_event_name"]]:
        for entry in group["hooks"]:
            proc = subprocess.run(["sh", "-c", entry["command"]], input=json.dumps(data).encode(),
                                  cwd=agent.worktree, env=env, capture_output=True, timeout=entry["timeout"])
            assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")


async def test_hook_events_decide_the_status_and_the_screen_takes_over_when_newer(
        repo, tmux_socket, fake_claude, running):
    argv_file = fake_claude([{"do": "say", "text": "Ready."}, {"do": "idle", "reply_work": 4.0}])
    fleet = make_fleet(repo, tmux_socket)
    agent = spawn(fleet, "api", argv_file)
    settings_file = hooks.settings_path(fleet.repo.common_dir, "api")
    argv = await until(lambda: argv_file.exists() and json.loads(argv_file.read_text()))
    assert argv[-2:] == ["--settings", str(settings_file)]
    # Nothing of paneboard's lands in the worktree: no diff, nothing out of scope.
    assert git(Path(agent.worktree), "status", "--porcelain", "--untracked-files=all") == ""
    assert not (Path(agent.worktree) / ".claude").exists()

    # A long tick: only the file watcher can bring the hook events in time.
    r = running(fleet, tick=60.0)
    s = await until(lambda: r.agent("api").status.kind == Kind.IDLE and r.agent("api").status)
    assert s.why == "screen: idle prompt with '? for shortcuts'"           # no events yet: the screen

    fire(fleet, "api", ASK)                                          # the screen still shows the prompt box
    s = await until(lambda: r.agent("api").status.kind == Kind.NEEDS_INPUT and r.agent("api").status, timeout=10)
    assert s.why == "event Notification: Claude needs your permission to use Bash"
    assert json.loads(s.evidence)["notification_type"] == "permission_prompt"
    t = await until(lambda: r.raised(TriggerKind.NEEDS_INPUT, "api"), timeout=10)
    assert "Claude needs your permission to use Bash" in t[0].what

    fire(fleet, "api", STOP)
    s = await until(lambda: r.agent("api").status.why.startswith("event Stop") and r.agent("api").status, timeout=10)
    assert s.kind == Kind.IDLE

    fire(fleet, "api", PROMPT)
    s = await until(lambda: r.agent("api").status.kind == Kind.WORKING and r.agent("api").status, timeout=10)
    assert s.why == "event UserPromptSubmit: a prompt was submitted"

    # Stop, then the user types into the pane: the spinner that follows is newer than the event.
    fire(fleet, "api", STOP)
    await until(lambda: r.agent("api").status.why.startswith("event Stop"), timeout=10)
    await asyncio.sleep(HOOK_GRACE + 0.2)
    fleet.send(agent.name, "one more thing")
    s = await until(lambda: r.agent("api").status.kind == Kind.WORKING and r.agent("api").status, timeout=10)
    assert s.why == "screen: busy spinner line '(… esc to interrupt)'"
    # The work ends at the prompt box again: the screen and the last event agree it is idle.
    s = await until(lambda: r.agent("api").status.kind == Kind.IDLE and r.agent("api").status, timeout=15)

    # A question by hook, then the process exits: exited always wins.
    fire(fleet, "api", ASK)
    await until(lambda: r.agent("api").status.kind == Kind.NEEDS_INPUT, timeout=10)
    fleet.tmux.run("send-keys", "-t", agent.pane, "C-c")
    s = await until(lambda: r.agent("api").status.kind == Kind.EXITED and r.agent("api").status, timeout=10)
    assert "exited" in s.why


async def test_ls_reads_the_latest_hook_event_too(repo, tmux_socket, fake_claude):
    argv_file = fake_claude([{"do": "say", "text": "Thinking it over."}, {"do": "silent", "seconds": 300}])
    fleet = make_fleet(repo, tmux_socket)
    spawn(fleet, "api", argv_file)
    await until(lambda: "Thinking it over." in fleet.tmux.capture(fleet.get("api", stats=False).pane))
    [a] = assess_once(fleet)
    assert a.status.kind == Kind.WORKING and "no status rule matched" in a.status.why   # the screen's guess
    fire(fleet, "api", ASK)
    [a] = assess_once(fleet)
    assert (a.status.kind, a.status.why) == (Kind.NEEDS_INPUT,
                                             "event Notification: Claude needs your permission to use Bash")
    assert [t.kind for t in a.triggers] == [TriggerKind.NEEDS_INPUT]


async def test_events_of_an_earlier_run_or_none_at_all_leave_the_screen_in_charge(
        repo, tmux_socket, fake_claude, running):
    argv_file = fake_claude([{"do": "say", "text": "Ready."}, {"do": "idle"}])
    # Events left from a run before this agent started count for nothing.
    fleet = make_fleet(repo, tmux_socket)
    stale = hooks.events_path(fleet.repo.common_dir, "api")
    stale.parent.mkdir(parents=True, exist_ok=True)
    spawn(fleet, "api", argv_file)
    hooks.record(stale, ASK, at=time.time() - 3600)
    # hooks: false: no settings file, no --settings, the screen alone.
    off = make_fleet(repo, tmux_socket, hooks=False)
    off_argv = argv_file.with_name("argv-off.json")
    spawn(off, "web", off_argv)
    argv = await until(lambda: off_argv.exists() and json.loads(off_argv.read_text()))
    assert "--settings" not in argv
    assert not hooks.settings_path(fleet.repo.common_dir, "web").exists()
    # A task's own `hooks: false` wins over the global setting; `hooks: true` over a global false.
    quiet_argv = argv_file.with_name("argv-quiet.json")
    fleet.spawn(Task(name="quiet", agent="fakeclaude", hooks=False, env={"FAKE_ARGV_FILE": str(quiet_argv)}))
    loud_argv = argv_file.with_name("argv-loud.json")
    off.spawn(Task(name="loud", agent="fakeclaude", hooks=True, env={"FAKE_ARGV_FILE": str(loud_argv)}))
    assert "--settings" not in await until(lambda: quiet_argv.exists() and json.loads(quiet_argv.read_text()))
    assert "--settings" in await until(lambda: loud_argv.exists() and json.loads(loud_argv.read_text()))

    r = running(fleet)
    for name in ("api", "web"):
        s = await until(lambda: r.agent(name).status.kind == Kind.IDLE and r.agent(name).status)
        assert s.why == "screen: idle prompt with '? for shortcuts'"


@pytest.mark.skipif(not (os.environ.get("PANEBOARD_TEST_CLAUDE") or shutil.which("claude")),
                    reason="the real claude binary is not installed (set PANEBOARD_TEST_CLAUDE=/path/to/claude)")
async def test_real_claude_code_reports_its_events_offline(repo, tmux_socket, tmp_path, running, monkeypatch):
    """Claude Code itself, with a fresh HOME and no network: trust question on screen, then its hooks."""
    binary = Path(os.environ.get("PANEBOARD_TEST_CLAUDE") or shutil.which("claude")).absolute()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "claude").symlink_to(binary)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".claude.json").write_text(json.dumps({"hasCompletedOnboarding": True}))
    path = f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"
    monkeypatch.setenv("PATH", path)             # the preset's binary check looks on our PATH
    env = {"HOME": str(home), "DISABLE_AUTOUPDATER": "1", "PATH": path}
    fleet = make_fleet(repo, tmux_socket)
    agent = fleet.spawn(Task(name="cc", agent="claude", prompt="say hi", env=env))
    events = hooks.events_path(fleet.repo.common_dir, "cc")
    r = running(fleet)
    try:
        s = await until(lambda: r.agent("cc").status.kind == Kind.NEEDS_INPUT and r.agent("cc").status, timeout=30)
        assert s.why == "screen: folder trust question on screen"          # before trust no hook runs: the screen
        assert not events.exists()
        fleet.send_key("cc", "Enter")                              # "1. Yes, I trust this folder"
        # Trusted: SessionStart, the argv prompt's UserPromptSubmit, then StopFailure (not logged in).
        s = await until(lambda: r.agent("cc").status.why.startswith("event StopFailure") and r.agent("cc").status, timeout=30)
        assert s.kind == Kind.ERROR
        names = [json.loads(ln)["event"] for ln in events.read_text().splitlines()]
        assert names[:3] == ["SessionStart", "UserPromptSubmit", "StopFailure"], names
        assert git(Path(agent.worktree), "status", "--porcelain", "--untracked-files=all") == ""
    finally:
        pid = fleet.get("cc", stats=False).pid       # the pane runs claude itself (no shell)
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


async def test_requests_answered_by_a_rule_reach_the_timeline_and_the_trigger_log_once(
        repo, tmux_socket, fake_claude, running):
    argv_file = fake_claude([{"do": "say", "text": "Ready."}, {"do": "idle"}])
    fleet = make_fleet(repo, tmux_socket)
    spawn(fleet, "api", argv_file)
    r = running(fleet)
    await until(lambda: r.agent("api").status.kind == Kind.IDLE)
    fire(fleet, "api", {"hook_event_name": "PermissionDenied", "tool_name": "Bash",
                        "tool_input": {"command": "rm -rf /"}, "tool_use_id": "toolu_1", "reason": "outside the project"})
    # OpenCode's rule denial, as its plugin writes it (tests/core/test_events_channels.py holds plugin and parser together).
    part = {"sessionID": "ses_4b1c0f2a9ffe", "type": "tool", "tool": "bash",
            "state": {"status": "error", "input": {"command": "rm -rf build"},
                      "error": "The user has specified a rule which prevents you from using this specific tool call. "
                               'Here are some of the relevant rules [{"permission":"bash","pattern":"rm *","action":"deny"}]'}}
    hooks.record(hooks.events_path(fleet.repo.common_dir, "api"),
                 {"type": "message.part.updated", "properties": {"part": part}}, cli="opencode")
    said = ["api: denied by claude's auto mode: Bash: rm -rf / (outside the project)",
            "api: denied by rule bash(rm *): deny: bash: rm -rf build"]
    notes = await until(lambda: [n for u in r.updates for n in u.notes if "denied" in n] == said and said, timeout=10)
    assert notes == said                                           # the trigger log's lines, in order
    history = [e for e in fleet.timeline.events("api") if e.kind == "answered"]
    assert [f"api: {e.text}" for e in history] == said and {e.source for e in history} == {"rule"}
    assert r.agent("api").status.kind == Kind.IDLE                 # answered by a rule: the agent never stopped
    # A dashboard started later reads the same events file: nothing is told twice.
    await r.stop()
    r2 = running(fleet)
    await until(lambda: r2.updates and r2.agent("api").status.kind == Kind.IDLE)
    await asyncio.sleep(1.5)                                       # a tick that would have re-told them
    assert not [n for u in r2.updates for n in u.notes if "denied" in n]
    assert len([e for e in fleet.timeline.events("api") if e.kind == "answered"]) == 2
