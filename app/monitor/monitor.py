"""The monitor: turns tmux output, file changes and a 1 s timer into statuses and triggers.

Event-driven and cheap at 50 agents: one tmux control-mode client for the session (no
polling of panes), one watchfiles watcher for every worktree, and a trailing-edge
scheduler that captures a pane's screen only after it printed something. `assess_once`
is the one-shot, history-free version for `paneboard ls --json`.

Agents with hooks (Claude Code, app/hooks.py) also report exact events into
`<git-common-dir>/paneboard/hooks/`; the same watcher covers that directory, and each capture
and tick re-reads an events file only when its stat changed. `_hook_hint` says when an event
decides the status and when the screen does.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import logging
import os
import re
import tempfile
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, AsyncIterator, Callable

from . import hooks, logs, worktrees
from .model import Agent, Kind, Status, Trigger, TriggerKind
from .triggers import AgentSnapshot, ErrorCounter, TriggerBook, duration, evaluate, is_silent, \
    out_of_scope, overlaps, silence_threshold

if TYPE_CHECKING:  # watchfiles loads only for the live monitor, not `ls`
    from .watch import FileActivity

log = logging.getLogger(__name__)

_LOG_TAIL = 64 * 1024
_MAX_PARTIAL = 4096
# Output this long after a hook event is the screen's news, not the redraw that came with the event.
HOOK_GRACE = 1.0
# At most this long after a start, triggers found while the first diffs come in are "found", not news.
SETTLE_SECONDS = 5.0


@dataclass
class Update:
    """What changed: every agent as it is now, and the triggers raised and cleared since the last update."""

    agents: list[Agent]
    raised: list[Trigger]
    cleared: list[Trigger]
    # Raised while the monitor was still learning what was already true when it started (the first
    # screens, the first diff of every worktree): real, but not news, so no toast or bell.
    found: list[Trigger] = field(default_factory=list)


# -- pieces shared by the live monitor and assess_once ---------------------------------


def _classify(screen: str, rules: str):
    from .status import classify
    return classify(screen, rules)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _clock(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t))


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


def _newest_mtime(worktree: str, files) -> float | None:
    newest = None
    for f in files:
        try:
            m = os.stat(os.path.join(worktree, f)).st_mtime
        except OSError:
            continue
        newest = m if newest is None or m > newest else newest
    return newest


def _stopped_why(rec: dict | None) -> str:
    """Why a state record says the agent was stopped on purpose ("" if it does not)."""
    if not rec:
        return ""
    if rec.get("merged"):
        return "merged"
    # A stop recorded before the agent's current start belongs to an earlier run: it excuses nothing now.
    started = float(rec.get("started_at") or 0)
    if float(rec.get("restored_at") or 0) > started:
        return "restored from its archive; not running (start it again to continue)"
    if float(rec.get("killed_at") or 0) > started:
        return "stopped with paneboard"
    return ""


@dataclass
class _Facts:
    """The live facts about one agent that tmux + git + the state file do not hold."""

    agent: Agent
    errors: ErrorCounter
    killed: bool = False               # stopped on purpose (kill, discard, merge, restore): no exit trigger
    stopped_why: str = ""
    last_output_at: float | None = None
    last_file_change_at: float | None = None
    reading: object | None = None
    screen: str = ""
    captured: bool = False
    screen_output_at: float | None = None   # the newest output the current screen shows
    hook_events: hooks.EventsFile | None = None
    kind_since: float = 0.0
    exited_at: float | None = None
    limit: str | None = None
    limit_since: float | None = None
    oos: list[str] = field(default_factory=list)
    oos_since: float | None = None
    overlaps: dict[str, list[str]] = field(default_factory=dict)
    overlap_since: float | None = None
    # output decoding
    decoder: object = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace"))
    partial: str = ""
    # capture scheduling (loop time)
    timer: asyncio.TimerHandle | None = None
    timer_due: float = 0.0
    dirty_since: float | None = None
    capturing: bool = False
    recapture: bool = False
    # stats scheduling
    stats_task: asyncio.Task | None = None
    stats_again: bool = False
    stats_done: bool = False
    shown: tuple = ()
    seed_errors: bool = True           # the first screen may hold errors printed before the log pipe opened
    log_errors: dict = field(default_factory=dict)     # error signature -> lines counted from the log
    live_errors: dict = field(default_factory=dict)    # ... and from live output, until the screen seeded


def _status_of(f: _Facts, now: float, settings) -> Status:
    """The agent's status with its reason, from what tmux, the screen and the clock say."""
    a = f.agent
    since = f.kind_since or now
    if a.merged:
        return Status(Kind.EXITED, "merged", since=since)
    if a.pane is None:
        why = f.stopped_why or "its tmux pane vanished"
        return Status(Kind.EXITED, why, since=f.exited_at or since)
    if not a.pane_alive:
        code = a.exit_code
        why = f"process exited with code {code}" if code is not None else "process exited"
        return Status(Kind.EXITED, why, evidence=_last_lines(f.screen), since=f.exited_at or since)
    r = _hook_hint(f) or f.reading
    kind = getattr(r, "kind", None)
    if kind is None:
        if f.last_output_at is None and not f.screen.strip():
            kind, why, evidence = Kind.STARTING, f"started at {_clock(a.started_at)}; no output yet", ""
        else:
            kind = Kind.WORKING
            why = getattr(r, "why", "") or "printing output; no status rule matched its screen"
            evidence = getattr(r, "evidence", "") or _last_lines(f.screen)
    else:
        why, evidence = getattr(r, "why", "") or kind.value, getattr(r, "evidence", "")
    # Silence is judged on the screen, never before the first capture: after a restart an idle
    # agent's last output is old, and without its screen it would pass for a stalled worker.
    if kind in (Kind.WORKING, Kind.STARTING) and f.captured:
        snap = AgentSnapshot(a.name, status=kind, started_at=a.started_at, last_output_at=f.last_output_at,
                             last_file_change_at=f.last_file_change_at, silence=a.silence)
        if is_silent(snap, now, settings):
            last = snap.last_activity_at
            why = (f"no output and no file change since {_clock(last)} "
                   f"(threshold {duration(silence_threshold(snap, settings))}); the screen said: {why}")
            return Status(Kind.SILENT, why, evidence=evidence, since=last)
    return Status(kind, why, evidence=evidence, since=since)


