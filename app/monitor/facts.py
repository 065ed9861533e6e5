"""What the monitor knows of one agent, and the pure functions from those facts to a status and triggers.

Nothing here talks to tmux, git or a clock: callers pass the screen, the files and `now`, so
every decision is testable with plain values (tests/core/test_hooks.py does).
"""

from __future__ import annotations

import codecs
import re
import shlex
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from .. import hooks
from ..limits import reset_time
from ..tmux import logs
from ..model import Agent, Kind, Status
from ..triggers import AgentSnapshot, ErrorCounter, duration, is_silent, out_of_scope, overlaps, \
    silence_threshold

LOG_TAIL = 64 * 1024
# Output this long after a hook event is the screen's news, not the redraw that came with the event.
HOOK_GRACE = 1.0


@dataclass
class Facts:
    """The live facts about one agent that tmux + git + the state file do not hold."""

    agent: Agent
    errors: ErrorCounter
    killed: bool = False               # stopped on purpose (kill, discard, merge, restore): no exit trigger
    stopped_why: str = ""
    last_output_at: float | None = None
    last_file_change_at: float | None = None
    reading: object | None = None
    read_once: bool = False            # some rule read its screen since it started (no longer starting)
    screen: str = ""
    captured: bool = False
    screen_output_at: float | None = None   # the newest output the current screen shows
    hook_events: hooks.EventsFile | None = None
    kind_since: float = 0.0
    exited_at: float | None = None
    limit: str | None = None
    limit_since: float | None = None
    limit_resets_at: float | None = None   # when the limit lifts, read from its words
    resume_at: float | None = None          # when the parking sends the continue message
    oos: list[str] = field(default_factory=list)
    oos_since: float | None = None
    overlaps: dict[str, list[str]] = field(default_factory=dict)
    overlap_since: float | None = None
    # output decoding
    decoder: object = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace"))
    partial: str = ""
    stats_done: bool = False           # the worktree's git state was read at least once
    generation: int = 0                # stats refreshes so far: the work a prediction saw may be older
    shown: tuple = ()
    handed: tuple = ()                 # what the monitor's copy of the agent holds (it copies again when this changes)
    seed_errors: bool = True           # the first screen may hold errors printed before the log pipe opened
    log_errors: dict = field(default_factory=dict)     # error signature -> lines counted from the log
    live_errors: dict = field(default_factory=dict)    # ... and from live output, until the screen seeded
    conflicts: tuple[str, ...] = ()    # files a merge into the base is predicted to conflict in
    conflict_since: float | None = None
    conflict_note: str = ""            # a remote agent predicted from an older fetch of its work: since when, why
    screen_shape: int | None = None    # the screen with digits and spinner/timer lines left out (progress_of)
    progress_at: float | None = None   # when that last changed: new transcript lines, not redraws
    due: float = 0.0                   # when time alone can next change its status or triggers (the tick judges it then)
    limit_over: str | None = None      # a limit notice still on screen that the agent worked past

    @classmethod
    def new(cls, agent: Agent, settings) -> "Facts":
        """Facts about an agent just found, with an error counter set up from the settings."""
        return cls(agent=agent, errors=ErrorCounter(settings.error_count, settings.error_window))


def classify(screen: str, rules: str):
    """The screen's reading under the agent's status rules (status.py loads only when first needed)."""
    from ..status import classify as _classify
    return _classify(screen, rules)


def clock(t: float) -> str:
    """A time of day as HH:MM:SS, for a why."""
    return time.strftime("%H:%M:%S", time.localtime(t))


def stopped_why(rec: dict | None) -> str:
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


def set_stopped(f: Facts, rec: dict | None) -> None:
    """Take what the agent's state record says about a stop on purpose or a merge."""
    f.stopped_why = stopped_why(rec)
    f.killed = bool(f.stopped_why)
    if rec and rec.get("merged"):
        f.agent.merged = True


def status_of(f: Facts, now: float, settings) -> Status:
    """The agent's status with its reason, from what tmux, the screen and the clock say (and a prompt that waits)."""
    return with_waiting_prompt(f.agent, _status_of(f, now, settings))


