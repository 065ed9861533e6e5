"""The small persisted state for what tmux and git cannot tell, written atomically under a lock."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

VERSION = 1


class StateFile:
    """`<git-common-dir>/paneboard/state.json`: agents' launch records and queued tasks.

    Readers never see a half-written file (write to a temp file, fsync, rename);
    writers from several paneboard processes are serialised by an flock.
    """

    def __init__(self, directory: Path):
        self.dir = Path(directory)
        self.path = self.dir / "state.json"
        self.lock_path = self.dir / "state.lock"

    @property
    def check_records(self) -> Path:
        """Where a check says it started or ended (`NAME.json`) for the live monitor's watcher (logs live elsewhere)."""
        return self.dir / "checks" / "records"

    def read(self) -> dict[str, Any]:
        """The current state (an empty one if there is none or it is unreadable)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return self._empty()
        if not isinstance(data, dict) or data.get("version") != VERSION:
            return self._empty()
        data.setdefault("agents", {})
        data.setdefault("queued", {})
        return data

    @contextlib.contextmanager
    def edit(self) -> Iterator[dict[str, Any]]:
        """Read-modify-write under an exclusive lock; the change is saved when the block exits cleanly."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                data = self.read()
                yield data
                self._write(data)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

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
