"""Pure rules: an agent's live facts -> the triggers that should pull the human in.

Nothing here does I/O or reads a clock: callers pass `now`, so every rule is testable
with plain values. `TriggerBook` remembers what is active, acknowledged or snoozed and
reports what was raised and cleared between two evaluations.
"""

from __future__ import annotations

import math
import re
import time
from collections import deque
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Callable, Iterable

from .model import Kind, Trigger, TriggerKind

# A dead pane's exit code can lag its death by up to ~2.5 s (tmux reaps on a timer).
EXIT_CODE_GRACE = 3.0

# -- scope globs -------------------------------------------------------------


def _normalise(path: str) -> str:
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


@lru_cache(maxsize=1024)
def _compile(glob: str) -> re.Pattern[str] | None:
    """A gitignore-like glob as a regex over a worktree-relative path (None for an empty glob)."""
    g = glob.strip().replace("\\", "/")
    if not g:
        return None
    dir_only = g.endswith("/")
    g = g.rstrip("/")
    while g.startswith("./"):
        g = g[2:]
    anchored = "/" in g
    g = g.lstrip("/")
    if not g:
        return re.compile(r".*")          # "/" alone: everything
    out: list[str] = []
    i = 0
    while i < len(g):
        c = g[i]
        if g.startswith("**/", i):
            out.append(r"(?:.*/)?")
            i += 3
        elif g.startswith("/**", i) and i + 3 == len(g):
            out.append(r"/.*")
            i += 3
        elif g.startswith("**", i):
            out.append(r".*")
            i += 2
        elif c == "*":
            out.append(r"[^/]*")
            i += 1
        elif c == "?":
            out.append(r"[^/]")
            i += 1
        elif c == "[":
            end = g.find("]", i + 2)
            if end == -1:
                out.append(re.escape(c))
                i += 1
            else:
                body = g[i + 1:end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    body = "".join(out)
    prefix = "" if anchored else r"(?:.*/)?"
    # A pattern naming a directory covers everything below it; "docs/" only matches a directory.
    suffix = r"/.*" if dir_only else r"(?:/.*)?"
    return re.compile(prefix + body + suffix, re.DOTALL)


def in_scope(path: str, scope_globs: Iterable[str]) -> bool:
    """True if the worktree-relative path matches the scope globs (later `!glob` entries exclude)."""
    p = _normalise(path)
    allowed = False
    for glob in scope_globs:
        negate = glob.startswith("!")
        rx = _compile(glob[1:] if negate else glob)
        if rx is not None and rx.fullmatch(p):
            allowed = not negate
    return allowed


def out_of_scope(files: Iterable[str], scope: Iterable[str]) -> list[str]:
    """The files outside the scope, sorted; an empty scope allows everything."""
    scope = tuple(scope)
    if not scope:
        return []
    return sorted(f for f in set(files) if not in_scope(f, scope))


def overlaps(files_by_agent: dict[str, set[str]],
             candidates_of: dict[str, str] | None = None) -> dict[str, dict[str, list[str]]]:
    """For each agent touching a file another agent also touches: other agent -> shared paths.

    `candidates_of` names the task of each best-of-N candidate: candidates of one task are meant
    to touch the same files, so they never overlap each other (they do overlap everyone else).
    """
    group = candidates_of or {}
    owners: dict[str, list[str]] = {}
    for agent, files in files_by_agent.items():
        for f in files:
            owners.setdefault(f, []).append(agent)
    result: dict[str, dict[str, list[str]]] = {}
    for path, agents in owners.items():
        if len(agents) < 2:
            continue
        for a in agents:
            for b in agents:
                if a != b and (group.get(a) is None or group.get(a) != group.get(b)):
                    result.setdefault(a, {}).setdefault(b, []).append(path)
    for others in result.values():
        for paths in others.values():
            paths.sort()
    return result


# -- repeated errors ---------------------------------------------------------


def _default_signature(line: str) -> str | None:
    from .status import error_signature
    return error_signature(line)


class ErrorCounter:
    """Counts error lines by normalised signature over a sliding time window."""

    def __init__(self, count: int = 3, window: float = 300.0,
                 signature: Callable[[str], str | None] | None = None, max_signatures: int = 256):
        self.count = count
        self.window = window
        self._signature = signature or _default_signature
        self._seen: dict[str, deque[float]] = {}
        self._example: dict[str, str] = {}
        self._max = max_signatures

    def signature(self, line: str) -> str | None:
        """The normalised signature of an error line, or None if it is not an error."""
        return self._signature(line)

    def feed(self, line: str, at: float) -> str | None:
        """Record one output line seen at `at`; returns its signature if it is an error."""
        sig = self._signature(line)
        if sig is None:
            return None
        times = self._seen.get(sig)
        if times is None:
            if len(self._seen) >= self._max:
                self._forget_oldest()
            times = self._seen[sig] = deque()
        times.append(at)
        self._example[sig] = line.strip()[:500]
        while len(times) > max(self.count, 1) * 4:
            times.popleft()
        return sig

    def feed_lines(self, lines: Iterable[str], at: float) -> None:
        for line in lines:
            self.feed(line, at)

    def _forget_oldest(self) -> None:
        oldest = min(self._seen, key=lambda s: self._seen[s][-1] if self._seen[s] else 0.0)
        self._seen.pop(oldest, None)
        self._example.pop(oldest, None)

    def repeated(self, now: float) -> tuple[str, int, float, str] | None:
        """(signature, count, first_seen, example) of the most repeated error in the window, if >= count."""
        best = None
        for sig, times in list(self._seen.items()):
            while times and times[0] < now - self.window:
                times.popleft()
            if not times:
                del self._seen[sig]
                self._example.pop(sig, None)
                continue
            n = len(times)
            if n >= self.count and (best is None or n > best[1] or (n == best[1] and times[0] < best[2])):
                best = (sig, n, times[0], self._example.get(sig, sig))
        return best

    def next_expiry(self, now: float) -> float | None:
        """When the current repeated-error finding could change by time alone (or None)."""
        rep = self.repeated(now)
        if rep is None:
            return None
        times = self._seen[rep[0]]
        # The count drops below the threshold once enough of the oldest entries leave the window.
        return times[len(times) - self.count] + self.window

    def clear(self) -> None:
        self._seen.clear()
        self._example.clear()


# -- evaluation --------------------------------------------------------------


@dataclass
class AgentSnapshot:
    """What is known about one agent right now, as plain values (the input to `evaluate`)."""

    name: str
    status: Kind = Kind.STARTING
    status_why: str = ""
    status_evidence: str = ""
    status_since: float = 0.0
    started_at: float = 0.0
    last_output_at: float | None = None
    last_file_change_at: float | None = None
    silence: float | None = None          # the task's threshold; None = settings.silence
    pane_alive: bool = True
    pane_gone: bool = False
    exit_code: int | None = None
    exited_at: float | None = None
    killed: bool = False                  # stopped on purpose by the user: no exit trigger
    merged: bool = False
    errors: tuple[str, int, float, str] | None = None   # ErrorCounter.repeated(now)
    limit: str | None = None
    limit_since: float | None = None
    limit_resets_at: float | None = None
    limit_resume_at: float | None = None
    scope: tuple[str, ...] = ()
    out_of_scope: list[str] = field(default_factory=list)
    out_of_scope_since: float | None = None
    overlaps: dict[str, list[str]] = field(default_factory=dict)
    overlap_since: float | None = None
    base: str = ""
    conflicts: tuple[str, ...] = ()       # files a merge into the base is predicted to conflict in
    conflict_since: float | None = None
    conflict_note: str = ""               # predicted from an older fetch of a remote agent's work: why
    progress_at: float | None = None      # the screen last changed by more than spinner and timer redraws

    @property
    def last_activity_at(self) -> float:
        """The latest sign of life: output, a file change, or the start."""
        return max(self.started_at, self.last_output_at or 0.0, self.last_file_change_at or 0.0)


def silence_threshold(snapshot: AgentSnapshot, settings) -> float:
    return float(snapshot.silence or getattr(settings, "silence", 600.0) or 600.0)


def duration(seconds: float) -> str:
    """A short human duration: 45s, 3m 20s, 2h 5m."""
    s = int(max(0, round(seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60}s" if s % 60 else f"{s // 60}m"
    return f"{s // 3600}h {(s % 3600) // 60}m" if (s % 3600) // 60 else f"{s // 3600}h"


def _clock(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t))


def _until(s: AgentSnapshot, now: float) -> str:
    """" until 01:00" (and when it resumes) for a limit whose reset is known; "" otherwise."""
    if s.limit_resets_at is None:
        return ""
    from .limits import until_text
    resume = f"; resumes at {_clock(s.limit_resume_at)}" if s.limit_resume_at is not None else ""
    return f" until {until_text(s.limit_resets_at, now)}{resume}"


def _listing(paths: list[str], limit: int = 5) -> str:
    shown = ", ".join(paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def is_silent(snapshot: AgentSnapshot, now: float, settings) -> bool:
    """True when a working or starting agent showed no output and no file change for its threshold."""
    if snapshot.status not in (Kind.WORKING, Kind.STARTING, Kind.SILENT):
        return False
    if not snapshot.pane_alive or snapshot.pane_gone:
        return False
    return now - snapshot.last_activity_at >= silence_threshold(snapshot, settings)


def _exit_trigger(s: AgentSnapshot, now: float) -> Trigger | None:
    """The trigger for a pane that died or vanished without paneboard stopping it (None: not yet, or none)."""
    since = s.exited_at or s.status_since or now
    if s.pane_gone:
        return Trigger(TriggerKind.EXITED, s.name, "its tmux pane vanished", since, evidence=s.status_evidence)
    if s.exit_code is None and now - since < EXIT_CODE_GRACE:
        return None    # tmux marks a pane dead before it reaps the process: wait for the code, not a false alarm
    if s.exit_code is None:
        return Trigger(TriggerKind.EXITED, s.name, "exited (exit code not known: killed by a signal?)",
                       since, evidence=s.status_evidence, loud=True)
    what = "finished (exit code 0)" if s.exit_code == 0 else f"crashed with exit code {s.exit_code}"
    return Trigger(TriggerKind.EXITED, s.name, what, since, evidence=s.status_evidence, loud=s.exit_code != 0)


def quiet_retry(s: AgentSnapshot, now: float, settings) -> Trigger | None:
    """A working agent whose screen only redraws its spinner and timer, with no file change, past `quiet_retry`."""
    if s.status != Kind.WORKING or s.progress_at is None or s.last_output_at is None:
        return None
    progress = max(s.progress_at, s.last_file_change_at or 0.0, s.started_at)
    threshold = float(getattr(settings, "quiet_retry", 120.0) or 120.0)
    if now - progress < threshold or s.last_output_at <= progress:
        return None     # progress lately, or no redraw since it either (silence tells that one)
    return Trigger(TriggerKind.RETRYING, s.name,
                   f"no progress for {duration(now - progress)}: only its spinner/timer redraws "
                   f"(a quiet retry loop? over its {duration(threshold)} threshold)",
                   progress, evidence=s.status_evidence or s.status_why)


def time_due(s: AgentSnapshot, now: float, settings, errors_expire: float | None = None) -> float:
    """When time alone can next change what `evaluate` and the status say of this agent (inf: only an event can).

    Silence and quiet retrying begin at a threshold; a retrying trigger's "no progress for 3m" and a
    limit's "until" count on every second; a dead pane waits EXIT_CODE_GRACE for its code; a repeated
    error leaves its window (`errors_expire`). Everything else changes only with an event.
    """
    due = math.inf if errors_expire is None else errors_expire
    if s.limit_resets_at is not None:
        return now
    if s.status in (Kind.WORKING, Kind.STARTING) and s.pane_alive and not s.pane_gone:
        due = min(due, s.last_activity_at + silence_threshold(s, settings))
        if s.status == Kind.WORKING and s.progress_at is not None and s.last_output_at is not None:
            progress = max(s.progress_at, s.last_file_change_at or 0.0, s.started_at)
            threshold = float(getattr(settings, "quiet_retry", 120.0) or 120.0)
            due = min(due, max(progress + threshold, now))
    if not s.pane_alive and not s.pane_gone and s.exit_code is None:
        due = min(due, (s.exited_at or s.status_since or now) + EXIT_CODE_GRACE)
    return due


def _live_triggers(s: AgentSnapshot, now: float, settings) -> list[Trigger]:
    """A running agent's question, silence and quiet retrying."""
    out: list[Trigger] = []
    if s.status == Kind.NEEDS_INPUT:
        what = f"is waiting for an answer: {s.status_why}" if s.status_why else "is waiting for an answer"
        out.append(Trigger(TriggerKind.NEEDS_INPUT, s.name, what, s.status_since or now, evidence=s.status_evidence))
    if is_silent(s, now, settings):
        threshold = silence_threshold(s, settings)
        last = s.last_activity_at
        out.append(Trigger(TriggerKind.SILENCE, s.name,
                           f"no output and no file change since {_clock(last)} "
                           f"(over its {duration(threshold)} silence threshold)",
                           last, evidence=s.status_evidence or s.status_why))
    elif (retrying := quiet_retry(s, now, settings)) is not None:
        out.append(retrying)
    return out


def _work_triggers(s: AgentSnapshot, now: float) -> list[Trigger]:
    """Limits, repeated errors, files changed outside the scope or shared with other agents, a predicted conflict."""
    out: list[Trigger] = []
    name = s.name
    if s.limit:
        out.append(Trigger(TriggerKind.LIMIT, name, f"hit a usage limit{_until(s, now)}: {s.limit}",
                           s.limit_since or now, evidence=s.limit))
    if s.errors is not None:
        sig, count, first, example = s.errors
        out.append(Trigger(TriggerKind.REPEATED_ERRORS, name,
                           f"the same error {count} times since {_clock(first)}: {sig}",
                           first, evidence=example))
    if s.out_of_scope:
        n = len(s.out_of_scope)
        out.append(Trigger(TriggerKind.OUT_OF_SCOPE, name,
                           f"changed {n} file{'s' if n != 1 else ''} outside its scope "
                           f"({', '.join(s.scope)}): {_listing(s.out_of_scope)}",
                           s.out_of_scope_since or now, evidence="\n".join(s.out_of_scope)))
    if s.overlaps:
        parts = [f"{other} ({_listing(paths, 3)})" for other, paths in sorted(s.overlaps.items())]
        evidence = "\n".join(f"{p}\t{other}" for other, paths in sorted(s.overlaps.items()) for p in paths)
        out.append(Trigger(TriggerKind.OVERLAP, name,
                           f"edits the same files as {'; '.join(parts)}",
                           s.overlap_since or now, evidence=evidence))
    if s.conflicts:
        out.append(Trigger(TriggerKind.CONFLICT, name,
                           f"would conflict with {s.base or 'its base'} in {_listing(list(s.conflicts))}"
                           + (f" ({s.conflict_note})" if s.conflict_note else ""),
                           s.conflict_since or now, evidence="\n".join(s.conflicts)))
    return out


def evaluate(snapshot: AgentSnapshot, now: float, settings) -> list[Trigger]:
    """Every trigger the snapshot's facts call for, each with what happened, since when, and evidence."""
    s = snapshot
    if s.merged:
        return []
    out: list[Trigger] = []
    gone = s.pane_gone or not s.pane_alive
    if s.status == Kind.UNREACHABLE:
        # Nothing is known of the agent while its host is away: only that, never an exit or lost work.
        return [Trigger(TriggerKind.UNREACHABLE, s.name, s.status_why, s.status_since or now, loud=True)]
    if s.status == Kind.MISSING:
        # Work at risk outside paneboard's reach: that is the news, whatever the pane does.
        out.append(Trigger(TriggerKind.MISSING, s.name, s.status_why, s.status_since or now, loud=True))
        exited = _exit_trigger(s, now) if gone and not s.killed else None
        return out + ([exited] if exited else [])
    if gone and not s.killed:
        exited = _exit_trigger(s, now)
        if exited is not None:
            out.append(exited)
    if not gone:
        out += _live_triggers(s, now, settings)
    return out + _work_triggers(s, now)


# -- the book of active triggers ----------------------------------------------


class TriggerBook:
    """Active triggers by (agent, kind), with acknowledgements and snoozes.

    An acknowledged trigger stays hidden until its condition ends and it fires again;
    a snoozed one stays hidden until its time is up (then it is raised again if still active).
    """

    def __init__(self) -> None:
        self._active: dict[tuple[str, str], Trigger] = {}
        self._acked: set[tuple[str, str]] = set()
        self._snoozed: dict[tuple[str, str], float] = {}

    def update(self, agent: str, triggers: Iterable[Trigger], now: float) -> tuple[list[Trigger], list[Trigger]]:
        """Replace the agent's triggers with this evaluation; returns (raised, cleared).

        A continuing trigger keeps its first `since`, and its words follow the newest facts.
        """
        new = {t.key: t for t in triggers if t.agent == agent}
        raised: list[Trigger] = []
        cleared: list[Trigger] = []
        for key in [k for k in self._active if k[0] == agent and k not in new]:
            cleared.append(self._active.pop(key))
            self._acked.discard(key)
        for key, t in new.items():
            old = self._active.get(key)
            if old is None:
                self._active[key] = t
                if not self._is_snoozed(key, now):
                    raised.append(t)
            else:
                self._active[key] = replace(t, since=min(old.since, t.since))
        return raised, cleared

    def forget(self, agent: str) -> list[Trigger]:
        """Drop every trigger of an agent that is gone; returns them as cleared."""
        cleared = [self._active.pop(k) for k in [k for k in self._active if k[0] == agent]]
        self._acked = {k for k in self._acked if k[0] != agent}
        self._snoozed = {k: v for k, v in self._snoozed.items() if k[0] != agent}
        return cleared

    def _is_snoozed(self, key: tuple[str, str], now: float) -> bool:
        until = self._snoozed.get(key)
        return until is not None and now < until

    def acknowledge(self, agent: str, kind: str) -> bool:
        """Hide the active trigger until it clears and fires again; False if none is active."""
        key = (agent, str(kind))
        if key not in self._active:
            return False
        self._acked.add(key)
        return True

    def snooze(self, agent: str, kind: str, seconds: float, now: float) -> None:
        """Hide the trigger (active or not) until now + seconds."""
        self._snoozed[(agent, str(kind))] = now + seconds

    def wake(self, now: float) -> list[Trigger]:
        """End the snoozes whose time is up; active triggers among them are raised again."""
        raised = []
        for key, until in list(self._snoozed.items()):
            if now >= until:
                del self._snoozed[key]
                t = self._active.get(key)
                if t is not None and key not in self._acked:
                    raised.append(t)
        return raised

    def next_wake(self) -> float | None:
        return min(self._snoozed.values(), default=None)

    def active(self, agent: str | None = None) -> list[Trigger]:
        """Every active trigger (hidden ones too), optionally of one agent (then in the order kinds are listed)."""
        return _in_order([t for k, t in self._active.items() if agent is None or k[0] == agent], agent)

    def visible(self, agent: str | None = None, now: float | None = None) -> list[Trigger]:
        """Active triggers that are neither acknowledged nor snoozed."""
        now = time.time() if now is None else now
        return _in_order([t for k, t in self._active.items()
                          if (agent is None or k[0] == agent) and k not in self._acked and not self._is_snoozed(k, now)],
                         agent)

    def is_hidden(self, agent: str, kind: str, now: float) -> bool:
        key = (agent, str(kind))
        return key in self._acked or self._is_snoozed(key, now)


_KIND_ORDER = {kind: i for i, kind in enumerate(TriggerKind)}


def _in_order(triggers: list[Trigger], agent: str | None) -> list[Trigger]:
    # One agent's triggers show in a fixed order, not the order their conditions happened to be found.
    return sorted(triggers, key=lambda t: _KIND_ORDER[t.kind]) if agent is not None else triggers
