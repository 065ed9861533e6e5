"""The monitor's 1 s tick judges only the agents whose time thresholds are due, not the whole fleet."""

from __future__ import annotations

from app.model import Kind, TriggerKind
from tests.helpers import until
from tests.integration.test_monitor import make_fleet, running, socket_name, spawn  # noqa: F401 (fixtures)

IDLE = [{"do": "say", "text": "Done."}, {"do": "idle"}]


async def test_the_tick_leaves_idle_agents_alone_and_judges_a_working_one_when_its_silence_is_due(
        tmp_path, socket_name, running):
    fleet = make_fleet(tmp_path, socket_name, silence=3.0)
    for name in ("one", "two", "three"):
        spawn(fleet, tmp_path, name, IDLE)
    r = running(fleet, tick=0.1)
    await until(lambda: [a.status.kind for a in r.monitor.agents()] == [Kind.IDLE] * 3, timeout=15)
    c = r.monitor.counters
    judged, ticks = c["tick_judged"], c["ticks"]
    await until(lambda: c["ticks"] >= ticks + 20, timeout=10)
    assert c["tick_judged"] == judged          # 20 ticks, three idle agents: nobody judged by the clock
    spawn(fleet, tmp_path, "stuck", [{"do": "say", "text": "Working on it."},
                                     {"do": "silent", "seconds": 30, "spinner": True}])
    r.monitor.refresh()
    # A spinner that never prints anything new: only the tick, at its silence threshold, can say so.
    await until(lambda: "stuck" in {a.name for a in r.monitor.agents()} and r.trigger("stuck", TriggerKind.SILENCE),
                timeout=20)
    assert c["tick_judged"] - judged < c["ticks"] - ticks
