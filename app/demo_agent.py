"""The scripted demo agent: a real process that prints, edits, asks, stalls and errors like a coding agent.

Run it as ``python -m app.demo_agent [--scenario NAME | --script FILE.json] [--speed FACTOR] [PROMPT]``
in an agent's worktree (``$PANEBOARD_DEMO_SCRIPT`` names a script when neither option is given, so
the `demo` preset can run one). A script is a JSON list of steps such as ``{"do": "say", "text": "..."}``;
the built-in scenarios in `SCENARIOS` are such lists. Durations are multiplied by ``--speed``
(or ``$PANEBOARD_DEMO_SPEED``): 0.1 runs ten times faster.

Stdlib only and no Textual/Rich: it runs inside a tmux pane, in a worktree of another repository.
"""

from __future__ import annotations

import argparse
import codecs
import json
import math
import os
import select
import signal
import sys
import termios
import textwrap
import time
import tty
import unicodedata
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

# The strings a status classifier can rely on; everything the agent prints is built from these.
BUSY_MARKER = "esc to interrupt"            # in the spinner line: "✻ Working… (3s · esc to interrupt)"
QUESTION_MARKER = "Do you want to proceed?"  # in the approval box, with "❯ 1. Yes" and "esc to cancel"
CANCEL_HINT = "esc to cancel"
IDLE_HINT = "? for shortcuts"                # under the idle prompt box, whose input line starts "> "
LIMIT_MARKER = "limit reached"               # "5-hour limit reached ∙ resets 3pm"
APPROVED = "✔ Approved"
DENIED = "✘ Denied"
EDITED = "✎ Edited"

SPINNER_FRAMES = "·✢✳✶✻✽✻✶✳✢"
ARROW_UP, ARROW_DOWN = "\x1b[A", "\x1b[B"   # what Keyboard.read_line returns for the arrow keys
ESC = "\x1b"
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}

_RESET, _BOLD, _DIM = "\x1b[0m", "\x1b[1m", "\x1b[2m"
_PASTE_ON, _PASTE_OFF = "\x1b[?2004h", "\x1b[?2004l"
_RED, _GREEN, _YELLOW, _BLUE, _MAGENTA, _CYAN = (f"\x1b[{n}m" for n in (31, 32, 33, 34, 35, 36))

# Each step kind: its required fields and its optional fields with their defaults.
STEPS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "say": (("text",), {}),
    "edit": (("path",), {"text": None}),
    "work": (("seconds",), {"label": "Working"}),
    "ask": (("question",), {"options": ["Yes", "No"], "on_deny": "continue", "title": None}),
    "silent": (("seconds",), {"spinner": False, "label": "Working"}),
    "error": ((), {"text": "Error: connection to 127.0.0.1:5433 refused (attempt {n}) at {time}",
                   "times": 1, "every": 1.0}),
    "limit": ((), {"resets": None, "text": None, "resets_in": None}),
    "idle": ((), {"reply_work": 2.0, "reply_edit": "demo_replies.md"}),
    "flood": (("lines_per_second", "seconds"), {}),
    "exit": ((), {"code": 0}),
}

