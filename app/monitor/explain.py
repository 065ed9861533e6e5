"""`paneboard explain`: why an agent reads the status it does, told from the facts it was judged on.

`explain_agent(fleet, name)` says which source decided (the process's exit, a hook event, or the
screen), the latest hook events, every status rule with the screen lines it matched and the
region each rule looks at; `explain_screen(text, agent)` runs the rules on a saved screen.
`render(doc)` is the text the CLI prints. No tmux or git here beyond the one look `once.look_agent` takes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from .. import hooks, status
from .facts import hook_hint
from .once import look_agent

_EVENTS_SHOWN = 8
_EVENTS_TAIL = 64 * 1024


def explain_screen(text: str, rules: str) -> dict:
    """The rules of agent `rules` run on a saved screen: the reading, each rule and what it saw."""
    doc = status.explain(text, rules)
    doc["source"] = "screen"
    return doc


def explain_agent(fleet, name: str, now: float | None = None) -> dict:
    """One live (or stopped) agent: its status, the source that decided it, its latest events and its rules."""
    now = time.time() if now is None else now
    a, f = look_agent(fleet, name, now)
    doc = status.explain(f.screen, a.rules) if f.captured else {"rules": [], "regions": {}, "family": a.rules}
    hint = hook_hint(f) if f.captured else None
    if a.pane is None or not a.pane_alive or a.merged or not a.worktree_exists:
        source = "exit"
    elif hint is not None:
        source = "event"
    else:
        source = "screen"
    doc.update({
        "name": a.name, "agent": a.agent, "status": a.status.kind.value, "status_why": a.status.why,
        "status_evidence": a.status.evidence, "source": source,
        "event": None if hint is None else {"event": hint.event, "why": hint.why, "at": hint.at,
                                            "evidence": hint.evidence},
        "events_file": str(f.hook_events.path) if f.hook_events is not None else None,
        "events": _latest_of(f.hook_events),
        "screen_read": f.captured,
    })
    return doc


def _latest_of(ev) -> list[dict]:
    """The latest events of an agent's events file: read here, or as its host gave them (`HostEventsFile`)."""
    if ev is None:
        return []
    if isinstance(ev, hooks.HostEventsFile):
        return events_in(ev.recent)
    return latest_events(ev.path)


def latest_events(path: Path, n: int = _EVENTS_SHOWN) -> list[dict]:
    """The last n events an agent's channel recorded (its events file), oldest first."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - _EVENTS_TAIL))
            data = fh.read()
    except OSError:
        return []
    return events_in(data, n)


def events_in(data: bytes, n: int = _EVENTS_SHOWN) -> list[dict]:
    """The last n event lines in data, oldest first (a garbage line is left out)."""
    events = []
    for raw in data.split(b"\n")[-(n + 1):]:
        try:
            event = json.loads(raw.decode("utf-8", "replace"))
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events[-n:]


def _clock(t) -> str:
    try:
        return time.strftime("%H:%M:%S", time.localtime(float(t)))
    except (TypeError, ValueError, OverflowError):
        return "?"


def _head(doc: dict) -> list[str]:
    if "name" not in doc:
        kind = doc.get("kind") or "unknown (no rule matched)"
        return [f"{doc['family']} rules read the screen as: {kind}", f"why: {doc.get('why') or '-'}"]
    lines = [f"{doc['name']} ({doc['agent']}): {doc['status']}, decided by the {_SOURCES[doc['source']]}",
             f"why: {doc['status_why'] or '-'}"]
    if doc.get("event"):
        e = doc["event"]
        lines.append(f"event: {e['event']} at {_clock(e['at'])}: {e['why']}")
    if doc.get("events_file"):
        lines.append(f"latest events ({doc['events_file']}):")
        for e in doc.get("events") or []:
            rest = " ".join(f"{k}={v}" for k, v in e.items() if k not in ("at", "event"))
            lines.append(f"  {_clock(e.get('at'))} {e.get('event', '?')} {rest}".rstrip())
        if not doc.get("events"):
            lines.append("  (none)")
    if not doc.get("screen_read"):
        lines.append("screen: not read (the pane is gone or dead)")
    return lines


_SOURCES = {"exit": "process's exit (its pane)", "event": "agent's own event", "screen": "screen"}


def render(doc: dict) -> list[str]:
    """The text `paneboard explain` prints for an explain document."""
    lines = _head(doc)
    if doc.get("limit"):
        lines.append(f"limit notice: {doc['limit']}")
    fired = [r for r in doc.get("rules", []) if r["matched"]]
    lines.append(f"rules that matched ({doc.get('family')}):" if fired else f"no rule of {doc.get('family')} matched")
    for r in fired:
        state = "fired" if r["fired"] else "held back by unless/requires"
        lines.append(f"  {r['kind']:<11} {r['why']}  [region {r['region']}; {state}]")
        lines += [f"      | {ln}" for ln in r["matched"][:4]]
    if doc.get("regions"):
        lines.append("regions the rules look at:")
        for region, part in doc["regions"].items():
            lines.append(f"  {region}: {len(part)} line(s)")
            lines += [f"      | {ln}" for ln in part[-12:]]
    return lines
