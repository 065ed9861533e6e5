"""One host reached over SSH: the ssh argv, a multiplexed connection, and `run(argv)` with a timeout.

ssh hands the remote shell ONE command string. `command_line` builds it with `shlex.join`
from argv lists, and nothing else in paneboard builds one: a name, a prompt or a path from a
task file is always one quoted word there. The connection is shared (ControlMaster) under a
private directory, so a call costs a few milliseconds once the first one has logged in; every
call has a timeout, and a failure of ssh itself (exit 255) is `HostUnreachable` with ssh's own
last error line.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import HostUnreachable

SSH_FAILED = 255          # ssh's own exit code when it could not connect or authenticate
CONNECT_TIMEOUT = 5       # seconds to reach the host
CALL_TIMEOUT = 20.0       # seconds for one command on it
PERSIST = 120             # seconds an idle shared connection stays up


def control_dir() -> Path:
    """The private directory (mode 0700) that holds the shared connections' sockets."""
    path = Path(tempfile.gettempdir()) / f"paneboard-ssh-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    if path.stat().st_uid != os.getuid() or path.stat().st_mode & 0o077:
        raise HostUnreachable("?", f"{path} is not a private directory of this user: remove it")
    return path


def command_line(argv: list[str] | tuple[str, ...]) -> str:
    """The command string the remote shell runs for argv: every word quoted (the one place this is built)."""
    if not argv:
        raise ValueError("empty command")
    return shlex.join(str(a) for a in argv)


def script(commands: list[list[str]], sep: str = "&&") -> str:
    """Several argv lists as one remote command string, each quoted, joined by a shell operator."""
    if sep not in ("&&", ";", "||"):
        raise ValueError(f"unknown separator {sep!r}")
    return f" {sep} ".join(command_line(c) for c in commands)


@dataclass
class Result:
    """What one remote command returned."""

    returncode: int
    stdout: str
    stderr: str


class Remote:
    """The ssh client side of one host: `ssh [options] ARGS -- COMMAND`, one shared connection."""

    def __init__(self, name: str, ssh: tuple[str, ...], port: int | None = None,
                 connect_timeout: int = CONNECT_TIMEOUT):
        self.name = name
        self.ssh = tuple(ssh)
        self.port = port
        self.connect_timeout = connect_timeout
        key = hashlib.sha1("\0".join((name, str(port), *self.ssh)).encode()).hexdigest()[:16]
        self._socket = control_dir() / f"{key}.sock"
        self._master_tried = 0.0

    def ssh_argv(self, tty: bool = False, master: bool = False) -> list[str]:
        """The ssh argv up to (and including) the user's destination or ssh arguments."""
        argv = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={self.connect_timeout}",
                "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=2",
                "-o", f"ControlPath={self._socket}", "-o", f"ControlMaster={'yes' if master else 'no'}"]
        if master:
            argv += ["-o", f"ControlPersist={PERSIST}", "-N", "-f"]
        argv += ["-t"] if tty else ["-T"]
        if self.port is not None:
            argv += ["-p", str(self.port)]
        return argv + list(self.ssh)

    def argv(self, argv: list[str] | tuple[str, ...], tty: bool = False) -> list[str]:
        """The local argv that runs argv on the host (for a subprocess this process does not wait on)."""
        self.connect()
        return [*self.ssh_argv(tty=tty), "--", command_line(argv)]

    def connect(self) -> None:
        """Open the shared connection if none is up (at most one try every 2 s; a failure shows on the call)."""
        if self._socket.exists() or time.monotonic() - self._master_tried < 2.0:
            return
        self._master_tried = time.monotonic()
        # -f: ssh backgrounds itself once logged in; its stdio goes nowhere, so nothing waits on its pipes.
        try:
            subprocess.run(self.ssh_argv(master=True), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=self.connect_timeout + 5)
        except subprocess.TimeoutExpired:
            pass
        self._master_tried = time.monotonic()     # a slow failure must not be retried by the next call at once

    def run(self, argv: list[str] | tuple[str, ...], *, stdin: str | bytes | None = None,
            timeout: float = CALL_TIMEOUT, check: bool = True) -> Result:
        """Run argv on the host; HostUnreachable when ssh fails or the call overruns, else its result."""
        return self.run_line(command_line(argv), stdin=stdin, timeout=timeout, check=check, what=str(argv[0]))

    def run_line(self, line: str, *, stdin: str | bytes | None = None, timeout: float = CALL_TIMEOUT,
                 check: bool = True, what: str = "command") -> Result:
        """Run a command string made by `command_line` or `script` on the host."""
        self.connect()
        data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
        try:
            proc = subprocess.run([*self.ssh_argv(), "--", line], capture_output=True,
                                  input=data if data is not None else b"", timeout=timeout)
        except subprocess.TimeoutExpired:
            raise HostUnreachable(self.name, f"no answer within {timeout:g}s") from None
        except FileNotFoundError:
            raise HostUnreachable(self.name, "ssh is not installed (install openssh-client)") from None
        out = proc.stdout.decode("utf-8", "replace")
        err = proc.stderr.decode("utf-8", "replace")
        if proc.returncode == SSH_FAILED:
            raise HostUnreachable(self.name, last_line(err) or "ssh failed (exit 255)")
        if check and proc.returncode != 0:
            from ..errors import PaneboardError
            raise PaneboardError(f"on host {self.name!r}: {what} failed: {last_line(err or out) or proc.returncode}")
        return Result(proc.returncode, out, err)

    def git_env(self) -> dict[str, str]:
        """The environment under which local `git push/fetch` to `remote_url(path)` travels over this ssh."""
        self.connect()
        # git runs GIT_SSH_COMMAND host "git-receive-pack 'path'": the URL's host is `env`, so the remote
        # shell runs `env git-receive-pack 'path'` after the user's own ssh arguments (variant simple: no
        # options added by git after the destination).
        return {"GIT_SSH_COMMAND": shlex.join(self.ssh_argv()), "GIT_SSH_VARIANT": "simple"}

    @staticmethod
    def remote_url(path: str) -> str:
        """The git URL of a repository path on the host (used with `git_env`)."""
        return f"env:{path}"

    def close(self) -> None:
        """Close the shared connection (the agents on the host keep running)."""
        if self._socket.exists():
            subprocess.run([*self.ssh_argv()[:-len(self.ssh) or None], "-O", "exit", *self.ssh],
                           capture_output=True, timeout=5)


def last_line(text: str) -> str:
    """The last non-empty line of ssh's or a command's error output."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""
