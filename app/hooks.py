"""Claude Code hooks: an exact status source, preferred over reading the screen.

At spawn paneboard writes a settings file per agent (`<git-common-dir>/paneboard/hooks/<slug>.settings.json`)
and starts Claude with `--settings FILE`, so nothing lands in the worktree. Its hooks run

    '<python>' -I -S '<paneboard>/app/hooks.py' record '<git-common-dir>/paneboard/hooks/<slug>.jsonl'

through Claude's shell: every part shlex-quoted, nothing from the task file in it (the file names
the agent). `record` appends one compact JSON line per event (O_APPEND, one write, rotated at
MAX_BYTES) and always exits 0 without printing: some events add a hook's stdout to Claude's context.
`python -m app.hooks record FILE` does the same.

Reading: `hint(event)` maps the latest event to a status (`Hint`); events that say nothing about
the status (SessionEnd, Notification auth_success…) are skipped. The monitor decides what wins
(see `app.monitor.facts.hook_hint`). Every event carries Claude's `session_id` (SessionStart
first): the newest one is the conversation `paneboard restart` resumes (`last_session_id`).

Stdlib only at module level: `record` runs once per hook event and must start in milliseconds.
Measured on Claude Code 2.1.197 offline: SessionStart fires once the folder is trusted,
UserPromptSubmit on a prompt (also one given as an argument), StopFailure when the API call fails.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

# The events Claude Code 2.1 offers that move an agent's status (checked in its binary).
EVENTS = ("SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PostToolUseFailure",
          "PermissionRequest", "Notification", "Stop", "StopFailure", "SubagentStop", "PreCompact", "SessionEnd")
# Fields kept from a hook's input; the rest (tool_input, the prompt, transcript paths) stays out.
_KEEP = ("session_id", "message", "title", "notification_type", "tool_name", "error", "source", "reason",
         "last_assistant_message", "agent_type", "trigger")
_FIELD_MAX = 400
MAX_BYTES = 256 * 1024       # per events file; one older file is kept (FILE.1)
HOOK_TIMEOUT = 10            # seconds Claude waits for one hook


def hooks_dir(common_dir: Path) -> Path:
    """`<git-common-dir>/paneboard/hooks`."""
    return Path(common_dir) / "paneboard" / "hooks"


def _slug(agent_name: str) -> str:
    from .names import slugify
    return slugify(agent_name)


def events_path(common_dir: Path, agent_name: str) -> Path:
    """The hook events of one agent: `<git-common-dir>/paneboard/hooks/<agent-slug>.jsonl`."""
    return hooks_dir(common_dir) / f"{_slug(agent_name)}.jsonl"


def settings_path(common_dir: Path, agent_name: str) -> Path:
    """The Claude settings file paneboard passes with `--settings`."""
    return hooks_dir(common_dir) / f"{_slug(agent_name)}.settings.json"


def hook_command(events_file: Path) -> str:
    """The shell command Claude runs for every hook: python, this file and the events file, each quoted."""
    import shlex
    # -I -S: no site-packages, no PYTHON* variables; the recorder needs the stdlib only.
    return shlex.join([sys.executable, "-I", "-S", str(Path(__file__).resolve()), "record", str(events_file)])


def settings(events_file: Path) -> dict:
    """Claude Code settings that record every status-moving hook event into events_file."""
    # No "matcher": a group without one runs for every tool, notification type and session source.
    entry = {"type": "command", "command": hook_command(events_file), "timeout": HOOK_TIMEOUT}
    return {"hooks": {event: [{"hooks": [dict(entry)]}] for event in EVENTS}}


def install(common_dir: Path, agent_name: str) -> Path:
    """Write the agent's settings file and start a fresh events file; return the settings file."""
    events = events_path(common_dir, agent_name)
    path = settings_path(common_dir, agent_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in (events, _older(events)):
        try:
            os.unlink(old)
        except FileNotFoundError:
            pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(settings(events), indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


# -- recording (runs inside Claude's hook; must be fast and never fail) -------------------


def _older(path: Path) -> Path:
    return path.with_name(path.name + ".1")


def compact(data: dict, at: float) -> dict:
    """The line recorded for one hook input: time, event name and the few fields that tell the status."""
    line: dict = {"at": round(at, 3), "event": str(data.get("hook_event_name") or "?")}
    for key in _KEEP:
        value = data.get(key)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool) and value != "":
            value = str(value)
            line[key] = value if len(value) <= _FIELD_MAX else value[:_FIELD_MAX - 1] + "…"
    return line


def record(path: Path, data: dict, at: float | None = None, max_bytes: int = MAX_BYTES) -> None:
    """Append one event line (a single O_APPEND write); past max_bytes the file moves to FILE.1 first."""
    text = json.dumps(compact(data, time.time() if at is None else at), ensure_ascii=False,
                      separators=(",", ":")) + "\n"
    path = Path(path)
    try:
        if os.stat(path).st_size > max_bytes:
            os.replace(path, _older(path))
    except FileNotFoundError:
        pass
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


def main(argv: list[str] | None = None) -> int:
    """`record FILE`: one hook input on stdin -> one line in FILE. Exit code 0 whatever happens."""
    try:
        args = sys.argv[1:] if argv is None else argv
        if len(args) != 2 or args[0] != "record":
            return 0
        raw = sys.stdin.buffer.read()
        data = json.loads(raw.decode("utf-8", "replace") or "{}")
        if isinstance(data, dict):
            record(Path(args[1]), data)
    except BaseException:       # a broken hook must never disturb the agent
        pass
    return 0


# -- reading -------------------------------------------------------------------------------


class Hint:
    """What a hook event says about the status: kind, why ("hook Stop: …"), when, and the event line."""

    __slots__ = ("kind", "why", "at", "event", "evidence")

    def __init__(self, kind, why: str, at: float, event: str, evidence: str):
        self.kind, self.why, self.at, self.event, self.evidence = kind, why, at, event, evidence

    def _key(self) -> tuple:
        return (self.kind, self.why, self.at, self.event, self.evidence)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Hint) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Hint({self.kind!s}, {self.why!r}, at={self.at})"


