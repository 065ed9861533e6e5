"""Benchmark app.tmux.control.ControlClient on a private tmux server; prints numbers, never asserts.

    python bench/control_flood.py                 # 16 panes x 5,000 lines/s for 10 s
    python bench/control_flood.py --panes 8 --rate 1000 --seconds 5

Measures:
- CPU of this process (the reader plus a consumer that only counts bytes), of the tmux control
  client process and of the tmux server, while every pane prints `rate` lines per second
  (about 70 bytes each), from /proc stat times; bytes and events delivered, Paused/Resumed seen;
- write -> Output latency (send-keys into a `cat` pane; p50 / p95 / max) with the panes idle
  and again during the flood;
- pane exit -> PaneDied latency (subscription, checked by tmux once a second; p50 / max);
- capture() over the channel vs `tmux capture-pane` as a subprocess (per call, wall).
Everything started here (the tmux server and its panes) is killed at the end, by its socket.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.tmux.control import ControlClient, Output, PaneDied, Paused, Resumed  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")

FLOOD = """
import sys, time
rate, seconds, tag = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
line = (tag + " " + "x" * 60 + "\\n")
w = sys.stdout.write
start = time.monotonic(); done = 0
while True:
    now = time.monotonic() - start
    if now >= seconds: break
    due = int(now * rate)
    if due > done:
        w(line * (due - done)); sys.stdout.flush(); done = due
    time.sleep(0.005)
time.sleep(3600)
"""


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def echo_latency(client: ControlClient, probe: dict, pane: str, n: int = 30) -> list[float]:
    """send-keys a unique marker into a `cat` pane; the consumer resolves the future when it sees it."""
    out = []
    for i in range(n):
        marker = f"m{i}{uuid.uuid4().hex[:6]}".encode()
        probe["marker"], probe["buf"] = marker, b""
        probe["future"] = asyncio.get_running_loop().create_future()
        sent = time.time()
        await client.command("send-keys", "-t", pane, "-l", marker.decode())
        try:
            out.append(await asyncio.wait_for(probe["future"], 5) - sent)
        except asyncio.TimeoutError:
            pass
        await asyncio.sleep(0.02)
    probe.clear()
    return out


async def main(args) -> None:
    socket = f"pbbench-{uuid.uuid4().hex[:8]}"
    tmux = ["tmux", "-L", socket]

    def run(*a: str) -> list[str]:
        return subprocess.run(tmux + list(a), capture_output=True, text=True, check=True).stdout.splitlines()

    try:
        run("new-session", "-d", "-s", "bench", "-x", "160", "-y", "48", "-n", "echo", "cat")
        run("set-option", "-g", "remain-on-exit", "on")
        echo_pane = run("display-message", "-p", "-t", "bench:echo", "#{pane_id}")[0]
        server_pid = int(run("display-message", "-p", "#{pid}")[0])
        client = ControlClient(tmux, "bench")
        await client.start()
        probe: dict = {}
        counts = {"bytes": 0, "events": 0, "paused": 0, "resumed": 0}
        died: dict[str, float] = {}

        async def consume():
            async for ev in client.events():
                if type(ev) is Output:
                    counts["bytes"] += len(ev.data)
                    counts["events"] += 1
                    if ev.pane == echo_pane and probe:
                        probe["buf"] += ev.data
                        if probe["marker"] in probe["buf"] and not probe["future"].done():
                            probe["future"].set_result(ev.at)
                elif type(ev) is PaneDied:
                    died[ev.pane] = ev.at
                elif type(ev) is Paused:
                    counts["paused"] += 1
                elif type(ev) is Resumed:
                    counts["resumed"] += 1

        consumer = asyncio.create_task(consume())
        idle_lat = await echo_latency(client, probe, echo_pane)

        # capture over the channel vs a subprocess per capture
        t0 = time.perf_counter()
        for _ in range(50):
            await client.capture(echo_pane)
        chan = (time.perf_counter() - t0) / 50
        t0 = time.perf_counter()
        for _ in range(50):
            subprocess.run(tmux + ["capture-pane", "-p", "-t", echo_pane], capture_output=True)
        sub = (time.perf_counter() - t0) / 50

        # the flood
        code = shlex.quote(FLOOD)
        for i in range(args.panes):
            run("new-window", "-d", "-t", "=bench:", "-n", f"f{i}",
                f"{shlex.quote(sys.executable)} -c {code} {args.rate} {args.seconds} p{i}")
        await asyncio.sleep(0.5)
        me = os.getpid()
        c0 = {"me": cpu_seconds(me), "client": cpu_seconds(client.pid), "server": cpu_seconds(server_pid)}
        b0, e0, w0 = counts["bytes"], counts["events"], time.monotonic()
        # CPU over the first part of the flood with nothing else going on, latency probes after.
        await asyncio.sleep(max(0.5, args.seconds * 0.6))
        wall = time.monotonic() - w0
        c1 = {"me": cpu_seconds(me), "client": cpu_seconds(client.pid), "server": cpu_seconds(server_pid)}
        got = counts["bytes"] - b0
        events = counts["events"] - e0
        flood_lat = await echo_latency(client, probe, echo_pane, n=10)

        # pane exit -> PaneDied
        exits = {}
        for i in range(args.exits):
            pane = run("new-window", "-d", "-P", "-F", "#{pane_id}", "-t", "=bench:", f"sleep 0.{i % 10}; exit 3")[0]
            exits[pane] = time.time() + (i % 10) / 10
            await asyncio.sleep(0.13)
        deadline = time.monotonic() + 5
        while len(set(exits) & set(died)) < len(exits) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        death_lat = [died[p] - t for p, t in exits.items() if p in died]

        print(f"panes={args.panes} rate={args.rate} lines/s each, {args.seconds:g}s flood, wall {wall:.1f}s")
        print(f"delivered: {got / wall / 1e6:.2f} MB/s, {events / wall:.0f} Output events/s "
              f"(of ~{args.panes * args.rate * 70 / 1e6:.2f} MB/s asked); paused {counts['paused']}, "
              f"resumed {counts['resumed']}, dropped by our queue {client.dropped_bytes} B")
        for k in ("me", "client", "server"):
            print(f"CPU {k:6s}: {100 * (c1[k] - c0[k]) / wall:5.1f} % of a core")
        if got:
            print(f"reader cost: {1e6 * (c1['me'] - c0['me']) / (got / 1e6):.0f} us CPU per MB, "
                  f"{1e6 * (c1['me'] - c0['me']) / max(1, events):.1f} us per event")
        for name, lat in (("idle", idle_lat), ("flood", flood_lat)):
            if lat:
                print(f"send-keys -> Output ({name}): p50 {1000 * pct(lat, .5):.2f} ms, "
                      f"p95 {1000 * pct(lat, .95):.2f} ms, max {1000 * max(lat):.2f} ms (n={len(lat)})")
            else:
                print(f"send-keys -> Output ({name}): no samples")
        if death_lat:
            print(f"exit -> PaneDied: p50 {1000 * statistics.median(death_lat):.0f} ms, "
                  f"max {1000 * max(death_lat):.0f} ms (n={len(death_lat)}/{len(exits)})")
        print(f"capture: channel {1000 * chan:.2f} ms/call, subprocess {1000 * sub:.2f} ms/call")
        await client.close()
        await asyncio.wait_for(consumer, 5)
    finally:
        subprocess.run(tmux + ["kill-server"], capture_output=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--panes", type=int, default=16)
    p.add_argument("--rate", type=int, default=5000)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--exits", type=int, default=20)
    asyncio.run(main(p.parse_args()))
