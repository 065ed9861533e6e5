"""A scripted stand-in for an agent CLI's input box, for delivery tests (no model, no network).

Raw terminal, bracketed paste on, its own screen drawn like a chat CLI: the submitted prompts
above, the input box `> …` as the last line. What it received is appended to OUT as JSON lines
({"submitted": text} or {"answer": text} for the first-run question), so a test knows what landed.

--newline-ms N   an Enter read with a paste, or within N ms after it, is a newline (Codex, Gemini)
--never-submit   every Enter is a newline (a CLI that never takes the text)
--ask            first asks "Add .fake* to .gitignore (recommended)? (Y)es/(N)o [Yes]:" (aider's first run)
--collapse N     a paste longer than N characters shows as "[Pasted text #1 +L lines]"
--ask-delay S    seconds before the question shows (a slow start)
"""

from __future__ import annotations

import argparse
import json
import os
import select
import sys
import termios
import time
import tty

PASTE_START, PASTE_END = b"\x1b[200~", b"\x1b[201~"


class Screen:
    def __init__(self, collapse: int):
        self.history: list[str] = []
        self.buffer = ""
        self.shown = ""          # what the box shows of a collapsed paste
        self.collapse = collapse
        self.pastes = 0

    def add_paste(self, text: str) -> None:
        self.buffer += text
        if self.collapse and len(text) > self.collapse:
            self.pastes += 1
            self.shown += f"[Pasted text #{self.pastes} +{text.count(chr(10)) + 1} lines]"
        else:
            self.shown += text

    def draw(self) -> None:
        out = ["\x1b[H\x1b[2J"]
        for line in self.history[-20:]:
            out.append(f"› {line}\r\n")
        out.append("\r\n")
        box = self.shown.split("\n")
        out.append("> " + "\r\n  ".join(box))
        sys.stdout.write("".join(out))
        sys.stdout.flush()


def read(fd: int, timeout: float | None = None) -> bytes:
    ready, _, _ = select.select([fd], [], [], timeout)
    return os.read(fd, 65536) if ready else b""


def record(out: str, **entry) -> None:
    with open(out, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry) + "\n")


def ask(fd: int, out: str) -> None:
    """The first-run question: whatever arrives up to Enter is its answer (a paste included)."""
    sys.stdout.write("Add .fake* to .gitignore (recommended)? (Y)es/(N)o [Yes]: ")
    sys.stdout.flush()
    answer = b""
    while True:
        data = read(fd)
        if not data:
            sys.exit(0)
        answer += data
        if b"\r" in data or b"\n" in data:
            break
    text = answer.replace(PASTE_START, b"").replace(PASTE_END, b"").decode("utf-8", "replace")
    record(out, answer=text.strip())


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--newline-ms", type=float, default=30.0)
    p.add_argument("--never-submit", action="store_true")
    p.add_argument("--ask", action="store_true")
    p.add_argument("--ask-delay", type=float, default=0.0)
    p.add_argument("--collapse", type=int, default=0)
    args = p.parse_args()
    fd = sys.stdin.fileno()
    tty.setraw(fd, termios.TCSANOW)
    sys.stdout.write("\x1b[?2004h")
    time.sleep(args.ask_delay)
    if args.ask:
        ask(fd, args.out)
    screen = Screen(args.collapse)
    screen.draw()
    pasted_at = 0.0
    pending = b""
    while True:
        data = read(fd)
        if not data:
            return
        pending += data
        while pending:
            if pending.startswith(PASTE_START):
                end = pending.find(PASTE_END)
                if end < 0:
                    more = read(fd, 5.0)
                    if not more:
                        return
                    pending += more
                    continue
                screen.add_paste(pending[len(PASTE_START):end].decode("utf-8", "replace").replace("\r", "\n"))
                pending = pending[end + len(PASTE_END):]
                pasted_at = time.monotonic()
                if pending[:1] in (b"\r", b"\n"):
                    pasted_at = float("inf")      # the Enter came with the paste: a newline
                continue
            ch, pending = pending[:1], pending[1:]
            if ch in (b"\r", b"\n"):
                gap = time.monotonic() - pasted_at
                soon = gap < args.newline_ms / 1000 or pasted_at == float("inf")
                pasted_at = 0.0
                if args.never_submit or soon:
                    screen.buffer += "\n"
                    screen.shown += "\n"
                else:
                    record(args.out, submitted=screen.buffer)
                    screen.history.append(screen.buffer.split("\n")[0])
                    screen.buffer = screen.shown = ""
            elif ch == b"\x03":
                return
            elif ch >= b" ":
                screen.buffer += ch.decode("latin-1")
                screen.shown += ch.decode("latin-1")
        screen.draw()


if __name__ == "__main__":
    main()
