"""Delivering text so that the agent's CLI submits it: paste, see it in the input box, submit, confirm.

Pasting and pressing Enter at once is what Codex and Gemini take as a newline: the Enter reaches
them in the same read as the paste. So the text is pasted (bracketed, literally), the screen is
read until the text shows near the cursor, and only then the preset's submit keys are pressed,
as a read of their own. Submission is confirmed when the text left the input box (it is no
longer within a row of where it was, measured from the cursor: a newline only moves it one row
up), or the CLI's own prompt-submitted event arrived; the submit is pressed once more if not.

A program that reads lines (its terminal in canonical mode: a script's `input()`, `cat`) gets the
line from the kernel whatever the screen shows: pasted and submitted at once, that is delivered.
Long pastes that a CLI collapses ("[Pasted text #1 +12 lines]") count as shown by that placeholder.
"""

from __future__ import annotations

import json
import os
import re
import termios
import time
from dataclasses import dataclass
from pathlib import Path

from ..tmux import Tmux

SHOW_WAIT = 5.0         # seconds for the pasted text to show in the input box
CONFIRM_WAIT = 3.0      # seconds, per submit, for the text to leave it
REACH = 16              # rows above the cursor where the pasted text is looked for
MARK_SIZE = 24          # characters of the text's end (squashed) that must show
SUBMIT_GAP = 0.15       # seconds at least between the paste and the submit: CLIs that time keys (Codex's
                        # paste-burst detection) take an Enter right after a paste as part of it

# Spaces and box borders: a wrapped or boxed line shows the same characters once these are dropped.
_SQUASH = re.compile(r"[\s│┃║|╭╮╰╯─━┌┐└┘▌▐]+")
COLLAPSED = re.compile(r"\[Pasted (?:text|content)\b[^\]]*\]", re.IGNORECASE)
"""How CLIs show a long paste they collapsed (Claude "[Pasted text #1 +12 lines]", Codex "[Pasted Content 1200 chars]")."""
SUBMIT_EVENTS = frozenset({"UserPromptSubmit", "BeforeAgent"})
"""Hook events that say the CLI took a prompt (Claude Code and Codex; Gemini CLI's BeforeAgent)."""


@dataclass(frozen=True)
class Delivery:
    """How a delivery ended: confirmed or not, and one line saying what was seen."""

    confirmed: bool
    saw: str


def squash(text: str) -> str:
    """The text without spaces and box borders, as it compares with a wrapped or boxed screen."""
    return _SQUASH.sub("", text)


def mark_of(text: str) -> str:
    """The part of the text that must show on the screen: its last characters, squashed."""
    return squash(text)[-MARK_SIZE:]


@dataclass(frozen=True)
class Look:
    """One read of a pane: its rows, the cursor's row, and whether its process is gone."""

    rows: tuple[str, ...]
    cursor: int
    dead: bool

    def distance(self, mark: str, reach: int = REACH) -> int | None:
        """How many rows above the cursor the text's end begins (0: the cursor's row); None if not within reach."""
        rows, c = self.rows, min(self.cursor, len(self.rows) - 1)
        for k in range(reach + 1):
            top = c - k
            if top < 0:
                return None
            if (mark and mark in squash("".join(rows[top:c + 1]))) or COLLAPSED.search(rows[top]):
                return k
        return None

    def cursor_row(self) -> str:
        """The row the cursor is on, squashed ("" when off the screen)."""
        return squash(self.rows[self.cursor]) if 0 <= self.cursor < len(self.rows) else ""

    def line(self) -> str:
        """The last non-blank row, for a message."""
        lines = [r.strip() for r in self.rows if r.strip()]
        return lines[-1][:120] if lines else "(a blank screen)"


def look(tmux: Tmux, pane: str) -> Look:
    """The pane's screen, cursor row and death, in one tmux call."""
    out = tmux.run("display-message", "-p", "-t", pane, "#{cursor_y} #{pane_dead}", ";",
                   "capture-pane", "-p", "-t", pane, check=False)
    head = out[0].split() if out else []
    if len(head) != 2 or not head[0].isdigit():
        return Look((), 0, True)     # the pane went
    return Look(tuple(out[1:]) or ("",), int(head[0]), head[1] == "1")


