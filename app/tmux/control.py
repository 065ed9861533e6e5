"""A tmux control-mode client on asyncio: one pipe per session carries every pane's output and our commands.

`ControlClient(tmux_argv, session)` spawns ``tmux_argv -C attach-session -f ignore-size,pause-after=N
-t =SESSION`` with plain pipes (``-CC`` would need a tty) and then offers:

- ``await start()`` — spawn, wait for tmux's first ``%begin/%end`` (commands sent earlier fail with
  "no current client"), learn the session's windows, subscribe to pane death. Raises `TmuxError`
  if tmux refuses (no such session, no server).
- ``await command(*args) -> list[str]`` — run one tmux command over the channel. Every argument is
  quoted for tmux's parser by `quote`, so quotes, ``;``, ``#{...}``, ``$VAR``, ``$(...)``, braces
  and newlines arrive literally. Replies are matched by order; ``%error`` raises `TmuxError`.
  Output lines are decoded as UTF-8 with replacement.
- ``await capture(pane_id, ansi=False, echo=False) -> str`` — the pane's visible screen
  (``capture-pane -p [-e]``) over the channel: no subprocess per capture. With ``echo=True`` the
  screen is also queued as a `Captured` event, behind every `Output` tmux sent before it: a
  consumer of `events()` then knows exactly which output the screen already shows.
- ``events()`` — an async iterator of notifications, ending after one `Exit`:
  `Output` (a pane's bytes, octal escapes decoded; consecutive chunks of one pane read together
  are merged into one event), `PaneDied` (alias `PaneDead`), `WindowAdded`, `WindowClosed`,
  `Paused` / `Resumed` (output for that pane was dropped in between: capture the screen again
  after `Resumed`), `Captured` (see ``capture``), `Exit` (alias `SessionClosed`; the session or
  server went away, or `close()`). One consumer only.
- ``launch`` (optional) — for a server on another host: ``launch(tmux args)`` is the whole local
  argv (``RemoteTmux.launch``: ssh to the host, then ``tmux -L SOCK ARGS`` there).
- ``await close()`` — end the client (EOF on its stdin, then SIGTERM/SIGKILL to its own pid).

Facts measured on tmux 3.3a (see tests/integration/test_control.py and bench/control_flood.py):

- Sizes: a control client that never sends ``refresh-client -C`` is ignored when tmux computes
  window sizes, and ``-f ignore-size`` makes that explicit, so attaching never resizes the
  session's windows (the integration test checks panes before/after attach and for a window
  created while attached). Never send ``refresh-client -C`` from here.
- Flow control: with ``pause-after=N`` tmux sends ``%extended-output %P AGE : DATA`` instead of
  ``%output``, and ``%pause %P`` once this client is N seconds behind on a pane; tmux then drops that
  pane's output for us until ``refresh-client -A '%P:continue'``, which we send at once (having
  read ``%pause`` we have caught up), emitting `Paused` then `Resumed`. Our own event queue is
  bounded by bytes too: when the consumer falls behind, further `Output` is dropped and reported
  the same way. Command replies are never blocked by a slow consumer.
- Pane death: the subscription ``pbdead:%*:#{pane_dead}:#{pane_dead_status}:#{pane_dead_signal}``
  is checked by tmux
  on a one-second timer, so `PaneDied` arrives 0–1 s after the process ends (the pane must have
  remain-on-exit on, as `Tmux.new_agent_window` sets; otherwise the window just closes).
  The first report after subscribing covers every pane, so panes already dead at start are
  reported too. tmux may show a pane dead before it has reaped the child (status still empty,
  and then the subscription does not always report the change): then we ask with
  ``display-message`` every 50 ms for up to 2 s. tmux 3.3a sometimes misses a SIGCHLD and leaves
  the pane's process a zombie (measured: 4 of 40 ``exit 4`` windows) until another child exits;
  then the exit code is read from ``/proc/PID/stat`` (Linux). ``status=None`` if all that fails.
- ``kill-window`` on a window of our session is reported as ``%unlinked-window-close`` (the
  window is unlinked before the notification), so both close notifications are mapped to
  `WindowClosed` for windows known to be in this session.
- Killing the session or the server ends the client with ``%exit`` (and EOF).
- Cost: tmux's stdout is parsed straight from the loop's pipe callback (no reader task); lines of
  one pane read together become one `Output`. While output streams (two reads < 5 ms apart) the
  pipe is left to fill for 5 ms before the next read, so one read carries many lines; a write
  after a quiet spell is still handled at once. Measured with bench/control_flood.py (16 panes x
  5,000 lines/s, ~5.2 MB/s delivered, 2 cores): this process 9–10 % of a core (14–15 % without the
  5 ms batching), the tmux server ~50 % (its terminal emulation, the same for any reader), the
  ``tmux -C`` client process ~0 % (the server writes to our pipe directly); send-keys -> `Output`
  p50 0.3–0.6 ms idle, 2–5 ms during the flood; capture() 0.06–0.1 ms vs ~2 ms for a
  ``tmux capture-pane`` subprocess. No ``%pause`` during that flood: the reader keeps up.

Quoting: tmux's single quotes cannot hold a newline (control mode reads one command per line),
so `quote` uses double quotes and escapes ``\\``, ``"``, ``$`` and control characters; inside
double quotes ``#{...}`` and ``;`` are plain text for the parser (a command may still expand
formats in arguments it treats as formats: ``display-message``, ``rename-window``, ``new-window
-n`` and others expand ``#{...}`` and even run ``#(...)`` — measured: ``rename-window '#(touch X)'``
runs it. Pass user text to such commands through `no_formats`, which doubles ``#``;
``display-message`` also runs strftime on it, so ``%`` needs doubling there). Some commands print
their values escaped in control mode (``show-buffer``, window names): read raw data back with
``save-buffer`` or formats instead. An argument starting with ``-`` needs a ``--`` before it.
"""

