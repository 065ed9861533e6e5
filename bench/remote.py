"""Status latency with 8 agents on an SSH host beside 8 local ones (a real sshd on 127.0.0.1); prints, never asserts.

    PYTHONPATH=. python bench/remote.py [--n 8] [--rounds 10]

Measures: one remote call through the shared connection, `ls`'s one look (assess_once) over all
16 agents, and the CPU time this process spent on those looks. The live monitor does not follow a
remote host's panes yet (see the README), so its CPU with remote agents is not measured here.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.config import HostConfig, Settings, Task
from app.fleet import Fleet
from app.git.worktrees import find_repo
from app.monitor import assess_once
from tests.helpers import ROOT, demo_command, demo_script, make_repo, unique_socket
from tests.remote.sshd import Sshd, available


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
    if available():
        sys.exit(f"cannot run: {available()}")
    tmp = Path(tempfile.mkdtemp(prefix="pb-bench-remote-"))
    sshd, local_sock, remote_sock = Sshd(tmp / "sshd"), unique_socket(), unique_socket()
    sshd.start()
    try:
        repo = make_repo(tmp / "project")
        host = HostConfig(name="box", ssh=tuple(sshd.ssh_args()), repo=str(tmp / "box" / "shop"),
                          tmux_socket=remote_sock)
        fleet = Fleet(find_repo(repo), Settings(agent="demo", tmux_socket=local_sock, hosts=(host,)))
        script = demo_script(tmp, [{"do": "work", "seconds": 3}, {"do": "idle"}])
        t0 = time.perf_counter()
        for i in range(args.n):
            fleet.spawn(Task(name=f"local-{i}", agent=demo_command(script)))
        local_spawn = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(args.n):
            fleet.spawn(Task(name=f"remote-{i}", agent=demo_command(script), host="box",
                             env={"PYTHONPATH": str(ROOT)}))
        remote_spawn = time.perf_counter() - t0
        r = fleet.tmux_on(remote_sock, "box").remote
        calls = []
        for _ in range(20):
            t = time.perf_counter()
            r.run(["true"])
            calls.append(time.perf_counter() - t)
        looks, cpu0 = [], time.process_time()
        for _ in range(args.rounds):
            t = time.perf_counter()
            agents = assess_once(fleet)
            looks.append(time.perf_counter() - t)
        cpu = time.process_time() - cpu0
        kinds = sorted({a.status.kind.value for a in agents})
        print(f"spawn: {args.n} local {local_spawn / args.n * 1000:.0f} ms each, "
              f"{args.n} on the host {remote_spawn / args.n * 1000:.0f} ms each")
        print(f"one remote call (shared connection): median {statistics.median(calls) * 1000:.1f} ms, "
              f"max {max(calls) * 1000:.1f} ms")
        print(f"status of {2 * args.n} agents (assess_once): median {statistics.median(looks) * 1000:.0f} ms, "
              f"max {max(looks) * 1000:.0f} ms; this process's CPU {cpu / args.rounds * 1000:.0f} ms per look; "
              f"statuses {kinds}")
    finally:
        subprocess.run(["tmux", "-L", local_sock, "kill-server"], capture_output=True)
        subprocess.run(["tmux", "-L", remote_sock, "kill-server"], capture_output=True)
        sshd.stop()


if __name__ == "__main__":
    main()