def reads_lines(tmux: Tmux, pane: str) -> bool:
    """True when the pane's terminal is in canonical mode: its program reads whole lines, the kernel edits them."""
    if getattr(tmux, "remote", None) is not None:
        return False        # a pane on another host: its tty is not on this machine
    out = tmux.run("display-message", "-p", "-t", pane, "#{pane_tty}", check=False)
    path = out[0].strip() if out else ""
    if not path.startswith("/dev/"):
        return False
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        return bool(termios.tcgetattr(fd)[3] & termios.ICANON)
    except termios.error:
        return False
    finally:
        os.close(fd)


class SubmitEvents:
    """The agent's hook events file, read from where it ended when the delivery began."""

    def __init__(self, path: Path | None):
        self.path = path
        try:
            self.offset = os.stat(path).st_size if path is not None else 0
        except OSError:
            self.offset = 0

    def arrived(self) -> str | None:
        """The name of a prompt-submitted event appended since, if one was."""
        if self.path is None:
            return None
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read(256 * 1024)
        except OSError:
            return None
        for raw in data.split(b"\n"):
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("event") in SUBMIT_EVENTS:
                return str(event["event"])
        return None


def press(tmux: Tmux, pane: str, keys: tuple[str, ...]) -> None:
    """Press the submit keys: named keys, or literal text."""
    from ..presets import NAMED_KEYS
    for key in keys:
        if key in NAMED_KEYS:
            tmux.send_key(pane, key)
        else:
            tmux.run("send-keys", "-l", "-t", pane, "--", key)


def _until(fn, timeout: float, interval: float = 0.05):
    """fn() until it returns something other than None, or None after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = fn()
        if found is not None or time.monotonic() > deadline:
            return found
        time.sleep(interval)
        interval = min(interval * 1.5, 0.25)


def deliver(tmux: Tmux, pane: str, text: str, submit: tuple[str, ...] = ("Enter",), events: Path | None = None,
            show_wait: float = SHOW_WAIT, confirm_wait: float = CONFIRM_WAIT) -> Delivery:
    """Paste text into the pane, wait until it shows, submit it, and confirm (pressing submit once more if needed)."""
    if reads_lines(tmux, pane):
        tmux.paste(pane, text, enter=False)
        press(tmux, pane, submit)
        return Delivery(True, "its terminal took the line (the program reads whole lines)")
    heard = SubmitEvents(events)
    mark = mark_of(text)
    box = look(tmux, pane).cursor_row()     # the empty input box, as it shows again once the text left it
    tmux.paste(pane, text, enter=False)
    pasted = time.monotonic()
    shown = _until(lambda: _shown(look(tmux, pane), mark), show_wait)
    time.sleep(max(0.0, pasted + SUBMIT_GAP - time.monotonic()))
    if shown is None or shown[0].dead:
        last = look(tmux, pane)
        if last.dead:
            return Delivery(False, "the agent exited before the text was submitted")
        press(tmux, pane, submit)
        event = _until(heard.arrived, confirm_wait)
        if event:
            return Delivery(True, f"the CLI said it took the prompt ({event})")
        return Delivery(False, f"the text never showed in its input box; its screen ends with: {last.line()!r}")
    for attempt in (1, 2):
        before = shown[1]
        press(tmux, pane, submit)
        outcome = _until(lambda b=before: _submitted(tmux, pane, mark, b, box, heard), confirm_wait)
        if outcome is not None:
            return outcome
        now = look(tmux, pane)
        shown = (now, now.distance(mark) if now.distance(mark) is not None else before + 1)
    return Delivery(False, f"the text is still in its input box after pressing {'+'.join(submit)} twice: "
                           f"{shown[0].line()!r}")


def _shown(seen: Look, mark: str) -> tuple[Look, int] | None:
    if seen.dead:
        return seen, 0
    d = seen.distance(mark)
    return None if d is None else (seen, d)


def _submitted(tmux: Tmux, pane: str, mark: str, before: int, box: str, heard: SubmitEvents) -> Delivery | None:
    """A Delivery once the submit is confirmed (or the agent exited), None while the text is still in the box."""
    event = heard.arrived()
    if event:
        return Delivery(True, f"the CLI said it took the prompt ({event})")
    seen = look(tmux, pane)
    if seen.dead:
        return Delivery(False, "the agent exited while the text was submitted")
    if seen.distance(mark, reach=before + 1) is None:
        return Delivery(True, "the text left its input box")
    if box and seen.cursor_row() == box and mark not in box:
        # The row the cursor is on shows the empty box again (its prompt, a placeholder); a newline in
        # the box would have left the cursor on a blank continuation row instead.
        return Delivery(True, "its input box emptied")
    return None