SCENARIOS: dict[str, list[dict[str, Any]]] = {
    # Edits files in its scope, prints progress, works, ends idle (idle at ~12 s).
    "worker": [
        {"do": "say", "text": "I'll add low-stock alerts to inventory/stock.py, then test them."},
        {"do": "work", "seconds": 4, "label": "Reading"},
        {"do": "edit", "path": "inventory/stock.py",
         "text": "\n\ndef low_stock_alerts(stock, threshold=5):\n"
                 "    \"\"\"Names of items at or below the threshold.\"\"\"\n"
                 "    return sorted(sku for sku, qty in stock.items() if qty <= threshold)\n"},
        {"do": "work", "seconds": 4, "label": "Writing tests"},
        {"do": "edit", "path": "tests/test_stock.py",
         "text": "\n\nclass LowStockTest(unittest.TestCase):\n"
                 "    def test_low_stock_alerts(self):\n"
                 "        from inventory.stock import low_stock_alerts\n"
                 "        self.assertEqual(low_stock_alerts({'a': 1, 'b': 9}), ['a'])\n"},
        {"do": "work", "seconds": 3, "label": "Testing"},
        {"do": "say", "text": "Added low_stock_alerts() and a test; 5 tests pass."},
        {"do": "idle", "reply_edit": "inventory/stock.py"},
    ],
    # Works, asks approval to run a command (blocks at ~3 s), edits after the answer, ends idle.
    "asker": [
        {"do": "say", "text": "Let me look at how prices are computed."},
        {"do": "work", "seconds": 3, "label": "Thinking"},
        {"do": "say", "text": "I want to run the pricing tests before changing anything."},
        {"do": "ask", "title": "Bash command", "question": "pytest -q tests/test_pricing.py"},
        {"do": "work", "seconds": 2, "label": "Working"},
        {"do": "edit", "path": "inventory/pricing.py",
         "text": "\n\n# Cache the tax table: it was rebuilt on every call.\n"},
        {"do": "edit", "path": "tests/test_pricing.py",
         "text": "\n\nclass StablePriceTest(unittest.TestCase):\n"
                 "    def test_price_is_stable(self):\n"
                 "        self.assertEqual(price(10.0, 2), price(10.0, 2))\n"},
        {"do": "say", "text": "Pricing no longer rebuilds the tax table; tests added."},
        {"do": "idle", "reply_edit": "inventory/pricing.py"},
    ],
    # Works briefly, then goes silent under a stale spinner from ~5 s for 5 minutes.
    "stuck": [
        {"do": "say", "text": "Adding CSV export to the report."},
        {"do": "work", "seconds": 2, "label": "Working"},
        {"do": "edit", "path": "inventory/report.py", "text": "\n\nimport csv  # for to_csv()\n"},
        {"do": "work", "seconds": 3, "label": "Working"},
        {"do": "silent", "seconds": 300, "spinner": True, "label": "Working"},
        {"do": "say", "text": "Sorry, that took a while. The CSV export is done."},
        {"do": "idle", "reply_edit": "inventory/report.py"},
    ],
    # Hits the same error 5 times, every 2 s from ~4 s, then gives up and idles (~13 s).
    "flaky": [
        {"do": "say", "text": "Writing the warehouse sync job."},
        {"do": "work", "seconds": 2, "label": "Working"},
        {"do": "edit", "path": "inventory/sync.py",
         "text": "\"\"\"Sync stock levels with the warehouse database.\"\"\"\n\n"
                 "WAREHOUSE_DSN = \"postgresql://127.0.0.1:5433/warehouse\"\n"},
        # A test of a function not written yet: its check fails (`t`, and the merge gate refuses).
        {"do": "edit", "path": "tests/test_sync.py",
         "text": "import unittest\n\n\nclass SyncTest(unittest.TestCase):\n"
                 "    def test_pull_levels(self):\n"
                 "        from inventory.sync import pull_levels\n"
                 "        self.assertTrue(pull_levels())\n"},
        {"do": "say", "text": "Running the sync against the warehouse database."},
        {"do": "work", "seconds": 1, "label": "Running"},
        {"do": "error", "text": "Error: connection to 127.0.0.1:5433 refused (attempt {n}) at {time}",
         "times": 5, "every": 2},
        {"do": "say", "text": "The warehouse database at 127.0.0.1:5433 keeps refusing connections."},
        {"do": "idle", "reply_edit": "inventory/sync.py"},
    ],
    # Edits its own module (where a teammate's commit on main lands too: a predicted conflict), then
    # README.md (~4 s, which docs edits too: overlap) and inventory/pricing.py (~6 s): outside its scope;
    # then it retries quietly under a redrawing spinner for 45 s (the demo's quiet_retry is 20 s: `retrying`).
    "rogue": [
        {"do": "say", "text": "Renaming Item.sku to Item.code."},
        {"do": "work", "seconds": 2, "label": "Working"},
        {"do": "edit", "path": "inventory/models.py", "text": "\n\n# sku is now called code.\n"},
        {"do": "work", "seconds": 2, "label": "Working"},
        {"do": "say", "text": "The README mentions sku too; updating it while I'm here."},
        {"do": "edit", "path": "README.md", "text": "\nItems are identified by their `code`.\n"},
        {"do": "work", "seconds": 2, "label": "Working"},
        {"do": "edit", "path": "inventory/pricing.py", "text": "\n\n# Uses Item.code.\n"},
        {"do": "work", "seconds": 45, "label": "Retrying"},
        {"do": "say", "text": "Renamed sku to code everywhere."},
        {"do": "idle", "reply_edit": "inventory/models.py"},
    ],
    # Works, edits, then crashes with a traceback and exits 3 (~5 s).
    "crasher": [
        {"do": "say", "text": "Moving the shared test setup."},
        {"do": "work", "seconds": 3, "label": "Working"},
        {"do": "edit", "path": "tests/helpers.py", "text": "from inventory import Item, Stock  # shared setup\n"},
        {"do": "work", "seconds": 2, "label": "Working"},
        {"do": "error", "text": "Traceback (most recent call last):\n"
                                "  File \"agent/loop.py\", line 88, in step\n"
                                "RuntimeError: internal error: tool call stream closed unexpectedly"},
        {"do": "exit", "code": 3},
    ],
    # Starts the docs and links them from README.md (~1 s), prints a usage-limit message (~2 s), then idles.
    "limiter": [
        {"do": "say", "text": "Writing the docs for the inventory package."},
        {"do": "edit", "path": "docs/inventory.md", "text": "# inventory\n\nItems, stock, prices and a report.\n"},
        {"do": "edit", "path": "README.md", "text": "\nSee docs/inventory.md for the API.\n"},
        {"do": "work", "seconds": 2, "label": "Working"},
        {"do": "limit"},
        {"do": "idle", "reply_edit": "docs/inventory.md"},
    ],
    # Builds on another task's merged work (the demo queues it `after: [low-stock]`), ends idle.
    "follower": [
        {"do": "say", "text": "low-stock is merged, so low_stock_alerts() exists: adding it to the report."},
        {"do": "work", "seconds": 3, "label": "Reading"},
        {"do": "edit", "path": "inventory/report.py",
         "text": "\n\ndef low_stock_line(quantities, threshold=5):\n"
                 "    \"\"\"One report line naming the items at or below the threshold.\"\"\"\n"
                 "    from inventory.stock import low_stock_alerts\n"
                 "    return \"Low stock: \" + (\", \".join(low_stock_alerts(quantities, threshold)) or \"none\")\n"},
        {"do": "work", "seconds": 2, "label": "Testing"},
        {"do": "say", "text": "The report names low-stock items; tests pass."},
        {"do": "idle", "reply_edit": "inventory/report.py"},
    ],
}
DEFAULT_SCENARIO = "worker"


