"""The small persisted state for what tmux and git cannot tell, written atomically under a lock.

A state file that cannot be read (garbage, truncated, JSON of the wrong shape) is never silently
replaced: it is moved aside to `state.json.corrupt-<time>`, the state is rebuilt from what tmux,
git and the archive refs still say (the fleet hands in how), and a one-line warning waits in
`StateFile.warnings` for the CLI or the dashboard to show.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import StateUnreadable

VERSION = 1

_NUM = (int, float)
_OPT_STR = (str, type(None))
_OPT_NUM = (int, float, type(None))


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _string_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


# The fields paneboard writes and the types they must have; fields it does not know are kept as they are.
_AGENT_FIELDS: dict[str, Any] = {
    "task": str, "agent": str, "branch": str, "worktree": str, "base": str, "session": _OPT_STR,
    "pane": _OPT_STR, "port": (int, type(None)), "prompt": str, "scope": _strings, "after": _strings,
    "env": _string_map, "silence": _OPT_NUM, "check": _OPT_STR, "rules": str, "started_at": _NUM,
    "merged": bool, "merged_at": _NUM, "merge_commit": str, "merge_strategy": str, "killed_at": _NUM,
    "exit_code": (int, type(None)), "last_check": (dict, type(None)), "restored_at": _NUM,
    "merging": (dict, type(None)), "allow": _strings, "deny": _strings, "discarding": str,
}
_DISCARDED_FIELDS: dict[str, Any] = {**_AGENT_FIELDS, "archive": str, "patch": str, "discarded_at": _NUM,
                                     "restoring": _NUM}
# A spawn under way (app/fleet/spawning.py): the record it will write, and its own fields.
_SPAWNING_FIELDS: dict[str, Any] = {**_AGENT_FIELDS, "pid": int, "at": _NUM, "commit": str, "paste": bool}
_QUEUED_FIELDS: dict[str, Any] = {
    "name": str, "agent": _OPT_STR, "prompt": str, "scope": _strings, "after": _strings, "env": _string_map,
    "silence": _OPT_NUM, "check": _OPT_STR, "count": int, "hooks": (bool, type(None)), "line": int,
    "group": str, "base": _OPT_STR, "queued_at": _NUM, "allow": _strings, "deny": _strings,
}


def _field_ok(rule: Any, value: Any) -> bool:
    return rule(value) if callable(rule) and not isinstance(rule, type) else isinstance(value, rule)


def _section_problem(data: dict, section: str, fields: dict[str, Any], required: tuple[str, ...] = ()) -> str | None:
    records = data.get(section, {})
    if not isinstance(records, dict):
        return f"`{section}` is a {type(records).__name__}, not an object"
    for name, rec in records.items():
        if not isinstance(rec, dict):
            return f"{section}[{name!r}] is a {type(rec).__name__}, not an object"
        for key in required:
            if not isinstance(rec.get(key), str):
                return f"{section}[{name!r}] has no {key}"
        for key, value in rec.items():
            rule = fields.get(key)
            if rule is not None and not _field_ok(rule, value):
                return f"{section}[{name!r}].{key} is a {type(value).__name__}"
    return None


def problem(data: Any) -> str | None:
    """Why data is not a state this paneboard can read (None when it is one)."""
    if not isinstance(data, dict):
        return f"it holds a JSON {type(data).__name__}, not an object"
    if type(data.get("version")) is not int or data["version"] != VERSION:
        return f"version {data.get('version')!r}, not {VERSION}"
    return (_section_problem(data, "agents", _AGENT_FIELDS)
            or _section_problem(data, "queued", _QUEUED_FIELDS)
            or _section_problem(data, "discarded", _DISCARDED_FIELDS, required=("branch", "worktree"))
            or _section_problem(data, "spawning", _SPAWNING_FIELDS, required=("branch", "worktree")))


def _parse(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    """The state in raw bytes, or None and why it cannot be read."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "it is not text"
    except json.JSONDecodeError as exc:
        return None, "it is empty" if not raw.strip() else f"it is not JSON ({exc.msg} at byte {exc.pos})"
    why = problem(data)
    if why:
        return None, why
    data.setdefault("agents", {})
    data.setdefault("queued", {})
    return data, ""


