"""The live monitor: a quiet retry loop (only its spinner and timer redraw) is a `retrying` trigger, and new
transcript lines end it; a limit clears once the agent works past its notice."""

from __future__ import annotations

import pytest

from app.model import TriggerKind
from tests.helpers import until
from tests.integration.test_monitor import make_fleet, running, spawn  # noqa: F401 - `running` is a fixture

pytestmark = pytest.mark.slow


async def test_spinner_redraws_alone_raise_retrying_and_new_lines_clear_it(tmp_path, tmux_socket, running):
    fleet = make_fleet(tmp_path, tmux_socket, silence=60.0, quiet_retry=3.0)
    spawn(fleet, tmp_path, "gem", [
        {"do": "say", "text": "Calling the model."},
        {"do": "work", "seconds": 8, "label": "Retrying"},
        {"do": "say", "text": "Got an answer at last."},
        {"do": "work", "seconds": 60, "label": "Working"}])
    r = running(fleet)
    t = await until(lambda: r.trigger("gem", TriggerKind.RETRYING), timeout=15)
    assert t.what.startswith("no progress for ") and "only its spinner/timer redraws" in t.what
    assert r.trigger("gem", TriggerKind.SILENCE) is None
    # New transcript lines are progress: the trigger clears (and would come back only 3 s later).
    assert await until(lambda: r.cleared(TriggerKind.RETRYING, "gem"), timeout=15)


async def test_a_limit_clears_when_the_agent_works_again_under_its_notice(tmp_path, tmux_socket, running):
    fleet = make_fleet(tmp_path, tmux_socket, silence=60.0)
    spawn(fleet, tmp_path, "lim", [
        {"do": "say", "text": "Writing docs."},
        {"do": "limit"},
        {"do": "work", "seconds": 1, "label": "Waiting"},
        {"do": "say", "text": "Resumed: writing the next section."},
        {"do": "work", "seconds": 60, "label": "Working"}])
    r = running(fleet)
    assert await until(lambda: r.raised(TriggerKind.LIMIT, "lim"), timeout=15)
    assert await until(lambda: r.cleared(TriggerKind.LIMIT, "lim"), timeout=15)
    assert r.trigger("lim", TriggerKind.LIMIT) is None
