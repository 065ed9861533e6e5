"""textual-serve's server with a token check in front of every route, and a clean stop.

Loaded only by `paneboard serve` (aiohttp and textual-serve are not needed by anything else).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from .serve import QUIT_SECONDS, ServeError, ServeOptions, browser_url, same_origin, stop_group, token_matches


_PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])


class DashboardSession(AppService):
    """One browser session's dashboard process, in a process group of its own (Ctrl-C reaches the server only)."""

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        environment = super()._build_environment(width=width, height=height)
        # Not "inside tmux": attach from a browser must not switch the tmux client of serve's terminal.
        for name in ("TMUX", "TMUX_PANE"):
            environment.pop(name, None)
        # `python -m app.cli` finds this paneboard whatever the current directory.
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, (_PACKAGE_ROOT, environment.get("PYTHONPATH"))))
        return environment

    async def _open_app_process(self, width: int = 80, height: int = 24):
        environment = self._build_environment(width=width, height=height)
        self._process = process = await asyncio.create_subprocess_shell(
            self.command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=environment, start_new_session=True)
        self._stdin = process.stdin
        return process

    async def run(self) -> None:
        """Relay the dashboard's output; when it ends (quit, or died), end the browser's session too."""
        await super().run()
        with contextlib.suppress(Exception):
            await self.remote_close()

    @property
    def pid(self) -> int | None:
        """The dashboard process's id (None before it started)."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        """True while the dashboard process runs (not yet reaped)."""
        return self._process is not None and self._process.returncode is None

    async def exited(self) -> None:
        """Wait until the dashboard process has exited."""
        if self._process is not None:
            await self._process.wait()


class TokenServer(Server):
    """Serves the dashboard to browsers that hold the token; one dashboard process per websocket."""

    def __init__(self, command: str, token: str, options: ServeOptions, say):
        super().__init__(command, host=options.host, port=options.port, title="paneboard")
        self.token = token
        self.options = options
        self.say = say
        self.cookie = f"paneboard-token-{options.port}"
        self.sessions: dict[DashboardSession, web.WebSocketResponse] = {}
        self._count = 0

    # -- the gate ------------------------------------------------------------

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._gate)
        return app

    @web.middleware
    async def _gate(self, request: web.Request, handler):
        """403 for a request without the right token (query or cookie), before any handler runs."""
        given = request.query.get("token") or request.cookies.get(self.cookie)
        if not token_matches(given, self.token):
            return web.Response(status=403, text="403: this paneboard URL needs its token (see the serve command's output)\n")
        if request.path == "/ws" and not same_origin(request.headers.get("Origin"), request.host):
            return web.Response(status=403, text="403: websocket from another origin\n")
        response = await handler(request)
        if request.path == "/" and request.query.get("token") and isinstance(response, web.Response):
            # The page's own requests (assets, the websocket) carry the token as a cookie from here on.
            response.set_cookie(self.cookie, self.token, httponly=True, samesite="Strict", path="/")
        return response

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        """The page, with its websocket and assets on the address the browser used (not the bound one)."""
        scheme = "https" if request.secure else "http"
        base = f"{scheme}://{request.host}"
        context: dict[str, Any] = {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": ("wss" if request.secure else "ws") + f"://{request.host}/ws",
            "config": {"static": {"url": f"{base}/static/"}},
            "application": {"name": self.title},
        }
        return aiohttp_jinja2.render_template("app_index.html", request, context)

    # -- sessions ---------------------------------------------------------------

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """Start a dashboard for this browser and relay between them until either side ends."""
        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        await websocket.prepare(request)
        session = DashboardSession(self.command, write_bytes=websocket.send_bytes, write_str=websocket.send_str,
                                   close=websocket.close, download_manager=self.download_manager)
        self.sessions[session] = websocket
        self._count += 1
        number = self._count
        try:
            await session.start(width, height)
            self.say(f"session {number} started for {request.remote} (dashboard pid {session.pid})")
            with contextlib.suppress(Exception):    # a malformed message ends this session only
                await self._process_messages(websocket, session)
        except asyncio.CancelledError:
            pass
        finally:
            await self._end(session)
            await websocket.close()
            self.sessions.pop(session, None)
            self.say(f"session {number} ended")
        return websocket

    async def _end(self, session: DashboardSession) -> None:
        """Ask the dashboard to quit; terminate its process group if it has not within QUIT_SECONDS."""
        try:
            await asyncio.wait_for(session.stop(), QUIT_SECONDS)
            await asyncio.wait_for(session.exited(), QUIT_SECONDS)
        except (TimeoutError, asyncio.CancelledError, OSError):
            if session.running:
                stop_group(session.pid)

    async def on_startup(self, app: web.Application) -> None:
        """textual-serve prints a banner here; paneboard prints its URL once it listens."""

    async def on_shutdown(self, app: web.Application) -> None:
        """Close every browser session (their dashboards quit; the agents keep running)."""
        for websocket in list(self.sessions.values()):
            with contextlib.suppress(Exception):
                await websocket.close(message=b"paneboard serve stopped")

    # -- running -----------------------------------------------------------------

    async def run(self) -> int:
        """Listen, print the URL, and serve until SIGINT or SIGTERM."""
        runner = web.AppRunner(await self._make_app(), handle_signals=False, access_log=None,
                               shutdown_timeout=QUIT_SECONDS + 1)
        await runner.setup()
        site = web.TCPSite(runner, self.options.host, self.options.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise ServeError(f"cannot listen on {self.options.host}:{self.options.port}: "
                             f"{exc.strerror or exc} (pick another --port, or --port 0 for any free one)") from None
        port = runner.addresses[0][1]
        self.cookie = f"paneboard-token-{port}"
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        mode = " (read-only: nothing can be changed from the browser)" if self.options.read_only else ""
        self.say(f"serving the dashboard of {self.options.repo}{mode}")
        self.say(f"open: {browser_url(self.options.host, port, self.token)}")
        self.say("stop with Ctrl-C (the agents keep running)")
        try:
            await stop.wait()
        finally:
            self.say(f"stopping: closing {len(self.sessions)} browser session(s); the agents keep running")
            await runner.cleanup()
            for session in list(self.sessions):       # a handler the shutdown cancelled early
                if session.running:
                    stop_group(session.pid)
        return 0

