"""`paneboard serve`: the dashboard in a browser, through textual-serve, behind a token.

textual-serve starts one dashboard process per websocket connection. Every request (the page, its
assets, the websocket, downloads) must carry the token, in the query string (`?token=`, the URL
printed at start) or in the cookie the first authorised page load sets; anything else is refused
with 403 before a handler runs, so no dashboard process starts for it. The websocket also refuses a
page from another origin (cross-site websocket hijacking).

The served command is paneboard itself, as an argv list joined with `shlex.join` (textual-serve
runs it through a shell). Each dashboard runs in a process group of its own: Ctrl-C in the
terminal reaches the server only, which asks every dashboard to quit, waits for it, and exits.
The agents are never touched: they live in tmux.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import logging
import os
import secrets
import shlex
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .errors import PaneboardError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
QUIT_SECONDS = 5.0        # a dashboard that has not quit this long after being asked is terminated

log = logging.getLogger("paneboard.serve")


class ServeError(PaneboardError):
    """The browser server cannot start (the port is taken, the address is wrong)."""


@dataclass(frozen=True)
class ServeOptions:
    """What `paneboard serve` serves and where."""

    repo: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    socket: str | None = None
    task_file: Path | None = None
    read_only: bool = False


def port_number(text: str) -> int:
    """A TCP port from the command line: 0 (any free port) to 65535."""
    try:
        port = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is out of range (0-65535)")
    return port


def dashboard_argv(options: ServeOptions) -> list[str]:
    """The command each browser session runs: this paneboard's dashboard on the same repository and tmux server."""
    argv = [sys.executable, "-m", "app.cli", "dashboard", "--repo", str(options.repo)]
    if options.socket:
        argv += ["--socket", options.socket]
    if options.task_file is not None:
        argv += ["-f", str(options.task_file)]
    if options.read_only:
        argv.append("--read-only")
    return argv


def token_matches(given: str | None, token: str) -> bool:
    """True if the request's token is the server's (compared in constant time)."""
    return given is not None and hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode())


def serve(options: ServeOptions, say=print) -> int:
    """Serve the dashboard until SIGINT or SIGTERM; the exit code."""
    try:
        from .serve_web import TokenServer
    except ImportError as exc:
        raise ServeError(f"`paneboard serve` needs textual-serve ({exc.name} is missing): "
                         f"pip install textual-serve") from None
    token = secrets.token_urlsafe(24)
    # textual-serve runs a shell command: every word quoted, and `exec` so the dashboard is the process started.
    server = TokenServer("exec " + shlex.join(dashboard_argv(options)), token, options, say)
    return asyncio.run(server.run())


def browser_url(host: str, port: int, token: str) -> str:
    """The URL to open: the address bound (a wildcard one shown as this machine's loopback) with the token."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(host, host)
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/?token={token}"


def same_origin(origin: str | None, host: str | None) -> bool:
    """A websocket from a page of this server (or from a client that sends no Origin, like curl)."""
    if origin is None:
        return True
    return host is not None and urlsplit(origin).netloc.lower() == host.lower()


def stop_group(pid: int) -> None:
    """Terminate one dashboard's process group (it was started in a session of its own)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