from __future__ import annotations

import asyncio
import codecs
import collections
import os
import re
import signal
import time
from dataclasses import dataclass
from typing import AsyncIterator, Callable

from ..errors import TmuxError

# -- events ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Output:
    """Bytes a pane printed, as tmux read them from its pty; `at` is time.time() when we read them."""

    pane: str
    data: bytes
    at: float


@dataclass(frozen=True, slots=True)
class PaneDied:
    """A pane's process ended (the pane stays, dead, with remain-on-exit); status None = killed by a signal."""

    pane: str
    status: int | None
    at: float = 0.0


PaneDead = PaneDied


@dataclass(frozen=True, slots=True)
class WindowAdded:
    """A window was added to the attached session."""

    window: str
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class WindowClosed:
    """A window of the attached session was closed."""

    window: str
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class Paused:
    """Output of this pane is being dropped (tmux paused it, or our queue was full) until `Resumed`."""

    pane: str
    reason: str
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class Resumed:
    """Output of this pane flows again; what it printed meanwhile is lost, so capture its screen."""

    pane: str
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class Captured:
    """The screen an echoing `capture` returned, in stream order: every earlier `Output` is on it."""

    pane: str
    screen: str
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class Exit:
    """The control client ended: the last event. reason is tmux's %exit text, or what we saw."""

    reason: str
    at: float = 0.0


SessionClosed = Exit

Event = Output | PaneDied | WindowAdded | WindowClosed | Paused | Resumed | Captured | Exit

# -- quoting and decoding ---------------------------------------------------------

_NEEDS_ESCAPE = re.compile(r'[\\"$\x00-\x1f\x7f]')
_ESCAPES = {"\\": "\\\\", '"': '\\"', "$": "\\$", "\n": "\\n", "\r": "\\r", "\t": "\\t",
            "\x1b": "\\e"}


def _escape(match: re.Match) -> str:
    ch = match.group(0)
    if ch == "\x00":
        raise ValueError("a tmux argument cannot contain a NUL character")
    return _ESCAPES.get(ch) or f"\\{ord(ch):03o}"


def no_formats(text: str) -> str:
    """Text for an argument a tmux command expands as a format (rename-window, display-message, -n): '#' doubled."""
    return text.replace("#", "##")