def _hook_hint(f: _Facts) -> hooks.Hint | None:
    """The hook event that decides a live agent's status, or None when its screen decides.

    Precedence, highest first:
    1. the process exited or its pane went: exited (decided before this is asked);
    2. no event that implies a status since this run started: the screen;
    3. the screen reads exited (a resume hint, a shell prompt): the screen;
    4. the screen shows output newer than the event by more than HOOK_GRACE, and one of its rules
       reads another status: the screen, it has news (a question answered in the pane, a turn
       the user interrupted, a spinner after a Stop);
    5. otherwise the event, with "hook <Event>: <message>" as why and the event line as evidence.

    A screen no rule reads never overrules an event: "no rule matched" is a guess, an event is not.
    """
    ev = f.hook_events
    h = ev.hint if ev is not None else None
    if h is None or h.at < f.agent.started_at - 1.0:
        return None
    kind = getattr(f.reading, "kind", None)
    if kind == Kind.EXITED:
        return None
    if kind is not None and kind != h.kind and (f.screen_output_at or 0.0) > h.at + HOOK_GRACE:
        return None
    return h


def _last_lines(screen: str, n: int = 3) -> str:
    lines = [ln for ln in screen.rstrip().splitlines() if ln.strip()]
    return "\n".join(lines[-n:])


def _snapshot(f: _Facts, status: Status, now: float) -> AgentSnapshot:
    a = f.agent
    return AgentSnapshot(
        name=a.name, status=status.kind, status_why=status.why, status_evidence=status.evidence,
        status_since=status.since, started_at=a.started_at, last_output_at=f.last_output_at,
        last_file_change_at=f.last_file_change_at, silence=a.silence, pane_alive=a.pane_alive,
        pane_gone=a.pane is None, exit_code=a.exit_code, exited_at=f.exited_at, killed=f.killed,
        merged=a.merged, errors=f.errors.repeated(now), limit=f.limit, limit_since=f.limit_since,
        scope=a.scope, out_of_scope=f.oos, out_of_scope_since=f.oos_since, overlaps=f.overlaps,
        overlap_since=f.overlap_since)


def _restore_from_log(f: _Facts, path: Path) -> None:
    """After a restart: the last output time and recent errors come back from the pane's log."""
    mtime = logs.last_write(path)
    if mtime is None:
        return
    f.last_output_at = max(f.last_output_at or 0.0, mtime)
    # The log has no timestamps: its lines count as written when the log was last written.
    text = logs.tail(path, _LOG_TAIL)
    for line in text.splitlines():
        if line.strip():
            sig = f.errors.feed(line, mtime)
            if sig is not None:
                f.log_errors[sig] = f.log_errors.get(sig, 0) + 1


def _seed_errors_from_screen(f: _Facts, at: float, screen: str | None = None) -> None:
    """Errors printed before the log pipe opened are only on the screen: count those the log lacks, once.

    The screen must show every line already counted from live output (the monitor seeds from a
    `Captured` event, which the control client queues behind the output the screen shows), so
    those are not counted twice; nor is what was printed between an earlier capture and the start
    of the output stream lost."""
    if not f.seed_errors:
        return
    f.seed_errors = False
    known = dict(f.log_errors)
    for sig, n in f.live_errors.items():
        known[sig] = known.get(sig, 0) + n
    f.live_errors = {}
    on_screen: dict[str, list[str]] = {}
    for line in (f.screen if screen is None else screen).splitlines():
        sig = f.errors.signature(line) if line.strip() else None
        if sig is not None:
            on_screen.setdefault(sig, []).append(line)
    for sig, lines in on_screen.items():
        for line in lines[known.get(sig, 0):]:
            f.errors.feed(line, at)


def _apply_reading(f: _Facts, reading, now: float) -> None:
    f.reading = reading
    limit = getattr(reading, "limit", None)
    if limit and not f.limit:
        f.limit_since = now
    f.limit = limit or None
    if not limit:
        f.limit_since = None


def _apply_scope(f: _Facts, now: float) -> None:
    oos = out_of_scope(f.agent.files, f.agent.scope)
    if oos and not f.oos:
        f.oos_since = now
    elif not oos:
        f.oos_since = None
    f.oos = oos


def _apply_overlaps(facts: dict[str, _Facts], now: float) -> list[str]:
    """Recompute who shares files with whom; returns the agents whose overlap changed."""
    files = {n: set(f.agent.files) for n, f in facts.items()
             if f.agent.files and not f.agent.merged and f.agent.worktree_exists}
    result = overlaps(files)
    changed = []
    for name, f in facts.items():
        new = result.get(name, {})
        if new != f.overlaps:
            if new and not f.overlaps:
                f.overlap_since = now
            elif not new:
                f.overlap_since = None
            f.overlaps = new
            changed.append(name)
    return changed


def _events_file(fleet, name: str) -> hooks.EventsFile:
    """The agent's hook events, read once now (one failing stat for an agent without hooks)."""
    ev = hooks.EventsFile(hooks.events_path(fleet.repo.common_dir, name))
    try:
        ev.poll()
    except Exception:
        log.exception("reading hook events of %s failed", name)
    return ev


# -- one-shot assessment ----------------------------------------------------------------


_SCREEN_MARKER = re.compile(r"@@paneboard-screen-([0-9a-f]{8})@@(%\d+)$")


def _capture_all(tmux, panes: list[str]) -> dict[str, str]:
    """Every pane's visible screen in one tmux call (markers between them); per pane on failure."""
    if not panes:
        return {}
    # The marker names its pane with #{pane_id}, never the literal id: display-message runs strftime
    # over its text, and "%4" is a field width there ("@@m   %4"). The nonce keeps a screen that
    # happens to print a marker from passing for one. Plain ASCII: splitlines() would split on \x1e.
    nonce = uuid.uuid4().hex[:8]
    args: list[str] = []
    for p in panes:
        args += ["display-message", "-p", "-t", p, f"@@paneboard-screen-{nonce}@@#{{pane_id}}", ";",
                 "capture-pane", "-p", "-t", p, ";"]
    try:
        lines = tmux.run(*args[:-1])
    except Exception:
        return {p: tmux.capture(p) for p in panes}
    screens: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        m = _SCREEN_MARKER.match(line)
        if m and m.group(1) == nonce:
            current = screens.setdefault(m.group(2), [])
        elif current is not None:
            current.append(line)
    return {p: "\n".join(screens[p]) if p in screens else tmux.capture(p) for p in panes}


