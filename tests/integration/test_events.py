"""Non-Claude event channels end to end: a fake Codex (the demo agent behind a wrapper that keeps its
argv) in a private tmux server; its recorded hook and notify command lines are run exactly as Codex
runs them; the monitor's status then comes from the event, with its source in the why, and the
session id feeds restart."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tomllib

import pytest

from app import hooks
from app.config import Task
from app.fleet.sessions import session_id_of
from app.model import Kind
from app.monitor import assess_once
from app.presets import PRESETS, Preset
from tests.helpers import ROOT, demo_script, git, until
from tests.integration.test_hooks import make_fleet

pytestmark = pytest.mark.slow

FAKE_CODEX = '''
import json, os, sys
argv = sys.argv[1:]
with open(os.environ["FAKE_ARGV_FILE"] + ".tmp", "w") as fh:
    json.dump(argv, fh)
os.replace(os.environ["FAKE_ARGV_FILE"] + ".tmp", os.environ["FAKE_ARGV_FILE"])
keep, skip = [], False
for a in argv:                      # drop the channel's options: the demo agent takes none of them
    if skip:
        skip = False
    elif a == "-c":
        skip = True
    else:
        keep.append(a)
os.execv(sys.executable, [sys.executable, "-m", "app.demo_agent", *keep])
'''


def overrides(argv: list[str]) -> dict:
    """The `-c key=value` pairs of an argv, values read as TOML the way Codex reads them."""
    out = {}
    for i, a in enumerate(argv):
        if a == "-c":
            key, value = argv[i + 1].split("=", 1)
            out[key] = tomllib.loads(f"v = {value}")["v"]
    return out


async def test_codex_hooks_and_notify_decide_the_status_and_give_the_session(repo, tmux_socket, tmp_path,
                                                                             monkeypatch):
    wrapper = tmp_path / "fake_codex.py"
    wrapper.write_text(FAKE_CODEX, encoding="utf-8")
    script = demo_script(tmp_path, [{"do": "say", "text": "Thinking it over."}, {"do": "silent", "seconds": 300}])
    monkeypatch.setitem(PRESETS, "fakecodex", Preset(
        "fakecodex", (sys.executable, str(wrapper), "--script", str(script), "--speed", "1"), prompt="arg",
        rules="demo", hooks="codex", env={"PYTHONPATH": str(ROOT)}))
    fleet = make_fleet(repo, tmux_socket)
    argv_file = tmp_path / "argv.json"
    agent = fleet.spawn(Task(name="cx", agent="fakecodex", env={"FAKE_ARGV_FILE": str(argv_file)},
                             allow=("Bash(ls)",)))
    argv = await until(lambda: argv_file.exists() and json.loads(argv_file.read_text()))
    assert "--dangerously-bypass-hook-trust" not in argv
    conf = overrides(argv)
    await until(lambda: "Thinking it over." in fleet.tmux.capture(fleet.get("cx", stats=False).pane))
    [a] = assess_once(fleet)
    assert a.status.kind == Kind.WORKING and a.status.why.startswith("screen: ")

    # A permission request, through the PermissionRequest hook command as Codex runs it (sh -c, JSON on stdin).
    [group] = conf["hooks.PermissionRequest"]
    ask = {"session_id": "01a22a1b-817c-7fe3", "hook_event_name": "PermissionRequest", "tool_name": "Bash",
           "tool_input": {"command": "rm -rf build"}, "cwd": agent.worktree}
    proc = subprocess.run(["sh", "-c", group["hooks"][0]["command"]], input=json.dumps(ask).encode(),
                          cwd=agent.worktree, capture_output=True, timeout=30)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")
    [a] = assess_once(fleet)
    assert (a.status.kind, a.status.why) == (Kind.NEEDS_INPUT,
                                             "event PermissionRequest (codex): asks permission: Bash: rm -rf build")

    # The finished turn, through notify: its argv plus one JSON argument.
    done = {"type": "agent-turn-complete", "thread-id": "01a22a1b-817c-7fe3", "turn-id": "t1",
            "last-assistant-message": "Removed."}
    proc = subprocess.run([*conf["notify"], json.dumps(done)], stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=30, cwd=agent.worktree)
    assert proc.returncode == 0
    [a] = assess_once(fleet)
    assert (a.status.kind, a.status.why) == (Kind.IDLE, "event Stop (codex): the turn ended; waiting for a prompt")
    assert session_id_of(fleet, fleet.get("cx", stats=False)) == "01a22a1b-817c-7fe3"
    assert fleet.state.read()["agents"]["cx"]["allow"] == ["Bash(ls)"]
    # Nothing of paneboard's in the worktree.
    assert git(agent.worktree, "status", "--porcelain", "--untracked-files=all") == ""


async def test_an_aider_waiting_event_lets_a_screen_that_reads_decide(repo, tmux_socket, tmp_path):
    fleet = make_fleet(repo, tmux_socket)
    script = demo_script(tmp_path, [{"do": "say", "text": "Ready."}, {"do": "idle"}])
    fleet.spawn(Task(name="ai", agent=f"{shlex.quote(sys.executable)} -m app.demo_agent --script "
                                       f"{shlex.quote(str(script))} --speed 1",
                     env={"PYTHONPATH": str(ROOT)}))
    await until(lambda: assess_once(fleet)[0].status.kind == Kind.IDLE)
    ev = hooks.events_path(fleet.repo.common_dir, "ai")
    ev.parent.mkdir(parents=True, exist_ok=True)
    cmd = shlex.join([sys.executable, "-I", "-S", str(ROOT / "app" / "hooks.py"), "notify", str(ev), "aider"])
    assert subprocess.run(["sh", "-c", cmd], stdin=subprocess.DEVNULL, timeout=30).returncode == 0
    [a] = assess_once(fleet)
    assert a.status.kind == Kind.IDLE and a.status.why.startswith("screen: ")    # the screen reads it: it decides
    assert os.path.getsize(ev) > 0
