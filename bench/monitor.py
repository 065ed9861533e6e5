"""Benchmark the monitor with N demo agents on a private tmux server; prints a table, never asserts.

    python bench/monitor.py            # N = 16 and 48, 60 s idle windows
    python bench/monitor.py --quick    # N = 8, 8 s idle windows

Measures, per N:
- screen change -> status visible: a line typed into an idle agent (it answers with a spinner)
  until an `Update` from `Monitor.updates()` shows it working (p50 / p99);
- hook event -> status visible, beside it: the agent's hook command (app/hooks.py `record`, the exact
  argv Claude Code runs) writes a PermissionRequest event until an `Update` shows the agent
  needs_input (p50 / p99, from the line written; a Stop event puts it back to idle after each);
- file write -> activity recorded: a file written in a worktree until the monitor took it in (p50);
- CPU while every agent sits idle: this process, its tmux control client, the tmux server and
  the pipe-pane log writers, from /proc stat times; RSS of this process;
- the same idle window with a claude-squad style poller instead (capture-pane via subprocess
  for every pane every 500 ms), for the CPU ratio.
Everything started here (tmux server, agents, poller) is killed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import hooks  # noqa: E402
from app.config import Settings, Task  # noqa: E402
from app.fleet import Fleet  # noqa: E402
from app.model import Kind  # noqa: E402
from app.monitor import Monitor  # noqa: E402
from app.git.worktrees import find_repo  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@paneboard.invalid"]

POLLER = r"""
import os, subprocess, sys, time
sock, seconds, panes = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
end = time.monotonic() + seconds
while time.monotonic() < end:
    start = time.monotonic()
    for p in panes:
        subprocess.run(["tmux", "-L", sock, "capture-pane", "-p", "-e", "-t", p], capture_output=True)
    time.sleep(max(0.0, 0.5 - (time.monotonic() - start)))
t = os.times()
print(t.user + t.system + t.children_user + t.children_system)
"""


def cpu_seconds(pid: int, children: bool = False) -> float:
    """utime + stime (and waited-for children's) of a process, in seconds; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICK


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * PAGE / 1e6
    except OSError:
        return 0.0


def pids_matching(words: list[str], parent: int | None = None) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{d}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if parent is not None:
                ppid = int(Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[1])
                if ppid != parent:
                    continue
        except (OSError, ValueError, IndexError):
            continue
        if all(w in cmd for w in words):
            out.append(int(d))
    return out


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=path, check=True)
    (path / "README.md").write_text("# bench\n")
    (path / ".gitignore").write_text("out/\n")
    subprocess.run([*GIT, "add", "-A"], cwd=path, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "init"], cwd=path, check=True)
    return path


async def hook_event(command: list[str], event: dict) -> None:
    """Run the agent's hook command with one event on stdin, as the agent CLI does (no shell)."""
    proc = await asyncio.create_subprocess_exec(*command, stdin=asyncio.subprocess.PIPE)
    await proc.communicate(json.dumps(event).encode())