def assess_once(fleet, now: float | None = None) -> list[Agent]:
    """Every agent with status and triggers from what can be known without history (for `ls --json`)."""
    now = time.time() if now is None else now
    settings = fleet.settings
    with ThreadPoolExecutor(8) as pool:
        records_f = pool.submit(lambda: fleet.state.read()["agents"])
        agents = fleet.agents(stats=False)
        live = [a for a in agents if a.pane and a.pane_alive]
        screens_f = pool.submit(_capture_all, fleet.tmux, [a.pane for a in live])

        def stats_of(a: Agent):
            s = worktrees.stats(Path(a.worktree), a.base)
            return s, _newest_mtime(a.worktree, s.files)

        stats_f = {a.name: pool.submit(stats_of, a) for a in agents if a.worktree_exists and not a.merged}
        facts: dict[str, _Facts] = {}
        for a in agents:
            f = _Facts(agent=a, errors=ErrorCounter(settings.error_count, settings.error_window))
            f.kind_since = a.status.since
            f.exited_at = None if a.pane_alive else (a.last_activity_at or None)
            facts[a.name] = f
        log_f = {a.name: pool.submit(_restore_from_log, facts[a.name], logs.log_path(fleet.repo.common_dir, a.name))
                 for a in agents}
        for a in agents:
            facts[a.name].hook_events = _events_file(fleet, a.name)
        records = records_f.result()
        screens = screens_f.result()
        for name, fut in stats_f.items():
            s, newest = fut.result()
            a = facts[name].agent
            a.files, a.added, a.removed, a.dirty, a.commits = s.files, s.added, s.removed, s.dirty, s.commits
            facts[name].last_file_change_at = newest
        for fut in log_f.values():
            fut.result()
    for a in agents:
        f = facts[a.name]
        f.stopped_why = _stopped_why(records.get(a.name))
        f.killed = bool(f.stopped_why)
        if a.pane and a.pane_alive:
            # tmux's window_activity stands in for the last output when there is no log.
            f.last_output_at = max(f.last_output_at or 0.0, a.last_activity_at or 0.0) or None
            f.screen = screens.get(a.pane, "")
            f.captured = True
            f.screen_output_at = f.last_output_at
            _seed_errors_from_screen(f, f.last_output_at or now)
            _apply_reading(f, _classify(f.screen, a.rules), now)
        _apply_scope(f, now)
    _apply_overlaps(facts, now)
    book = TriggerBook()
    for a in agents:
        f = facts[a.name]
        a.status = _status_of(f, now, settings)
        book.update(a.name, evaluate(_snapshot(f, a.status, now), now, settings), now)
        a.triggers = book.active(a.name)
        a.last_activity_at = max(a.started_at, f.last_output_at or 0.0, f.last_file_change_at or 0.0)
    return agents


# -- restart memory: carried trigger times, acknowledgements and snoozes -----------------

_RESTART_GRACE = 60.0   # seconds after a start during which the previous dashboard's memory applies
_SAME_SINCE = 2.0       # two `since`s this close are one occurrence (tmux times are whole seconds)
# Kinds whose `since` a restart can recompute from tmux and the log; the others restart at "now".
_RECOMPUTED = {TriggerKind.SILENCE, TriggerKind.EXITED}


def _carry_since(t: Trigger, previous: float | None) -> Trigger:
    """A trigger active before a restart and again after it keeps its first `since`.

    For silence and exits the recomputed time is the real one, so it is the same occurrence
    only if the two agree; for the rest (a question, a limit, files out of scope) a restart
    cannot know when it began, and the previous time is the better answer.
    """
    if previous is None:
        return t
    if t.kind in _RECOMPUTED:
        return replace(t, since=previous) if abs(t.since - previous) <= _SAME_SINCE else t
    return replace(t, since=previous) if previous <= t.since + _SAME_SINCE else t


