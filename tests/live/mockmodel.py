"""A scripted mock model server on 127.0.0.1 that speaks just enough of each API the pinned agent CLIs use.

Anthropic Messages (`POST /v1/messages`, SSE) for Claude Code, OpenAI Responses (`POST /v1/responses`,
SSE) for Codex, Gemini (`:streamGenerateContent?alt=sse`) for Gemini CLI, OpenAI Chat Completions
(`POST /v1/chat/completions`, SSE) for aider and OpenCode. A test queues turns (`Text`, `ToolCall`,
`RateLimit`, `Quota`); each main request of the CLI takes the next one (an empty queue answers "ok"),
side requests (titles, topic checks: no tools offered) get a short answer of their own. Every
request is recorded.

    with MockModel() as model:
        model.queue(Text("Hello there", seconds=3), ToolCall("touch made-by-tool"))
        ... point the CLI at model.url ...
        model.wait_for(lambda r: "hello" in r.body_text)
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Text:
    """A plain answer, streamed in pieces over `seconds` so a working screen can be seen."""

    text: str
    seconds: float = 3.0
    delay: float = 0.0      # before the first word (a model "thinking")
    when: str = ""          # only a request whose body holds this text takes it


@dataclass(frozen=True)
class ToolCall:
    """The model asks to run a shell command (the CLI asks the user's permission first)."""

    command: str


@dataclass(frozen=True)
class RateLimit:
    """A 429 rate-limit error in the API's own format (the CLI may retry: `times` answers in a row)."""

    times: int = 1


@dataclass(frozen=True)
class Quota:
    """A quota-exhausted error in the API's own format (`times` answers in a row).

    With `when`, only a request whose body holds that text takes it (not a late retry of an earlier turn)."""

    times: int = 1
    when: str = ""


@dataclass
class Request:
    """One request the server received."""

    method: str
    path: str
    query: str
    headers: dict
    body: dict
    main: bool
    answered: str = ""
    at: float = field(default_factory=time.time)

    @property
    def body_text(self) -> str:
        """The whole body as JSON text (to look for a sent reply)."""
        return json.dumps(self.body, ensure_ascii=False)


Turn = Text | ToolCall | RateLimit | Quota


def _tools_offered(path: str, body: dict) -> bool:
    if "generateContent" in path or "streamGenerateContent" in path:
        return any(t.get("functionDeclarations") for t in body.get("tools") or [] if isinstance(t, dict))
    return bool(body.get("tools"))


class MockModel:
    """The server: a queue of scripted turns, every request recorded; use as a context manager."""

    def __init__(self, main=None):
        self._main = main or (lambda path, body: _tools_offered(path, body))
        self._turns: list[Turn] = []
        self._lock = threading.Lock()
        self.requests: list[Request] = []
        self._ids = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="mockmodel")

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT (no path)."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def queue(self, *turns: Turn) -> None:
        """Add turns to the script, in order; each main request takes one."""
        with self._lock:
            for turn in turns:
                if isinstance(turn, (RateLimit, Quota)):
                    self._turns += [turn] * turn.times
                else:
                    self._turns.append(turn)

    def clear(self) -> list[Turn]:
        """Drop the turns no request has taken yet (a CLI that retried less than scripted leaves some); return them."""
        with self._lock:
            left, self._turns = self._turns, []
        return left

    def pending(self) -> int:
        """How many scripted turns no request has taken yet."""
        with self._lock:
            return len(self._turns)

    def main_requests(self) -> list[Request]:
        """The requests that took (or could have taken) a scripted turn."""
        return [r for r in list(self.requests) if r.main]

    def saw(self, text: str) -> bool:
        """True once a main request's body holds `text` (a prompt or a reply that was submitted)."""
        return any(text in r.body_text for r in self.main_requests())

    def take(self, path: str, body: dict) -> tuple[Turn | None, bool]:
        """The next turn for a request (None: a side request or an empty script) and whether it is main."""
        main = bool(self._main(path, body))
        with self._lock:
            if main and self._turns and getattr(self._turns[0], "when", "") in json.dumps(body, ensure_ascii=False):
                return self._turns.pop(0), True
        return None, main

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}"


def _handler(model: MockModel):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:   # quiet: tests read `model.requests`
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            model.requests.append(Request("GET", parts.path, parts.query, dict(self.headers), {}, False))
            if parts.path.rstrip("/").endswith("/models"):
                self._json(200, {"object": "list", "data": [{"id": "mock", "object": "model", "created": 0,
                                                            "owned_by": "mock"}],
                                 "models": []})
            else:
                self._json(200, {})

        def do_HEAD(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else self._read_chunked()
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {"_raw": raw.decode("utf-8", "replace")}
            if not isinstance(body, dict):
                body = {"_raw": body}
            turn, main = model.take(parts.path, body)
            req = Request("POST", parts.path, parts.query, dict(self.headers), body, main)
            model.requests.append(req)
            from tests.live import wire
            try:
                req.answered = wire.answer(self, model, parts.path, parts.query, body, turn)
            except (BrokenPipeError, ConnectionResetError):
                req.answered += " (client went away)"

        def _read_chunked(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                return b""
            data = b""
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()

        def _json(self, status: int, payload: dict, headers: dict | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def start_sse(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True

        def sse(self, data: dict | str, event: str | None = None) -> None:
            text = data if isinstance(data, str) else json.dumps(data)
            chunk = (f"event: {event}\n" if event else "") + f"data: {text}\n\n"
            self.wfile.write(chunk.encode())
            self.wfile.flush()

    return Handler


def pieces(text: str, seconds: float, delay: float = 0.0) -> list[tuple[str, float]]:
    """The text cut into a few word groups, each with the pause before it, spread over `seconds`."""
    words = text.split(" ")
    n = max(1, min(len(words), 8))
    size = -(-len(words) // n)
    groups = [" ".join(words[i:i + size]) for i in range(0, len(words), size)]
    groups = [g + (" " if i < len(groups) - 1 else "") for i, g in enumerate(groups)]
    pause = seconds / max(1, len(groups))
    return [(g, pause + (delay if i == 0 else 0.0)) for i, g in enumerate(groups)]
