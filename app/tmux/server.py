"""tmux by argv: sessions, agent windows, literal input, screen capture, pane options.

libtmux's `Server` answers "is the server alive" (loaded lazily, so `ls` starts fast); every
other tmux call goes through `Tmux.run` with an argv list, so nothing a user typed
ever reaches a shell; text for an agent goes through `load-buffer` on stdin, so it is
never parsed by tmux either.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass

from ..errors import TmuxError

MIN_VERSION = (3, 2)

# Pane user options paneboard sets on every agent pane; a restarted dashboard reads them back.
PANE_OPTIONS = ("name", "task", "branch", "worktree", "agent", "repo", "started")
_FIELD_SEP = "\x1f"
_PANE_FORMAT = _FIELD_SEP.join(
    ["#{pane_id}", "#{session_name}", "#{window_id}", "#{window_name}", "#{pane_pid}",
     "#{pane_dead}", "#{pane_dead_status}", "#{pane_current_command}", "#{window_activity}"]
    + [f"#{{@paneboard_{o}}}" for o in PANE_OPTIONS]
)


_SCREEN_MARKER = re.compile(r"@@paneboard-screen-([0-9a-f]{8})@@(%\d+)$")

_KEY_NAMES = {"Enter", "Escape", "Tab", "BTab", "BSpace", "Space", "Up", "Down", "Left", "Right", "Home",
              "End", "PPage", "NPage", "PageUp", "PageDown", "IC", "DC", "Insert", "Delete"}
_KEY = re.compile(r"(?:(?:[CMS]-)+)?(?:F(?:[1-9]|1[0-2])|%s|[!-~])" % "|".join(sorted(_KEY_NAMES)))


def is_key(key: str) -> bool:
    """True for a key tmux's send-keys knows by name, with optional C-/M-/S- modifiers, or one character."""
    return bool(_KEY.fullmatch(key))


def _dead_without_status(line: str) -> bool:
    parts = line.split(_FIELD_SEP)
    return len(parts) > 9 and bool(parts[9]) and parts[5] == "1" and parts[6] == ""


def tmux_arg(value: str) -> str:
    """Escape an argument so tmux's command parser never treats a trailing ';' as a separator."""
    return value[:-1] + "\\;" if value.endswith(";") else value


@dataclass(frozen=True)
class PaneInfo:
    """What tmux knows about one agent pane."""

    pane_id: str
    session: str
    window_id: str
    window_name: str
    pid: int
    dead: bool
    dead_status: int | None
    command: str
    window_activity: float
    options: dict[str, str]