class StateFile:
    """`<git-common-dir>/paneboard/state.json`: agents' launch records and queued tasks.

    Readers never see a half-written file (write to a temp file, fsync, rename);
    writers from several paneboard processes are serialised by an flock.
    """

    def __init__(self, directory: Path, rebuild: Callable[[], dict[str, Any]] | None = None):
        self.dir = Path(directory)
        self.path = self.dir / "state.json"
        self.lock_path = self.dir / "state.lock"
        self.rebuild = rebuild
        self.warnings: list[str] = []   # one line per unreadable file moved aside, until someone shows it
        self._held = threading.local()

    @property
    def check_records(self) -> Path:
        """Where a check says it started or ended (`NAME.json`) for the live monitor's watcher (logs live elsewhere)."""
        return self.dir / "checks" / "records"

    def read(self) -> dict[str, Any]:
        """The current state: an empty one if there is none, a rebuilt one if the file was unreadable."""
        try:
            data, _ = _parse(self.path.read_bytes())
        except FileNotFoundError:
            return self._empty()
        except OSError:
            data = None
        if data is not None:
            return data
        if getattr(self._held, "lock", False):
            return self._load_or_repair()
        with self._locked():
            return self._load_or_repair()

    @contextlib.contextmanager
    def edit(self) -> Iterator[dict[str, Any]]:
        """Read-modify-write under an exclusive lock; the change is saved when the block exits cleanly."""
        with self._locked():
            data = self._load_or_repair()
            yield data
            self._write(data)

    def remove_if_empty(self) -> None:
        """Remove the file when it holds nothing (a spawn that rolled back leaves no state behind it)."""
        with self._locked():
            try:
                data, _ = _parse(self.path.read_bytes())
            except OSError:
                return
            if data is not None and not any(v for k, v in data.items() if k != "version"):
                self.path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._held.lock = True
            try:
                yield
            finally:
                self._held.lock = False
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _load_or_repair(self) -> dict[str, Any]:
        """Under the lock: the state, or (if unreadable) the file moved aside and the state rebuilt and saved."""
        try:
            data, why = _parse(self.path.read_bytes())
        except FileNotFoundError:
            return self._empty()
        except OSError as exc:
            data, why = None, exc.strerror or type(exc).__name__
        if data is not None:
            return data
        # Rebuilt before the file moves: if rebuilding fails, the next command finds it and tries again.
        data = self.rebuild() if self.rebuild is not None else self._empty()
        aside = self._move_aside(why)
        self._write(data)
        counts = {key: len(data.get(key) or {}) for key in ("agents", "discarded")}
        self.warnings.append(
            f"{self.path} could not be read ({why}); it was moved aside to {aside.name} and the state rebuilt "
            f"from tmux, git and the archives: {counts['agents']} agent(s), {counts['discarded']} discarded "
            "(prompts and queued tasks are in the moved file)" + _unanswered(data.get("pending_hosts")))
        return data

    def _move_aside(self, why: str) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while aside.exists():
            n += 1
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
        try:
            os.rename(self.path, aside)
        except OSError as exc:
            raise StateUnreadable(f"{self.path} cannot be read ({why}) nor moved aside ({exc.strerror}); "
                                  "move it away by hand, then run paneboard again") from None
        return aside

    def _write(self, data: dict[str, Any]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".state-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=1, sort_keys=True, ensure_ascii=False)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            _name_the_file(exc, self.path)
            raise

    @staticmethod
    def _empty() -> dict[str, Any]:
        return {"version": VERSION, "agents": {}, "queued": {}}


def _unanswered(pending: Any) -> str:
    """The rebuild's words for hosts that did not answer (their agents could not be listed), "" when all did."""
    if not isinstance(pending, dict) or not pending:
        return ""
    named = ", ".join(f"{h!r} ({why})" for h, why in sorted(pending.items()))
    return f"; host(s) {named} did not answer: their agents are added by the next command once they do"


def lock_held(path: Path, create: bool = False) -> bool | None:
    """Whether some process holds an flock on this file; None when it cannot be opened (`create` makes it)."""
    flags = os.O_RDWR | os.O_CREAT if create else os.O_RDONLY
    try:
        fd = os.open(path, flags | os.O_CLOEXEC, 0o644)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def write_atomic(path: Path, content: str) -> None:
    """Write a text file so that readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        _name_the_file(exc, path)
        raise


def _name_the_file(exc: BaseException, path: Path) -> None:
    # A failed write or flush (a full disk) carries no file name; the user needs to know which file.
    if isinstance(exc, OSError) and exc.filename is None:
        exc.filename = str(path)
