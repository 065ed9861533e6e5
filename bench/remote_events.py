"""Event-to-status latency of an agent on an SSH host beside one here (a real sshd on 127.0.0.1); prints, never asserts.

    PYTHONPATH=. python bench/remote_events.py [--rounds 20]

Both agents are a fake Claude (the demo agent behind a wrapper) with Claude's event channel: the local
one's under this repository's `.git/paneboard/hooks/`, the remote one's installed on the host. Each
round runs the installed hook command as Claude does (`sh -c`, JSON on stdin), alternating
PreToolUse (working) and Stop (idle), and times the live monitor's status moving to that event:
from the hook command's start, and from its exit (the line is written by then).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.config import Task
from app.monitor import Monitor
from app.presets import PRESETS, Preset
from tests.helpers import ROOT, demo_script
from bench.sshhost import ssh_host
from tests.remote.test_revents import FAKE_CLAUDE


def _hook(argv_file: Path, event: str) -> str:
    argv = json.loads(argv_file.read_text())
    settings = json.loads(Path(argv[argv.index("--settings") + 1]).read_text())
    return settings["hooks"][event][0]["hooks"][0]["command"]


async def _round(m: Monitor, name: str, command: str, event: str, cwd: str) -> tuple[float, float]:
    data = json.dumps({"session_id": "bench-session-1", "hook_event_name": event, "tool_name": "Bash",
                       "tool_input": {"command": "make"}, "cwd": cwd}).encode()
    t0 = time.perf_counter()
    await asyncio.to_thread(subprocess.run, ["sh", "-c", command], input=data, cwd=cwd, check=True)
    t1 = time.perf_counter()
    while time.perf_counter() - t0 < 15:
        a = next(x for x in m.agents() if x.name == name)
        if a.status.why.startswith(f"event {event}"):
            break
        await asyncio.sleep(0.002)
    t2 = time.perf_counter()
    return t2 - t0, t2 - t1


async def measure(fleet, rounds: int, argv_files: dict[str, Path]) -> None:
    m = Monitor(fleet, write_status=False)
    task = asyncio.create_task(m.run())
    t0 = time.perf_counter()
    while not (len(m.agents()) == 2 and all(f.captured for f in m._facts.values())) and time.perf_counter() - t0 < 60:
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    out: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in argv_files}
    for i in range(rounds):
        event = "PreToolUse" if i % 2 == 0 else "Stop"
        for name, argv_file in argv_files.items():
            a = fleet.get(name, stats=False)
            whole, after = await _round(m, name, _hook(argv_file, event), event, a.worktree)
            out[name][0].append(whole)
            out[name][1].append(after)
            await asyncio.sleep(0.3)
    task.cancel()
    try:
        await task
    except (asyncio.CancelledError, Exception):
        pass
    for name, (whole, after) in out.items():
        print(f"{name}: event -> status, from the hook command's start: median {statistics.median(whole) * 1000:.0f} ms, "
              f"max {max(whole) * 1000:.0f} ms; from the line written: median {statistics.median(after) * 1000:.0f} ms, "
              f"max {max(after) * 1000:.0f} ms ({len(whole)} events)")
    print(f"counters {m.counters}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    with ssh_host("pb-bench-revents-") as bench:
        tmp, fleet = bench.tmp, bench.fleet
        wrapper = tmp / "fake_claude.py"
        wrapper.write_text(FAKE_CLAUDE, encoding="utf-8")
        script = demo_script(tmp, [{"do": "say", "text": "Thinking."}, {"do": "silent", "seconds": 600}])
        PRESETS["fakeclaude"] = Preset("fakeclaude", (sys.executable, str(wrapper), "--script", str(script),
                                                      "--speed", "1"), prompt="none", rules="demo", hooks="claude",
                                       env={"PYTHONPATH": str(ROOT)})
        files = {"here": tmp / "argv-here.json", "on-the-host": tmp / "argv-host.json"}
        fleet.spawn(Task(name="here", agent="fakeclaude", env={"FAKE_ARGV_FILE": str(files["here"])}))
        fleet.spawn(Task(name="on-the-host", agent="fakeclaude", host="box",
                         env={"FAKE_ARGV_FILE": str(files["on-the-host"])}))
        deadline = time.time() + 30
        while not all(f.exists() for f in files.values()) and time.time() < deadline:
            time.sleep(0.05)
        asyncio.run(measure(fleet, args.rounds, files))
        for r in fleet.__dict__.get("_remotes", {}).values():
            r.close()


if __name__ == "__main__":
    main()