class Tmux:
    """One tmux server (the user's default one, or a named socket) driven by argv only."""

    def __init__(self, socket_name: str | None = None):
        self.socket_name = socket_name or None
        self._server = None

    @property
    def server(self):
        """The libtmux Server for this socket (server lifecycle; imported lazily so `ls` starts fast)."""
        if self._server is None:
            import libtmux
            self._server = libtmux.Server(socket_name=self.socket_name)
        return self._server

    @property
    def base_argv(self) -> list[str]:
        """The argv prefix that reaches this server (used for control mode and attach)."""
        return ["tmux"] + (["-L", self.socket_name] if self.socket_name else [])

    def run(self, *args: str, check: bool = True, stdin: str | None = None) -> list[str]:
        """Run one tmux command list (separate commands with a lone ';') and return stdout lines.

        One subprocess with an argv list, like libtmux's `Server.cmd`, but with stdin for
        load-buffer and without libtmux's import cost on the `ls` path.
        """
        try:
            proc = subprocess.run(self.base_argv + list(args), capture_output=True,
                                  input=stdin.encode("utf-8") if stdin is not None else None)
        except FileNotFoundError:
            raise TmuxError("tmux is not installed or not on PATH; install tmux >= 3.2") from None
        out = proc.stdout.decode("utf-8", "replace").splitlines()
        if check and proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip()
            raise TmuxError(f"tmux {args[0]} failed: {err or f'exit {proc.returncode}'}")
        return out

    # -- server and sessions -------------------------------------------------

    @staticmethod
    def version() -> tuple[int, int]:
        """The installed tmux version as (major, minor); raises TmuxError if missing or too old."""
        exe = shutil.which("tmux")
        if not exe:
            raise TmuxError("tmux is not installed or not on PATH; install tmux >= 3.2 (run `paneboard doctor`)")
        out = subprocess.run([exe, "-V"], capture_output=True, text=True).stdout.strip()
        m = re.search(r"(\d+)\.(\d+)", out)
        if not m:
            raise TmuxError(f"cannot read the tmux version from {out!r}; paneboard needs tmux >= 3.2")
        ver = (int(m.group(1)), int(m.group(2)))
        if ver < MIN_VERSION:
            raise TmuxError(f"tmux {ver[0]}.{ver[1]} is too old; paneboard needs tmux >= 3.2")
        return ver

    def alive(self) -> bool:
        """True if the server is running."""
        return self.server.is_alive()

    def has_session(self, session: str) -> bool:
        proc = subprocess.run(self.base_argv + ["has-session", "-t", f"={session}"], capture_output=True)
        return proc.returncode == 0

    def kill_server(self) -> None:
        """Kill this server (only ever called on a private socket)."""
        if self.alive():
            self.run("kill-server", check=False)

    # -- agent windows ------------------------------------------------------

    def new_agent_window(self, session: str, window: str, cwd: str, argv: list[str],
                         env: dict[str, str], options: dict[str, str], pipe: str | None = None) -> str:
        """Start argv in a new window of `session` (created if needed); return its pane id.

        remain-on-exit, the pane options and the output log pipe are set in the same command
        list as the window is created, so even an agent that exits at once keeps its pane,
        its exit code and its output.
        """
        if len(argv) == 1:
            # A single argument would be run by tmux through `sh -c`; two or more are exec'd directly.
            argv = ["env", "--", *argv]
        env_args: list[str] = []
        for key, value in env.items():
            env_args += ["-e", tmux_arg(f"{key}={value}")]
        target = f"{session}:={window}"
        tail: list[str] = [";", "set-option", "-w", "-t", target, "remain-on-exit", "on"]
        for key, value in options.items():
            tail += [";", "set-option", "-p", "-t", target, f"@paneboard_{key}", tmux_arg(value)]
        if pipe:
            # pipe-pane expands formats in its command: '#' must be doubled to stay literal.
            tail += [";", "pipe-pane", "-t", target, tmux_arg(pipe.replace("#", "##"))]
        command = [tmux_arg(a) for a in argv]
        if self.has_session(session):
            head = ["new-window", "-d", "-P", "-F", "#{pane_id}", "-t", f"={session}:", "-n", window]
        else:
            head = ["new-session", "-d", "-P", "-F", "#{pane_id}", "-s", session, "-n", window,
                    "-x", "160", "-y", "48"]
        out = self.run(*head, "-c", cwd, *env_args, "--", *command, *tail)
        pane = next((line for line in out if line.startswith("%")), None)
        if pane is None:
            raise TmuxError(f"tmux did not report a pane for window {window!r}")
        return pane

    def list_agent_panes(self) -> list[PaneInfo]:
        """Every pane on this server that paneboard started (one tmux call)."""
        try:
            lines = self.run("list-panes", "-a", "-F", _PANE_FORMAT)
        except TmuxError:
            return []  # no server running: no panes
        if any(_dead_without_status(line) for line in lines):
            # tmux 3.3a can miss the SIGCHLD of a pane that exits right after the server
            # starts, leaving it a zombie with no exit status. Any job that ends makes the
            # server reap every child, so run one and ask again.
            self.run("run-shell", "true", check=False)
            lines = self.run("list-panes", "-a", "-F", _PANE_FORMAT, check=False)
        panes = []
        for line in lines:
            parts = line.split(_FIELD_SEP)
            if len(parts) < 9 + len(PANE_OPTIONS):
                continue
            opts = dict(zip(PANE_OPTIONS, parts[9:]))
            if not opts.get("name"):
                continue
            panes.append(PaneInfo(
                pane_id=parts[0], session=parts[1], window_id=parts[2], window_name=parts[3],
                pid=int(parts[4] or 0), dead=parts[5] == "1",
                dead_status=int(parts[6]) if parts[6].lstrip("-").isdigit() else None,
                command=parts[7], window_activity=float(parts[8] or 0), options=opts))
        return panes

    def kill_window(self, pane_id: str) -> None:
        self.run("kill-window", "-t", pane_id, check=False)

    def kill_pane_processes(self, pane_id: str, pid: int) -> None:
        """Signal the agent's whole process group (agents like codex leave children behind)."""
        import signal
        for sig in (signal.SIGHUP, signal.SIGTERM):
            try:
                os.killpg(os.getpgid(pid), sig)
            except (ProcessLookupError, PermissionError):
                return

    # -- input and output -----------------------------------------------------

    def paste(self, pane_id: str, text: str, enter: bool = True) -> None:
        """Deliver text literally with bracketed paste (load-buffer from stdin), then Enter."""
        buffer = f"paneboard-{pane_id.lstrip('%')}-{os.getpid()}"
        self.run("load-buffer", "-b", buffer, "-", stdin=text)
        self.run("paste-buffer", "-p", "-d", "-r", "-b", buffer, "-t", pane_id)
        if enter:
            self.send_key(pane_id, "Enter")

    def send_text(self, pane_id: str, text: str, enter: bool = True) -> None:
        """Type a short single line as keystrokes (what a human would type), then Enter."""
        if "\n" in text or len(text) > 200:
            self.paste(pane_id, text, enter)
            return
        if text:
            self.run("send-keys", "-l", "-t", pane_id, "--", tmux_arg(text))
        if enter:
            self.send_key(pane_id, "Enter")

    def send_key(self, pane_id: str, key: str) -> None:
        """Send one key: a tmux key name (Enter, Escape, Up, F5, C-c, M-x...) or a single character."""
        if not is_key(key):
            raise TmuxError(f"unknown key {key!r}: use a tmux key name such as Enter, Escape, Tab, Up, "
                            f"Down, BSpace, F1, C-c, or a single character")
        self.run("send-keys", "-t", pane_id, key)

    def capture(self, pane_id: str, ansi: bool = False) -> str:
        """The visible screen of a pane (with colour escapes when ansi=True)."""
        args = ["capture-pane", "-p", "-t", pane_id] + (["-e"] if ansi else [])
        return "\n".join(self.run(*args, check=False))

    def capture_all(self, panes: list[str]) -> dict[str, str]:
        """Every pane's visible screen in one tmux call (markers between them); per pane on failure."""
        if not panes:
            return {}
        # The marker names its pane with #{pane_id}, never the literal id: display-message runs strftime
        # over its text, and "%4" is a field width there ("@@m   %4"). The nonce keeps a screen that
        # happens to print a marker from passing for one. Plain ASCII: splitlines() would split on \x1e.
        nonce = uuid.uuid4().hex[:8]
        args: list[str] = []
        for p in panes:
            args += ["display-message", "-p", "-t", p, f"@@paneboard-screen-{nonce}@@#{{pane_id}}", ";",
                     "capture-pane", "-p", "-t", p, ";"]
        try:
            lines = self.run(*args[:-1])
        except Exception:
            return {p: self.capture(p) for p in panes}
        screens: dict[str, list[str]] = {}
        current: list[str] | None = None
        for line in lines:
            m = _SCREEN_MARKER.match(line)
            if m and m.group(1) == nonce:
                current = screens.setdefault(m.group(2), [])
            elif current is not None:
                current.append(line)
        return {p: "\n".join(screens[p]) if p in screens else self.capture(p) for p in panes}

    def select_window(self, pane_id: str) -> None:
        self.run("select-window", "-t", pane_id, check=False)
