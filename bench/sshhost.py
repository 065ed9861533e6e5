"""The remote benches' host: a real sshd on 127.0.0.1 (tests/remote/sshd.py), a fresh repository, a fleet
with one host `box` that is this machine through SSH with its own repository and tmux socket."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.config import HostConfig, Settings
from app.fleet import Fleet
from app.git.worktrees import find_repo
from tests.helpers import make_repo, unique_socket
from tests.remote.sshd import Sshd, available


@dataclass
class Bench:
    """What a remote bench works with: its scratch directory, the fleet, and the host's tmux socket."""

    tmp: Path
    fleet: Fleet
    remote_socket: str


@contextlib.contextmanager
def ssh_host(prefix: str) -> Iterator[Bench]:
    """A started sshd and a fleet with host `box`; both tmux servers killed by socket, sshd stopped by pid, at the end."""
    if available():
        sys.exit(f"cannot run: {available()}")
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    sshd, local_sock, remote_sock = Sshd(tmp / "sshd"), unique_socket(), unique_socket()
    sshd.start()
    try:
        repo = make_repo(tmp / "project")
        host = HostConfig(name="box", ssh=tuple(sshd.ssh_args()), repo=str(tmp / "box" / "shop"),
                          tmux_socket=remote_sock)
        yield Bench(tmp, Fleet(find_repo(repo), Settings(agent="demo", tmux_socket=local_sock, hosts=(host,))),
                    remote_sock)
    finally:
        subprocess.run(["tmux", "-L", local_sock, "kill-server"], capture_output=True)
        subprocess.run(["tmux", "-L", remote_sock, "kill-server"], capture_output=True)
        sshd.stop()
