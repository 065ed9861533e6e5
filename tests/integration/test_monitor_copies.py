"""The monitor's work per tick and per update follows what changed: unchanged agents are not copied again."""

from __future__ import annotations

import asyncio

from app.model import Kind
from tests.helpers import until
from tests.integration.test_monitor import make_fleet, running, socket_name, spawn  # noqa: F401 (fixtures)

IDLE = [{"do": "say", "text": "ready"}, {"do": "idle", "reply_work": 3.0, "reply_edit": "notes.md"}]


async def test_ticks_hand_out_unchanged_agents_as_the_same_copy(tmp_path, socket_name, running):  # noqa: F811
    fleet = make_fleet(tmp_path, socket_name, silence=600.0)
    for name in ("one", "two", "three"):
        spawn(fleet, tmp_path, name, IDLE)
    r = running(fleet, tick=0.05, rediscover_every=0.2)     # rediscovery too: nothing moved, nothing copied
    await until(lambda: [a.status.kind for a in r.monitor.agents()] == [Kind.IDLE] * 3
                and all(a.files == () for a in r.monitor.agents()), timeout=30)
    await until(lambda: all(a is b for a, b in zip(r.monitor.agents(), r.monitor.agents())))
    before = {a.name: a for a in r.monitor.agents()}
    await asyncio.sleep(0.5)     # ten ticks and two listings, each judging every agent again
    after = {a.name: a for a in r.monitor.agents()}
    assert all(after[n] is before[n] for n in before), "a tick that changed nothing copied an agent again"

    await asyncio.to_thread(fleet.send, "two", "go")
    await until(lambda: next(a for a in r.monitor.agents() if a.name == "two").status.kind == Kind.WORKING)
    now = {a.name: a for a in r.monitor.agents()}
    assert now["two"] is not before["two"] and now["two"].status.kind == Kind.WORKING
    assert now["one"] is before["one"] and now["three"] is before["three"]
