"""What an agent's own channels say, taken into its facts: output, its pane's death, screens, hook events.

Each function updates one agent's `Facts` and says whether its status must be judged again;
the monitor decides when to call them and what to schedule next.
"""

from __future__ import annotations

import contextlib
import logging

from .. import hooks
from ..tmux import logs
from ..model import Kind
from .facts import Facts, apply_reading, classify, note_progress, seed_errors_from_screen

log = logging.getLogger(__name__)

_MAX_PARTIAL = 4096


def feed_output(f: Facts, data: bytes, now: float) -> bool:
    """Count the error lines in a chunk of the pane's output; True if the status must be judged now.

    Only the first output and output from a silent agent change the status at once: the rest
    waits for the screen capture that the output schedules.
    """
    first = f.last_output_at is None
    f.last_output_at = now
    text = f.partial + f.decoder.decode(data)
    if "\n" in text:
        lines = text.split("\n")
        f.partial = lines.pop()
        for line in logs.terminal_lines("\n".join(lines)):
            if line:
                sig = f.errors.feed(line, now)
                if sig is not None and f.seed_errors:
                    f.live_errors[sig] = f.live_errors.get(sig, 0) + 1
    else:
        f.partial = text
    if len(f.partial) > _MAX_PARTIAL:
        f.partial = f.partial[-_MAX_PARTIAL:]
    return first or f.agent.status.kind == Kind.SILENT


def pane_died(f: Facts, status, now: float) -> None:
    """The agent's pane died, with this exit status if tmux said it."""
    f.agent.pane_alive = False
    if status is not None:
        with contextlib.suppress(TypeError, ValueError):
            f.agent.exit_code = int(status)
    f.exited_at = f.exited_at or now


def pane_dead_reply(f: Facts, dead: list[str] | None, now: float) -> bool:
    """Take `#{pane_dead} #{pane_dead_status}` as read with a capture; True if it says the pane just died."""
    a = f.agent
    if not (dead and dead[0] == "1" and a.pane_alive):
        return False
    a.pane_alive = False
    if len(dead) > 1 and dead[1].lstrip("-").isdigit():
        a.exit_code = int(dead[1])
    f.exited_at = f.exited_at or now
    return True


def apply_screen(f: Facts, screen: str, now: float, seed: bool = True) -> None:
    """Take a freshly captured screen: read it, and seed the errors it shows if asked."""
    f.screen = screen
    f.captured = True
    f.screen_output_at = f.last_output_at
    note_progress(f, screen, now)
    poll_hooks(f)
    if seed:
        seed_errors_from_screen(f, f.last_output_at or now)
    apply_reading(f, classify(screen, f.agent.rules), now)


def events_file(common_dir, name: str) -> hooks.EventsFile:
    """The agent's hook events, read once now (one failing stat for an agent without hooks)."""
    ev = hooks.EventsFile(hooks.events_path(common_dir, name))
    try:
        ev.poll()
    except Exception:
        log.exception("reading hook events of %s failed", name)
    return ev


def host_events_files(fleet, names: list[str], records: dict | None = None) -> dict[str, hooks.HostEventsFile]:
    """Remote agents' events as their hosts hold them now (one ssh read per host), for those with a channel there."""
    records = fleet.state.read()["agents"] if records is None else records
    where = {n: fleet.host_events_where(n, records.get(n)) for n in names}
    where = {n: w for n, w in where.items() if w is not None}
    newest = fleet.host_events_newest(list(where), records) if where else {}
    return {n: hooks.HostEventsFile(w.path, newest.get(n, b"")) for n, w in where.items()}


def poll_hooks(f: Facts) -> bool:
    """Read the agent's new hook events (one stat when there are none); True if its hint changed."""
    ev = f.hook_events
    if ev is None:
        return False
    try:
        return ev.poll()
    except Exception:
        log.exception("reading hook events of %s failed", f.agent.name)
        return False


def hook_files_changed(facts: dict[str, Facts], paths) -> list[str]:
    """Read what hooks appended to these events files (None: any may have); the agents whose hint changed."""
    names = None if paths is None else {p.removesuffix(".1") for p in paths}
    return [f.agent.name for f in list(facts.values())
            if f.hook_events is not None and (names is None or f.hook_events.path.name in names)
            and poll_hooks(f)]


def record_answered(f: Facts, timeline, note) -> None:
    """Requests the agent's CLI answered by a rule: a timeline line and (note) a trigger-log line each, once."""
    for event in f.hook_events.take_answered():
        try:
            at = float(event.get("at") or 0)
        except (TypeError, ValueError):
            continue
        text = hooks.answered(event)
        if timeline.answered(f.agent.name, at, text) and note is not None:
            note(f.agent.name, text)


async def ask_exit_code(client, f: Facts, now: float) -> bool:
    """A dead pane whose exit code tmux did not know yet: ask again (for 30 s); True if it is known now."""
    a = f.agent
    if not (a.pane and not a.pane_alive and a.exit_code is None and not a.merged and now - (f.exited_at or 0) < 30):
        return False
    try:
        reply = await client.command("display-message", "-p", "-t", a.pane, "#{pane_dead_status}")
    except Exception:
        return False
    code = reply[0].strip() if reply else ""
    if not code.lstrip("-").isdigit():
        return False
    a.exit_code = int(code)
    return True