async def run_size(n: int, idle_seconds: float, samples: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="pb-bench-"))
    sock = f"pbbench-{uuid.uuid4().hex[:8]}"
    result: dict = {"n": n}
    try:
        repo = make_repo(tmp / "project")
        fleet = Fleet(find_repo(repo), Settings(agent="demo", tmux_socket=sock, silence=600.0))
        script = tmp / "idle.json"
        script.write_text(json.dumps([{"do": "say", "text": "ready"},
                                      {"do": "idle", "reply_work": 0.3, "reply_edit": "notes.md"}]))
        cmd = shlex.join([sys.executable, "-m", "app.demo_agent", "--script", str(script)])
        tasks = [Task(name=f"agent-{i:02d}", agent=cmd) for i in range(n)]
        t0 = time.perf_counter()
        for task in tasks:
            # One at a time: concurrent `git worktree add` can fail ("failed to read .../commondir").
            fleet.spawn(task)
        result["spawn_s"] = time.perf_counter() - t0
        server_pid = int(fleet.tmux.run("display-message", "-p", "#{pid}")[0])
        # As after spawning a Claude agent: the hooks directory exists, so the monitor watches it.
        hooks.hooks_dir(fleet.repo.common_dir).mkdir(parents=True, exist_ok=True)

        monitor = Monitor(fleet)
        seen_working: dict[str, float] = {}
        seen_input: dict[str, float] = {}
        file_seen: dict[str, float] = {}
        original_on_files = monitor._on_files

        def on_files(act):
            file_seen.setdefault(str(act.worktree), time.time())
            original_on_files(act)

        monitor._on_files = on_files
        statuses: dict[str, Kind] = {}

        async def listen():
            async for u in monitor.updates():
                now = time.time()
                for a in u.agents:
                    statuses[a.name] = a.status.kind
                    if a.status.kind == Kind.WORKING and a.name not in seen_working:
                        seen_working[a.name] = now
                    if a.status.kind == Kind.NEEDS_INPUT and a.name not in seen_input:
                        seen_input[a.name] = now

        run = asyncio.create_task(monitor.run())
        listener = asyncio.create_task(listen())
        deadline = time.monotonic() + 60
        while not (len(statuses) == n and all(k == Kind.IDLE for k in statuses.values())):
            if time.monotonic() > deadline:
                raise RuntimeError(f"agents not idle: {statuses}")
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        agents = {a.name: a for a in monitor.agents()}

        # screen change -> status visible
        lat = []
        for name in list(agents)[:samples]:
            seen_working.pop(name, None)
            t = time.time()
            await asyncio.to_thread(fleet.tmux.send_text, agents[name].pane, "go")
            end = time.monotonic() + 5
            while name not in seen_working and time.monotonic() < end:
                await asyncio.sleep(0.001)
            if name in seen_working:
                lat.append(seen_working[name] - t)
            await asyncio.sleep(0.05)
        result["status_p50_ms"] = pct(lat, 0.5) * 1000
        result["status_p99_ms"] = pct(lat, 0.99) * 1000
        result["status_samples"] = len(lat)

        # hook event -> status visible
        elat, record_s = [], []
        for name in list(agents)[:samples]:
            command = shlex.split(hooks.hook_command(hooks.events_path(fleet.repo.common_dir, name)))
            seen_input.pop(name, None)
            t0 = time.time()
            await hook_event(command, {"hook_event_name": "PermissionRequest", "tool_name": "Bash",
                                       "session_id": "bench"})
            t = time.time()
            record_s.append(t - t0)
            end = time.monotonic() + 5
            while name not in seen_input and time.monotonic() < end:
                await asyncio.sleep(0.001)
            if name in seen_input:
                elat.append(seen_input[name] - t)
            await hook_event(command, {"hook_event_name": "Stop", "session_id": "bench"})
            end = time.monotonic() + 5
            while statuses.get(name) != Kind.IDLE and time.monotonic() < end:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)
        result["event_p50_ms"] = pct(elat, 0.5) * 1000
        result["event_p99_ms"] = pct(elat, 0.99) * 1000
        result["event_samples"] = len(elat)
        result["record_p50_ms"] = pct(record_s, 0.5) * 1000

        # file write -> activity recorded
        flat = []
        for name in list(agents)[:samples]:
            wt = agents[name].worktree
            file_seen.pop(wt, None)
            t = time.time()
            Path(wt, f"bench-{uuid.uuid4().hex[:6]}.txt").write_text("x\n")
            end = time.monotonic() + 5
            while wt not in file_seen and time.monotonic() < end:
                await asyncio.sleep(0.001)
            if wt in file_seen:
                flat.append(file_seen[wt] - t)
            await asyncio.sleep(0.05)
        result["file_p50_ms"] = pct(flat, 0.5) * 1000

        # idle CPU with the monitor
        deadline = time.monotonic() + 30
        while not all(k == Kind.IDLE for k in statuses.values()) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(2.0)
        me = os.getpid()
        control = pids_matching(["-C", sock], parent=me)
        writers = pids_matching(["logs.py", str(fleet.repo.common_dir)])
        before = (cpu_seconds(me), sum(cpu_seconds(p) for p in control), cpu_seconds(server_pid),
                  sum(cpu_seconds(p) for p in writers))
        counters_before = dict(monitor.counters)
        t = time.monotonic()
        await asyncio.sleep(idle_seconds)
        wall = time.monotonic() - t
        after = (cpu_seconds(me), sum(cpu_seconds(p) for p in control), cpu_seconds(server_pid),
                 sum(cpu_seconds(p) for p in writers))
        used = [(b - a) / wall * 100 for a, b in zip(before, after)]
        result.update(idle_self=used[0], idle_control=used[1], idle_server=used[2], idle_writers=used[3],
                      idle_total=sum(used), rss_mb=rss_mb(me), server_rss_mb=rss_mb(server_pid),
                      writer_rss_mb=sum(rss_mb(p) for p in writers) / max(1, len(writers)),
                      idle_captures=monitor.counters["captures"] - counters_before["captures"])
        listener.cancel()
        run.cancel()
        for task in (listener, run):
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass

        # baseline: poll every pane with capture-pane every 500 ms
        panes = [a.pane for a in agents.values()]
        s0 = cpu_seconds(server_pid)
        t = time.monotonic()
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", POLLER, sock, str(idle_seconds), *panes,
                                                    stdout=asyncio.subprocess.PIPE)
        out, _ = await proc.communicate()
        wall = time.monotonic() - t
        result["poll_self"] = float(out.decode().strip() or 0) / wall * 100
        result["poll_server"] = (cpu_seconds(server_pid) - s0) / wall * 100
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return result


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="N=8 and 8 s idle windows")
    p.add_argument("--sizes", type=int, nargs="*", default=None)
    p.add_argument("--idle", type=float, default=None, help="seconds of idle measurement per window")
    args = p.parse_args()
    sizes = args.sizes or ([8] if args.quick else [16, 48])
    idle = args.idle or (8.0 if args.quick else 60.0)
    print(f"monitor benchmark, idle window {idle:.0f} s, {os.cpu_count()} cores; CPU in % of one core")
    head = ("N", "status p50", "status p99", "event p50", "event p99", "file p50", "idle: self", "control",
            "tmux srv", "log writers", "total", "RSS", "poll 500ms: poller", "tmux srv", "total", "ratio")
    print(" | ".join(head), flush=True)
    notes = []
    for n in sizes:
        r = await run_size(n, idle, samples=min(n, 24))
        r["poll_total"] = r["poll_self"] + r["poll_server"]
        ratio = r["poll_total"] / r["idle_total"] if r["idle_total"] > 0 else float("inf")
        print(" | ".join([
            f"{r['n']}", f"{r['status_p50_ms']:.0f} ms", f"{r['status_p99_ms']:.0f} ms",
            f"{r['event_p50_ms']:.0f} ms", f"{r['event_p99_ms']:.0f} ms", f"{r['file_p50_ms']:.0f} ms",
            f"{r['idle_self']:.2f}", f"{r['idle_control']:.2f}", f"{r['idle_server']:.2f}", f"{r['idle_writers']:.2f}",
            f"{r['idle_total']:.2f}", f"{r['rss_mb']:.0f} MB", f"{r['poll_self']:.2f}", f"{r['poll_server']:.2f}",
            f"{r['poll_total']:.2f}", f"{ratio:.0f}x"]), flush=True)
        notes.append(f"N={r['n']}: spawned in {r['spawn_s']:.1f} s; {r['status_samples']} status samples "
                     f"(screen), {r['event_samples']} event samples (hook record command itself: "
                     f"{r['record_p50_ms']:.0f} ms p50); "
                     f"captures while idle: {r['idle_captures']}; tmux server RSS {r['server_rss_mb']:.0f} MB; "
                     f"log writer RSS {r['writer_rss_mb']:.1f} MB each")
    print("\n".join(notes))


if __name__ == "__main__":
    asyncio.run(main())
