"""ControlClient against a real tmux server on a private socket per test, with real processes in panes."""

from __future__ import annotations

import asyncio
import shlex
import subprocess
import sys
import time
import uuid

import pytest

from app.tmux.control import (Captured, ControlClient, Exit, Output, PaneDied, Paused, Resumed, WindowAdded,
                              WindowClosed, decode_output, no_formats, quote)
from app.errors import TmuxError
from tests.helpers import until

pytestmark = pytest.mark.skipif(subprocess.run(["sh", "-c", "command -v tmux"],
                                               capture_output=True).returncode != 0,
                                reason="tmux is not installed")


async def retry_until(fn, timeout: float = 5.0, interval: float = 0.01):
    """Poll fn (sync or async) with tiny sleeps until it returns something truthy; fail after timeout."""
    return await until(fn, timeout, interval)


class Server:
    """A private tmux server: `tmux -L pbtest-<uuid4>`, killed by that socket in a finalizer."""

    def __init__(self):
        self.socket = f"pbtest-{uuid.uuid4()}"
        self.argv = ["tmux", "-L", self.socket]

    def run(self, *args: str, check: bool = True) -> list[str]:
        proc = subprocess.run(self.argv + list(args), capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise RuntimeError(f"tmux {args}: {proc.stderr}")
        return proc.stdout.splitlines()

    def new_session(self, name: str = "s", command: str = "sleep 600") -> str:
        out = self.run("new-session", "-d", "-P", "-F", "#{pane_id}", "-s", name, "-n", "main",
                       "-x", "160", "-y", "48", command)
        self.run("set-option", "-g", "remain-on-exit", "on")
        return out[0]

    def new_window(self, name: str, command: str, session: str = "s") -> str:
        return self.run("new-window", "-d", "-P", "-F", "#{pane_id}", "-t", f"={session}:",
                        "-n", name, command)[0]

    def kill(self) -> None:
        subprocess.run(self.argv + ["kill-server"], capture_output=True)


@pytest.fixture
def server():
    srv = Server()
    yield srv
    srv.kill()


@pytest.fixture
async def client(server):
    server.new_session()
    c = ControlClient(server.argv, "s")
    await asyncio.wait_for(c.start(), 10)
    yield c
    await c.close()


class Collector:
    """Consumes events() in the background and keeps them for assertions."""

    def __init__(self, client: ControlClient):
        self.events: list = []
        self.task = asyncio.create_task(self._run(client))

    async def _run(self, client):
        async for event in client.events():
            self.events.append(event)

    def of(self, cls, pane=None) -> list:
        return [e for e in self.events if isinstance(e, cls) and (pane is None or getattr(e, "pane", None) == pane)]

    def output(self, pane: str) -> bytes:
        return b"".join(e.data for e in self.of(Output, pane))


def py(code: str) -> str:
    """A pane command that runs Python code, quoted for the shell tmux starts it with."""
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"


async def test_output_arrives_as_exact_bytes(server, client):
    events = Collector(client)
    payload = "h\u00e9llo \u2713 \U0001F600 \x1b[31mred\x1b[0m back\\slash tab\there"
    pane = server.new_window("w", py(f"import sys,time; sys.stdout.write({payload!r}+'\\n');"
                                     "sys.stdout.buffer.write(b'raw\\xff\\xfe\\n'); sys.stdout.flush(); time.sleep(30)"))
    expected = payload.encode() + b"\r\n" + b"raw\xff\xfe\r\n"
    await retry_until(lambda: expected in events.output(pane))
    assert all(isinstance(e.at, float) and e.at > 0 for e in events.of(Output, pane))


async def test_output_latency_is_small(server, client):
    events = Collector(client)
    pane = server.new_window("w", "cat")
    await retry_until(lambda: any(w.window for w in events.of(WindowAdded)))
    latencies = []
    for i in range(10):
        marker = f"ping{i}-{uuid.uuid4().hex[:6]}".encode()
        sent = time.time()
        await client.command("send-keys", "-t", pane, "-l", marker.decode())
        got = await retry_until(lambda: next((e for e in events.of(Output, pane) if marker in e.data), None),
                                interval=0.001)
        latencies.append(got.at - sent)
    latencies.sort()
    print(f"send-keys -> Output median {latencies[5] * 1000:.2f} ms, max {latencies[-1] * 1000:.2f} ms")
    assert latencies[5] < 0.5


HOSTILE = [
    "it's \"quoted\"",
    "a;b ; c;",
    ";",
    "#{pane_id} #(touch {x}) #[fg=red]",
    "$HOME ${HOME} $(touch {x}) `touch {x}`",
    "line one\nline two\r\n\ttabbed",
    "back\\slash \\n \\\" \\' \\$",
    "{ braces } %if %endif ~user",
    "unicod\u00e9 \u2713 \U0001F600",
    "",
    "-dash-first",
    "'",
    "\"",
    "\x1b[31m esc \x07 bel",
]


@pytest.mark.parametrize("value", HOSTILE)
async def test_command_arguments_arrive_literally(server, client, tmp_path, value):
    marker = tmp_path / "X"
    value = value.replace("{x}", str(marker))
    pane = (await client.command("display-message", "-p", "#{pane_id}"))[0]
    await client.command("set-option", "-p", "-t", pane, "--", "@hostile", value)
    shown = await client.command("show-options", "-p", "-v", "-t", pane, "@hostile")
    assert "\n".join(shown) == value
    # Through a paste buffer too, saved to a file byte for byte (show-buffer would escape it).
    if value:
        await client.command("set-buffer", "-b", "hostile", "--", value)
        await client.command("save-buffer", "-b", "hostile", str(tmp_path / "buffer"))
        assert (tmp_path / "buffer").read_bytes() == value.encode()
    # A command that expands formats in its argument (a command's choice, not the parser's)
    # prints it literally once '#' is doubled with no_formats (display-message also runs
    # strftime, so '%' would need doubling there too; and it cannot print control characters).
    if "\n" not in value and "#[" not in value and "%" not in value and value.isprintable():
        assert await client.command("display-message", "-p", "--", no_formats(value)) == [value]
    assert not marker.exists()


def test_no_formats_doubles_hashes():
    assert no_formats("#{a} ##(b)") == "##{a} ####(b)"


def test_quote_escapes_everything_the_parser_would_read():
    assert quote("plain") == '"plain"'
    assert quote('a"b') == '"a\\"b"'
    assert quote("$HOME") == '"\\$HOME"'
    assert quote("a\nb") == '"a\\nb"'
    assert quote("\\") == '"\\\\"'
    assert "\n" not in quote("x\ny\rz")
    with pytest.raises(ValueError):
        quote("nul\x00")


async def test_error_reply_raises_and_channel_keeps_working(client):
    with pytest.raises(TmuxError, match="can't find pane|can't find"):
        await client.command("capture-pane", "-p", "-t", "%999")
    with pytest.raises(TmuxError):
        await client.command("no-such-command")
    assert await client.command("display-message", "-p", "ok") == ["ok"]


async def test_concurrent_commands_get_their_own_replies(client):
    results = await asyncio.gather(*(client.command("display-message", "-p", f"n{i}") for i in range(50)))
    assert results == [[f"n{i}"] for i in range(50)]


async def test_capture_returns_the_visible_screen(server, client):
    pane = server.new_window("w", py("import time; print('\\x1b[32mgreen line\\x1b[0m'); print('second'); time.sleep(30)"))
    screen = await retry_until(lambda: _screen_with(client, pane, "second"))
    lines = screen.split("\n")
    assert lines[0] == "green line" and lines[1] == "second"
    assert len(lines) == 48
    colored = await client.capture(pane, ansi=True)
    assert "\x1b[32mgreen line" in colored


async def _screen_with(client, pane, text):
    screen = await client.capture(pane)
    return screen if text in screen else None


async def test_echoed_capture_is_queued_behind_the_output_it_shows(server, client):
    events = Collector(client)
    pane = server.new_window("w", py("import time\nfor i in range(100000):\n"
                                     "    print(f'line {i:06d}', flush=True); time.sleep(0.001)"))
    await retry_until(lambda: b"line 000100" in events.output(pane))
    screens = [await client.capture(pane, echo=True) for _ in range(20)]
    await retry_until(lambda: len(events.of(Captured, pane)) == 20)
    assert [e.screen for e in events.of(Captured, pane)] == screens
    streamed = b""
    for e in events.events:
        if isinstance(e, Output) and e.pane == pane:
            streamed += e.data
        elif isinstance(e, Captured):
            shown = [ln for ln in e.screen.split("\n") if ln.startswith("line ")]
            assert shown, e.screen
            # (the last line may be on screen before its newline was read)
            assert all(ln.encode() in streamed for ln in shown), (shown[-1], streamed[-40:])
    assert not events.of(Paused)
    assert await client.capture(pane) and len(events.of(Captured)) == 20      # no echo unless asked


async def test_capture_text_that_looks_like_a_reply_terminator(server, client):
    # A pane line "%end ..." inside capture output must not end the reply early.
    pane = server.new_window("w", py("import time; print('%end 1 2 1'); print('%error 1 2 1'); print('tail'); time.sleep(30)"))
    screen = await retry_until(lambda: _screen_with(client, pane, "tail"))
    assert screen.split("\n")[:3] == ["%end 1 2 1", "%error 1 2 1", "tail"]
    assert await client.command("display-message", "-p", "after") == ["after"]


async def test_pane_death_is_reported_with_exit_status(server, client):
    events = Collector(client)
    started = time.time()
    pane = server.new_window("dies", "sleep 0.2; exit 7")
    died = await retry_until(lambda: events.of(PaneDied, pane), timeout=5)
    assert died[0].status == 7
    print(f"exit -> PaneDied after {(died[0].at - started - 0.2) * 1000:.0f} ms")
    killed = server.new_window("killed", "sleep 0.1; kill -9 $$")
    died = await retry_until(lambda: events.of(PaneDied, killed), timeout=5)
    assert died[0].status is None
    assert len(events.of(PaneDied, pane)) == 1


async def test_panes_already_dead_at_attach_are_reported(server):
    server.new_session()
    pane = server.new_window("dead", "exit 4")
    await retry_until(lambda: server.run("display-message", "-p", "-t", pane, "#{pane_dead}") == ["1"])
    c = ControlClient(server.argv, "s")
    await c.start()
    try:
        events = Collector(c)
        died = await retry_until(lambda: events.of(PaneDied, pane), timeout=5)
        assert died[0].status == 4
    finally:
        await c.close()


async def test_window_added_and_closed(server, client):
    events = Collector(client)
    pane = server.new_window("extra", "sleep 600")
    window = server.run("display-message", "-p", "-t", pane, "#{window_id}")[0]
    await retry_until(lambda: [e for e in events.of(WindowAdded) if e.window == window])
    server.run("kill-window", "-t", window)
    await retry_until(lambda: [e for e in events.of(WindowClosed) if e.window == window])
    # A window of another session is not ours.
    server.new_session("other")
    server.run("kill-session", "-t", "other")
    await asyncio.sleep(0.2)
    assert all(e.window == window for e in events.of(WindowAdded) + events.of(WindowClosed))


async def test_killing_the_session_ends_events(server, client):
    events = Collector(client)
    server.run("kill-session", "-t", "s")
    await asyncio.wait_for(events.task, 5)
    assert isinstance(events.events[-1], Exit)
    assert len(events.of(Exit)) == 1
    with pytest.raises(TmuxError):
        await client.command("display-message", "-p", "x")


async def test_killing_the_server_ends_events(server, client):
    events = Collector(client)
    server.kill()
    await asyncio.wait_for(events.task, 5)
    assert isinstance(events.events[-1], Exit)


async def test_close_ends_events_and_the_process(client):
    events = Collector(client)
    pid = client.pid
    await client.close()
    await asyncio.wait_for(events.task, 5)
    assert events.of(Exit) and events.of(Exit)[0].reason == "closed"
    assert client.returncode is not None
    assert not client.alive
    with pytest.raises(ProcessLookupError):
        import os
        os.kill(pid, 0)


async def test_commands_in_flight_never_hang_when_the_server_dies(server, client):
    # tmux answers a blocking command (run-shell, wait-for) at once and blocks the queue
    # behind it, so in-flight commands are the ones behind it: each must end, one way or the other.
    await client.command("wait-for", "pbtest-never")
    waiting = [asyncio.create_task(client.command("display-message", "-p", str(i))) for i in range(20)]
    await asyncio.sleep(0.05)
    assert not any(t.done() for t in waiting)
    server.kill()
    done, pending = await asyncio.wait(waiting, timeout=5)
    assert not pending
    assert all(isinstance(t.exception(), TmuxError) or t.result() == [str(i)]
               for i, t in enumerate(waiting))


async def test_commands_in_flight_fail_when_the_client_process_dies(server, client):
    import os
    import signal
    events = Collector(client)
    await client.command("wait-for", "pbtest-never")
    waiting = [asyncio.create_task(client.command("display-message", "-p", str(i))) for i in range(5)]
    await asyncio.sleep(0.05)
    os.kill(client.pid, signal.SIGKILL)
    done, pending = await asyncio.wait(waiting, timeout=5)
    assert not pending
    assert all(isinstance(t.exception(), TmuxError) for t in waiting)
    await asyncio.wait_for(events.task, 5)
    assert isinstance(events.events[-1], Exit)


async def test_attach_to_missing_session_raises(server):
    server.new_session()
    c = ControlClient(server.argv, "nosuch")
    with pytest.raises(TmuxError, match="nosuch"):
        await c.start()
    assert c.returncode is not None


async def test_attach_to_missing_server_raises(server):
    c = ControlClient(server.argv, "s")
    with pytest.raises(TmuxError):
        await c.start()


@pytest.mark.parametrize("window_size", ["latest", "smallest", "largest"])
async def test_attaching_does_not_resize_windows(server, window_size):
    server.new_session()
    server.run("set-option", "-g", "window-size", window_size)
    server.new_window("second", "sleep 600")
    size = ["#{pane_id}", "#{pane_width}x#{pane_height}"]

    def sizes():
        return server.run("list-panes", "-s", "-t", "=s", "-F", " ".join(size))

    before = sizes()
    assert all(line.endswith("160x48") for line in before)
    c = ControlClient(server.argv, "s")
    await c.start()
    try:
        await c.command("display-message", "-p", "x")
        assert sizes() == before
        # A window made while we are attached gets the session's size, not a control-client size.
        server.new_window("third", "sleep 600")
        await asyncio.sleep(0.05)
        assert all(line.endswith("160x48") for line in sizes())
        clients = server.run("list-clients", "-F", "#{client_control_mode} #{client_flags}")
        assert any(line.startswith("1 ") and "ignore-size" in line for line in clients)
    finally:
        await c.close()
    assert all(line.endswith("160x48") for line in sizes())


async def test_tmux_pause_is_reported_and_resumed(server, client):
    events = Collector(client)
    pane = server.new_window("w", "cat")
    await client.command("refresh-client", "-A", f"{pane}:pause")
    await retry_until(lambda: events.of(Paused, pane))
    await retry_until(lambda: events.of(Resumed, pane))
    # Output flows again after the automatic continue.
    await client.command("send-keys", "-t", pane, "-l", "after-resume")
    await retry_until(lambda: b"after-resume" in events.output(pane))


async def test_slow_consumer_drops_output_and_says_so(server):
    server.new_session()
    c = ControlClient(server.argv, "s", max_queued_bytes=2_000)
    await c.start()
    try:
        pane = server.new_window("flood", py("import sys, time\nfor i in range(400):\n"
                                             " sys.stdout.write('x'*70+'\\n'*20); sys.stdout.flush(); time.sleep(0.002)\n"
                                             "time.sleep(30)"))
        await retry_until(lambda: c.dropped_bytes > 0, timeout=10)
        # Commands are answered even though nobody reads the events.
        assert await asyncio.wait_for(c.command("display-message", "-p", "alive"), 5) == ["alive"]
        seen = []

        async def until_resumed():
            async for event in c.events():
                seen.append(event)
                if isinstance(event, Resumed) and event.pane == pane:
                    return
        await asyncio.wait_for(until_resumed(), 10)
        kinds = [type(e) for e in seen if getattr(e, "pane", None) == pane and isinstance(e, (Paused, Resumed))]
        assert kinds == [Paused, Resumed]
    finally:
        await c.close()


# -- the parser alone, fed odd splits ----------------------------------------------


async def test_parser_handles_any_split_and_non_utf8():
    c = ControlClient(["tmux"], "s")
    stream = (b"%output %1 h\\303\\251llo\\015\\012\n"
              b"%extended-output %2 12 : \\377\\376raw \xff\n"
              b"%output %1 \\134n\n"
              b"%window-add @3\n"
              b"%subscription-changed pbdead $0 @3 3 %4 : 1:2:\n"
              b"%pause %2\n%continue %2\n"
              b"%output %1 \n"
              b"%exit detached\n")
    for size in (1, 2, 3, 7, len(stream)):
        c = ControlClient(["tmux"], "s")
        reason = None
        for i in range(0, len(stream), size):
            reason = c.feed(stream[i:i + size], 1.0) or reason
        assert reason == "detached"
        events = list(c._events)
        out1 = b"".join(e.data for e in events if isinstance(e, Output) and e.pane == "%1")
        assert out1 == "héllo".encode() + b"\r\n\\n"
        assert [e.data for e in events if isinstance(e, Output) and e.pane == "%2"] == [b"\xff\xferaw \xff"]
        assert WindowAdded("@3", 1.0) in events
        assert PaneDied("%4", 2, 1.0) in events
        assert [type(e) for e in events if isinstance(e, (Paused, Resumed))] == [Paused, Resumed]


def test_decode_output():
    assert decode_output(b"plain") == b"plain"
    assert decode_output(b"\\033[1m\\134") == b"\x1b[1m\\"
    assert decode_output("\u00e9".encode() + b"\\012") == b"\xc3\xa9\n"


async def test_every_quick_exit_gets_its_status(server, client):
    # tmux 3.3a sometimes leaves such a child unreaped (a zombie): the status still comes.
    events = Collector(client)
    panes = {server.new_window(f"q{i}", f"exit {10 + i}"): 10 + i for i in range(12)}
    await retry_until(lambda: len({e.pane for e in events.of(PaneDied)} & set(panes)) == len(panes), timeout=8)
    got = {e.pane: e.status for e in events.of(PaneDied) if e.pane in panes}
    assert got == panes


# -- the demo agent read through the control channel and classify() -------------------------------


def demo_command(scenario: str) -> str:
    root = str(__import__("pathlib").Path(__file__).resolve().parents[2])
    return (f"env PYTHONPATH={shlex.quote(root)} {shlex.quote(sys.executable)} -m app.demo_agent "
            f"--scenario {scenario} --speed 0.2")


async def _reading_after_output(client, events, pane, want):
    from app.status import classify
    seen = []

    async def check():
        reading = classify(await client.capture(pane), "demo")
        seen.append(reading.kind)
        return reading if want(reading) else None
    try:
        return await retry_until(check, timeout=15, interval=0.05)
    except AssertionError:
        raise AssertionError(f"readings seen: {seen[-5:]}; screen:\n{await client.capture(pane)}")


async def test_demo_agent_question_answer_idle(server, client, tmp_path):
    from app.model import Kind
    events = Collector(client)
    pane = server.run("new-window", "-d", "-P", "-F", "#{pane_id}", "-c", str(tmp_path), "-n", "asker",
                      demo_command("asker"))[0]
    asked = await _reading_after_output(client, events, pane, lambda r: r.kind == Kind.NEEDS_INPUT)
    assert "Do you want to proceed?" in asked.evidence
    assert events.output(pane)  # the question reached us as Output events too
    await client.command("send-keys", "-t", pane, "1")
    await client.command("send-keys", "-t", pane, "Enter")
    idle = await _reading_after_output(client, events, pane, lambda r: r.kind == Kind.IDLE)
    assert "shortcuts" in idle.evidence or ">" in idle.evidence


async def test_demo_agent_errors_and_limit(server, client, tmp_path):
    from app.model import Kind
    from app.status import error_signature
    events = Collector(client)
    flaky = server.run("new-window", "-d", "-P", "-F", "#{pane_id}", "-c", str(tmp_path), "-n", "flaky",
                       demo_command("flaky"))[0]
    (tmp_path / "l").mkdir()
    limiter = server.run("new-window", "-d", "-P", "-F", "#{pane_id}", "-c", str(tmp_path / "l"), "-n", "limiter",
                         demo_command("limiter"))[0]
    limited = await _reading_after_output(client, events, limiter, lambda r: r.limit is not None)
    assert "limit reached" in limited.limit
    errored = await _reading_after_output(client, events, flaky, lambda r: r.kind == Kind.ERROR)
    assert errored.evidence.startswith("Error: connection")
    # The same error, repeated with different numbers, has one signature in the raw output.
    text = events.output(flaky).decode("utf-8", "replace")
    sigs = {error_signature(line) for line in text.replace("\r", "").split("\n") if error_signature(line)}
    assert len(sigs) == 1, sigs


async def test_queue_overflow_with_one_big_chunk_still_resumes():
    # A read bigger than the whole budget: a caught-up consumer still gets it; the next one is
    # dropped while that is queued, and Resumed follows once the consumer has caught up, even
    # though no Output of that pane is left in the queue.
    c = ControlClient(["tmux"], "s", max_queued_bytes=100)
    c.feed(b"%output %1 " + b"a" * 500 + b"\n", 1.0)
    c.feed(b"%output %1 " + b"b" * 500 + b"\n", 1.0)
    events = c.events()
    first = [await anext(events) for _ in range(3)]
    assert [type(e) for e in first] == [Output, Paused, Resumed]
    assert first[0].data == b"a" * 500 and c.dropped_bytes == 500
    c.feed(b"%output %1 " + b"c" * 50 + b"\n", 1.0)
    c._finish("test")
    rest = [e async for e in events]
    assert [type(e) for e in rest] == [Output, Exit] and rest[0].data == b"c" * 50
