"""Agent events: the recorder every CLI's channel runs, and the events-file reader. Preferred over the screen.

Each agent's channel (app/events/: Claude Code and Codex hooks, Gemini CLI hooks, an OpenCode
plugin, aider's notifications command) is installed at spawn under `<git-common-dir>/paneboard/hooks/`,
so nothing lands in the worktree. The hook commands run

    '<python>' -I -S '<paneboard>/app/hooks.py' record '<…>/hooks/<slug>.jsonl' CLI     (input on stdin)
    '<python>' -I -S '<paneboard>/app/hooks.py' notify '<…>/hooks/<slug>.jsonl' CLI [JSON]

every part shlex-quoted, nothing from the task file in it (the file names the agent). The CLI's
`parse` (app/events/CLI.py, loaded by path) turns the input into one normalised line, appended with
one O_APPEND write (rotated at MAX_BYTES); the recorder always exits 0 without printing (some CLIs
add a hook's stdout to the model's context) and never blocks: a missing events folder or a garbage
input records nothing. (OpenCode's plugin appends the same lines itself, with no process.)

Reading: `hint(event)` maps the latest event to a status (`Hint`, its why "event NAME (cli): …");
events that say nothing about the status are skipped, and a failed turn (`StopFailure`) stays the
status through the `Stop` events that close it (OpenCode sends both). The monitor decides what wins
(`app.monitor.facts.hook_hint`). The newest `session_id` is the conversation `paneboard restart`
resumes (`last_session_id`). Stdlib only at module level: `record` must start in milliseconds.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

_FIELD_MAX = 400
MAX_BYTES = 256 * 1024       # per events file; one older file is kept (FILE.1)
MAX_INPUT = 8 * 1024 * 1024  # a hook input larger than this is recorded by its event name only
HOOK_TIMEOUT = 10            # seconds a CLI waits for one hook
_CLIS = ("claude", "codex", "gemini", "opencode", "aider")
_EVENTS_DIR = Path(__file__).resolve().parent / "events"


def hooks_dir(common_dir: Path) -> Path:
    """`<git-common-dir>/paneboard/hooks`."""
    return Path(common_dir) / "paneboard" / "hooks"


def slug(agent_name: str) -> str:
    """The agent's name as it appears in its channel files."""
    from .names import slugify
    return slugify(agent_name)


def events_path(common_dir: Path, agent_name: str) -> Path:
    """The events of one agent: `<git-common-dir>/paneboard/hooks/<agent-slug>.jsonl`."""
    return hooks_dir(common_dir) / f"{slug(agent_name)}.jsonl"


def settings_path(common_dir: Path, agent_name: str) -> Path:
    """The Claude settings file paneboard passes with `--settings`."""
    return hooks_dir(common_dir) / f"{slug(agent_name)}.settings.json"


def fresh_events(common_dir: Path, agent_name: str) -> Path:
    """Start the agent's events anew (a respawn of the name inherits nothing); the events file."""
    events = events_path(common_dir, agent_name)
    events.parent.mkdir(parents=True, exist_ok=True)
    for old in (events, _older(events)):
        try:
            os.unlink(old)
        except FileNotFoundError:
            pass
    return events


def hook_command(events_file: Path, cli: str = "claude") -> str:
    """The shell command a CLI runs for every hook: python, this file and the events file, each quoted."""
    import shlex
    from .events import recorder
    return shlex.join(recorder(events_file, cli))


def settings(events_file: Path) -> dict:
    """Claude Code settings that record every status-moving hook event into events_file."""
    from .events import claude
    return claude.settings(events_file)


def install(common_dir: Path, agent_name: str) -> Path:
    """Write a Claude agent's settings file and start a fresh events file; return the settings file."""
    from . import events
    return events.install("claude", common_dir, agent_name).files[0]


# -- recording (runs inside the CLI's hook; must be fast and never fail) -------------------


def _older(path: Path) -> Path:
    return path.with_name(path.name + ".1")


_PARSERS: dict = {}


