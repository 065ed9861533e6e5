"""`RemoteTmux`: the same tmux calls as `Tmux`, made on another host through its `Remote`.

Every command is an argv list turned into one quoted command string by `Remote.run`; text for
an agent still goes through `load-buffer` on stdin, so it never meets the remote shell.
"""

from __future__ import annotations

from ..errors import TmuxError
from ..tmux import Tmux
from .remote import Remote


class RemoteTmux(Tmux):
    """A tmux server (`tmux -L socket`) on a host reached over SSH."""

    def __init__(self, remote: Remote, socket_name: str):
        super().__init__(socket_name)
        self.remote = remote

    @property
    def host(self) -> str:
        return self.remote.name

    @property
    def server(self):
        raise TmuxError(f"tmux on host {self.host!r} is reached over ssh only")

    @property
    def remote_argv(self) -> list[str]:
        """`tmux -L socket` as the host runs it."""
        return ["tmux", "-u", "-L", self.socket_name or "default"]

    @property
    def base_argv(self) -> list[str]:
        """Not an argv prefix here: a remote command must be quoted whole (see `launch`)."""
        raise TmuxError("a remote tmux command is built whole by RemoteTmux.launch, not by prefixing argv")

    def launch(self, args: list[str], tty: bool = False) -> list[str]:
        """The local argv that runs `tmux -L socket ARGS` on the host (control mode, attach)."""
        return self.remote.argv([*self.remote_argv, *args], tty=tty)

    def run(self, *args: str, check: bool = True, stdin: str | None = None) -> list[str]:
        """Run one tmux command list on the host; HostUnreachable when ssh cannot reach it."""
        res = self.remote.run([*self.remote_argv, *args], stdin=stdin, check=False)
        if check and res.returncode != 0:
            err = res.stderr.strip()
            raise TmuxError(f"tmux {args[0]} on host {self.host!r} failed: {err or f'exit {res.returncode}'}")
        return res.stdout.splitlines()

    def alive(self) -> bool:
        return self.remote.run([*self.remote_argv, "list-sessions"], check=False).returncode == 0

    def has_session(self, session: str) -> bool:
        return self.remote.run([*self.remote_argv, "has-session", "-t", f"={session}"], check=False).returncode == 0

    def kill_pane_processes(self, pane_id: str, pid: int) -> None:
        """Signal the agent's process group on the host (HUP, then TERM)."""
        pg = f"-{int(pid)}"
        self.remote.run(["kill", "-HUP", "--", pg], check=False)
        self.remote.run(["kill", "-TERM", "--", pg], check=False)
