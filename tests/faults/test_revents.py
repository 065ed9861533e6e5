"""Faults in a remote agent's events on its host: garbage lines in its events file, the file removed there."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import pytest

from app.config import HostConfig
from app.model import Kind
from app.monitor import assess_once
from app.monitor.explain import explain_agent
from tests.helpers import until
from tests.remote.conftest import remote_socket, sshd  # noqa: F401  (the real sshd fixtures)
from tests.remote.test_remote_monitor import kind, running  # noqa: F401  (the running-monitor fixture)
from tests.remote.test_revents import fake_claude, fire, settings_of, spawn  # noqa: F401

pytestmark = pytest.mark.slow


@pytest.fixture
def box(fleet, sshd, remote_socket, tmp_path):  # noqa: F811
    host = HostConfig(name="box", ssh=tuple(sshd.ssh_args()), repo=str(tmp_path / "box" / "shop"),
                      tmux_socket=remote_socket)
    fleet.settings = replace(fleet.settings, hosts=(host,))
    yield fleet
    for r in fleet.__dict__.get("_remotes", {}).values():
        r.close()


def from_screen(why: str) -> bool:
    return why.startswith("screen: ") or "the screen said: screen: " in why


def events_file(tmp_path: Path) -> Path:
    return tmp_path / "box" / "shop" / ".git" / "paneboard" / "hooks" / "api.jsonl"


async def started(box, fake_claude, running):  # noqa: F811
    a = spawn(box, fake_claude)
    argv = await until(lambda: fake_claude.exists() and json.loads(fake_claude.read_text()))
    r = running(box)
    await until(lambda: kind(r, "api") == Kind.WORKING and r.agent("api").status.why.startswith("screen: "),
                timeout=20)
    return a, settings_of(argv), r


async def test_garbage_lines_in_the_hosts_events_file_are_skipped_and_the_next_event_still_decides(
        box, tmp_path, fake_claude, running):  # noqa: F811
    a, settings, r = await started(box, fake_claude, running)
    [reader] = r.monitor.remote_events.readers.values()
    with open(events_file(tmp_path), "ab") as fh:
        fh.write(b"not json at all\n\xff\xfe\x00 binary\n[1, 2, 3]\n{\"event\": 12, \"at\": \"soon\"}\n")
        fh.write(b"x" * (3 * 1024 * 1024) + b"\n")       # one line longer than the reader ever holds
    fire(settings, "PermissionRequest", a.worktree, tool_name="Bash", tool_input={"command": "make clean"})
    await until(lambda: kind(r, "api") == Kind.NEEDS_INPUT, timeout=20)
    assert r.agent("api").status.why.startswith("event PermissionRequest: ")
    assert r.monitor.counters["remote_event_readers"] == 1 and reader.running     # never restarted
    await until(lambda: reader.offsets["api.jsonl"][1] == events_file(tmp_path).stat().st_size)
    doc = await asyncio.to_thread(explain_agent, box, "api")
    assert doc["source"] == "event" and doc["events"][-1]["event"] == "PermissionRequest"
    assert all(isinstance(e, dict) and "event" in e for e in doc["events"])


async def test_the_events_file_removed_on_the_host_hands_the_status_back_to_the_screen(
        box, tmp_path, fake_claude, running):  # noqa: F811
    a, settings, r = await started(box, fake_claude, running)
    fire(settings, "PermissionRequest", a.worktree, tool_name="Bash", tool_input={"command": "make clean"})
    await until(lambda: kind(r, "api") == Kind.NEEDS_INPUT, timeout=20)
    events_file(tmp_path).unlink()
    # The screen decides again: working, or silent by now (the demo agent prints nothing more).
    await until(lambda: kind(r, "api") in (Kind.WORKING, Kind.SILENT) and from_screen(r.agent("api").status.why),
                timeout=20)
    assert r.facts("api").hook_events.hint is None
    [listed] = await asyncio.to_thread(assess_once, box)
    assert listed.status.kind in (Kind.WORKING, Kind.SILENT) and from_screen(listed.status.why)
    doc = await asyncio.to_thread(explain_agent, box, "api")
    assert doc["source"] == "screen" and doc["events"] == []
    # The recorder starts the file again with the next event, and the monitor follows it from its start.
    fire(settings, "Stop", a.worktree)
    await until(lambda: kind(r, "api") == Kind.IDLE and r.agent("api").status.why.startswith("event Stop: "),
                timeout=20)
