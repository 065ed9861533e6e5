"""A remote agent's own events over a real sshd: its channel installed on the host, the host's events file
followed into the live monitor, `explain` and `ls` reading it there, restart resuming its session.

The agent is a fake Claude (the demo agent behind a wrapper that keeps its argv); the test runs the hook
command from the settings file installed on the host exactly as Claude runs it (`sh -c`, JSON on stdin).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import Task
from app.model import Kind
from app.monitor import assess_once
from app.monitor.explain import explain_agent
from app.presets import PRESETS, Preset
from tests.helpers import ROOT, demo_script, until
from tests.remote.test_remote_monitor import kind, running  # noqa: F401  (the running-monitor fixture)

pytestmark = pytest.mark.slow

FAKE_CLAUDE = '''
import json, os, sys
argv = sys.argv[1:]
with open(os.environ["FAKE_ARGV_FILE"] + ".tmp", "w") as fh:
    json.dump(argv, fh)
os.replace(os.environ["FAKE_ARGV_FILE"] + ".tmp", os.environ["FAKE_ARGV_FILE"])
keep, skip = [], False
for a in argv:                      # drop the channel's and resume's options: the demo agent takes none
    if skip:
        skip = False
    elif a in ("--settings", "--resume"):
        skip = True
    else:
        keep.append(a)
os.execv(sys.executable, [sys.executable, "-m", "app.demo_agent", *keep])
'''

SID = "5e6f7a8b-1c2d-4e5f"


@pytest.fixture
def fake_claude(tmp_path: Path, monkeypatch):
    """A preset `fakeclaude` with Claude's event channel and resume option; its argv lands in argv.json."""
    wrapper = tmp_path / "fake_claude.py"
    wrapper.write_text(FAKE_CLAUDE, encoding="utf-8")
    script = demo_script(tmp_path, [{"do": "say", "text": "Thinking it over."}, {"do": "silent", "seconds": 300}])
    monkeypatch.setitem(PRESETS, "fakeclaude", Preset(
        "fakeclaude", (sys.executable, str(wrapper), "--script", str(script), "--speed", "1"), prompt="none",
        rules="demo", hooks="claude", resume=("--resume", "{id}"), env={"PYTHONPATH": str(ROOT)}))
    return tmp_path / "argv.json"


def spawn(box, argv_file: Path, name: str = "api", **env):
    return box.spawn(Task(name=name, agent="fakeclaude", host="box", env={"FAKE_ARGV_FILE": str(argv_file), **env}))


def settings_of(argv: list[str]) -> dict:
    return json.loads(Path(argv[argv.index("--settings") + 1]).read_text())


def fire(settings: dict, event: str, worktree: str, **payload) -> None:
    """Run the installed hook command for one event, as Claude Code runs it."""
    group = next(g for g in settings["hooks"][event] if g.get("matcher") in (None, payload.get("notification_type")))
    data = {"session_id": SID, "hook_event_name": event, "cwd": worktree, **payload}
    subprocess.run(["sh", "-c", group["hooks"][0]["command"]], input=json.dumps(data).encode(), cwd=worktree,
                   check=True, timeout=30)


async def test_a_remote_agent_gets_its_channel_on_the_host_and_its_event_decides_its_status(
        box, host_repo, fake_claude, running):  # noqa: F811
    a = spawn(box, fake_claude)
    rec = box.state.read()["agents"]["api"]
    assert rec["hooks"] is True and rec["host_python"].startswith("/")
    argv = await until(lambda: fake_claude.exists() and json.loads(fake_claude.read_text()))
    settings_file = argv[argv.index("--settings") + 1]
    # Every channel file and the recorder live in the host clone's common dir; the hooks name the host's python.
    hooks_dir = host_repo / ".git" / "paneboard" / "hooks"
    assert Path(settings_file).parent == hooks_dir
    command = settings_of(argv)["hooks"]["Stop"][0]["hooks"][0]["command"]
    assert command.startswith(rec["host_python"]) and str(host_repo / ".git" / "paneboard" / "runtime") in command
    assert str(hooks_dir / "api.jsonl") in command
    r = running(box)
    await until(lambda: kind(r, "api") == Kind.WORKING and r.agent("api").status.why.startswith("screen: "),
                timeout=20)
    fire(settings_of(argv), "PermissionRequest", a.worktree, tool_name="Bash", tool_input={"command": "rm -rf build"})
    await until(lambda: kind(r, "api") == Kind.NEEDS_INPUT, timeout=20)
    why = r.agent("api").status.why
    assert why.startswith("event PermissionRequest: ") and "rm -rf build" in why
    fire(settings_of(argv), "Stop", a.worktree)
    await until(lambda: kind(r, "api") == Kind.IDLE, timeout=20)
    assert r.agent("api").status.why.startswith("event Stop: ")
    assert r.facts("api").hook_events.session_id == SID

    # `ls` and `explain` read the same events on the host.
    [listed] = await asyncio.to_thread(assess_once, box)
    assert listed.status.kind == Kind.IDLE and listed.status.why.startswith("event Stop: ")
    assert listed.session_id == SID
    doc = await asyncio.to_thread(explain_agent, box, "api")
    assert doc["source"] == "event" and doc["events_file"] == str(hooks_dir / "api.jsonl")
    assert [e["event"] for e in doc["events"]][-2:] == ["PermissionRequest", "Stop"]