def with_waiting_prompt(a: Agent, status: Status) -> Status:
    """The status, its why saying so when the agent's task prompt waits (for its question to be answered) or never went."""
    waiting = a.prompt_waiting
    if not waiting or a.merged:
        return status
    if waiting != "prompt waiting":
        return replace(status, why=f"{status.why}; {waiting}")
    if status.kind == Kind.NEEDS_INPUT:
        asks = (status.evidence or status.why).strip().splitlines()
        return replace(status, why=f"prompt waiting: the agent asks {asks[-1].strip()[:160]!r}" if asks else
                       "prompt waiting: the agent asks a question")
    if status.kind in (Kind.STARTING, Kind.WORKING, Kind.IDLE):
        return replace(status, why=f"prompt waiting: delivered once the agent is ready ({status.why})")
    return status


def _status_of(f: Facts, now: float, settings) -> Status:
    a = f.agent
    since = f.kind_since or now
    if a.merged:
        return Status(Kind.EXITED, "merged", since=since)
    if a.unreachable:
        return Status(Kind.UNREACHABLE, a.unreachable, since=since)
    if a.worktree and not a.worktree_exists:
        return Status(Kind.MISSING, missing_why(a), since=since)
    if a.pane is None:
        why = f.stopped_why or "its tmux pane vanished"
        return Status(Kind.EXITED, why, since=f.exited_at or since)
    if not a.pane_alive:
        code = a.exit_code
        why = f"exit: process exited with code {code}" if code is not None else "exit: process exited"
        return Status(Kind.EXITED, why, evidence=last_lines(f.screen), since=f.exited_at or since)
    event = hook_hint(f)
    r = event or f.reading
    kind = getattr(r, "kind", None)
    if kind is None:
        if f.last_output_at is None and not f.screen.strip():
            kind, why, evidence = Kind.STARTING, f"started at {clock(a.started_at)}; no output yet", ""
        elif getattr(r, "blank", False) and not f.read_once:
            # A CLI drawing its first screen (opencode is blank for seconds): starting, not a stalled worker.
            kind, why, evidence = Kind.STARTING, f"started at {clock(a.started_at)}; its screen is still blank", \
                last_lines(f.screen)
        else:
            kind = Kind.WORKING
            why = "screen: " + (getattr(r, "why", "") or "printing output; no status rule matched its screen")
            evidence = getattr(r, "evidence", "") or last_lines(f.screen)
    else:
        why, evidence = getattr(r, "why", "") or kind.value, getattr(r, "evidence", "")
        if event is None:
            why = f"screen: {why}"      # an event's why names its event already
    # Silence is judged on the screen, never before the first capture: after a restart an idle
    # agent's last output is old, and without its screen it would pass for a stalled worker.
    if kind == Kind.WORKING and f.captured:
        snap = AgentSnapshot(a.name, status=kind, started_at=a.started_at, last_output_at=f.last_output_at,
                             last_file_change_at=f.last_file_change_at, silence=a.silence)
        if is_silent(snap, now, settings):
            last = snap.last_activity_at
            why = (f"no output and no file change since {clock(last)} "
                   f"(threshold {duration(silence_threshold(snap, settings))}); the screen said: {why}")
            return Status(Kind.SILENT, why, evidence=evidence, since=last)
    return Status(kind, why, evidence=evidence, since=since)


def missing_why(a: Agent) -> str:
    """Why an agent whose worktree went shows `missing`, and what to do (a.commits < 0: its branch is gone too)."""
    name = shlex.quote(a.name)
    gone = f"its worktree {a.worktree} is gone (removed outside paneboard)"
    if a.commits < 0:
        return f"{gone}, and its branch {a.branch} too: nothing is left to keep (drop it: paneboard kill --forget {name})"
    return (f"{gone}; its branch {a.branch} holds {a.commits} commit(s) not in {a.base or 'its base'}: "
            f"`paneboard restore {name}` brings the worktree back from it, `paneboard discard {name}` archives "
            f"and clears it")


def status_since(f: Facts, now: float, settings, previous) -> Status:
    """The status with the right `since`: carried from the previous dashboard, kept, or starting now.

    `previous(name)` gives the status the previous dashboard showed and since when (or None);
    it is asked only once the screen was read or the pane is dead.
    """
    a = f.agent
    status = status_of(f, now, settings)
    prev = previous(a.name) if (f.captured or not a.pane_alive) else None
    if prev is not None and prev[0] == status.kind.value:
        # The same status the previous dashboard showed: it has lasted since then, not since our start.
        f.kind_since = prev[1]
        if status.kind == Kind.EXITED and a.pane is not None:
            f.exited_at = prev[1]
        return status_of(f, now, settings)
    if status.kind != a.status.kind:
        f.kind_since = now if status.kind != Kind.SILENT else status.since
        return status_of(f, now, settings)
    return replace(status, since=a.status.since)


