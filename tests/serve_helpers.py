"""Helpers for `paneboard serve` tests: the real server in a process group of its own, plain HTTP,
a websocket session like the page's, and headless Chromium driven through the DevTools protocol."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from urllib.parse import urlsplit

from tests.faults.helpers import cli_argv, cli_env, descendants, processes
from tests.helpers import demo_command, demo_script, paneboard, retry_until

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1280,800"]


class Served:
    """A running `paneboard serve`: its process, every line it printed, and the URL it gave."""

    def __init__(self, repo: Path, socket_name: str, *args: str, env: dict[str, str] | None = None):
        self.proc = subprocess.Popen(cli_argv("serve", "--port", "0", *args), cwd=repo,
                                     env={**cli_env(socket_name), **(env or {})},
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        self.lines: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.url = self.wait_for("open: ").split("open: ", 1)[1].strip()
        parts = urlsplit(self.url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.token = parts.query.split("token=", 1)[1]

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def wait_for(self, words: str, timeout: float = 30.0) -> str:
        """The first line (already printed or to come) that holds these words."""
        deadline = time.monotonic() + timeout
        while True:
            found = next((line for line in self.lines if words in line), None)
            if found is not None:
                return found
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"serve never said {words!r}; it said: {self.lines}") from None
            if line is None:
                raise AssertionError(f"serve ended (exit {self.proc.wait()}) without saying {words!r}: {self.lines}")
            self.lines.append(line)

    def dashboards(self) -> list[str]:
        """The command lines of the dashboard processes this server started (and that still run)."""
        table = processes()
        return [table[p].cmdline for p in descendants(self.proc.pid, table)
                if p in table and "app.cli dashboard" in table[p].cmdline]

    def interrupt(self, timeout: float = 20.0) -> int:
        """Ctrl-C, as a terminal sends it (SIGINT to the server's process group); its exit code."""
        os.killpg(self.proc.pid, signal.SIGINT)
        return self.proc.wait(timeout=timeout)

    def close(self) -> None:
        """Kill the server, and then each dashboard it started, by its own pid (each has a process group of its own)."""
        if self.proc.poll() is None:
            table = processes()
            started = [p for p in descendants(self.proc.pid, table)
                       if p in table and "app.cli dashboard" in table[p].cmdline]
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            for pid in started:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def http_status(url: str) -> int:
    """The HTTP status of a GET of url (urllib, no cookies)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


async def open_session(served: Served, width: int = 120, height: int = 36):
    """A websocket session like the page's (token in the query string); (client session, websocket)."""
    import aiohttp
    client = aiohttp.ClientSession()
    ws_url = served.origin.replace("http", "ws", 1) + f"/ws?token={served.token}&width={width}&height={height}"
    websocket = await client.ws_connect(ws_url)
    return client, websocket


def start_agents(repo: Path, socket_name: str, tmp_path: Path, names: tuple[str, ...]) -> None:
    """Start scripted demo agents that print and then wait at a question (they stay alive)."""
    script = demo_script(tmp_path, [{"do": "say", "text": "Reading the code."},
                                    {"do": "ask", "title": "Bash command", "question": "pytest -q"},
                                    {"do": "idle"}])
    for name in names:
        result = paneboard("spawn", name, "--agent", demo_command(script), cwd=repo, socket_name=socket_name)
        assert result.returncode == 0, result.stderr


def live_panes(socket_name: str) -> list[str]:
    """The pane ids on this tmux server whose process still runs."""
    out = subprocess.run(["tmux", "-L", socket_name, "list-panes", "-a", "-F", "#{pane_id} #{pane_dead}"],
                         capture_output=True, text=True)
    return [line.split()[0] for line in out.stdout.splitlines() if line.endswith(" 0")]


# ---------------------------------------------------------------- headless Chromium


class Chromium:
    """Headless Chromium in a process group of its own, driven through the DevTools protocol."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="pb-chromium-")
        self.proc = subprocess.Popen([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}",
                                      "--remote-debugging-port=0", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port_file = Path(self.profile) / "DevToolsActivePort"
        self.port = int(retry_until(lambda: port_file.exists() and port_file.read_text().split()[0], timeout=30))
        self._id = 0

    def page_socket_url(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=10) as response:
            targets = json.load(response)
        return next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")

    async def call(self, websocket, method: str, **params):
        """Send one DevTools command and return its result (events in between are skipped)."""
        self._id += 1
        await websocket.send_json({"id": self._id, "method": method, "params": params})
        while True:
            message = await asyncio.wait_for(websocket.receive_json(), 30)
            if message.get("id") == self._id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message["result"]

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


# ---------------------------------------------------------------- what a screenshot shows


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGBA or RGB bytes) of an 8-bit, non-interlaced PNG (Chromium's screenshots)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 4 if colour == 6 else 3
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, corner = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, rows


def colours(data: bytes, step: int = 2) -> int:
    """How many distinct colours a PNG shows (sampling every `step`-th pixel of every `step`-th row)."""
    width, _, rows = png_pixels(data)
    bpp = len(rows[0]) // width
    seen = set()
    for row in rows[::step]:
        for x in range(0, width, step):
            seen.add(row[x * bpp:x * bpp + 3])
    return len(seen)