async def test_restart_of_a_remote_agent_resumes_the_session_its_host_events_recorded(box, fake_claude):
    a = spawn(box, fake_claude)
    argv = await until(lambda: fake_claude.exists() and json.loads(fake_claude.read_text()))
    fire(settings_of(argv), "SessionStart", a.worktree, source="startup")
    box.kill("api")
    fake_claude.unlink()
    box.restart("api")
    argv = await until(lambda: fake_claude.exists() and json.loads(fake_claude.read_text()))
    assert argv[argv.index("--resume") + 1] == SID
    assert box.state.read()["agents"]["api"]["session_id"] == SID
    assert "--settings" in argv        # a fresh channel on the host for the new run


async def test_events_written_while_the_host_was_away_arrive_once_when_it_is_back(
        box, sshd, host_repo, fake_claude, running):  # noqa: F811
    a = spawn(box, fake_claude)
    argv = await until(lambda: fake_claude.exists() and json.loads(fake_claude.read_text()))
    settings = settings_of(argv)
    r = running(box)
    fire(settings, "UserPromptSubmit", a.worktree, prompt="go")
    await until(lambda: (r.agent("api") or None) and r.agent("api").status.why.startswith("event UserPromptSubmit"),
                timeout=20)
    fed = r.monitor.counters["hooks"]
    [reader] = r.monitor.remote_events.readers.values()
    sshd.stop()
    await until(lambda: not reader.running, timeout=30)
    # Written on the host while no reader can reach it.
    fire(settings, "PreToolUse", a.worktree, tool_name="Bash", tool_input={"command": "make"})
    fire(settings, "PermissionRequest", a.worktree, tool_name="Bash", tool_input={"command": "make install"})
    sshd.start()
    await until(lambda: kind(r, "api") == Kind.NEEDS_INPUT, timeout=60)
    assert "make install" in r.agent("api").status.why
    events = host_repo / ".git" / "paneboard" / "hooks" / "api.jsonl"
    await until(lambda: reader.offsets.get("api.jsonl", [0, 0])[1] == events.stat().st_size)
    assert r.monitor.counters["hooks"] == fed + 2          # each of the two exactly once
    fire(settings, "Stop", a.worktree)
    await until(lambda: kind(r, "api") == Kind.IDLE, timeout=20)
    assert r.monitor.counters["hooks"] == fed + 3


async def test_an_agent_whose_path_has_no_python3_starts_screen_only_with_one_line(
        box, tmp_path, fake_claude, running):  # noqa: F811
    empty = tmp_path / "no-python-here"
    empty.mkdir()
    spawn(box, fake_claude, PATH=str(empty))
    notices = box.take_notices()
    assert len(notices) == 1 and "no python3" in notices[0] and "'api'" in notices[0] and "box" in notices[0]
    rec = box.state.read()["agents"]["api"]
    assert rec["hooks"] is False and "python3" in rec["host_events_why"]
    argv = await until(lambda: fake_claude.exists() and json.loads(fake_claude.read_text()))
    assert "--settings" not in argv
    r = running(box)
    await until(lambda: kind(r, "api") == Kind.WORKING and r.agent("api").status.why.startswith("screen: "),
                timeout=20)
    assert not r.monitor.remote_events.readers