class ScriptError(Exception):
    """A script file or step is wrong: the message names the step and the field."""


class Stop(BaseException):
    """Raised from a signal handler or a step to end the agent with an exit code."""

    def __init__(self, code: int, quiet: bool = False):
        super().__init__(code)
        self.code = code
        self.quiet = quiet


# ---------------------------------------------------------------- scripts

def validate(steps: Any, source: str = "script") -> list[dict[str, Any]]:
    """The steps with defaults filled in, or ScriptError naming the first bad step and field."""
    if not isinstance(steps, list):
        raise ScriptError(f"{source}: a script is a JSON list of steps")
    out = []
    for i, step in enumerate(steps, 1):
        where = f"{source} step {i}"
        if not isinstance(step, dict) or not isinstance(step.get("do"), str):
            raise ScriptError(f"{where}: each step is an object with a \"do\" field")
        kind = step["do"]
        if kind not in STEPS:
            raise ScriptError(f"{where}: unknown step {kind!r}; known: {', '.join(STEPS)}")
        required, optional = STEPS[kind]
        where = f"{where} ({kind})"
        unknown = set(step) - {"do", *required, *optional}
        if unknown:
            raise ScriptError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        missing = [f for f in required if f not in step]
        if missing:
            raise ScriptError(f"{where}: missing field(s) {', '.join(missing)}")
        full = {**optional, **step}
        for f in ("seconds", "every", "lines_per_second", "reply_work", "resets_in"):
            if full.get(f) is not None and (isinstance(full[f], bool) or not isinstance(full[f], (int, float))
                              or full[f] < 0):
                raise ScriptError(f"{where}: {f!r} must be a number >= 0")
        for f in ("times", "code"):
            if f in full and (isinstance(full[f], bool) or not isinstance(full[f], int) or full[f] < 0):
                raise ScriptError(f"{where}: {f!r} must be a whole number >= 0")
        for f in ("text", "question", "label", "title", "resets"):
            if full.get(f) is not None and not isinstance(full[f], str):
                raise ScriptError(f"{where}: {f!r} must be a string")
        for f in ("path", "reply_edit"):
            if f in full:
                _check_path(full[f], f"{where}: {f!r}")
        if kind == "ask":
            opts = full["options"]
            if not isinstance(opts, list) or not opts or not all(isinstance(o, str) for o in opts):
                raise ScriptError(f"{where}: 'options' must be a non-empty list of strings")
            if full["on_deny"] not in ("continue", "exit"):
                raise ScriptError(f"{where}: 'on_deny' must be \"continue\" or \"exit\"")
        if kind == "exit" and full["code"] > 255:
            raise ScriptError(f"{where}: 'code' must be 0..255")
        out.append(full)
    return out


