"""What conflict prediction costs with busy remote agents (a real sshd on 127.0.0.1); prints, never asserts.

    PYTHONPATH=. python bench/rpredict.py [--n 4] [--seconds 60] [--edit-every 1.0]

N demo agents on the SSH host each append a line to a file every `--edit-every` seconds (printing
as they do, so their stats are read on the host after output). The live monitor runs for
`--seconds`: how many stats reads and work fetches it made per minute, the time one fetch takes,
and the ssh processes started for all of it (counted from /proc, not by hooking paneboard).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.config import Task
from app.monitor import Monitor
from tests.helpers import ROOT, demo_command, demo_script
from bench.sshhost import ssh_host


def _ssh_pids(socket: str) -> set[int]:
    """The pids of this run's ssh client processes now (their argv names its shared connection's socket)."""
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv[0] == b"ssh" and any(socket.encode() in w for w in argv):
                out.add(int(entry.name))
    return out


async def watch(fleet, n: int, seconds: float) -> None:
    m = Monitor(fleet, write_status=False)
    durations: list[float] = []
    bring = m.remote_work._bring

    def timed(agent):          # the bench's own stopwatch around one fetch (the monitor's thread calls it)
        t = time.perf_counter()
        try:
            return bring(agent)
        finally:
            durations.append(time.perf_counter() - t)

    m.remote_work._bring = timed
    task = asyncio.create_task(m.run())
    await asyncio.sleep(5)          # the first stats reads and fetches
    seen: set[int] = set()
    socket = str(fleet.tmux_on(None, "box").remote._socket)
    fetches0, stats0, rounds0 = m.remote_work.fetches, m.counters["stats"], m.predictions.rounds
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        seen |= _ssh_pids(socket)
        await asyncio.sleep(0.005)
    wall = time.perf_counter() - t0
    per_min = 60.0 / wall
    fetches = m.remote_work.fetches - fetches0
    stats = m.counters["stats"] - stats0
    rounds = m.predictions.rounds - rounds0
    pairs = sum(1 for v in m.conflicts().pairs.values() if v)
    task.cancel()
    try:
        await task
    except (asyncio.CancelledError, Exception):
        pass
    print(f"{n} busy remote agents over {wall:.0f} s: {fetches * per_min:.1f} work fetches per minute "
          f"({fetches * per_min / n:.1f} per agent; the ceiling is 60 / {m.remote_work.interval:g} s = "
          f"{60 / m.remote_work.interval:.0f} per agent), {stats * per_min:.1f} stats reads per minute, "
          f"{rounds * per_min:.1f} prediction rounds per minute, {pairs} conflicting pairs at the end")
    if durations:
        print(f"one fetch (snapshot on the host + git fetch + one local diff): median "
              f"{statistics.median(durations) * 1000:.0f} ms, max {max(durations) * 1000:.0f} ms")
    print(f"this run's ssh client processes (seen in /proc every 5 ms; a call shorter than that can be missed): "
          f"{len(seen) * per_min:.0f} per minute, for stats reads, fetches, listings and control clients")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--edit-every", type=float, default=1.0)
    args = ap.parse_args()
    with ssh_host("pb-bench-rpredict-") as bench:
        tmp, fleet = bench.tmp, bench.fleet
        count = int((args.seconds + 30) / args.edit_every)
        for i in range(args.n):
            steps = []
            for k in range(count):
                steps += [{"do": "edit", "path": "src/app.py", "text": f"line {k} of agent {i}"},
                          {"do": "work", "seconds": args.edit_every, "label": "Writing"}]
            script = demo_script(tmp, steps + [{"do": "idle"}])
            fleet.spawn(Task(name=f"remote-{i}", agent=demo_command(script, speed=1.0), host="box",
                             env={"PYTHONPATH": str(ROOT)}))
        asyncio.run(watch(fleet, args.n, args.seconds))


if __name__ == "__main__":
    main()