def _read_hidden(path: Path, now: float) -> tuple[dict[tuple[str, str], float], dict[tuple[str, str], float]]:
    """(acknowledged: key -> the occurrence's since, snoozed: key -> until) from triggers.json; expired snoozes dropped."""
    acks: dict[tuple[str, str], float] = {}
    snoozes: dict[tuple[str, str], float] = {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        for e in data.get("acknowledged", []):
            acks[(str(e["agent"]), str(e["kind"]))] = float(e["since"])
        for e in data.get("snoozed", []):
            if float(e["until"]) > now:
                snoozes[(str(e["agent"]), str(e["kind"]))] = float(e["until"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return acks, snoozes


def hidden_marks(fleet, agents: list[Agent], now: float | None = None) -> dict[tuple[str, str], dict]:
    """What the dashboard hid of these agents' triggers: key -> {"acknowledged": bool, "snoozed_until": float|None}.

    Without the dashboard's history an acknowledgement is matched like a restarted dashboard
    matches it: same agent and kind, and for silence and exits (whose start tmux tells) the same start.
    """
    now = time.time() if now is None else now
    acks, snoozes = _read_hidden(fleet.repo.state_dir / "triggers.json", now)
    marks: dict[tuple[str, str], dict] = {}
    for a in agents:
        for t in a.triggers:
            acked = t.key in acks and (t.kind not in _RECOMPUTED or abs(acks[t.key] - t.since) <= _SAME_SINCE)
            marks[t.key] = {"acknowledged": acked, "snoozed_until": snoozes.get(t.key)}
    return marks


def _write_hidden(path: Path, acks: dict[tuple[str, str], float], snoozes: dict[tuple[str, str], float]) -> None:
    doc = {"version": 1,
           "acknowledged": [{"agent": a, "kind": k, "since": round(s, 3)} for (a, k), s in sorted(acks.items())],
           "snoozed": [{"agent": a, "kind": k, "until": round(u, 3)} for (a, k), u in sorted(snoozes.items())]}
    _write_atomic(Path(path), json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


# -- the live monitor --------------------------------------------------------------------


class _Subscriber:
    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.raised: list[Trigger] = []
        self.cleared: list[Trigger] = []
        self.found: list[Trigger] = []
        self.last = 0.0


class Monitor:
    """Drives every event source and keeps each agent's status and triggers current."""

    def __init__(self, fleet, clock: Callable[[], float] = time.time, *,
                 capture_delay: float = 0.04, capture_interval: float = 1.0, tick: float = 1.0,
                 rediscover_every: float = 10.0, max_rate: float = 20.0, stats_debounce: float = 0.1,
                 watch_step: int = 50, watch_debounce: int = 200, write_status: bool = True,
                 control_factory: Callable | None = None):
        self.fleet = fleet
        self.settings = fleet.settings
        self.clock = clock
        self.capture_delay = capture_delay
        self.capture_interval = capture_interval
        self.tick = tick
        self.rediscover_every = rediscover_every
        self.min_interval = 1.0 / max_rate
        self.stats_debounce = stats_debounce
        self.write_status = write_status
        self._control_factory = control_factory
        self.book = TriggerBook()
        from .watch import Watcher  # watchfiles/anyio load only for the live monitor, not `ls`
        self.watcher = Watcher(step=watch_step, debounce=watch_debounce)
        self._facts: dict[str, _Facts] = {}
        self._by_pane: dict[str, str] = {}
        self._by_worktree: dict[str, str] = {}
        self._piped: set[str] = set()
        self._order: list[str] = []
        self._subs: list[_Subscriber] = []
        self._ready = asyncio.Event()
        self._rediscover_now = asyncio.Event()
        self._status_dirty = asyncio.Event()
        self._control = None
        self._control_task: asyncio.Task | None = None
        self._control_retry_at = 0.0
        self._tasks: list[asyncio.Task] = []
        self._hooks: set[asyncio.Task] = set()
        self._hook_slots = asyncio.Semaphore(4)
        self._stats_slots = asyncio.Semaphore(4)
        self._quiet_keys: set[tuple[str, str]] = set()
        # Restart memory: what the previous dashboard showed (status.json) and hid (triggers.json).
        self._prev_status: dict[str, tuple[str, float]] = {}
        self._carried: dict[tuple[str, str], float] = {}
        self._acks: dict[tuple[str, str], float] = {}          # acknowledged occurrence -> its since
        self._pending_acks: dict[tuple[str, str], float] = {}  # loaded, not yet matched to a live trigger
        self._snoozes: dict[tuple[str, str], float] = {}       # until (clock time)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._hooks_root = hooks.hooks_dir(fleet.repo.common_dir)
        self._started = 0.0
        # Agents whose first diff is still being computed after the start (None: still discovering),
        # and until when that may count as settling at most.
        self._unsettled: set[str] | None = set()
        self._settle_deadline = 0.0
        self._status_text = ""
        self.counters = {"captures": 0, "outputs": 0, "stats": 0, "file_batches": 0, "rediscoveries": 0,
                         "updates": 0, "hooks": 0, "control_starts": 0}

    # -- public API ------------------------------------------------------------

    def agents(self) -> list[Agent]:
        """Copies of every agent as currently known."""
        return [replace(self._facts[n].agent, triggers=list(self._facts[n].agent.triggers))
                for n in self._order if n in self._facts]

    async def updates(self) -> AsyncIterator[Update]:
        """Coalesced updates (at most max_rate per second); the first one carries the initial state."""
        sub = _Subscriber()
        self._subs.append(sub)
        loop = asyncio.get_running_loop()
        try:
            await self._ready.wait()
            sub.event.set()
            while True:
                await sub.event.wait()
                wait = sub.last + self.min_interval - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                sub.event.clear()
                raised, cleared, found = sub.raised, sub.cleared, sub.found
                sub.raised, sub.cleared, sub.found = [], [], []
                sub.last = loop.time()
                yield Update(self.agents(), raised, cleared, found)
        finally:
            self._subs.remove(sub)

    def last_output_at(self, agent: str) -> float | None:
        """When the agent's pane last printed anything (None: not since the monitor started)."""
        f = self._facts.get(agent)
        return f.last_output_at if f else None

    def acknowledge(self, agent: str, kind: str) -> bool:
        """Hide the agent's active trigger of this kind until it clears and fires again (any thread)."""
        return self._on_loop(self._acknowledge, agent, str(kind))

    def snooze(self, agent: str, kind: str, seconds: float) -> None:
        """Hide the agent's trigger of this kind for `seconds` (any thread)."""
        self._on_loop(self._snooze, agent, str(kind), seconds)

    def refresh(self) -> None:
        """Rediscover agents now, after a spawn, kill, check or merge (any thread)."""
        loop = self._loop
        if loop is not None and not loop.is_closed() and _running_loop() is not loop:
            # asyncio.Event is not thread-safe: set off the loop, it would not wake the waiter.
            with contextlib.suppress(RuntimeError):     # the loop closed meanwhile: nothing to refresh
                loop.call_soon_threadsafe(self._rediscover_now.set)
            return
        self._rediscover_now.set()

    def _on_loop(self, fn, *args):
        """Call fn on the monitor's loop and return its result, from the loop or any other thread."""
        loop = self._loop
        if loop is None or loop.is_closed() or _running_loop() is loop:
            return fn(*args)
        done: Future = Future()

        def call() -> None:
            try:
                done.set_result(fn(*args))
            except BaseException as exc:   # handed to the calling thread
                done.set_exception(exc)

        loop.call_soon_threadsafe(call)
        return done.result(timeout=10)

    def _acknowledge(self, agent: str, kind: str) -> bool:
        ok = self.book.acknowledge(agent, kind)
        if ok:
            t = next(t for t in self.book.active(agent) if t.kind.value == kind)
            self._acks[(agent, kind)] = t.since
            self._save_hidden()
            self._reassess(agent)
        return ok

    def _snooze(self, agent: str, kind: str, seconds: float) -> None:
        now = self.clock()
        self.book.snooze(agent, kind, seconds, now)
        self._snoozes[(agent, kind)] = now + seconds
        self._save_hidden()
        self._reassess(agent)

    async def run(self) -> None:
        """Run until cancelled: discover, attach, watch, and keep statuses current."""
        self._loop = asyncio.get_running_loop()
        self._started = self.clock()
        self._unsettled, self._settle_deadline = None, self._started + SETTLE_SECONDS
        self._load_previous_status()
        self._load_hidden()
        try:
            await self._rediscover(initial=True)
            self._unsettled = {f.agent.name for f in self._facts.values()
                               if f.agent.worktree_exists and not f.agent.merged and not f.stats_done}
            self._ready.set()
            self._publish()
            self._tasks = [asyncio.create_task(c) for c in (
                self._watch_loop(), self._tick_loop(), self._rediscover_loop(), self._status_loop())]
            await asyncio.gather(*self._tasks)
        finally:
            self._loop = None
            await self.close()

    async def close(self) -> None:
        """Stop every task, timer and client this monitor started."""
        for t in self._tasks:
            t.cancel()
        for f in self._facts.values():
            if f.timer:
                f.timer.cancel()
            if f.stats_task:
                f.stats_task.cancel()
        await self.watcher.close()
        await self._stop_control()
        for t in list(self._hooks):
            t.cancel()
        self._tasks = []

    # -- discovery -------------------------------------------------------------

    async def _rediscover_loop(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._rediscover_now.wait(), self.rediscover_every)
            await asyncio.sleep(0.05)    # let a burst of window events settle
            self._rediscover_now.clear()
            try:
                await self._rediscover()
            except Exception:
                log.exception("rediscovery failed")

    def _discover(self) -> tuple[list[Agent], dict]:
        return self.fleet.agents(stats=False), self.fleet.state.read()["agents"]

    async def _rediscover(self, initial: bool = False) -> None:
        self.counters["rediscoveries"] += 1
        fresh, records = await asyncio.to_thread(self._discover)
        now = self.clock()
        seen = set()
        new: list[_Facts] = []
        changed: list[str] = []
        for a in fresh:
            if a.pane is None and a.name not in records:
                continue    # its record went while we looked (discarded, forgotten): gone, not vanished
            seen.add(a.name)
            f = self._facts.get(a.name)
            if f is None:
                f = _Facts(agent=a, errors=ErrorCounter(self.settings.error_count, self.settings.error_window))
                f.kind_since = now if not initial else a.status.since
                if not a.pane_alive:
                    f.exited_at = a.last_activity_at or None
                self._facts[a.name] = f
                new.append(f)
            else:
                if self._merge(f, a, now):
                    changed.append(a.name)
            self._set_stopped(f, records.get(a.name))
        gone = [n for n in self._facts if n not in seen]
        for n in gone:
            f = self._facts.pop(n)
            if f.timer:
                f.timer.cancel()
            self._queue(raised=[], cleared=self.book.forget(n))
            self._forget_hidden(n)
        self._order = [a.name for a in fresh if a.name in seen]
        self._index()
        if new:
            screens = await asyncio.to_thread(self._prepare_new, new)
            for f in new:
                if f.agent.pane in screens:
                    # A live pane's errors are seeded by its next capture through the control
                    # client, which is ordered with its output; this one is not.
                    self._apply_screen(f, screens[f.agent.pane], self.clock(),
                                       seed=not f.agent.pane_alive)
        live = [f for f in self._facts.values() if f.agent.pane and f.agent.pane_alive]
        if live and (self._control is None) and self.clock() >= self._control_retry_at:
            again = self.counters["control_starts"] > 0
            await self._start_control()
            if again and self._control is not None:
                # What the panes printed while no client listened is in no event: read every screen.
                for f in live:
                    self._schedule_capture(f, immediate=True)
        for f in new:
            if f.agent.pane and f.agent.pane_alive:
                self._schedule_capture(f, immediate=True)
            self._schedule_stats(f, delay=0.0)
            self._reassess(f.agent.name)
        for n in changed:
            self._reassess(n)
        roots = [Path(f.agent.worktree) for f in self._facts.values()
                 if f.agent.worktree_exists and not f.agent.merged]
        if self._hooks_root.is_dir():     # exists once an agent with hooks was spawned
            roots.append(self._hooks_root)
        self.watcher.set_worktrees(roots)
        if gone or new:
            self._publish()

    def _merge(self, f: _Facts, a: Agent, now: float) -> bool:
        """Copy what tmux and the state file say onto the known agent; True if something moved."""
        old = f.agent
        moved = (old.pane, old.pane_alive, old.exit_code, old.merged, old.worktree_exists, old.last_check) != \
                (a.pane, a.pane_alive, a.exit_code, a.merged, a.worktree_exists, a.last_check)
        if old.pane_alive and not a.pane_alive and f.exited_at is None:
            f.exited_at = now
        if a.pane != old.pane:
            f.captured, f.screen, f.reading = False, "", None
        for name in ("task", "agent", "branch", "worktree", "base", "session", "pane", "port", "prompt",
                     "scope", "after", "rules", "silence", "started_at", "pid", "pane_alive",
                     "worktree_exists", "merged", "last_check"):
            setattr(old, name, getattr(a, name))
        if a.exit_code is not None or not a.pane_alive:
            old.exit_code = a.exit_code if a.exit_code is not None else old.exit_code
        return moved

    def _index(self) -> None:
        self._by_pane = {f.agent.pane: n for n, f in self._facts.items() if f.agent.pane}
        self._by_worktree = {str(Path(f.agent.worktree)): n for n, f in self._facts.items() if f.agent.worktree}

    def _prepare_new(self, new: list[_Facts]) -> dict[str, str]:
        """In a thread: open each new pane's log pipe if none is open, restore history from the log,
        and capture the new panes' screens, so that their first status is read, not guessed."""
        live = [f.agent.pane for f in new if f.agent.pane and f.agent.pane_alive]
        try:
            open_now: set[str] | None = logs.open_pipes(self.fleet.tmux) if live else set()
        except Exception:
            open_now = None         # start_pipe asks pane by pane
        for f in new:
            a = f.agent
            path = logs.log_path(self.fleet.repo.common_dir, a.name)
            if a.pane and a.pane_alive and a.pane not in self._piped:
                try:
                    logs.start_pipe(self.fleet.tmux, a.pane, path,
                                    is_open=None if open_now is None else a.pane in open_now)
                    self._piped.add(a.pane)
                except Exception:
                    log.exception("pipe-pane failed for %s", a.name)
            _restore_from_log(f, path)
            f.hook_events = _events_file(self.fleet, a.name)
            if a.pane and a.pane_alive and a.last_activity_at and f.last_output_at is None \
                    and a.last_activity_at > a.started_at + 1:
                f.last_output_at = a.last_activity_at
        try:
            return _capture_all(self.fleet.tmux, live)
        except Exception:
            log.exception("first capture failed")
            return {}

    def _apply_screen(self, f: _Facts, screen: str, now: float, seed: bool = True) -> None:
        f.screen = screen
        f.captured = True
        f.screen_output_at = f.last_output_at
        self._poll_hooks(f)
        if seed:
            _seed_errors_from_screen(f, f.last_output_at or now)
        _apply_reading(f, _classify(screen, f.agent.rules), now)

    def _set_stopped(self, f: _Facts, rec: dict | None) -> None:
        f.stopped_why = _stopped_why(rec)
        f.killed = bool(f.stopped_why)
        if rec and rec.get("merged"):
            f.agent.merged = True

    def _recheck_stopped(self, f: _Facts) -> None:
        """A pane died or vanished: read its record again before calling it a crash.

        The fleet records a kill, discard or merge before it closes the window, but the pane's
        death can reach us before our last look at the state file did.
        """
        if f.killed:
            return
        try:
            data = self.fleet.state.read()      # one small JSON file, written atomically
        except Exception:
            return
        rec = data["agents"].get(f.agent.name)
        if rec is None and f.agent.name in data.get("discarded", {}):
            rec = {"killed_at": data["discarded"][f.agent.name].get("discarded_at") or 1}
        self._set_stopped(f, rec)

    # -- tmux control mode -----------------------------------------------------

    def _new_control(self):
        if self._control_factory is not None:
            return self._control_factory(self.fleet.tmux.base_argv, self.fleet.session)
        from .control import ControlClient
        return ControlClient(self.fleet.tmux.base_argv, self.fleet.session)

    async def _start_control(self) -> None:
        client = self._new_control()
        try:
            await client.start()
        except Exception as exc:
            log.warning("control client for %s did not start: %s", self.fleet.session, exc)
            self._control_retry_at = self.clock() + 2.0
            with contextlib.suppress(Exception):
                await client.close()
            asyncio.get_running_loop().call_later(2.05, self._rediscover_now.set)
            return
        self._control = client
        self.counters["control_starts"] += 1
        self._control_task = asyncio.create_task(self._control_loop(client))

    async def _stop_control(self) -> None:
        client, self._control = self._control, None
        if self._control_task is not None:
            self._control_task.cancel()
            self._control_task = None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()

    async def _control_loop(self, client) -> None:
        try:
            async for ev in client.events():
                name = type(ev).__name__
                if name == "Output":
                    self._on_output(ev.pane, ev.data)
                elif name == "PaneDied":
                    self._on_pane_died(ev.pane, getattr(ev, "status", None))
                elif name in ("WindowAdded", "WindowClosed"):
                    self._rediscover_now.set()
                elif name == "Captured":
                    f = self._facts.get(self._by_pane.get(ev.pane, ""))
                    if f is not None and f.seed_errors:
                        _seed_errors_from_screen(f, f.last_output_at or self.clock(), ev.screen)
                elif name == "Resumed":
                    # Output was dropped meanwhile: the screen is the truth now.
                    f = self._facts.get(self._by_pane.get(ev.pane, ""))
                    if f is not None:
                        self._schedule_capture(f)
                elif name == "Exit":
                    break
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("control client failed")
        if self._control is client:
            self._control = None
            self._control_task = None
            self._control_retry_at = self.clock() + 1.0
            with contextlib.suppress(Exception):
                await client.close()
            self._rediscover_now.set()          # now: a window may have gone with the client
            asyncio.get_running_loop().call_later(1.05, self._rediscover_now.set)   # and when it may retry

    def _on_output(self, pane: str, data: bytes) -> None:
        self.counters["outputs"] += 1
        name = self._by_pane.get(pane)
        if name is None:
            self._rediscover_now.set()
            return
        f = self._facts[name]
        now = self.clock()
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
        self._schedule_capture(f)
        if first or f.agent.status.kind == Kind.SILENT:
            self._reassess(name)

    def _on_pane_died(self, pane: str, status) -> None:
        name = self._by_pane.get(pane)
        if name is None:
            return
        f = self._facts[name]
        self._recheck_stopped(f)
        f.agent.pane_alive = False
        if status is not None:
            with contextlib.suppress(TypeError, ValueError):
                f.agent.exit_code = int(status)
        f.exited_at = f.exited_at or self.clock()
        self._reassess(name)
        self._schedule_capture(f)   # the last screen is the evidence

    # -- screen captures -------------------------------------------------------

    def _schedule_capture(self, f: _Facts, immediate: bool = False) -> None:
        """Trailing edge: capture capture_delay after the last output, but at least every capture_interval."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        if f.dirty_since is None:
            f.dirty_since = now
        due = now if immediate else min(now + self.capture_delay, f.dirty_since + self.capture_interval)
        if f.timer is not None:
            if abs(f.timer_due - due) < 0.005:
                return
            f.timer.cancel()
        f.timer_due = due
        f.timer = loop.call_at(due, self._fire_capture, f)

    def _fire_capture(self, f: _Facts) -> None:
        f.timer = None
        if f.capturing:
            f.recapture = True
            return
        t = asyncio.create_task(self._capture(f))
        self._hooks.add(t)
        t.add_done_callback(self._hooks.discard)

    async def _capture(self, f: _Facts) -> None:
        a = f.agent
        client = self._control
        if a.pane is None or f.agent.name not in self._facts:
            return
        f.capturing = True
        f.dirty_since = None
        dead = None
        try:
            if client is not None:
                screen = await client.capture(a.pane, echo=f.seed_errors)
                reply = await client.command("display-message", "-p", "-t", a.pane,
                                             "#{pane_dead} #{pane_dead_status}")
                dead = reply[0].split() if reply else None
            else:
                screen = await asyncio.to_thread(self.fleet.tmux.capture, a.pane)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.debug("capture of %s failed: %s", a.pane, exc)
            self._rediscover_now.set()
            return
        finally:
            f.capturing = False
        self.counters["captures"] += 1
        now = self.clock()
        self._apply_screen(f, screen, now, seed=client is None)
        if dead and dead[0] == "1" and a.pane_alive:
            self._recheck_stopped(f)
            a.pane_alive = False
            if len(dead) > 1 and dead[1].lstrip("-").isdigit():
                a.exit_code = int(dead[1])
            f.exited_at = f.exited_at or now
        self._reassess(a.name)
        if f.recapture or f.dirty_since is not None:
            f.recapture = False
            self._schedule_capture(f)

    # -- files -----------------------------------------------------------------

    async def _watch_loop(self) -> None:
        async for act in self.watcher.events():
            self._on_files(act)

    def _on_files(self, act: FileActivity) -> None:
        self.counters["file_batches"] += 1
        if Path(act.worktree) == self._hooks_root:
            self._on_hook_files(None if act.resync else act.paths)
            return
        name = self._by_worktree.get(str(act.worktree))
        if name is None:
            return
        f = self._facts[name]
        if act.resync:              # not activity: the watcher (re)started, so re-read git
            self._schedule_stats(f)
            return
        f.last_file_change_at = max(f.last_file_change_at or 0.0, act.at)
        self._schedule_stats(f)
        if f.agent.status.kind in (Kind.SILENT, Kind.STARTING):
            self._reassess(name)

    def _on_hook_files(self, paths) -> None:
        """A hook wrote an events file (paths=None: any may have): read what it appended and reassess its agent."""
        names = None if paths is None else {p.removesuffix(".1") for p in paths}
        for f in list(self._facts.values()):
            ev = f.hook_events
            if ev is not None and (names is None or ev.path.name in names) and self._poll_hooks(f):
                self._reassess(f.agent.name)

    def _poll_hooks(self, f: _Facts) -> bool:
        """Read the agent's new hook events (one stat when there are none); True if its hint changed."""
        ev = f.hook_events
        if ev is None:
            return False
        try:
            return ev.poll()
        except Exception:
            log.exception("reading hook events of %s failed", f.agent.name)
            return False

    def _schedule_stats(self, f: _Facts, delay: float | None = None) -> None:
        if f.stats_task is not None and not f.stats_task.done():
            f.stats_again = True
            return
        f.stats_task = asyncio.create_task(self._recompute_stats(f, self.stats_debounce if delay is None else delay))

    async def _recompute_stats(self, f: _Facts, delay: float) -> None:
        a = f.agent
        while True:
            await asyncio.sleep(delay)
            delay = self.stats_debounce
            f.stats_again = False
            if not a.worktree_exists or a.merged:
                if self._unsettled:
                    self._unsettled.discard(a.name)
                return
            first = not f.stats_done
            async with self._stats_slots:
                try:
                    s, newest = await asyncio.to_thread(self._stats, a.worktree, a.base, first)
                except Exception:
                    log.exception("stats failed for %s", a.name)
                    if self._unsettled:
                        self._unsettled.discard(a.name)
                    return
            self.counters["stats"] += 1
            f.stats_done = True
            now = self.clock()
            a.files, a.added, a.removed, a.dirty, a.commits = s.files, s.added, s.removed, s.dirty, s.commits
            if newest is not None:
                f.last_file_change_at = max(f.last_file_change_at or 0.0, newest)
            _apply_scope(f, now)
            # Sorted: the order triggers are raised in is the order the log shows them.
            for other in sorted(set(_apply_overlaps(self._facts, now)) | {a.name}):
                self._reassess(other)
            if self._unsettled:
                self._unsettled.discard(a.name)
            if not f.stats_again:
                return

    @staticmethod
    def _stats(worktree: str, base: str, with_mtime: bool):
        s = worktrees.stats(Path(worktree), base)
        # After a restart the newest changed file stands in for the last file event.
        return s, (_newest_mtime(worktree, s.files) if with_mtime else None)

    # -- time ------------------------------------------------------------------

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            now = self.clock()
            woken = self.book.wake(now)
            self._expire_hidden(now)
            if woken:
                self._queue(raised=woken, cleared=[])
                self._run_hooks(woken)
            for name in list(self._order):
                f = self._facts.get(name)
                if f is not None:
                    self._poll_hooks(f)     # in case a file event was missed: a stat per agent
                self._reassess(name, now)
            await self._resolve_exit_codes()

    async def _resolve_exit_codes(self) -> None:
        """tmux can mark a pane dead before it reaped the process: ask again for the exit code."""
        client = self._control
        if client is None:
            return
        for f in list(self._facts.values()):
            a = f.agent
            if a.pane and not a.pane_alive and a.exit_code is None and not a.merged \
                    and self.clock() - (f.exited_at or 0) < 30:
                try:
                    reply = await client.command("display-message", "-p", "-t", a.pane, "#{pane_dead_status}")
                except Exception:
                    continue
                code = reply[0].strip() if reply else ""
                if code.lstrip("-").isdigit():
                    a.exit_code = int(code)
                    self._reassess(a.name)

    # -- assessment and publishing ---------------------------------------------

    def _reassess(self, name: str, now: float | None = None) -> None:
        f = self._facts.get(name)
        if f is None:
            return
        now = self.clock() if now is None else now
        a = f.agent
        status = _status_of(f, now, self.settings)
        prev = self._prev_status.pop(name, None) if (f.captured or not a.pane_alive) else None
        if prev is not None and prev[0] == status.kind.value:
            # The same status the previous dashboard showed: it has lasted since then, not since our start.
            f.kind_since = prev[1]
            if status.kind == Kind.EXITED and a.pane is not None:
                f.exited_at = prev[1]
            status = _status_of(f, now, self.settings)
        elif status.kind != a.status.kind:
            f.kind_since = now if status.kind != Kind.SILENT else status.since
            status = _status_of(f, now, self.settings)
        else:
            status = replace(status, since=a.status.since)
        a.status = status
        a.last_activity_at = max(a.started_at, f.last_output_at or 0.0, f.last_file_change_at or 0.0)
        found = evaluate(_snapshot(f, status, now), now, self.settings)
        if self._carried:
            active = {t.kind for t in self.book.active(name)}
            found = [t if t.kind in active else _carry_since(t, self._carried.pop(t.key, None)) for t in found]
        raised, cleared = self.book.update(name, found, now)
        if self._pending_acks:
            raised = self._match_acks(name, raised)
        if cleared and any(t.key in self._acks for t in cleared):
            for t in cleared:
                self._acks.pop(t.key, None)
            self._save_hidden()
        a.triggers = self.book.visible(name, now)
        shown = (status.kind, status.why, a.files, a.added, a.removed, a.commits, a.dirty, a.pane_alive,
                 a.exit_code, tuple((t.kind, t.what, t.since) for t in a.triggers))
        if raised or cleared or shown != f.shown:
            f.shown = shown
            self._queue(raised, cleared)
            if raised:
                self._run_hooks(raised)

    def _settling(self) -> bool:
        return (self._unsettled is None or bool(self._unsettled)) and self.clock() < self._settle_deadline

    def _queue(self, raised: list[Trigger], cleared: list[Trigger]) -> None:
        settling = self._settling()
        for sub in self._subs:
            if settling:
                sub.found += raised
            else:
                sub.raised += raised
            sub.cleared += cleared
        self._publish()

    def _publish(self) -> None:
        if not self._ready.is_set():
            return
        self.counters["updates"] += 1
        for sub in self._subs:
            sub.event.set()
        self._status_dirty.set()

    # -- side outputs: coordination file and on_trigger --------------------------

    def _load_previous_status(self) -> None:
        """What the previous dashboard showed: its statuses and triggers carry on, and triggers it
        already announced do not run on_trigger again after a restart."""
        path, _ = status_file_paths(self.fleet)
        self._quiet_keys, self._prev_status, self._carried = set(), {}, {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            for a in data.get("agents", []):
                self._prev_status[a["name"]] = (str(a["status"]), float(a["since"]))
                for t in a.get("triggers", []):
                    key = (t["agent"], t["kind"])
                    self._quiet_keys.add(key)
                    self._carried[key] = float(t["since"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass

    # -- acknowledgements and snoozes that outlive a restart ------------------------

    @property
    def hidden_path(self) -> Path:
        """`<git-common-dir>/paneboard/triggers.json`: acknowledged and snoozed triggers."""
        return self.fleet.repo.state_dir / "triggers.json"

    def _load_hidden(self) -> None:
        now = self.clock()
        acks, snoozes = _read_hidden(self.hidden_path, now)
        self._pending_acks = dict(acks)
        for key, since in acks.items():
            self._carried.setdefault(key, since)
        for (agent, kind), until in snoozes.items():
            self.book.snooze(agent, kind, until - now, now)
            self._snoozes[(agent, kind)] = until

    def _match_acks(self, name: str, raised: list[Trigger]) -> list[Trigger]:
        """An acknowledgement made before the restart hides the same occurrence, not a new one."""
        active = {t.key: t for t in self.book.active(name)}
        matched = set()
        dropped = False
        for key in [k for k in self._pending_acks if k in active]:     # raised now, or active but snoozed
            since = self._pending_acks.pop(key)
            t = active[key]
            if abs(t.since - since) <= _SAME_SINCE:
                self.book.acknowledge(*key)
                self._acks[key] = t.since
                matched.add(key)
            else:
                dropped = True       # it ended and fired again while no dashboard ran
        if dropped:
            self._save_hidden()
        return [t for t in raised if t.key not in matched]

    def _expire_hidden(self, now: float) -> None:
        changed = False
        for key, until in list(self._snoozes.items()):
            if now >= until:
                del self._snoozes[key]
                changed = True
        if self._started and now - self._started >= _RESTART_GRACE and (self._pending_acks or self._carried):
            # Whatever the previous dashboard knew and has not shown up by now has ended meanwhile.
            self._carried.clear()
            self._prev_status.clear()
            changed = changed or bool(self._pending_acks)
            self._pending_acks.clear()
        if changed:
            self._save_hidden()

    def _forget_hidden(self, agent: str) -> None:
        before = len(self._acks) + len(self._snoozes) + len(self._pending_acks)
        for d in (self._acks, self._snoozes, self._pending_acks, self._carried):
            for key in [k for k in d if k[0] == agent]:
                del d[key]
        if len(self._acks) + len(self._snoozes) + len(self._pending_acks) != before:
            self._save_hidden()

    def _save_hidden(self) -> None:
        acks = {**self._pending_acks, **self._acks}
        try:
            _write_hidden(self.hidden_path, acks, self._snoozes)
        except OSError as exc:
            log.warning("cannot write %s: %s", self.hidden_path, exc)

    def _run_hooks(self, raised: list[Trigger]) -> None:
        argv = list(self.settings.on_trigger or ())
        for t in raised:
            if t.key in self._quiet_keys and self.clock() - self._started < 60:
                self._quiet_keys.discard(t.key)
                continue
            if not argv:
                continue
            task = asyncio.create_task(self._hook(argv, t))
            self._hooks.add(task)
            task.add_done_callback(self._hooks.discard)

    async def _hook(self, argv: list[str], t: Trigger, timeout: float = 30.0) -> None:
        env = {**os.environ, "PANEBOARD_TRIGGER_KIND": t.kind.value, "PANEBOARD_TRIGGER_AGENT": t.agent,
               "PANEBOARD_TRIGGER_WHAT": t.what, "PANEBOARD_TRIGGER_SINCE": f"{t.since:.3f}",
               "PANEBOARD_TRIGGER_EVIDENCE": t.evidence[:4000], "PANEBOARD_TRIGGER_LOUD": "1" if t.loud else "0",
               "PANEBOARD_REPO": str(self.fleet.repo.root)}
        async with self._hook_slots:
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

    async def _status_loop(self) -> None:
        if not self.write_status:
            return
        while True:
            await self._status_dirty.wait()
            await asyncio.sleep(0.25)          # coalesce bursts into one rewrite
            self._status_dirty.clear()
            doc = self.coordination()
            text = json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False)
            if text == self._status_text:
                continue
            self._status_text = text
            json_path, md_path = status_file_paths(self.fleet)
            try:
                await asyncio.to_thread(_write_status_files, json_path, md_path, text, _markdown(doc))
            except OSError as exc:
                log.warning("cannot write %s: %s", json_path, exc)

    def coordination(self) -> dict:
        """The coordination document: who does what, in which files, and what needs a human."""
        agents = []
        for a in self.agents():
            agents.append({
                "name": a.name, "task": a.task, "status": a.status.kind.value, "why": a.status.why,
                "since": round(a.status.since, 3), "branch": a.branch, "worktree": a.worktree,
                "scope": list(a.scope), "files": list(a.files),
                "triggers": [{"kind": t.kind.value, "agent": t.agent, "what": t.what, "since": round(t.since, 3),
                              "loud": t.loud} for t in self.book.active(a.name)],
            })
        return {"version": 1, "repo": str(self.fleet.repo.root), "agents": agents}


def _markdown(doc: dict) -> str:
    out = ["# paneboard: who does what", "", "| agent | status | why | files |", "|---|---|---|---|"]
    cell = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
    for a in doc["agents"]:
        files = ", ".join(a["files"][:8]) + (f" (+{len(a['files']) - 8})" if len(a["files"]) > 8 else "")
        out.append(f"| {cell(a['name'])} | {a['status']} | {cell(a['why'])[:120]} | {cell(files)} |")
    triggers = [t for a in doc["agents"] for t in a["triggers"]]
    if triggers:
        out += ["", "## Needs a human", ""]
        out += [f"- **{cell(t['agent'])}** {t['kind']}: {cell(t['what'])}" for t in triggers]
    return "\n".join(out) + "\n"


def _write_status_files(json_path: Path, md_path: Path, text: str, md: str) -> None:
    for path, content in ((json_path, text + "\n"), (md_path, md)):
        _write_atomic(path, content)


def _write_atomic(path: Path, content: str) -> None:
    """Readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