def quote(arg: str) -> str:
    """One argument quoted for tmux's command parser so it arrives literally (double quotes, escaped)."""
    return '"' + _NEEDS_ESCAPE.sub(_escape, arg) + '"'


_OCTAL = re.compile(rb"\\([0-7]{3})")


def _octal_fallback(value: bytes) -> bytes:
    return _OCTAL.sub(lambda m: bytes((int(m.group(1), 8) & 0xFF,)), value)


try:
    _escape_decode = codecs.escape_decode  # type: ignore[attr-defined]
    # tmux escapes every byte < 0x20 and every backslash as \ooo, so no other escape can occur
    # and the C decoder is exact; check once that it behaves as expected here.
    if _escape_decode(rb"a\134b\033\015\012\303\251")[0] != b"a\\b\x1b\r\n\xc3\xa9":
        raise AttributeError
except AttributeError:  # pragma: no cover
    _escape_decode = None


def decode_output(value: bytes) -> bytes:
    """tmux's octal-escaped %output value back to the pane's raw bytes."""
    if b"\\" not in value:
        return value
    if _escape_decode is not None:
        try:
            return _escape_decode(value)[0]
        except ValueError:
            pass  # a truncated escape: fall through to the regex
    return _octal_fallback(value)


def zombie_exit_status(pid: int) -> int | None:
    """The exit code of a zombie process from /proc (Linux), None if not a zombie, signalled or unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2:].split()
    # fields[0] is field 3 (state); exit_code is field 52 (Linux >= 3.5), a waitpid() status.
    if not fields or fields[0] != b"Z" or len(fields) < 50:
        return None
    raw = int(fields[49])
    return os.WEXITSTATUS(raw) if os.WIFEXITED(raw) else None


# -- the client -------------------------------------------------------------------

_DEAD_SUB = "pbdead"
_BATCH = 0.005   # seconds: while output streams, read tmux's pipe at most this often


class _Reply:
    __slots__ = ("future", "lines", "name", "echo")

    def __init__(self, future: asyncio.Future, name: str, echo: str | None = None):
        self.future = future
        self.lines: list[bytes] = []
        self.name = name
        self.echo = echo        # a pane id: queue the reply as a Captured event for that pane


class _Pipes(asyncio.SubprocessProtocol):
    """Hands tmux's stdout straight to the parser from the event loop's read callback (no reader task)."""

    def __init__(self, client: "ControlClient"):
        self.client = client

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd == 1:
            self.client._on_stdout(data)
        elif len(self.client._stderr) < 4096:
            self.client._stderr += data

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:
            self.client._on_eof()

    def process_exited(self) -> None:
        self.client._on_process_exit()


class _PaneDeaths:
    """Which panes died, and with what status: from the pane-death subscription, asking tmux when it lags.

    Part of `ControlClient`, whose reader calls `_subscription`; it keeps its verdicts in `_dead`.
    """

    def _subscription(self, rest: bytes, at: float) -> None:
        # "%subscription-changed NAME $S @W INDEX %P ... : DEAD:STATUS:SIGNAL"
        head, sep, value = rest.partition(b" : ")
        fields = head.split(b" ")
        if not sep or fields[0] != _DEAD_SUB.encode() or len(fields) < 5:
            return
        pane = fields[4].decode("ascii", "replace")
        dead_flag, status, signal_no = (value.decode("ascii", "replace").split(":") + ["", ""])[:3]
        if dead_flag.strip() != "1":
            self._dead.pop(pane, None)          # alive (again, after respawn-pane)
            return
        if self._dead.get(pane) == "reported":
            return
        status = status.strip()
        if status.lstrip("-").isdigit():
            self._dead[pane] = "reported"
            self._emit(PaneDied(pane, int(status), at))
        elif signal_no.strip():
            self._dead[pane] = "reported"
            self._emit(PaneDied(pane, None, at))
        elif pane not in self._dead:
            # The pty closed before tmux reaped the child, so the status is not known yet: ask
            # for it (the subscription may also report it on its next check).
            self._dead[pane] = "waiting"
            self._tasks.add(task := asyncio.create_task(self._resolve_death(pane)))
            task.add_done_callback(self._tasks.discard)

    async def _resolve_death(self, pane: str) -> None:
        status: int | None = None
        for attempt in range(40):
            await asyncio.sleep(0.05)
            if self._dead.get(pane) != "waiting" or self.exit_reason is not None:
                return
            try:
                out = await self.command("display-message", "-p", "-t", pane,
                                         "#{pane_dead_status}:#{pane_dead_signal}:#{pane_pid}")
            except TmuxError:
                break                     # the pane is gone
            code, sig, pid = ((out[0] if out else "") + "::").split(":")[:3]
            if code.lstrip("-").isdigit():
                status = int(code)
                break
            if sig.strip():
                break
            if attempt >= 3 and pid.isdigit() and getattr(self, "launch", None) is None:
                # tmux 3.3a sometimes misses a SIGCHLD and leaves the child a zombie until
                # another child exits; the kernel already knows its exit status.
                status = zombie_exit_status(int(pid))
                if status is not None:
                    break
        if self._dead.get(pane) == "waiting" and self.exit_reason is None:
            self._dead[pane] = "reported"
            self._emit(PaneDied(pane, status, time.time()))
            self._wakeup.set()


class ControlClient(_PaneDeaths):
    """One tmux control-mode client attached to one session (see the module docstring)."""

    def __init__(self, tmux_argv: list[str], session: str, *, pause_after: int = 5,
                 max_queued_bytes: int = 8 << 20, launch: Callable[[list[str]], list[str]] | None = None):
        self.tmux_argv = list(tmux_argv)
        # A server elsewhere (another host): `launch(tmux args)` gives the whole local argv, and its
        # pane pids are not this machine's, so /proc is never read for them.
        self.launch = launch
        self.session = session
        self.pause_after = pause_after
        self.max_queued_bytes = max_queued_bytes
        self.pid: int | None = None
        self.windows: set[str] = set()
        self.dropped_bytes = 0          # Output bytes dropped because our consumer was behind
        self.exit_reason: str | None = None
        self._transport: asyncio.SubprocessTransport | None = None
        self._stdin: asyncio.WriteTransport | None = None
        self._exited: asyncio.Future | None = None
        self._pending: collections.deque[_Reply] = collections.deque()
        self._block: _Reply | None = None
        self._block_key: bytes = b""
        self._ready: asyncio.Future | None = None
        self._events: collections.deque = collections.deque()
        self._queued_bytes = 0
        self._wakeup = asyncio.Event()
        self._overflowed: set[str] = set()
        self._dead: dict[str, str] = {}     # pane -> "waiting" | "reported"
        self._stderr = b""
        self._closing = False
        self._rest = b""
        self._tasks: set[asyncio.Task] = set()
        self._last_read = 0.0
        self._batching = False

    # -- lifecycle --

    async def start(self, timeout: float = 10.0) -> None:
        """Attach to the session and wait until tmux accepts commands; raises TmuxError if it refuses."""
        flags = f"ignore-size,pause-after={self.pause_after}" if self.pause_after else "ignore-size"
        args = ["-C", "attach-session", "-f", flags, "-t", "=" + self.session]
        argv = self.launch(args) if self.launch is not None else self.tmux_argv + args
        env = {k: v for k, v in os.environ.items() if k != "TMUX"}
        loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        self._exited = loop.create_future()
        try:
            self._transport, _ = await loop.subprocess_exec(
                lambda: _Pipes(self), *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, env=env, start_new_session=True)
        except FileNotFoundError as exc:
            raise TmuxError("tmux is not installed or not on PATH; install tmux >= 3.2") from exc
        self.pid = self._transport.get_pid()
        self._stdin = self._transport.get_pipe_transport(0)
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), timeout)
        except asyncio.TimeoutError:
            await self.close()
            raise TmuxError(f"tmux control client for session {self.session!r} did not answer "
                            f"within {timeout:g}s") from None
        except TmuxError:
            await self.close()
            raise
        ids = await self.command("list-windows", "-t", "=" + self.session, "-F", "#{window_id}")
        self.windows.update(i for i in ids if i.startswith("@"))
        await self.command("refresh-client", "-B",
                           f"{_DEAD_SUB}:%*:#{{pane_dead}}:#{{pane_dead_status}}:#{{pane_dead_signal}}")

    async def close(self) -> None:
        """End the client: EOF on stdin (tmux detaches), then SIGTERM/SIGKILL its own pid; waits for it."""
        self._closing = True
        if self._transport is not None:
            if self._stdin is not None and not self._stdin.is_closing():
                self._stdin.close()
            for sig in (None, signal.SIGTERM, signal.SIGKILL):
                if self.returncode is not None:
                    break
                if sig is not None and self.pid is not None:
                    try:
                        os.kill(self.pid, sig)
                    except ProcessLookupError:
                        pass
                try:
                    await asyncio.wait_for(asyncio.shield(self._exited), 1.0)
                except asyncio.TimeoutError:
                    continue
            self._transport.close()
        for task in list(self._tasks):
            if not task.done():
                task.cancel()
        self._finish("closed")

    async def __aenter__(self) -> "ControlClient":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    @property
    def returncode(self) -> int | None:
        """The tmux client process's exit code, None while it runs (or before start)."""
        return self._transport.get_returncode() if self._transport is not None else None

    @property
    def alive(self) -> bool:
        """True while the client is attached."""
        return self.exit_reason is None and self._transport is not None and self.returncode is None

    # -- commands --

    async def command(self, *args: str) -> list[str]:
        """Run one tmux command over the channel and return its output lines; raises TmuxError on %error."""
        return await self._command(args)

    async def _command(self, args: tuple[str, ...], echo: str | None = None) -> list[str]:
        if not args:
            raise ValueError("command() needs a tmux command name")
        if self.exit_reason is not None or self._stdin is None or self._stdin.is_closing():
            raise TmuxError(f"tmux control client for {self.session!r} is not running "
                            f"({self.exit_reason or 'not started'})")
        line = " ".join(quote(a) for a in args) + "\n"
        future = asyncio.get_running_loop().create_future()
        # Appending and writing without an await in between keeps replies in send order.
        self._pending.append(_Reply(future, args[0], echo))
        try:
            self._stdin.write(line.encode("utf-8", "surrogateescape"))
        except (ConnectionError, OSError, RuntimeError) as exc:
            raise TmuxError(f"tmux control client for {self.session!r} went away: {exc}") from None
        return await future

    async def capture(self, pane_id: str, ansi: bool = False, echo: bool = False) -> str:
        """The visible screen of a pane (with colour escapes when ansi=True), one line per row;
        echo=True also queues it as a `Captured` event, ordered after the output it shows."""
        args = ("capture-pane", "-p", "-t", pane_id) + (("-e",) if ansi else ())
        return "\n".join(await self._command(args, echo=pane_id if echo else None))

    # -- events --

    async def events(self) -> AsyncIterator[Event]:
        """Notifications in arrival order; ends after yielding one Exit."""
        while True:
            while not self._events:
                self._wakeup.clear()
                await self._wakeup.wait()
            event = self._events.popleft()
            if type(event) is Output:
                self._queued_bytes -= len(event.data)
            if self._overflowed and self._queued_bytes <= self.max_queued_bytes // 2:
                now = time.time()
                for pane in sorted(self._overflowed):
                    self._events.append(Resumed(pane, now))
                self._overflowed.clear()
            yield event
            if type(event) is Exit:
                return

    def _emit(self, event) -> None:
        self._events.append(event)

    def _emit_output(self, pane: str, data: bytes, at: float) -> None:
        if pane in self._overflowed:
            self.dropped_bytes += len(data)
            return
        if self._queued_bytes and self._queued_bytes + len(data) > self.max_queued_bytes:
            # (a consumer that has caught up gets even an oversized chunk)
            self.dropped_bytes += len(data)
            self._overflowed.add(pane)
            self._events.append(Paused(pane, "consumer behind", at))
            return
        self._queued_bytes += len(data)
        self._events.append(Output(pane, data, at))

    def _finish(self, reason: str) -> None:
        """Record the end once: fail waiting commands and queue the final Exit."""
        if self.exit_reason is not None:
            return
        self.exit_reason = reason
        error = TmuxError(f"tmux control client for {self.session!r} ended: {reason}")
        if self._ready is not None and not self._ready.done():
            detail = self._stderr.decode("utf-8", "replace").strip()
            self._ready.set_exception(TmuxError(
                f"cannot attach to tmux session {self.session!r}: {detail or reason}"))
        while self._pending:
            reply = self._pending.popleft()
            if not reply.future.done():
                reply.future.set_exception(error)
        if self._block is not None and not self._block.future.done():
            self._block.future.set_exception(error)
        self._block = None
        self._events.append(Exit(reason, time.time()))
        self._wakeup.set()

    # -- reading --

    def _on_stdout(self, data: bytes) -> None:
        if self.exit_reason is not None:
            return
        now = time.time()
        if now - self._last_read < _BATCH and not self._batching and self._transport is not None:
            # Output is streaming: let the pipe fill for a moment so one read carries many
            # lines (per-read overhead, not parsing, dominates the cost); an isolated write
            # after a quiet spell is still handled at once.
            pipe = self._transport.get_pipe_transport(1)
            if pipe is not None:
                self._batching = True
                pipe.pause_reading()
                asyncio.get_running_loop().call_later(_BATCH, self._resume_reading, pipe)
        self._last_read = now
        try:
            reason = self.feed(data, now)
        except Exception as exc:  # never leave a consumer hanging on a parser bug
            reason = f"reader failed: {exc!r}"
        if reason is not None:
            self._finish("closed" if self._closing else reason)

    def _resume_reading(self, pipe) -> None:
        self._batching = False
        if not pipe.is_closing():
            pipe.resume_reading()

    def _on_eof(self) -> None:
        if self.exit_reason is None:
            self._finish("closed" if self._closing else "tmux client output ended")

    def _on_process_exit(self) -> None:
        if self._exited is not None and not self._exited.done():
            self._exited.set_result(self.returncode)
        if self.exit_reason is None:
            # Normally stdout's EOF ends us (after its last data); this is the fallback.
            asyncio.get_running_loop().call_later(0.5, 
                lambda: self._finish("closed" if self._closing else f"tmux client exited ({self.returncode})"))

    def feed(self, chunk: bytes, at: float) -> str | None:
        """Parse a chunk of tmux's stdout (any split, any bytes); returns the exit reason once %exit is read."""
        lines = (self._rest + chunk).split(b"\n")
        self._rest = lines.pop()
        reason = self._handle_lines(lines, at)
        self._wakeup.set()
        return reason

    def _handle_lines(self, lines: list[bytes], at: float) -> str | None:
        """Dispatch complete lines; returns the exit reason once %exit is seen."""
        merged: dict[str, list[bytes]] = {}
        for line in lines:
            block = self._block
            if block is not None:
                if line.startswith((b"%end ", b"%error ")) and self._ends_block(line):
                    self._close_block(line.startswith(b"%error"))
                elif block.name == "refresh-client" and line.startswith((b"%pause %", b"%continue %")):
                    # tmux writes these at once, inside the reply of the refresh-client -A
                    # that caused them; elsewhere a block line is command output, whatever it says.
                    self._notification(line, at)
                else:
                    block.lines.append(line)
                continue
            if line.startswith(b"%output "):
                _, pane, value = line.split(b" ", 2) if line.count(b" ") >= 2 else (b"", line[8:], b"")
                self._merge(merged, pane, value)
            elif line.startswith(b"%extended-output "):
                head, sep, value = line.partition(b" : ")
                if not sep:
                    head, value = line.rstrip(b" :"), b""
                self._merge(merged, head.split(b" ", 2)[1], value)
            elif line.startswith(b"%"):
                if merged:
                    self._flush(merged, at)
                reason = self._notification(line, at)
                if reason is not None:
                    return reason
            # anything else outside a block is noise (e.g. a stray line); ignore it
        if merged:
            self._flush(merged, at)
        return None

    @staticmethod
    def _merge(merged: dict[str, list[bytes]], pane: bytes, value: bytes) -> None:
        key = pane.decode("ascii", "replace")
        part = decode_output(value)
        bucket = merged.get(key)
        if bucket is None:
            merged[key] = [part]
        else:
            bucket.append(part)

    def _flush(self, merged: dict[str, list[bytes]], at: float) -> None:
        for pane, parts in merged.items():
            self._emit_output(pane, parts[0] if len(parts) == 1 else b"".join(parts), at)
        merged.clear()

    def _ends_block(self, line: bytes) -> bool:
        # "%end TIME NUMBER FLAGS" must repeat the %begin's time and number: a pane line that
        # happens to start with "%end" inside captured output cannot close the block.
        parts = line.split(b" ")
        return len(parts) >= 3 and parts[1] + b" " + parts[2] == self._block_key

    def _close_block(self, error: bool) -> None:
        block, self._block = self._block, None
        assert block is not None
        text = [ln.decode("utf-8", "replace") for ln in block.lines]
        if block.future.done():
            return
        if error:
            message = "; ".join(t for t in text if t) or "unknown error"
            block.future.set_exception(TmuxError(f"tmux {block.name} failed: {message}"))
        else:
            block.future.set_result(text)
            if block.echo is not None:
                # Queued while parsing: every Output tmux wrote before this reply is ahead of it.
                self._events.append(Captured(block.echo, "\n".join(text), time.time()))

    def _notification(self, line: bytes, at: float) -> str | None:
        name, _, rest = line.partition(b" ")
        if name == b"%begin":
            parts = rest.split(b" ")
            from_us = len(parts) >= 3 and parts[2].isdigit() and int(parts[2]) & 1
            if from_us and self._pending:
                self._block = self._pending.popleft()
            else:
                # The reply to attach-session itself (flags 0): it tells us tmux is ready.
                self._block = _Reply(asyncio.get_running_loop().create_future(), "attach-session")
                self._block.future.add_done_callback(self._attach_replied)
            self._block_key = b" ".join(parts[:2])
        elif name == b"%subscription-changed":
            self._subscription(rest, at)
        elif name == b"%window-add":
            window = rest.decode("ascii", "replace")
            if window not in self.windows:
                self.windows.add(window)
                self._emit(WindowAdded(window, at))
        elif name in (b"%window-close", b"%unlinked-window-close"):
            window = rest.decode("ascii", "replace")
            if window in self.windows:
                self.windows.discard(window)
                self._emit(WindowClosed(window, at))
        elif name == b"%pause":
            pane = rest.decode("ascii", "replace")
            self._emit(Paused(pane, "tmux paused output", at))
            self._send_nowait("refresh-client", "-A", f"{pane}:continue")
        elif name == b"%continue":
            self._emit(Resumed(rest.decode("ascii", "replace"), at))
        elif name == b"%exit":
            return rest.decode("utf-8", "replace").strip() or "session closed"
        return None

    def _attach_replied(self, future: asyncio.Future) -> None:
        if self._ready is None or self._ready.done():
            return
        if future.exception() is not None:
            detail = str(future.exception()).removeprefix("tmux attach-session failed: ")
            self._ready.set_exception(TmuxError(
                f"cannot attach to tmux session {self.session!r}: {detail}"))
        else:
            self._ready.set_result(None)

    def _send_nowait(self, *args: str) -> None:
        """Send a command whose reply nobody awaits (used from the reader, which must not block)."""
        if self._stdin is None or self._stdin.is_closing() or self.exit_reason is not None:
            return
        future = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda f: f.exception())  # consume errors quietly
        self._pending.append(_Reply(future, args[0]))
        try:
            self._stdin.write((" ".join(quote(a) for a in args) + "\n").encode())
        except (ConnectionError, OSError, RuntimeError):
            pass
