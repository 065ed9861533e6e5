"""Parking at a usage limit on a real tmux server: the demo agent's limit lifts seconds later, and
`on_limit: resume` sends it the preset's continue message then; without it nothing is sent."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from app.config import Settings, Task
from app.fleet import Fleet
from app.model import Kind, TriggerKind
from app.monitor import Monitor, assess_once, status_file_paths
from tests.helpers import demo_script, make_repo, until

pytestmark = pytest.mark.slow

TASKS = """\
defaults:
  agent: demo
  limit_margin: 0.5s
tasks:
  - name: parked
    on_limit: resume
  - name: waits
"""


def limited(tmp_path: Path, fleet: Fleet, name: str) -> Path:
    """A demo agent (its own preset and rules) that hits a limit lifting 3 s later, then idles."""
    script = demo_script(tmp_path, [
        {"do": "say", "text": "Writing the docs."},
        {"do": "limit", "resets_in": 3},
        {"do": "idle", "reply_work": 3, "reply_edit": "resumed.md"}])
    agent = fleet.spawn(Task(name=name, agent="demo", env={"PANEBOARD_DEMO_SCRIPT": str(script),
                                                          "PANEBOARD_DEMO_SPEED": "1"}))
    return Path(agent.worktree)


async def test_on_limit_resume_sends_continue_after_the_reset(tmp_path, tmux_socket):
    repo = make_repo(tmp_path / "project", {"README.md": "# demo\n", "paneboard.yaml": TASKS})
    fleet = Fleet.open(repo, socket_name=tmux_socket)
    assert fleet.settings.limit_margin == 0.5
    parked, waits = limited(tmp_path, fleet, "parked"), limited(tmp_path, fleet, "waits")
    monitor = Monitor(fleet, tick=0.2)
    updates = []

    async def collect():
        async for u in monitor.updates():
            updates.append(u)
    tasks = [asyncio.create_task(monitor.run()), asyncio.create_task(collect())]
    agent = lambda name: next(a for a in monitor.agents() if a.name == name)
    limit = lambda name: next((t for t in agent(name).triggers if t.kind == TriggerKind.LIMIT), None)
    try:
        # Parked: the table and the why panel know until when, and when it resumes.
        t = await until(lambda: limit("parked") and agent("parked").limit_resume_at and limit("parked"))
        a = agent("parked")
        assert a.limit_resets_at is not None and a.limit_resume_at == pytest.approx(a.limit_resets_at + 0.5)
        assert " until " in t.what and "resumes at" in t.what
        assert time.time() < a.limit_resume_at < time.time() + 5
        assert a.to_json()["limit_resets_at"].startswith(time.strftime("%Y-%m-%dT"))
        # Sent after the reset, not before: then the agent works again, and its limit is behind it.
        await until(lambda: (parked / "resumed.md").exists(), timeout=20)
        assert time.time() >= a.limit_resume_at
        assert (parked / "resumed.md").read_text().strip() == "# continue"
        await until(lambda: any(u2.name == "parked" and u2.status.kind == Kind.WORKING
                                for u in updates for u2 in u.agents if u.agents), timeout=10)
        # The note follows the send's confirmation, which may come after the agent already went on.
        resumed = lambda: any(n.startswith("parked: resumed after its usage limit reset at ")
                              for u in updates for n in u.notes)
        await until(resumed, timeout=10)
        notes = [n for u in updates for n in u.notes]
        assert resumed(), notes
        await until(lambda: limit("parked") is None and agent("parked").status.kind == Kind.IDLE, timeout=15)
        # The status board says what paneboard did.
        status_json, status_md = status_file_paths(fleet)
        doc = await until(lambda: json.loads(status_json.read_text()) if "resumed" in status_json.read_text() else None)
        assert [e["agent"] for e in doc["log"]] == ["parked"]
        assert "resumed after its usage limit reset" in status_md.read_text()
        # Without on_limit: resume, the other one still waits at its limit, and nothing was typed into it.
        w = agent("waits")
        assert limit("waits") is not None and w.limit_resets_at is not None and w.limit_resume_at is None
        assert not (waits / "resumed.md").exists()
        listed = {x.name: x.to_json() for x in await asyncio.to_thread(assess_once, fleet)}
        assert listed["waits"]["limit_resets_at"] == w.to_json()["limit_resets_at"]
        assert listed["waits"]["limit_resume_at"] is None and listed["parked"]["limit_resets_at"] is None
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_restarted_monitor_parks_again_from_the_screen(tmp_path, tmux_socket):
    repo = make_repo(tmp_path / "project", {"README.md": "# demo\n", "paneboard.yaml": TASKS})
    fleet = Fleet.open(repo, socket_name=tmux_socket)
    parked = limited(tmp_path, fleet, "parked")
    first = Monitor(fleet, tick=0.2)
    run = asyncio.create_task(first.run())
    agent = lambda m: next((a for a in m.agents() if a.name == "parked"), None)
    try:
        seen = await until(lambda: agent(first) and agent(first).limit_resume_at and agent(first))
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
    # The dashboard died before the reset; the next one reads the same reset from the screen.
    again = Monitor(fleet, tick=0.2)
    run = asyncio.create_task(again.run())
    try:
        back = await until(lambda: agent(again) and agent(again).limit_resume_at and agent(again))
        assert back.limit_resets_at == seen.limit_resets_at
        await until(lambda: (parked / "resumed.md").exists(), timeout=20)
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)


def test_settings_validate_on_limit(tmp_path):
    from app.config import parse
    from app.errors import ConfigError
    tf = parse("defaults:\n  on_limit: off\n  limit_margin: 1m\ntasks:\n  - name: a\n    on_limit: resume\n")
    assert tf.settings.on_limit == "off" and tf.settings.limit_margin == 60 and tf.tasks[0].on_limit == "resume"
    assert Settings().on_limit == "off"
    with pytest.raises(ConfigError, match=r"paneboard.yaml:2: defaults.on_limit: must be one of off, resume"):
        parse("defaults:\n  on_limit: later\n")
    with pytest.raises(ConfigError, match=r"tasks\[0\] \(a\).on_limit|tasks\[0\].on_limit"):
        parse("tasks:\n  - name: a\n    on_limit: yes\n")


async def test_an_agent_that_works_at_the_reset_is_left_alone(tmp_path, tmux_socket):
    # "Approaching usage limit · resets …" while it works: at the reset nothing is typed into it.
    repo = make_repo(tmp_path / "project", {"README.md": "# demo\n", "paneboard.yaml": TASKS})
    fleet = Fleet.open(repo, socket_name=tmux_socket)
    script = demo_script(tmp_path, [{"do": "limit", "resets_in": 2}, {"do": "work", "seconds": 30},
                                    {"do": "idle", "reply_work": 0.1, "reply_edit": "resumed.md"}])
    wt = Path(fleet.spawn(Task(name="parked", agent="demo", env={"PANEBOARD_DEMO_SCRIPT": str(script),
                                                               "PANEBOARD_DEMO_SPEED": "1"})).worktree)
    monitor = Monitor(fleet, tick=0.2)
    notes = []

    async def collect():
        async for u in monitor.updates():
            notes.extend(u.notes)
    tasks = [asyncio.create_task(monitor.run()), asyncio.create_task(collect())]
    try:
        await until(lambda: notes, timeout=15)
        assert notes[0].startswith("parked: not resumed after its usage limit reset at ") and \
            notes[0].endswith("it is working"), notes
        assert not (wt / "resumed.md").exists()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
