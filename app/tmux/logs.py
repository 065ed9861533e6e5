"""Per-agent output logs: tmux `pipe-pane` feeds `python -m app.tmux.logs PATH`, which rotates.

The writer is stdlib-only and imports nothing from paneboard at module level, so tmux can
run this file directly (`python -I -S app/tmux/logs.py PATH`) from any directory: one small
process per agent pane. A restarted dashboard reads the recent output back with `tail`.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path

MAX_BYTES = 2 * 1024 * 1024      # per file
KEEP = 3                         # PATH, PATH.1, PATH.2
_CHUNK = 65536


def log_dir(common_dir: Path) -> Path:
    """`<git-common-dir>/paneboard/logs`."""
    return Path(common_dir) / "paneboard" / "logs"


def log_path(common_dir: Path, agent_name: str) -> Path:
    """The log file of one agent: `<git-common-dir>/paneboard/logs/<agent-slug>.log`."""
    from ..names import slugify
    return log_dir(common_dir) / f"{slugify(agent_name)}.log"


def _rotated(path: Path, i: int) -> Path:
    return path if i == 0 else path.with_name(f"{path.name}.{i}")


def rotate(path: Path, keep: int = KEEP) -> None:
    """PATH -> PATH.1 -> PATH.2 ...; the oldest falls off."""
    for i in range(keep - 1, 0, -1):
        src = _rotated(path, i - 1)
        if src.exists():
            os.replace(src, _rotated(path, i))


def write_stream(fd: int, path: Path, max_bytes: int = MAX_BYTES, keep: int = KEEP) -> None:
    """Copy everything from fd to path until end of input, rotating at max_bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    size = os.fstat(out).st_size
    try:
        while True:
            try:
                data = os.read(fd, _CHUNK)
            except InterruptedError:
                continue
            if not data:
                return
            if os.fstat(out).st_nlink == 0:
                out, size = _reopen(out, size, path)
            if size + len(data) > max_bytes and size > 0:
                os.close(out)
                rotate(path, keep)
                out = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC, 0o600)
                size = 0
            os.write(out, data)
            size += len(data)
    finally:
        os.close(out)


def _reopen(out: int, size: int, path: Path) -> tuple[int, int]:
    """The log was removed (by hand, a cleanup): start a new one where it was, if its folder is still there.

    Never a folder made again: a repository deleted on purpose must not come back as a log's parents.
    """
    try:
        fresh = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError:
        return out, size
    os.close(out)
    return fresh, os.fstat(fresh).st_size


def pipe_command(path: Path) -> str:
    """The shell command tmux runs for pipe-pane: this file run directly, everything shlex-quoted."""
    # -I -S: no site-packages or user environment; the writer needs only the stdlib and starts in ~15 ms.
    return "exec " + shlex.join([sys.executable, "-I", "-S", str(Path(__file__).resolve()), str(path)])


def open_pipes(tmux) -> set[str]:
    """The panes on this server whose output is piped somewhere now (`#{pane_pipe}`), in one tmux call."""
    lines = tmux.run("list-panes", "-a", "-F", "#{pane_id} #{pane_pipe}", check=False)
    return {parts[0] for parts in (line.split() for line in lines) if len(parts) == 2 and parts[1] == "1"}


def pipe_is_open(tmux, pane: str) -> bool:
    """True if the pane's output already goes to a pipe."""
    out = tmux.run("display-message", "-p", "-t", pane, "#{pane_pipe}", check=False)
    return bool(out) and out[0].strip() == "1"


def start_pipe(tmux, pane: str, path: Path, is_open: bool | None = None) -> bool:
    """Pipe the pane's output into its log unless a pipe is already open; True if this call opened one.

    tmux's `pipe-pane -o` is a toggle, not "open if closed": on an open pipe it closes it. So
    ask `#{pane_pipe}` first (is_open: the caller already asked) and open without -o; should
    another dashboard open one in between, ours replaces it with the same writer, never closes it.
    """
    if is_open is None:
        is_open = pipe_is_open(tmux, pane)
    if is_open:
        return False
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    # pipe-pane expands formats in its command: '#' is doubled to stay literal.
    tmux.run("pipe-pane", "-t", pane, pipe_command(Path(path)).replace("#", "##"), check=False)
    return True


_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[PX^_][^\x1b]*\x1b\\|\x1b[@-Z\\-_]|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


_C1 = re.compile("[\x80-\x9f]")

_strip = None


def strip_ansi(text: str) -> str:
    """Text without terminal escapes (status.strip_ansi when available)."""
    global _strip
    if _strip is None:
        try:
            from ..status import strip_ansi as real
        except ImportError:
            real = lambda t: _ANSI.sub("", t)  # noqa: E731
        _strip = real
    return _strip(text)


def tail_bytes(path: Path, n_bytes: int = 65536) -> bytes:
    """The last n_bytes written to the log, across rotated files."""
    path = Path(path)
    chunks: list[bytes] = []
    want = n_bytes
    for i in range(KEEP):
        p = _rotated(path, i)
        try:
            with open(p, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                start = max(0, size - want)
                fh.seek(start)
                data = fh.read(size - start)
        except OSError:
            if i == 0:
                continue
            break
        chunks.append(data)
        want -= len(data)
        if want <= 0:
            break
    return b"".join(reversed(chunks))


def terminal_lines(text: str) -> list[str]:
    """Lines as a terminal would leave them: each line's text after its last carriage return, escapes stripped."""
    lines = []
    for raw in text.split("\n"):
        if "\r" in raw:
            parts = [p for p in raw.split("\r") if p.strip()]
            raw = parts[-1] if parts else ""
        line = strip_ansi(raw).rstrip()
        lines.append(line)
    return lines


def tail(path: Path, n_bytes: int = 65536) -> str:
    """The recent output of the log (ANSI stripped, spinner redraws collapsed), across rotation."""
    data = tail_bytes(path, n_bytes)
    return readable(data, cut=len(data) >= n_bytes)


def readable(data: bytes | str, cut: bool) -> str:
    """Log bytes as text (ANSI stripped, spinner redraws collapsed); cut: the first line is probably partial."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    # C1 controls (U+0080-U+009F, "\xc2\x9b" is a CSI) decode from UTF-8 as text: never shown to a terminal.
    text = _C1.sub("", text)
    if cut:
        text = text.split("\n", 1)[-1]
    return "\n".join(terminal_lines(text))


def last_write(path: Path) -> float | None:
    """When the pane last printed anything (the log's mtime), or None if there is no log."""
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m app.tmux.logs PATH  (reads the pane's output on stdin)", file=sys.stderr)
        return 2
    try:
        write_stream(0, Path(args[0]))
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"app.tmux.logs: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
