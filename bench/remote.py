"""Status latency with 8 agents on an SSH host beside 8 local ones (a real sshd on 127.0.0.1); prints, never asserts.

    PYTHONPATH=. python bench/remote.py [--n 8] [--rounds 10]

Measures: one remote call through the shared connection, `ls`'s one look (assess_once) over all
16 agents and the CPU time this process spent on those looks; then the live monitor (which
follows the host's tmux server through control mode over SSH) over the same 16 agents while all
of them work: time until every agent has a status read from its screen, its CPU (this process,
and the ssh client carrying the host's control stream) over `--seconds`, and the latency from a
key typed into a pane to the monitor seeing that output, here and on the host.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.config import Task
from app.monitor import Monitor, assess_once
from tests.helpers import ROOT, demo_command, demo_script
from bench.sshhost import ssh_host


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=15.0)
    args = ap.parse_args()
    with ssh_host("pb-bench-remote-") as bench:
        tmp, fleet, remote_sock = bench.tmp, bench.fleet, bench.remote_socket
        # Working for the whole run (a spinner and output), then idle.
        script = demo_script(tmp, [{"do": "work", "seconds": 120 + args.seconds}, {"do": "idle"}])
        t0 = time.perf_counter()
        for i in range(args.n):
            fleet.spawn(Task(name=f"local-{i}", agent=demo_command(script, speed=1.0)))
        local_spawn = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(args.n):
            fleet.spawn(Task(name=f"remote-{i}", agent=demo_command(script, speed=1.0), host="box",
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
        asyncio.run(monitor_run(fleet, args.n, args.seconds))


def _ticks(pid: int | None) -> int:
    """utime + stime of a process, in clock ticks (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return 0
    return int(fields[11]) + int(fields[12])


def _master_pids(fleet) -> list[int]:
    """The shared ssh connections' master processes (they carry every stream, so their CPU counts too)."""
    import re
    pids = []
    for r in fleet.__dict__.get("_remotes", {}).values():
        out = subprocess.run([*r.ssh_argv()[:-len(r.ssh)], "-O", "check", *r.ssh], capture_output=True, text=True)
        pids += [int(p) for p in re.findall(r"pid=(\d+)", out.stderr + out.stdout)]
    return pids


async def monitor_run(fleet, n: int, seconds: float) -> None:
    """The live monitor over every agent: settle time, CPU while they all work, output latency here and there."""
    m = Monitor(fleet, write_status=False)
    task = asyncio.create_task(m.run())
    t0 = time.perf_counter()
    while not (len(m.agents()) == 2 * n and all(f.captured for f in m._facts.values())):
        await asyncio.sleep(0.02)
        if time.perf_counter() - t0 > 60:
            break
    settle = time.perf_counter() - t0
    ssh_pids = [link.client.pid for link in m.remote.links.values() if link.client is not None]
    ssh_pids += _master_pids(fleet)
    cpu0, ticks0, wall0 = time.process_time(), sum(map(_ticks, ssh_pids)), time.perf_counter()
    await asyncio.sleep(seconds)
    wall = time.perf_counter() - wall0
    cpu = (time.process_time() - cpu0) / wall * 100
    ssh_cpu = (sum(map(_ticks, ssh_pids)) - ticks0) / os.sysconf("SC_CLK_TCK") / wall * 100
    kinds = sorted({a.status.kind.value for a in m.agents()})
    lat: dict[str, list[float]] = {"here": [], "on the host": []}
    for where, name in (("here", "local-0"), ("on the host", "remote-0")):
        a = next(x for x in m.agents() if x.name == name)
        tmux = fleet.tmux_on(a.socket, a.host) if a.host else fleet.tmux
        for _ in range(10):
            sent = time.time()
            await asyncio.to_thread(tmux.run, "send-keys", "-t", a.pane, "-l", "x")
            while (m.last_output_at(name) or 0) < sent and time.time() - sent < 10:
                await asyncio.sleep(0.001)
            lat[where].append(time.time() - sent)
            await asyncio.sleep(0.2)
    task.cancel()
    try:
        await task
    except (asyncio.CancelledError, Exception):
        pass
    print(f"monitor over {n} local + {n} host agents: every status read from its screen after {settle:.1f} s; "
          f"statuses {kinds}")
    print(f"monitor CPU while all {2 * n} work, over {wall:.0f} s: this process {cpu:.1f} % of a core, the ssh "
          f"processes of the host's control stream (mux client + shared master) {ssh_cpu:.1f} %; counters {m.counters}")
    for where, values in lat.items():
        print(f"key typed -> output seen by the monitor, {where}: median {statistics.median(values) * 1000:.1f} ms, "
              f"max {max(values) * 1000:.1f} ms (includes the send-keys call)")


if __name__ == "__main__":
    main()