def _check_path(path: Any, where: str) -> None:
    # The agent lives in its worktree: a path that leaves it (or reaches into .git) is a script bug.
    if not isinstance(path, str) or not path.strip():
        raise ScriptError(f"{where} must be a non-empty relative path")
    p = PurePosixPath(path)
    if p.is_absolute() or ".." in p.parts or ".git" in p.parts or "\x00" in path:
        raise ScriptError(f"{where} must stay inside the worktree (relative, no '..', not .git)")


def load_script(path: str | Path) -> list[dict[str, Any]]:
    """Read and validate a JSON script file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise ScriptError(f"{path}: cannot read the script: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise ScriptError(f"{path}:{e.lineno}: not valid JSON: {e.msg}") from None
    return validate(data, str(path))


def scenario(name: str) -> list[dict[str, Any]]:
    """The validated steps of a built-in scenario."""
    if name not in SCENARIOS:
        raise ScriptError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    return validate(SCENARIOS[name], f"scenario {name}")


# ---------------------------------------------------------------- text helpers

def literal(text: str) -> str:
    """Text safe to print as-is: control characters (except newline and tab) shown as ^X / \\xNN."""
    out = []
    for ch in text:
        o = ord(ch)
        if ch in "\n\t" or unicodedata.category(ch) != "Cc":
            out.append(ch)
        elif o < 0x20:
            out.append("^" + chr(o + 0x40))
        elif o == 0x7F:
            out.append("^?")
        else:
            out.append(f"\\x{o:02x}")
    return "".join(out)


def _cells(ch: str) -> int:
    # Wide East Asian characters take two terminal cells, combining marks none.
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def clip(text: str, cells: int) -> str:
    """The longest prefix of text that fits in `cells` terminal cells."""
    out, n = [], 0
    for ch in text:
        if n + _cells(ch) > cells:
            break
        out.append(ch)
        n += _cells(ch)
    return "".join(out)


def fill(template: str, **values: Any) -> str:
    """Replace only the known {name} fields, so other braces in a script's text stay as written."""
    for key, value in values.items():
        template = template.replace("{" + key + "}", str(value))
    return template


# ---------------------------------------------------------------- keyboard

