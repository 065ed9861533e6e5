"""An agent CLI's own session id, which `restart` hands back to it so the conversation goes on.

Claude Code tells it in every hook event (a remote agent's are read on its host); codex, gemini and opencode print it in the hint they
leave as they exit (`codex resume ID`, `gemini --resume ID`, `opencode -s ID`), which stays on
the dead pane's screen and in the agent's log. The newest source wins; the state record keeps
what was last known, so the id outlives the events file, the pane and the log.
"""

from __future__ import annotations

from .. import hooks, presets
from ..model import Agent
from ..tmux import logs

_LOG_TAIL = 16 * 1024


def session_id_of(fleet, agent: Agent, screen: str | None = None) -> str | None:
    """The agent's newest known session id: hook events, the dead pane's screen, its log, its record."""
    if agent.host:      # its events are on its host: their newest, read there in one call
        from . import host_events
        data = host_events.read_newest(fleet, [agent.name]).get(agent.name)
        found = hooks.HostEventsFile("", data).session_id if data else None
    else:
        found = hooks.last_session_id(hooks.events_path(fleet.repo.common_dir, agent.name))
    if found:
        return found
    try:
        preset = presets.resolve(agent.agent)
    except ValueError:
        return agent.session_id
    if preset.session_hint:
        if screen is None and agent.pane is not None and not agent.pane_alive:
            screen = fleet.tmux_on(agent.socket, agent.host).capture(agent.pane)
        found = preset.session_from_screen(screen or "") or \
            preset.session_from_screen(logs.tail(logs.log_path(fleet.repo.common_dir, agent.name), _LOG_TAIL))
    return found or agent.session_id


def remember(fleet, agent: Agent) -> str | None:
    """Record the agent's session id with it (before its pane, events or log start over); the id."""
    sid = session_id_of(fleet, agent)
    if sid and sid != agent.session_id:
        with fleet.state.edit() as data:
            rec = data["agents"].get(agent.name)
            if rec is not None:
                rec["session_id"] = sid
        agent.session_id = sid
    return sid
