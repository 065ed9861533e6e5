"""A real sshd on 127.0.0.1 for the remote-host tests: its own host key, client key and ssh_config.

The "remote" is this machine reached through SSH; every test gets its own daemon on a free
port, stopped by its own pid.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

SSHD = "/usr/sbin/sshd"


def available() -> str | None:
    """Why the sshd tests cannot run here (None when they can)."""
    if not os.path.exists(SSHD):
        return "openssh-server is not installed (apt-get install openssh-server)"
    if not shutil.which("ssh") or not shutil.which("ssh-keygen"):
        return "the ssh client is not installed"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sshd:
    """One sshd -D on 127.0.0.1:port with keys made for the test; `box` is its host alias in ssh_config."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.host_key = root / "host_ed25519"
        self.client_key = root / "client_ed25519"
        for key in (self.host_key, self.client_key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        (root / "authorized_keys").write_text(self.client_key.with_suffix(".pub").read_text())
        self.config = root / "sshd_config"
        self.ssh_config = root / "ssh_config"
        self.proc: subprocess.Popen | None = None
        self._write_configs()

    def _write_configs(self) -> None:
        self.config.write_text("\n".join([
            "ListenAddress 127.0.0.1", f"Port {self.port}", f"HostKey {self.host_key}",
            f"AuthorizedKeysFile {self.root / 'authorized_keys'}", "StrictModes no", "UsePAM no",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PermitRootLogin yes",
            f"PidFile {self.root / 'sshd.pid'}", "AcceptEnv LANG LC_*", "MaxSessions 100",
            "MaxStartups 100:30:200", ""]))
        self.ssh_config.write_text("\n".join([
            "Host box", "  HostName 127.0.0.1", f"  Port {self.port}", "  User root",
            f"  IdentityFile {self.client_key}", "  IdentitiesOnly yes",
            f"  UserKnownHostsFile {self.root / 'known_hosts'}", "  StrictHostKeyChecking accept-new",
            "  BatchMode yes", "  LogLevel ERROR", ""]))

    def start(self) -> None:
        """Start the daemon and wait until it accepts connections."""
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config)],
                                     stdout=subprocess.DEVNULL, stderr=open(self.root / "sshd.log", "ab"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {(self.root / 'sshd.log').read_text()[-500:]}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("sshd did not listen within 10 s")

    def children(self) -> list[int]:
        """The pids of the per-connection sshd processes the listener forked."""
        if self.proc is None:
            return []
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == self.proc.pid:
                    found.append(int(entry.name))
        return found

    def stop(self) -> None:
        """Stop the listener and drop every connection it accepted (the host goes away)."""
        if self.proc is None:
            return
        for pid in self.children():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def ssh_args(self) -> list[str]:
        """The `ssh:` list a task file gives for this host."""
        return ["-F", str(self.ssh_config), "box"]

    def new_host_key(self) -> None:
        """Replace the host key (a reinstalled or impersonated host) and restart."""
        self.stop()
        self.host_key.unlink()
        self.host_key.with_suffix(".pub").unlink()
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.host_key)], check=True)
        self.start()