class Keyboard:
    """Lines from stdin: on a tty in cbreak mode with our own echo and Esc / arrows / paste; else plain lines."""

    def __init__(self, fd: int = 0):
        self.fd = fd
        self.tty = os.isatty(fd)
        self.saved = None
        self.pending = ""
        self.eof = False
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        if self.tty:
            try:
                self.saved = termios.tcgetattr(fd)
                tty.setcbreak(fd, termios.TCSANOW)  # no echo, no line editing; Ctrl-C still signals
            except termios.error:
                self.tty, self.saved = False, None

    def restore(self) -> None:
        """Give the terminal back its modes."""
        if self.saved is not None:
            try:
                termios.tcsetattr(self.fd, termios.TCSANOW, self.saved)
            except termios.error:
                pass
            self.saved = None

    def _fill(self, timeout: float | None) -> bool:
        """Read what is available (waiting up to timeout); False on timeout, sets eof at end of input."""
        if self.eof:
            return False
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.fd, 4096)
        except OSError:
            data = b""
        if not data:
            self.eof = True
            self.pending += self.decoder.decode(b"", final=True)
            return False
        self.pending += self.decoder.decode(data)
        return True

    def keys(self):
        """Yield keys: single characters, or names "enter", "esc", "eof", "paste:<text>", or ARROW_UP / ARROW_DOWN."""
        while True:
            if not self.pending:
                if self.eof:
                    yield "eof"
                    return
                self._fill(None)
                continue
            ch = self.pending[0]
            if ch != "\x1b":
                self.pending = self.pending[1:]
                if ch in "\r\n":
                    yield "enter"
                elif ch == "\x04":
                    yield "eof"
                else:
                    yield ch
                continue
            # An escape: a lone Esc key, or the start of a sequence that follows within a moment.
            if len(self.pending) == 1:
                self._fill(0.05)
            if len(self.pending) == 1:
                self.pending = ""
                yield "esc"
                continue
            if self.pending[1] not in "[O":
                self.pending = self.pending[1:]
                yield "esc"
                continue
            seq = self._sequence()
            if seq is None:
                continue
            if seq in ("\x1b[A", "\x1bOA"):
                yield ARROW_UP
            elif seq in ("\x1b[B", "\x1bOB"):
                yield ARROW_DOWN
            elif seq == "\x1b[200~":
                yield "paste:" + self._paste()

    def _sequence(self) -> str | None:
        # CSI/SS3: ESC [ params final-byte, or ESC O char.
        while True:
            if self.pending[1] == "O" and len(self.pending) >= 3:
                seq, self.pending = self.pending[:3], self.pending[3:]
                return seq
            if self.pending[1] == "[":
                for i in range(2, len(self.pending)):
                    if "\x40" <= self.pending[i] <= "\x7e":
                        seq, self.pending = self.pending[:i + 1], self.pending[i + 1:]
                        return seq
            if not self._fill(0.05):
                seq, self.pending = self.pending, ""
                return None

    def _paste(self) -> str:
        end = "\x1b[201~"
        while end not in self.pending and not self.eof:
            self._fill(None)
        text, _, self.pending = self.pending.partition(end)
        return text.replace("\r\n", "\n").replace("\r", "\n")

    def read_line(self, redraw) -> str | None:
        """One line: None at end of input, ESC for the Esc key, ARROW_UP/DOWN for arrows; redraw(buffer) shows what is typed so far."""
        if not self.tty:
            return self._plain_line()
        buf = ""
        for key in self.keys():
            if key == "enter":
                return buf
            if key == "eof":
                if not buf:
                    return None
                continue
            if key == "esc":
                return ESC
            if key in (ARROW_UP, ARROW_DOWN):
                return key
            if key.startswith("paste:"):
                buf += key[6:]
            elif key in ("\x7f", "\x08"):
                buf = buf[:-1]
            elif key == "\x15":  # Ctrl-U
                buf = ""
            elif key == "\t" or unicodedata.category(key) != "Cc":
                buf += key
            redraw(buf)
        return None

    def _plain_line(self) -> str | None:
        while "\n" not in self.pending and not self.eof:
            self._fill(None)
        if "\n" in self.pending:
            line, _, self.pending = self.pending.partition("\n")
            return line.rstrip("\r")
        if self.pending:
            line, self.pending = self.pending, ""
            return line
        return None


# ---------------------------------------------------------------- the agent

