"""Publishing: the update queue the dashboard reads, the status board files, and `on_trigger` commands.

Subscribers get coalesced `Update`s (at most `max_rate` a second); `status.json` and
`status.md` are rewritten at most every 0.25 s and only when their text changed; each raised
trigger runs the user's `on_trigger` argv (never a shell) with at most 4 running at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator, Callable

from ..model import Agent, Trigger
from ..state import write_atomic

log = logging.getLogger(__name__)

Key = tuple[str, str]
# Triggers the previous dashboard announced do not run on_trigger again this long after a start.
_QUIET_SECONDS = 60.0


@dataclass
class Update:
    """What changed: every agent as it is now, and the triggers raised and cleared since the last update."""

    agents: list[Agent]
    raised: list[Trigger]
    cleared: list[Trigger]
    # Raised while the monitor was still learning what was already true when it started (the first
    # screens, the first diff of every worktree): real, but not news, so no toast or bell.
    found: list[Trigger] = field(default_factory=list)
    # What the monitor did on its own since the last update ("fix: resumed after its usage limit reset at 01:00").
    notes: list[str] = field(default_factory=list)


class _Subscriber:
    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.raised: list[Trigger] = []
        self.cleared: list[Trigger] = []
        self.found: list[Trigger] = []
        self.notes: list[str] = []
        self.last = 0.0


def status_file_paths(fleet) -> tuple[Path, Path]:
    """(status.json, status.md): settings.status_file if set, else `<git-common-dir>/paneboard/`."""
    configured = getattr(fleet.settings, "status_file", None)
    if configured:
        p = Path(os.path.expanduser(configured))
        if not p.is_absolute():
            p = fleet.repo.root / p
        return p, p.with_suffix(".md")
    d = fleet.repo.state_dir
    return d / "status.json", d / "status.md"


def coordination(repo_root: Path, agents: list[Agent], active: Callable[[str], list[Trigger]],
                 log: list[dict] | tuple = ()) -> dict:
    """The coordination document: who does what, in which files, what needs a human, what paneboard did."""
    doc = []
    for a in agents:
        j = a.to_json()
        doc.append({
            "name": a.name, "task": a.task, "status": a.status.kind.value, "why": a.status.why,
            "since": round(a.status.since, 3), "branch": a.branch, "worktree": a.worktree,
            "scope": list(a.scope), "files": list(a.files),
            "limit_resets_at": j["limit_resets_at"], "limit_resume_at": j["limit_resume_at"],
            "triggers": [{"kind": t.kind.value, "agent": t.agent, "what": t.what, "since": round(t.since, 3),
                          "loud": t.loud} for t in active(a.name)],
        })
    return {"version": 1, "repo": str(repo_root), "agents": doc, "log": list(log)}


def markdown(doc: dict) -> str:
    """The coordination document as status.md."""
    out = ["# paneboard: who does what", "", "| agent | status | why | files |", "|---|---|---|---|"]
    cell = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
    for a in doc["agents"]:
        files = ", ".join(a["files"][:8]) + (f" (+{len(a['files']) - 8})" if len(a["files"]) > 8 else "")
        out.append(f"| {cell(a['name'])} | {a['status']} | {cell(a['why'])[:120]} | {cell(files)} |")
    triggers = [t for a in doc["agents"] for t in a["triggers"]]
    if triggers:
        out += ["", "## Needs a human", ""]
        out += [f"- **{cell(t['agent'])}** {t['kind']}: {cell(t['what'])}" for t in triggers]
    if doc.get("log"):
        out += ["", "## What paneboard did", ""]
        out += [f"- {time.strftime('%H:%M:%S', time.localtime(e['at']))} **{cell(e['agent'])}** {cell(e['what'])}"
                for e in doc["log"]]
    return "\n".join(out) + "\n"


def _write_status_files(json_path: Path, md_path: Path, text: str, md: str) -> None:
    for path, content in ((json_path, text + "\n"), (md_path, md)):
        write_atomic(path, content)


class Publisher:
    """Hands every change to the subscribers, the status board files and the user's on_trigger command."""

    def __init__(self, fleet, clock: Callable[[], float], counters: dict, *, max_rate: float, write_status: bool,
                 commands: bool = True):
        self.fleet = fleet
        self.clock = clock
        self.counters = counters
        self.min_interval = 1.0 / max_rate
        self.write_status = write_status
        self.commands = commands        # False: on_trigger is left to the dashboard that writes (writer.py)
        self.ready = asyncio.Event()
        self._subs: list[_Subscriber] = []
        self._status_dirty = asyncio.Event()
        self._status_text = ""
        self._commands: set[asyncio.Task] = set()
        self._command_slots = asyncio.Semaphore(4)
        self._quiet_keys: set[Key] = set()
        self._started = 0.0
        self.log: deque[dict] = deque(maxlen=20)     # the latest notes, for status.json / status.md

    def start(self, quiet_keys: set[Key], started: float) -> None:
        """Remember which triggers the previous dashboard announced, as of this start."""
        self._quiet_keys, self._started = set(quiet_keys), started

    async def updates(self, agents: Callable[[], list[Agent]]) -> AsyncIterator[Update]:
        """Coalesced updates (at most max_rate per second); the first one carries the initial state."""
        sub = _Subscriber()
        self._subs.append(sub)
        loop = asyncio.get_running_loop()
        try:
            await self.ready.wait()
            sub.event.set()
            while True:
                await sub.event.wait()
                wait = sub.last + self.min_interval - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                sub.event.clear()
                raised, cleared, found, notes = sub.raised, sub.cleared, sub.found, sub.notes
                sub.raised, sub.cleared, sub.found, sub.notes = [], [], [], []
                sub.last = loop.time()
                yield Update(agents(), raised, cleared, found, notes)
        finally:
            self._subs.remove(sub)

    def queue(self, raised: list[Trigger], cleared: list[Trigger], settling: bool) -> None:
        """Hand these triggers to every subscriber (as found, not news, while settling) and publish."""
        for sub in self._subs:
            if settling:
                sub.found += raised
            else:
                sub.raised += raised
            sub.cleared += cleared
        self.publish()

    def note(self, agent: str, what: str) -> None:
        """Tell the subscribers and the status board what the monitor did to an agent on its own."""
        self.log.append({"at": round(self.clock(), 3), "agent": agent, "what": what})
        log.info("%s: %s", agent, what)
        for sub in self._subs:
            sub.notes.append(f"{agent}: {what}")
        self.publish()

    def publish(self) -> None:
        """Wake the subscribers and the status board writer (nothing before the monitor is ready)."""
        if not self.ready.is_set():
            return
        self.counters["updates"] += 1
        for sub in self._subs:
            sub.event.set()
        self._status_dirty.set()

    def run_commands(self, raised: list[Trigger]) -> None:
        """Run on_trigger for each raised trigger, except those the previous dashboard already announced."""
        argv = list(self.fleet.settings.on_trigger or ()) if self.commands else []
        for t in raised:
            if t.key in self._quiet_keys and self.clock() - self._started < _QUIET_SECONDS:
                self._quiet_keys.discard(t.key)
                continue
            if not argv:
                continue
            task = asyncio.create_task(self._command(argv, t))
            self._commands.add(task)
            task.add_done_callback(self._commands.discard)

    async def _command(self, argv: list[str], t: Trigger, timeout: float = 30.0) -> None:
        env = {**os.environ, "PANEBOARD_TRIGGER_KIND": t.kind.value, "PANEBOARD_TRIGGER_AGENT": t.agent,
               "PANEBOARD_TRIGGER_WHAT": t.what, "PANEBOARD_TRIGGER_SINCE": f"{t.since:.3f}",
               "PANEBOARD_TRIGGER_EVIDENCE": t.evidence[:4000], "PANEBOARD_TRIGGER_LOUD": "1" if t.loud else "0",
               "PANEBOARD_REPO": str(self.fleet.repo.root)}
        async with self._command_slots:
            self.counters["hooks"] += 1
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL, env=env, cwd=str(self.fleet.repo.root))
            except OSError as exc:
                log.warning("on_trigger %s could not start: %s", argv, exc)
                return
            try:
                await asyncio.wait_for(proc.communicate(json.dumps(t.to_json()).encode()), timeout)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
            except asyncio.CancelledError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                raise

    async def status_loop(self, document: Callable[[], dict]) -> None:
        """Rewrite status.json and status.md after changes, coalescing bursts, until cancelled (only while
        `write_status`: another dashboard may write them, and this one may take over)."""
        while True:
            await self._status_dirty.wait()
            await asyncio.sleep(0.25)          # coalesce bursts into one rewrite
            self._status_dirty.clear()
            if not self.write_status:
                continue
            doc = document()
            text = json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False)
            if text == self._status_text:
                continue
            self._status_text = text
            json_path, md_path = status_file_paths(self.fleet)
            try:
                await asyncio.to_thread(_write_status_files, json_path, md_path, text, markdown(doc))
            except OSError as exc:
                log.warning("cannot write %s: %s", json_path, exc)

    def rewrite_status(self) -> None:
        """Write the status files on the next round even if this dashboard's text did not change."""
        self._status_text = ""
        self.publish()

    def close(self) -> None:
        """Stop the on_trigger commands still running."""
        for t in list(self._commands):
            t.cancel()
