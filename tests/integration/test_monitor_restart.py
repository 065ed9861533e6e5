"""A dashboard restart, for real: a second Monitor on the same fleet, tmux server and repository.

A restart must not switch logs off, must not raise triggers the agents never earned, and
must keep what the human already acknowledged or snoozed.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from app.tmux import logs
from app.model import Kind, TriggerKind
from tests.helpers import paneboard
from tests.integration.test_monitor import ASK, make_fleet, running, socket_name, spawn, until  # noqa: F401

pytestmark = pytest.mark.slow


def pane_pipe(fleet, pane: str) -> str:
    return fleet.tmux.run("display-message", "-p", "-t", pane, "#{pane_pipe}")[0]


async def test_start_and_restart_leave_the_log_pipe_open(tmp_path, socket_name, running):
    fleet = make_fleet(tmp_path, socket_name, silence=60.0)
    a = spawn(fleet, tmp_path, "talker", [{"do": "say", "text": "hello"}, {"do": "idle"}])
    path = logs.log_path(fleet.repo.common_dir, "talker")
    assert pane_pipe(fleet, a.pane) == "1"          # spawn opens it with the window
    await until(lambda: path.exists() and "hello" in logs.tail(path))

    first = running(fleet)
    await until(lambda: first.agent("talker").status.kind == Kind.IDLE)
    assert pane_pipe(fleet, a.pane) == "1"
    await first.stop()
    again = running(make_fleet(tmp_path, socket_name, silence=60.0))
    await until(lambda: again.agent("talker").status.kind == Kind.IDLE)
    assert pane_pipe(fleet, a.pane) == "1"
    # Asking to open it again leaves it open; `pipe-pane -o` would have closed it.
    assert logs.start_pipe(fleet.tmux, a.pane, path) is False
    assert pane_pipe(fleet, a.pane) == "1"

    size = path.stat().st_size
    await asyncio.to_thread(fleet.send, "talker", "one more thing")
    await until(lambda: path.stat().st_size > size and "one more thing" in logs.tail(path))


async def test_restart_raises_no_false_silence(tmp_path, socket_name, running):
    """Idle, waiting and failed agents have old output; a restart must read their screens, not guess."""
    fleet = make_fleet(tmp_path, socket_name, silence=1.0)
    spawn(fleet, tmp_path, "idle", [{"do": "say", "text": "Done."}, {"do": "idle"}])
    spawn(fleet, tmp_path, "asker", ASK[:2])
    spawn(fleet, tmp_path, "failed", [{"do": "say", "text": "Running the sync."},
                                      {"do": "error", "text": "Error: connection refused", "times": 1},
                                      {"do": "silent", "seconds": 600}])
    want = {"idle": Kind.IDLE, "asker": Kind.NEEDS_INPUT, "failed": Kind.ERROR}
    first = running(fleet)
    await until(lambda: {a.name: a.status.kind for a in first.monitor.agents()} == want)
    await first.stop()
    # Let the silence threshold pass since the last output, as it has for any dashboard restarted later.
    newest = max(logs.last_write(logs.log_path(fleet.repo.common_dir, n)) or 0 for n in want)
    await asyncio.sleep(max(0.0, newest + 1.5 - time.time()))

    again = running(make_fleet(tmp_path, socket_name, silence=1.0), tick=0.2)
    await until(lambda: again.updates)
    first_update = {a.name: a.status.kind for a in again.updates[0].agents}
    assert first_update == want                       # the first update already carries real statuses
    await asyncio.sleep(1.5)
    assert {a.name: a.status.kind for a in again.monitor.agents()} == want
    for name in want:
        assert not again.raised(TriggerKind.SILENCE, name), again.raised(TriggerKind.SILENCE, name)


async def test_acknowledgements_and_snoozes_survive_a_restart(tmp_path, socket_name, running):
    fleet = make_fleet(tmp_path, socket_name, silence=60.0)
    spawn(fleet, tmp_path, "asker", [
        {"do": "ask", "title": "Bash command", "question": "pytest -q"},
        {"do": "say", "text": "Tests ran."},
        {"do": "work", "seconds": 1.5},
        {"do": "ask", "title": "Bash command", "question": "git push"},
        {"do": "idle"}])
    spawn(fleet, tmp_path, "limited", [{"do": "limit", "resets": "3pm"}, {"do": "silent", "seconds": 600}])
    first = running(fleet)
    asked = await until(lambda: first.trigger("asker", TriggerKind.NEEDS_INPUT))
    await until(lambda: first.trigger("limited", TriggerKind.LIMIT))
    assert first.monitor.acknowledge("asker", "needs_input")
    first.monitor.snooze("limited", "limit", 600)
    hidden = fleet.repo.state_dir / "triggers.json"
    await asyncio.sleep(0.5)      # the previous dashboard wrote its status file
    await first.stop()

    again = running(make_fleet(tmp_path, socket_name, silence=60.0), tick=0.2)
    await until(lambda: {t.kind for t in again.monitor.book.active("asker")} == {TriggerKind.NEEDS_INPUT}
                and {t.kind for t in again.monitor.book.active("limited")} == {TriggerKind.LIMIT})
    await asyncio.sleep(0.6)
    assert again.trigger("asker", TriggerKind.NEEDS_INPUT) is None          # still acknowledged
    assert again.trigger("limited", TriggerKind.LIMIT) is None              # still snoozed
    assert not again.raised(TriggerKind.NEEDS_INPUT, "asker") and not again.raised(TriggerKind.LIMIT, "limited")
    assert again.monitor.book.active("asker")[0].since == pytest.approx(asked.since, abs=0.01)
    saved = json.loads(hidden.read_text())
    assert [(e["agent"], e["kind"]) for e in saved["acknowledged"]] == [("asker", "needs_input")]
    assert saved["acknowledged"][0]["since"] == pytest.approx(asked.since, abs=0.001)
    assert [(e["agent"], e["kind"]) for e in saved["snoozed"]] == [("limited", "limit")]

    # `ls --json` (no dashboard history) lists the triggers and says which ones the human hid.
    done = await asyncio.to_thread(paneboard, "ls", "--json", cwd=fleet.repo.root, socket_name=socket_name)
    listed = {a["name"]: {t["kind"]: t for t in a["triggers"]} for a in json.loads(done.stdout)}
    assert listed["asker"]["needs_input"]["acknowledged"] is True
    assert listed["asker"]["needs_input"]["snoozed_until"] is None
    assert listed["limited"]["limit"]["acknowledged"] is False
    assert listed["limited"]["limit"]["snoozed_until"] > time.time() + 500
    text = (await asyncio.to_thread(paneboard, "ls", cwd=fleet.repo.root, socket_name=socket_name)).stdout
    rows = {line.split()[0]: line.split()[3] for line in text.splitlines()[1:]}
    assert rows == {"asker": "-", "limited": "-"}           # hidden in the dashboard, hidden here

    # The acknowledgement hid that question only: the next one shows.
    await asyncio.to_thread(fleet.send, "asker", "1")
    second = await until(lambda: again.trigger("asker", TriggerKind.NEEDS_INPUT), timeout=15)
    assert second.since > asked.since
    saved = json.loads(hidden.read_text())
    assert saved["acknowledged"] == [] and [e["agent"] for e in saved["snoozed"]] == ["limited"]
    text = (await asyncio.to_thread(paneboard, "ls", cwd=fleet.repo.root, socket_name=socket_name)).stdout
    assert {line.split()[0]: line.split()[3] for line in text.splitlines()[1:]}["asker"] == "needs_input"