class Agent:
    """Runs steps in the current directory, printing to stdout and reading answers from stdin."""

    def __init__(self, steps: list[dict[str, Any]], speed: float = 1.0, keyboard: Keyboard | None = None):
        self.steps = steps
        self.speed = speed
        self.keyboard = keyboard or Keyboard()
        self.name = os.environ.get("PANEBOARD_AGENT", "demo")
        self.task = os.environ.get("PANEBOARD_TASK", "")
        self.port = os.environ.get("PORT", "")
        self.edits = 0

    # -- output

    @staticmethod
    def out(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def line(self, text: str = "") -> None:
        self.out(text + "\n")

    @staticmethod
    def columns() -> int:
        try:
            return max(20, os.get_terminal_size(sys.stdout.fileno()).columns)
        except (OSError, ValueError):
            return 80

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds * self.speed)

    def fields(self, **more: Any) -> dict[str, Any]:
        return {"agent": self.name, "task": self.task, "port": self.port, **more}

    # -- run

    def header(self, scenario_name: str, prompt: str | None) -> None:
        self.line(f"{_MAGENTA}◆{_RESET} {_BOLD}paneboard demo agent{_RESET} {_DIM}· {literal(self.name)}"
                  f" · {literal(scenario_name)}{_RESET}")
        self.line(f"  {_DIM}cwd: {literal(os.getcwd())}{_RESET}")
        self.line()
        if prompt:
            self.user_message(prompt)

    def user_message(self, text: str) -> None:
        """Echo what the user said, literally, the way agents show it: "> " then the text."""
        lines = literal(text).split("\n")
        self.line(f"{_DIM}>{_RESET} {lines[0]}")
        for more in lines[1:]:
            self.line(f"  {more}")
        self.line()

    def run(self) -> int:
        for step in self.steps:
            getattr(self, "do_" + step["do"])(step)
        return 0

    # -- steps

    def do_say(self, step: dict) -> None:
        self.line(f"{_BLUE}●{_RESET} {fill(step['text'], **self.fields())}")

    def do_edit(self, step: dict) -> None:
        self.edit(step["path"], step.get("text"))

    def edit(self, path: str, text: str | None, template: bool = True) -> None:
        self.edits += 1
        target = Path.cwd() / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if text is None:
            text = f"# edited by {self.name} (edit {self.edits})\n"
        else:
            if template:
                text = fill(text, **self.fields(n=self.edits))
            if not text.endswith("\n"):
                text += "\n"
        with open(target, "a", encoding="utf-8") as f:
            f.write(text)
        self.line(f"{_GREEN}{EDITED}{_RESET} {path}")

    def spinner_line(self, label: str, elapsed: float, frame: int) -> str:
        glyph = SPINNER_FRAMES[frame % len(SPINNER_FRAMES)]
        return f"{_YELLOW}{glyph}{_RESET} {label}… {_DIM}({int(elapsed)}s · {BUSY_MARKER}){_RESET}"

    def do_work(self, step: dict) -> None:
        self.work(step["seconds"], step["label"])

    def work(self, seconds: float, label: str) -> None:
        start = time.monotonic()
        end = start + seconds * self.speed
        frame = 0
        while True:
            now = time.monotonic()
            self.out("\r\x1b[2K" + self.spinner_line(label, now - start, frame))
            if now >= end:
                break
            time.sleep(min(0.1, end - now))
            frame += 1
        self.out("\r\x1b[2K")  # the spinner goes away when the work is done

    def do_silent(self, step: dict) -> None:
        if step["spinner"]:
            # A spinner that stopped redrawing: the screen still says busy, nothing happens.
            self.out("\r\x1b[2K" + self.spinner_line(step["label"], 12, 4).replace(_YELLOW, ""))
        self.sleep(step["seconds"])
        if step["spinner"]:
            self.out("\r\x1b[2K")

    def do_error(self, step: dict) -> None:
        for n in range(1, step["times"] + 1):
            text = fill(step["text"], **self.fields(
                n=n, time=datetime.now().strftime("%H:%M:%S"), id=os.urandom(4).hex(),
                tmp=f"/tmp/agent-{os.getpid()}-{os.urandom(3).hex()}"))
            for row in text.split("\n"):
                self.line(f"{_RED}{row}{_RESET}")
            if n < step["times"]:
                self.line(f"  {_DIM}⎿ retrying in {step['every']:g}s{_RESET}")
                self.sleep(step["every"])

    def do_limit(self, step: dict) -> None:
        resets = step["resets"]
        if step["resets_in"] is not None:
            # To the second, so that a test's limit lifts seconds later: "resets 3:04:05pm".
            at = datetime.now() + timedelta(seconds=math.ceil(step["resets_in"] * self.speed))
            resets = f"{at.hour % 12 or 12}:{at:%M:%S}{'am' if at.hour < 12 else 'pm'}"
        elif resets is None:
            at = datetime.now() + timedelta(hours=5)
            hour = at.hour % 12 or 12
            resets = f"{hour}{'am' if at.hour < 12 else 'pm'}"
        text = step["text"] or f"5-hour {LIMIT_MARKER} ∙ resets {resets}"
        self.line(f"{_RED}{text}{_RESET}")
        self.line(f"  {_DIM}/upgrade to increase your usage limit.{_RESET}")

    def do_flood(self, step: dict) -> None:
        rate, seconds = step["lines_per_second"], step["seconds"] * self.speed
        start = time.monotonic()
        done = 0
        total = int(rate * seconds)
        while done < total:
            due = min(total, int(rate * (time.monotonic() - start)) + 1)
            if due > done:
                self.out("".join(f"flood {i:07d} compiling module_{i % 97:02d}.py ok\n"
                                 for i in range(done + 1, due + 1)))
                done = due
            time.sleep(0.01)

    def do_exit(self, step: dict) -> None:
        raise Stop(step["code"], quiet=True)

    def do_ask(self, step: dict) -> None:
        options = step["options"]
        title = step["title"]
        question = fill(step["question"], **self.fields())
        selected = 0
        while True:
            rows = self.ask_box(title, question, options, selected)
            self.out("\n".join(rows) + "\n")
            answer = self.keyboard.read_line(
                lambda buf: self.out("\r\x1b[2K" + clip(literal(buf).replace("\n", "↵"), self.columns() - 1)))
            self.out("\r\x1b[2K" + f"\x1b[{len(rows)}A\x1b[J")  # erase the box: no stale question on screen
            choice = self.choose(answer, options, selected)
            if answer in (ARROW_UP, ARROW_DOWN):
                selected = (selected + (1 if answer == ARROW_DOWN else -1)) % len(options)
                continue
            if choice is None:
                continue  # not an answer: ask again
            break
        if options[choice].lower().startswith("yes"):
            self.line(f"{_GREEN}{APPROVED}{_RESET}")
            return
        self.line(f"{_RED}{DENIED}{_RESET}")
        if step["on_deny"] == "exit":
            raise Stop(1, quiet=True)

    @staticmethod
    def choose(answer: str | None, options: list[str], selected: int) -> int | None:
        """The option index an answer picks, or None if it is not an answer."""
        no = next((i for i, o in enumerate(options) if not o.lower().startswith("yes")), len(options) - 1)
        if answer is None or answer == ESC:
            return no  # end of input or Esc: cancel
        a = answer.strip().lower()
        if a == "":
            return selected
        if a in ("y", "yes"):
            return 0
        if a in ("n", "no"):
            return no
        if a.isdigit() and 1 <= int(a) <= len(options):
            return int(a) - 1
        return None

    def ask_box(self, title: str | None, question: str, options: list[str], selected: int) -> list[str]:
        cols = self.columns()
        rows = [f"{_BLUE}{'─' * cols}{_RESET}"]
        if title:
            rows.append(f"{_BOLD}{clip(literal(title), cols)}{_RESET}")
        for part in literal(question).split("\n"):
            for wrapped in textwrap.wrap(part, max(10, cols - 4)) or [""]:
                rows.append(f"  {clip(wrapped, cols - 2)}")
        rows.append(QUESTION_MARKER)
        for i, option in enumerate(options):
            mark = f"{_CYAN}❯{_RESET}" if i == selected else " "
            rows.append(f"{mark} {clip(f'{i + 1}. {literal(option)}', cols - 2)}")
        rows.append(f"{_DIM}{CANCEL_HINT}{_RESET}")
        return rows

    def do_idle(self, step: dict) -> None:
        while True:
            cols = self.columns()
            rule = f"{_DIM}{'─' * cols}{_RESET}"
            # Box, then the cursor back on the "> " line where typing shows.
            # Bracketed paste on, so a pasted multi-line prompt arrives as one message.
            self.out(f"{_PASTE_ON}{rule}\n> \n{rule}\n  {_DIM}{IDLE_HINT}{_RESET}\x1b[2A\r\x1b[2C")

            def redraw(buf: str) -> None:
                shown = literal(buf).replace("\n", "↵")
                self.out("\r\x1b[2K> " + shown[-max(1, cols - 3):])

            text = self.keyboard.read_line(redraw)
            self.out(f"\r\x1b[1A\x1b[J{_PASTE_OFF}")  # erase the box from its top rule down
            if text is None:
                raise Stop(0, quiet=True)
            if text in (ESC, ARROW_UP, ARROW_DOWN) or not text.strip():
                continue
            if text.strip() == "/exit":
                raise Stop(0, quiet=True)
            self.line()
            self.user_message(text)
            self.line(f"{_BLUE}●{_RESET} On it.")
            self.work(step["reply_work"], "Working")
            first = literal(text.strip().splitlines()[0])
            self.edit(step["reply_edit"], f"# {first}", template=False)
            self.line(f"{_BLUE}●{_RESET} Done.")


