"""A remote agent's own events, read on its host: where they are, the newest of them in one call per host.

The record of an agent whose channel was installed on its host says `hooks: true` and the host's
python that runs its recorder (`host_python`); its events file is
`<host_repo>/.git/paneboard/hooks/<slug>.jsonl` there (app/hosts/events.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..errors import PaneboardError
from ..hosts import events as host_events
from . import hosts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HostEvents:
    """Where one remote agent's events are: its host, the host's clone, its python, the events file."""

    host: str
    repo: str
    python: str
    path: str

    @property
    def directory(self) -> str:
        """The hooks directory on the host that holds it."""
        return host_events.hooks_dir(self.repo)


def where(name: str, rec: dict | None) -> HostEvents | None:
    """Where a remote agent's events are, if its channel was installed on its host."""
    if not rec or not rec.get("host") or not rec.get("hooks") or not rec.get("host_repo"):
        return None
    return HostEvents(rec["host"], rec["host_repo"], str(rec.get("host_python") or "python3"),
                      host_events.events_path(rec["host_repo"], name))


def read_newest(fleet, names: list[str], records: dict | None = None) -> dict[str, bytes]:
    """The newest events of these remote agents (by name), one ssh call per host; an unreachable host's are left out."""
    records = fleet.state.read()["agents"] if records is None else records
    groups: dict[tuple[str, str, str], dict[str, str]] = {}
    for name in names:
        w = where(name, records.get(name))
        if w is not None:
            groups.setdefault((w.host, w.repo, w.python), {})[w.path] = name
    out: dict[str, bytes] = {}
    for (host, repo, python), by_path in groups.items():
        try:
            tails = host_events.read_tails(hosts.remote(fleet, host), repo, python, sorted(by_path))
        except PaneboardError as exc:       # HostUnreachable, an unknown host: no events to show
            log.debug("events on host %s not read: %s", host, exc)
            continue
        out.update({by_path[p]: data for p, data in tails.items() if p in by_path})
    return out


def hooks_dir_of(repo: str) -> str:
    """The hooks directory of a host clone."""
    return host_events.hooks_dir(repo)


def follow_argv(fleet, host: str, repo: str, python: str) -> list[str]:
    """The local argv of the host's events reader, its runtime put there first if this version's is missing."""
    r = hosts.remote(fleet, host)
    host_events.send_runtime(r, repo)
    return host_events.follow_argv(r, repo, python)