def _parser(cli: str):
    """The CLI's `parse`, loaded from app/events/<cli>.py by path (the recorder runs with no package)."""
    if cli not in _PARSERS:
        import importlib.util
        if str(_EVENTS_DIR) not in sys.path:
            sys.path.insert(0, str(_EVENTS_DIR))     # for their `_shape`
        spec = importlib.util.spec_from_file_location(f"_paneboard_events_{cli}", _EVENTS_DIR / f"{cli}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _PARSERS[cli] = module.parse
    return _PARSERS[cli]


def compact(data: dict, at: float, cli: str = "claude") -> dict | None:
    """The line recorded for one event input: time, the normalised event and the few fields that tell the status."""
    line = _parser(cli)(data)
    if line is None:
        return None
    return {"at": round(at, 3), **line}


def record(path: Path, data: dict, at: float | None = None, max_bytes: int = MAX_BYTES, cli: str = "claude") -> None:
    """Append one event line (a single O_APPEND write); past max_bytes the file moves to FILE.1 first."""
    line = compact(data, time.time() if at is None else at, cli)
    if line is None:
        return
    text = json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n"
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


def _payload(raw: bytes) -> dict:
    if len(raw) > MAX_INPUT:
        # Too big to parse in a hook's time: keep only its event name (it leads the input).
        import re
        m = re.search(rb'"hook_event_name"\s*:\s*"([A-Za-z]{1,40})"', raw[:4096])
        return {"hook_event_name": m.group(1).decode()} if m else {}
    data = json.loads(raw.decode("utf-8", "replace") or "{}")
    return data if isinstance(data, dict) else {}


def main(argv: list[str] | None = None) -> int:
    """`record FILE [CLI]` (input on stdin) or `notify FILE CLI [JSON]` (input as an argument) -> one line in FILE.

    Exit code 0 and no output whatever happens: some CLIs add a hook's stdout to the model's context.
    """
    try:
        args = sys.argv[1:] if argv is None else argv
        if len(args) < 2 or args[0] not in ("record", "notify"):
            return 0
        cli = args[2] if len(args) > 2 else "claude"
        if cli not in _CLIS:
            return 0
        if args[0] == "record":
            data = _payload(sys.stdin.buffer.read(MAX_INPUT + 1))
        else:       # never read stdin here: aider's command shares its terminal
            data = _payload(args[-1].encode("utf-8", "replace")) if len(args) > 3 else {}
        if not os.path.isdir(os.path.dirname(args[1]) or "."):
            return 0         # the agent's events went (forgotten, discarded): nothing to keep
        record(Path(args[1]), data, cli=cli)
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
_WORKING = {"UserPromptSubmit", "PreToolUse", "PostToolUse", "PostToolUseFailure", "SubagentStop", "PreCompact",
            "Busy", "PermissionReplied"}
# Events that say the agent waits but not for what: a screen that a rule reads decides instead.
WEAK = {"Waiting"}
# Requests the CLI answered itself, by a rule or its own classifier: history, not status.
ANSWERED = {"RuleDenied", "PermissionDenied"}
_MAX_ANSWERED = 100


def answered(event: dict) -> str:
    """A request the CLI answered by itself, in a line: 'denied by rule bash(rm *): deny: bash: rm -rf x'."""
    what = asked(event)
    if event.get("event") == "RuleDenied":
        rule = str(event.get("rule") or "")
        return f"denied by rule {rule}: {what}" if rule else f"denied by rule: {what}"
    reason = str(event.get("reason") or "")
    return f"denied by {event.get('cli') or 'claude'}'s auto mode: {what}" + (f" ({reason})" if reason else "")


def _working_detail(name: str, tool: object, event: dict) -> str:
    return {"UserPromptSubmit": "a prompt was submitted", "PreToolUse": f"running {tool or 'a tool'}",
            "PostToolUse": f"{tool or 'a tool'} finished", "PostToolUseFailure": f"{tool or 'a tool'} failed",
            "SubagentStop": "a subagent finished", "PreCompact": "compacting the conversation",
            "Busy": str(event.get("message") or "busy"),
            "PermissionReplied": f"permission answered ({event.get('reply') or 'replied'})"}[name]


def asked(event: dict) -> str:
    """What a permission request asks, in the user's words: the tool and its command or file."""
    tool = str(event.get("tool_name") or "a tool")
    what = str(event.get("asks") or "")
    return f"{tool}: {what}" if what else tool


def hint(event: dict) -> Hint | None:
    """The status a recorded event implies, or None when it implies none."""
    from .model import Kind
    name = str(event.get("event") or "")
    try:
        at = float(event.get("at") or 0)
    except (TypeError, ValueError):
        return None
    evidence = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    kind = None
    detail = ""
    if name in _WORKING:
        kind, detail = Kind.WORKING, _working_detail(name, event.get("tool_name"), event)
    elif name == "PermissionRequest":
        kind, detail = Kind.NEEDS_INPUT, f"asks permission: {asked(event)}"
    elif name == "Notification":
        ntype = str(event.get("notification_type") or "")
        message = str(event.get("message") or "")
        low = message.lower()
        if ntype in _NEEDS_INPUT_TYPES or (not ntype and ("permission" in low or "needs your" in low)):
            kind, detail = Kind.NEEDS_INPUT, message or ntype
        elif ntype == "idle_prompt" or (not ntype and "waiting for your input" in low):
            kind, detail = Kind.IDLE, message or "waiting for your input"
    elif name in ("Stop", "Waiting"):
        kind, detail = Kind.IDLE, "the turn ended; waiting for a prompt" if name == "Stop" else \
            str(event.get("message") or "waits for input")
    elif name == "StopFailure":
        err = str(event.get("error") or "the API call failed")
        last = str(event.get("last_assistant_message") or "")
        kind, detail = Kind.ERROR, f"{err}: {last}" if last else err
    elif name == "SessionStart":
        kind, detail = Kind.IDLE, f"session started ({event.get('source') or 'startup'}); waiting for a prompt"
    if kind is None:
        return None
    cli = event.get("cli")
    source = f"event {name}" + (f" ({cli})" if isinstance(cli, str) and cli not in ("", "claude") else "")
    return Hint(kind, f"{source}: {detail}", at, name, evidence)


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


def _ending(events: list[dict]) -> tuple[Hint | None, bool]:
    """The status these events (oldest first) end on, and whether it is open: only Stops, which an earlier
    StopFailure outranks (OpenCode closes a failed turn with session.error, then session.idle: the turn failed)."""
    stop = None
    for event in reversed(events):
        h = hint(event)
        if h is None:
            continue
        if h.event != "Stop":
            return (h if stop is None or h.event == "StopFailure" else stop), False
        stop = stop or h
    return stop, stop is not None


def _after(current: Hint | None, h: Hint | None, open_: bool) -> Hint | None:
    """The status once events ending on h follow current: a failed turn stays failed through the Stops that close it."""
    if h is None:
        return current
    return current if open_ and current is not None and current.event == "StopFailure" else h


def latest(path: Path, since: float = 0.0) -> Hint | None:
    """The newest event in the agent's events file (or its rotated one) that implies a status, at or after since."""
    found = None
    for p in (Path(path), _older(Path(path))):
        try:
            data = p.read_bytes()
        except OSError:
            continue
        h, open_ = _ending(_lines(data))
        if h is None:
            continue
        found = h if found is None or h.event == "StopFailure" else found
        if not open_:
            break
    return found if found is not None and found.at >= since else None


class EventsFile:
    """An events file followed from where it was last read: `poll()` costs one stat when nothing changed."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.hint: Hint | None = None
        self.session_id: str | None = None     # the newest session id the events carried
        self.answered: list[dict] = []         # requests answered by a rule, read and not yet taken
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
        self.feed(data[:cut])
        return self.hint != before

    def feed(self, data: bytes) -> bool:
        """Take complete events lines read elsewhere (a host's, over ssh); True if the latest status-moving event changed."""
        before = self.hint
        events = _lines(data)
        self.session_id = _newest_session(events) or self.session_id
        self.answered = (self.answered + [e for e in events if e.get("event") in ANSWERED])[-_MAX_ANSWERED:]
        self.hint = _after(self.hint, *_ending(events))
        return self.hint != before

    def reset(self) -> bool:
        """The events file went or started over (a respawn of the name): its events are over; True if a hint went."""
        before, self.hint, self.session_id = self.hint, None, None
        return before is not None

    def take_answered(self) -> list[dict]:
        """The requests answered by a rule read since the last call (each handed out once)."""
        out, self.answered = self.answered, []
        return out


class HostEventsFile(EventsFile):
    """An agent's events file on its host: its lines arrive over ssh (`feed`), nothing here is polled."""

    def __init__(self, path: str, recent: bytes = b""):
        super().__init__(Path(path))
        self.recent = recent       # the tail read at once (`explain` shows its latest events)
        if recent:
            self.feed(recent)

    def poll(self) -> bool:
        """Nothing to read here: the host's reader feeds this file's lines."""
        return False


if __name__ == "__main__":
    sys.exit(main())