# ---------------------------------------------------------------- entry point

def _on_signal(signum, _frame):
    raise Stop(EXIT_CODES.get(signum, 128 + signum))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m app.demo_agent",
                                description="paneboard's scripted demo agent (no AI, no network).")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--scenario", choices=sorted(SCENARIOS),
                     help=f"built-in scenario (default: $PANEBOARD_DEMO_SCENARIO or {DEFAULT_SCENARIO})")
    src.add_argument("--script", type=Path, help="a JSON list of steps (default: $PANEBOARD_DEMO_SCRIPT)")
    p.add_argument("--speed", type=float, default=None,
                   help="multiply every duration (0.1 = ten times faster; default: $PANEBOARD_DEMO_SPEED or 1)")
    p.add_argument("prompt", nargs="?", default=None, help="the task prompt, echoed as the user's message")
    args, rest = p.parse_known_args(argv)
    # A prompt that looks like an option ("-v", "--fix-it") is still the prompt when it comes last.
    if len(rest) == 1 and args.prompt is None:
        args.prompt = rest[0]
    elif rest:
        p.error(f"unrecognized arguments: {' '.join(rest)}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the demo agent; returns the exit code."""
    args = parse_args(argv)
    try:
        sys.stdout.reconfigure(encoding="utf-8", errors="replace", line_buffering=True)
    except (AttributeError, ValueError):
        pass
    speed = args.speed
    if speed is None:
        try:
            speed = float(os.environ.get("PANEBOARD_DEMO_SPEED") or 1.0)
        except ValueError:
            speed = 1.0
    if not (speed > 0 and math.isfinite(speed)):
        print("demo_agent: --speed must be > 0", file=sys.stderr)
        return 2
    try:
        script = args.script if args.script is not None or args.scenario else \
            (Path(os.environ["PANEBOARD_DEMO_SCRIPT"]) if os.environ.get("PANEBOARD_DEMO_SCRIPT") else None)
        if script is not None:
            name, steps = script.name, load_script(script)
        else:
            name = args.scenario or os.environ.get("PANEBOARD_DEMO_SCENARIO") or DEFAULT_SCENARIO
            steps = scenario(name)
    except ScriptError as e:
        print(f"demo_agent: {e}", file=sys.stderr)
        return 2

    for sig in EXIT_CODES:
        signal.signal(sig, _on_signal)
    keyboard = Keyboard()
    agent = Agent(steps, speed, keyboard)
    code = 0
    try:
        agent.header(name, args.prompt)
        code = agent.run()
    except Stop as stop:
        code = stop.code
        if not stop.quiet and stop.code != 129:  # after a hangup there is no terminal to write to
            _try(lambda: agent.out(f"\r\x1b[2K{_RESET}\n{_DIM}interrupted{_RESET}\n"))
    except BrokenPipeError:
        code = 141
    finally:
        for sig in EXIT_CODES:
            signal.signal(sig, signal.SIG_IGN)
        keyboard.restore()
        _try(lambda: agent.out(_RESET + _PASTE_OFF if keyboard.tty else _RESET))
    if code == 141:
        # Nobody reads our output any more: keep Python from complaining while it flushes at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return code


def _try(fn) -> None:
    try:
        fn()
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