def hook_hint(f: Facts) -> hooks.Hint | None:
    """The hook event that decides a live agent's status, or None when its screen decides.

    Precedence, highest first:
    1. the process exited or its pane went: exited (decided before this is asked);
    2. no event that implies a status since this run started: the screen;
    3. the screen reads exited (a resume hint, a shell prompt): the screen;
    4. the screen shows output newer than the event by more than HOOK_GRACE, and one of its rules
       reads another status: the screen, it has news (a question answered in the pane, a turn
       the user interrupted, a spinner after a Stop);
    5. a working event and a screen that reads an error from output after it: the screen, at once (a
       failed turn: Codex 0.171 sends no event when a turn ends on a quota, a 429 it gave up on or a
       model error, and its notice is drawn within the grace);
    6. an event that says only "waiting" (aider's notification) and a screen that a rule reads: the
       screen, which tells an idle prompt from a question;
    7. otherwise the event, with "event <Event>: <message>" as why and the event line as evidence.

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
    if kind == Kind.ERROR and h.kind == Kind.WORKING and (f.screen_output_at or 0.0) > h.at:
        return None
    if kind is not None and h.event in hooks.WEAK:
        return None
    return h


def last_lines(screen: str, n: int = 3) -> str:
    """The last n non-blank lines of a screen, as evidence."""
    lines = [ln for ln in screen.rstrip().splitlines() if ln.strip()]
    return "\n".join(lines[-n:])


def snapshot(f: Facts, status: Status, now: float) -> AgentSnapshot:
    """The facts as the trigger rules read them (a limit the agent worked past is over by now)."""
    a = f.agent
    limit_worked_past(f)
    return AgentSnapshot(
        name=a.name, status=status.kind, status_why=status.why, status_evidence=status.evidence,
        status_since=status.since, started_at=a.started_at, last_output_at=f.last_output_at,
        last_file_change_at=f.last_file_change_at, silence=a.silence, pane_alive=a.pane_alive,
        pane_gone=a.pane is None, exit_code=a.exit_code, exited_at=f.exited_at, killed=f.killed,
        merged=a.merged, errors=f.errors.repeated(now), limit=f.limit, limit_since=f.limit_since,
        limit_resets_at=f.limit_resets_at, limit_resume_at=f.resume_at,
        scope=a.scope, out_of_scope=f.oos, out_of_scope_since=f.oos_since, overlaps=f.overlaps,
        overlap_since=f.overlap_since, base=a.base, conflicts=f.conflicts, conflict_since=f.conflict_since,
        conflict_note=f.conflict_note,
        progress_at=f.progress_at)


def restore_from_log(f: Facts, path: Path) -> None:
    """After a restart: the last output time and recent errors come back from the pane's log."""
    mtime = logs.last_write(path)
    if mtime is not None:
        restore_from_text(f, mtime, logs.tail(path, LOG_TAIL))


def restore_from_text(f: Facts, mtime: float, text: str) -> None:
    """The last output time and recent errors from a log's recent text, last written at mtime."""
    f.last_output_at = max(f.last_output_at or 0.0, mtime)
    # The log has no timestamps: its lines count as written when the log was last written.
    for line in text.splitlines():
        if line.strip():
            sig = f.errors.feed(line, mtime)
            if sig is not None:
                f.log_errors[sig] = f.log_errors.get(sig, 0) + 1


def seed_errors_from_screen(f: Facts, at: float, screen: str | None = None) -> None:
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


# A spinner or timer line redraws without news ("✻ Pondering… (12s · esc to interrupt)", "⠏ … (esc to cancel, 8m 12s)").
_REDRAW_LINE = re.compile(r"esc to (?:interrupt|cancel)|^\W{0,3}[·✢✳✶✻✽*⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏⣾⣽⣻⢿⡿⣟⣯⣷◐◓◑◒]\s")
_NUMBERS = re.compile(r"\d+")