_NEEDS_INPUT_TYPES = {"permission_prompt", "elicitation_dialog"}
_WORKING = {"UserPromptSubmit", "PreToolUse", "PostToolUse", "PostToolUseFailure", "SubagentStop", "PreCompact"}


def hint(event: dict) -> Hint | None:
    """The status a recorded event implies, or None when it implies none."""
    from .model import Kind
    name = str(event.get("event") or "")
    try:
        at = float(event.get("at") or 0)
    except (TypeError, ValueError):
        return None
    tool = event.get("tool_name")
    evidence = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    kind = None
    detail = ""
    if name in _WORKING:
        kind = Kind.WORKING
        detail = {"UserPromptSubmit": "a prompt was submitted", "PreToolUse": f"running {tool or 'a tool'}",
                  "PostToolUse": f"{tool or 'a tool'} finished", "PostToolUseFailure": f"{tool or 'a tool'} failed",
                  "SubagentStop": "a subagent finished", "PreCompact": "compacting the conversation"}[name]
    elif name == "PermissionRequest":
        kind, detail = Kind.NEEDS_INPUT, f"Claude asks permission to use {tool or 'a tool'}"
    elif name == "Notification":
        ntype = str(event.get("notification_type") or "")
        message = str(event.get("message") or "")
        low = message.lower()
        if ntype in _NEEDS_INPUT_TYPES or (not ntype and ("permission" in low or "needs your" in low)):
            kind, detail = Kind.NEEDS_INPUT, message or ntype
        elif ntype == "idle_prompt" or (not ntype and "waiting for your input" in low):
            kind, detail = Kind.IDLE, message or "waiting for your input"
    elif name == "Stop":
        kind, detail = Kind.IDLE, "the turn ended; waiting for a prompt"
    elif name == "StopFailure":
        err = str(event.get("error") or "the API call failed")
        last = str(event.get("last_assistant_message") or "")
        kind, detail = Kind.ERROR, f"{err}: {last}" if last else err
    elif name == "SessionStart":
        kind, detail = Kind.IDLE, f"session started ({event.get('source') or 'startup'}); waiting for a prompt"
    if kind is None:
        return None
    return Hint(kind, f"hook {name}: {detail}", at, name, evidence)


def _lines(data: bytes) -> list[dict]:
    out = []
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        try:
            event = json.loads(raw.decode("utf-8", "replace"))
        except ValueError:
            continue
        if isinstance(event, dict):
            out.append(event)
    return out


_SESSION_ID = None


def session_id(event: dict) -> str | None:
    """The event's session id if it is one (never an option or a path: it becomes an argv element)."""
    global _SESSION_ID
    if _SESSION_ID is None:
        import re
        _SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{5,127}")
    value = event.get("session_id")
    return value if isinstance(value, str) and _SESSION_ID.fullmatch(value) else None


def _newest_session(events: list[dict]) -> str | None:
    for event in reversed(events):
        sid = session_id(event)
        if sid:
            return sid
    return None


def last_session_id(path: Path) -> str | None:
    """The session id of the newest event that has one, in the events file or its rotated one."""
    for p in (Path(path), _older(Path(path))):
        try:
            sid = _newest_session(_lines(p.read_bytes()))
        except OSError:
            continue
        if sid:
            return sid
    return None


def latest(path: Path, since: float = 0.0) -> Hint | None:
    """The newest event in the agent's events file (or its rotated one) that implies a status, at or after since."""
    for p in (Path(path), _older(Path(path))):
        try:
            data = p.read_bytes()
        except OSError:
            continue
        for event in reversed(_lines(data)):
            h = hint(event)
            if h is not None:
                return h if h.at >= since else None
    return None


class EventsFile:
    """An events file followed from where it was last read: `poll()` costs one stat when nothing changed."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.hint: Hint | None = None
        self.session_id: str | None = None     # the newest session id the events carried
        self._key: tuple[int, int, int] | None = None     # (inode, size, mtime_ns) last seen
        self._offset = 0
        self._ino = 0

    def poll(self) -> bool:
        """Read what was appended since the last poll; True if the latest status-moving event changed."""
        try:
            st = os.stat(self.path)
        except OSError:
            if self._key is None or os.path.exists(_older(self.path)):
                return False    # nothing yet, or caught mid-rotation
            # The file went (a respawn of the same name starts a fresh one): its events are over.
            before, self.hint, self.session_id = self.hint, None, None
            self._key, self._offset, self._ino = None, 0, 0
            return before is not None
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        if key == self._key:
            return False
        self._key = key
        before = self.hint
        if st.st_ino != self._ino or st.st_size < self._offset:
            # A new or rotated file: its predecessor may hold the latest status-moving event.
            self._ino, self._offset = st.st_ino, 0
            self.hint = latest(_older(self.path))
            self.session_id = last_session_id(_older(self.path)) or self.session_id
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read(max(0, st.st_size - self._offset))
        except OSError:
            return self.hint != before
        cut = data.rfind(b"\n") + 1          # a line still being written is read next time
        self._offset += cut
        events = _lines(data[:cut])
        self.session_id = _newest_session(events) or self.session_id
        for event in reversed(events):
            h = hint(event)
            if h is not None:
                self.hint = h
                break
        return self.hint != before


if __name__ == "__main__":
    sys.exit(main())
