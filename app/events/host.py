"""paneboard's side on an agent's host: its event channel installed there, its events files followed and read.

Copied with the recorder (app/hooks.py, app/names.py, app/events/) to
`<host clone's common dir>/paneboard/runtime/<hash>/` (app/hosts/files.py sends it once per version) and run
there as `python3 -I -S …/app/events/host.py MODE`, its input a JSON line on stdin:

    install   {"cli", "common_dir", "name", "allow", "deny", "env"} -> the channel as JSON (argv, env, files,
              notices, the host's python), written by the same `install` as on this machine
    follow    {"dir", "files": {NAME: [inode, offset]}} -> one JSON line per events line appended to any
              `*.jsonl` in dir, from where the reader stopped: {"f", "ino", "end", "line"}; {"f", "gone": true}
              when a file went or started over. Runs until its stdin closes (the ssh connection went).
    tail      {"files": [PATH…], "bytes": N} -> {PATH: the last N bytes of PATH.1 and PATH, as text}

Stdlib only, like the recorder.
"""

from __future__ import annotations

import json
import os
import select
import sys
from pathlib import Path

CHUNK = 1024 * 1024     # a line longer than this (garbage) is skipped, never held


def _install(req: dict) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from app import events
    env = {**os.environ, **{str(k): str(v) for k, v in (req.get("env") or {}).items()}}
    ch = events.install(req["cli"], Path(req["common_dir"]), req["name"], tuple(req.get("allow") or ()),
                        tuple(req.get("deny") or ()), env)
    return {"argv": list(ch.argv), "env": ch.env, "files": [str(p) for p in ch.files],
            "notices": list(ch.notices), "python": sys.executable}


def _tail(req: dict) -> dict:
    n = int(req.get("bytes") or 65536)
    out = {}
    for path in req.get("files") or ():
        data = b""
        for p in (path + ".1", path):
            try:
                with open(p, "rb") as fh:
                    fh.seek(0, 2)
                    fh.seek(max(0, fh.tell() - n))
                    chunk = fh.read()
            except OSError:
                continue
            data += chunk if chunk.endswith(b"\n") or not chunk else chunk + b"\n"
        out[path] = data.decode("utf-8", "replace")
    return out


class Follower:
    """Every events file of one hooks directory, each read from the (inode, offset) its reader last took."""

    def __init__(self, directory: str, files: dict, out):
        self.dir = directory
        self.files = {str(k): [int(v[0]), int(v[1])] for k, v in (files or {}).items()}
        self.out = out

    def _emit(self, doc: dict) -> None:
        self.out.write(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n")

    def _drain(self, name: str, path: str, ino: int, offset: int) -> int:
        """Send the complete lines of path from offset; the offset after them."""
        try:
            with open(path, "rb") as fh:
                if os.fstat(fh.fileno()).st_ino != ino:
                    return offset        # replaced meanwhile: the next round sees the new file
                while True:
                    fh.seek(offset)
                    data = fh.read(CHUNK)
                    cut = data.rfind(b"\n") + 1
                    if not cut:
                        if len(data) < CHUNK:
                            return offset        # a line still being written is sent next time
                        offset += len(data)      # garbage without a newline: skipped
                        continue
                    for raw in data[:cut - 1].split(b"\n"):
                        offset += len(raw) + 1
                        if raw.strip():
                            self._emit({"f": name, "ino": ino, "end": offset,
                                        "line": raw.decode("utf-8", "replace")})
                    if len(data) < CHUNK:
                        return offset
        except OSError:
            return offset

    def step(self, name: str) -> None:
        """Send what one events file gained since its last (inode, offset)."""
        path = os.path.join(self.dir, name)
        older = path + ".1"
        known = self.files.get(name)
        try:
            st = os.stat(path)
        except OSError:
            st = None
        old_ino = _ino(older)
        if known is not None and known[0] and (st is None or st.st_ino != known[0]):
            if old_ino == known[0]:      # rotated: the rest of the old file first
                known[1] = self._drain(name, older, old_ino, known[1])
            else:
                self._emit({"f": name, "gone": True})     # removed, or a new agent of that name started over
            known = self.files[name] = [0, 0]
        if st is None:
            return
        if known is None:         # first sight: its rotated file may hold the latest status-moving event
            if old_ino:
                self._drain(name, older, old_ino, 0)
            known = self.files[name] = [0, 0]
        if not known[0]:
            known[0], known[1] = st.st_ino, 0
        elif st.st_size < known[1]:              # cut short in place: read it anew
            self._emit({"f": name, "gone": True})
            known[1] = 0
        if st.st_size > known[1]:
            known[1] = self._drain(name, path, known[0], known[1])

    def round(self) -> None:
        """One look at every events file of the directory."""
        try:
            names = {e.name for e in os.scandir(self.dir) if e.name.endswith(".jsonl")}
        except OSError:
            names = set()
        for name in sorted(names | set(self.files)):
            self.step(name)
        self.out.flush()


def _ino(path: str) -> int:
    try:
        return os.stat(path).st_ino
    except OSError:
        return 0


def follow(req: dict, interval: float = 0.1) -> None:
    """Follow the directory's events files until stdin closes; a look every `interval` seconds."""
    f = Follower(str(req["dir"]), req.get("files") or {}, sys.stdout.buffer)
    stdin = sys.stdin.buffer
    while True:
        f.round()
        ready, _, _ = select.select([stdin], [], [], interval)
        if ready and not os.read(stdin.fileno(), 4096):
            return          # the reader went: so does this


def main(argv: list[str]) -> int:
    """Run one mode with its JSON request from stdin's first line."""
    if not argv or argv[0] not in ("install", "follow", "tail"):
        print("usage: host.py install|follow|tail  (a JSON request on stdin)", file=sys.stderr)
        return 2
    line = b""
    while not line.endswith(b"\n"):        # byte by byte: what follows the line is follow's liveness
        byte = os.read(0, 1)
        if not byte:
            break
        line += byte
    req = json.loads(line.decode("utf-8") or "{}")
    if argv[0] == "follow":
        try:
            follow(req)
        except (BrokenPipeError, KeyboardInterrupt):
            pass
        return 0
    doc = _install(req) if argv[0] == "install" else _tail(req)
    sys.stdout.write(json.dumps(doc) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