def screen_shape(screen: str) -> int:
    """The screen as progress sees it: spinner and timer lines left out, numbers blanked."""
    return hash("\n".join(_NUMBERS.sub("#", line) for line in screen.splitlines() if not _REDRAW_LINE.search(line)))


def note_progress(f: Facts, screen: str, now: float) -> None:
    """A captured screen is progress when it differs from the last by more than spinner and timer redraws."""
    shape = screen_shape(screen)
    if shape != f.screen_shape:
        f.screen_shape, f.progress_at = shape, now


_TIMER = re.compile(r"(?:(\d+)h ?)?(?:(\d+)m ?)?(\d+)s\b")


def spinner_elapsed(screen: str) -> float | None:
    """The seconds the CLI's own spinner line says its current wait has lasted ("(8m 12s · esc to …)"), if it shows one."""
    for line in reversed(screen.splitlines()):
        if line.strip() and _REDRAW_LINE.search(line):
            m = _TIMER.search(line)
            return (int(m.group(1) or 0) * 3600 + int(m.group(2) or 0) * 60 + int(m.group(3))) if m else None
    return None


def limit_worked_past(f: Facts) -> bool:
    """The agent works again after its limit notice (a working event since, or new output the screen reads as
    working): the notice is over while it stays on screen; True if that cleared the limit now."""
    if not f.limit or f.limit_since is None:
        return False
    ev = f.hook_events.hint if f.hook_events is not None else None
    by_event = ev is not None and ev.kind == Kind.WORKING and ev.at > f.limit_since
    by_screen = getattr(f.reading, "kind", None) == Kind.WORKING and (f.progress_at or 0.0) > f.limit_since
    if not (by_event or by_screen):
        return False
    f.limit_over, f.limit, f.limit_since, f.limit_resets_at = f.limit, None, None, None
    return True


def apply_reading(f: Facts, reading, now: float) -> None:
    """Take a new reading of the screen, when a limit notice on it began, and when that limit lifts."""
    f.reading = reading
    f.read_once = f.read_once or getattr(reading, "kind", None) is not None
    limit = getattr(reading, "limit", None) or None
    if limit is not None and limit == f.limit_over:
        limit = None            # the agent worked past this notice; a new one raises the limit again
    elif limit is None:
        f.limit_over = None
    if limit and not f.limit:
        f.limit_since = now
    if limit != f.limit:
        # "try again in 2 hours" counts from when it was printed: the output the screen shows.
        f.limit_resets_at = reset_time(limit, min(now, f.screen_output_at or now)) if limit else None
    f.limit = limit
    if not limit:
        f.limit_since = None


def apply_stats(f: Facts, s, newest: float | None) -> None:
    """Take the worktree's git stats (and the newest changed file's time, standing in for a file event)."""
    a = f.agent
    a.files, a.added, a.removed, a.dirty, a.commits = s.files, s.added, s.removed, s.dirty, s.commits
    if newest is not None:
        f.last_file_change_at = max(f.last_file_change_at or 0.0, newest)


def apply_scope(f: Facts, now: float) -> None:
    """Which changed files lie outside the agent's scope, and since when some do."""
    oos = out_of_scope(f.agent.files, f.agent.scope)
    if oos and not f.oos:
        f.oos_since = now
    elif not oos:
        f.oos_since = None
    f.oos = oos


def apply_overlaps(facts: dict[str, Facts], now: float) -> list[str]:
    """Recompute who shares files with whom; returns the agents whose overlap changed."""
    files = {n: set(f.agent.files) for n, f in facts.items()
             if f.agent.files and not f.agent.merged and f.agent.worktree_exists}
    # A best-of-N candidate is named after its task ("parser-2" of "parser"); its task is not its name.
    candidates = {n: f.agent.task for n, f in facts.items() if n in files and f.agent.task != n}
    result = overlaps(files, candidates)
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


def apply_conflicts(f: Facts, files: tuple[str, ...], now: float, note: str = "") -> bool:
    """Take the files a merge into the base is predicted to conflict in, and since when some are (with a note when
    they come from an older fetch of a remote agent's work); True if they changed."""
    files = tuple(files)
    if files == f.conflicts and note == f.conflict_note:
        return False
    f.conflict_note = note
    if files == f.conflicts:
        return True
    f.conflict_since = (f.conflict_since or now) if files and f.conflicts else (now if files else None)
    f.conflicts = files
    return True
