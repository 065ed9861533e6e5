"""What the monitor's git work costs: git processes per second while agents edit files, merge-tree calls
for one prediction of 100 agents, and how long a stop waits for a prediction running. Prints numbers.

    python bench/git_cost.py                       # this checkout
    python bench/git_cost.py --compare /work/main  # this script on another checkout's code, side by side

Every git process is counted through a `git` first on PATH that logs its argv (then runs the real git).
The busy part runs N agents in a private tmux server, each printing three lines and appending one line to
a file every 0.5 s (the issue's load), under a live `Monitor` (no dashboard).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

AGENT = "while :; do echo one; echo two; echo three; echo x >> work.txt; sleep 0.5; done"


def git_wrapper(tmp: Path) -> Path:
    real = shutil.which("git")
    bindir, log = tmp / "bin", tmp / "git.log"
    bindir.mkdir()
    (bindir / "git").write_text(f'#!/bin/sh\necho "$(date +%s.%N) $*" >> {log}\nexec {real} "$@"\n')
    (bindir / "git").chmod(0o755)
    os.environ["PATH"] = f"{bindir}{os.pathsep}{os.environ['PATH']}"
    return log


def calls(log: Path, since: float = 0.0, until: float = float("inf")) -> collections.Counter:
    out: collections.Counter = collections.Counter()
    if not log.exists():
        return out
    for line in log.read_text(errors="replace").splitlines():
        at, _, argv = line.partition(" ")
        try:
            t = float(at)
        except ValueError:
            continue
        if since <= t < until:
            words = [w for w in argv.split() if not w.startswith("-") and "=" not in w]
            out[words[0] if words else "?"] += 1
    return out


def make_repo(path: Path) -> None:
    path.mkdir(parents=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@b"}
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=path, check=True)
    (path / "src").mkdir()
    (path / "src/app.py").write_text("".join(f"line {i}\n" for i in range(40)))
    (path / ".gitignore").write_text("out/\n")
    subprocess.run(["git", "add", "-A"], cwd=path, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=path, check=True, env=env)


def busy(tmp: Path, log: Path, agents: int, seconds: float) -> dict[str, str]:
    """git processes per second under a live monitor while every agent works."""
    from app.config import Settings, Task
    from app.fleet import Fleet
    from app.git.worktrees import find_repo
    from app.monitor import Monitor
    repo, socket = tmp / "busy", f"gitcost-{uuid.uuid4().hex[:8]}"
    make_repo(repo)
    fleet = Fleet(find_repo(repo), Settings(agent="demo", tmux_socket=socket))
    try:
        for i in range(agents):
            fleet.spawn(Task(name=f"w{i:02d}", agent=shlex.join(["sh", "-c", AGENT])))

        async def watch() -> tuple[float, float, float]:
            monitor = Monitor(fleet, write_status=False)
            task = asyncio.create_task(monitor.run())
            await asyncio.sleep(6.0)                    # the start's first reads settle
            t0, c0 = time.time(), time.process_time()
            await asyncio.sleep(seconds)
            t1, c1 = time.time(), time.process_time()
            stop = time.monotonic()
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
            return t0, t1, (c1 - c0) / (t1 - t0) * 100, time.monotonic() - stop

        t0, t1, cpu, stopped = asyncio.run(watch())
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
    during = calls(log, t0, t1)
    per_s = sum(during.values()) / (t1 - t0)
    top = ", ".join(f"{k} {v / (t1 - t0):.1f}" for k, v in during.most_common(4))
    return {f"busy {agents}: git processes/s": f"{per_s:.1f} /s", f"busy {agents}: by command": top,
            f"busy {agents}: monitor python CPU": f"{cpu:.1f} %", f"busy {agents}: merge-tree/s":
            f"{during['merge-tree'] / (t1 - t0):.2f} /s"}


def start_prediction(tmp: Path, log: Path, agents: int) -> dict[str, str]:
    """One prediction of `agents` agents just started (every tenth shares a file): merge-tree calls, time, stop."""
    from app.git import worktrees
    repo = tmp / "start"
    make_repo(repo)
    paths = {}
    for i in range(agents):
        name, wt = f"a{i:03d}", tmp / f"wt{i:03d}"
        subprocess.run(["git", "worktree", "add", "-q", "-b", name, str(wt), "main"], cwd=repo, check=True)
        (wt / f"own-{name}.txt").write_text(f"{name}\n")
        if i % 10 == 0:
            (wt / "src/app.py").write_text((repo / "src/app.py").read_text().replace("line 7\n", f"{name}\n"))
        paths[name] = wt
    try:
        from app.git.prediction import FleetPredictor, Work
        from app.git.procs import Runner
    except ImportError:
        FleetPredictor = None
    works = {}
    if FleetPredictor is not None:
        for n, wt in paths.items():
            s = worktrees.stats(wt, "main")
            works[n] = Work(wt, frozenset(s.files), s.head, s.dirty, 1)

    def once(runner=None):
        if FleetPredictor is None:
            from app.git import merge
            merge.predict_fleet(repo, "main", paths)
        else:
            FleetPredictor(repo, runner).update("main", works, set(works))

    t0 = time.time()
    once()
    took = time.time() - t0
    trees = calls(log, t0)["merge-tree"]
    # A stop 0.3 s into a prediction: how long until the prediction's thread let go.
    runner = Runner() if FleetPredictor is not None else None
    th = threading.Thread(target=lambda: _quietly(once, runner), daemon=True)
    for wt in paths.values():       # new work everywhere: nothing is cached
        (wt / "src/app.py").write_text(f"{wt.name} again\n")
    if FleetPredictor is not None:
        for n, wt in paths.items():
            s = worktrees.stats(wt, "main")
            works[n] = Work(wt, frozenset(s.files), s.head, s.dirty, 2)
    th.start()
    time.sleep(0.3)
    stop = time.monotonic()
    if runner is not None:
        runner.close()
    th.join()
    return {f"start {agents}: merge-tree calls (one prediction)": f"{trees}",
            f"start {agents}: one prediction takes": f"{took:.2f} s",
            f"start {agents}: a stop waits for the prediction": f"{time.monotonic() - stop:.2f} s"}


def _quietly(fn, runner) -> None:
    try:
        fn(runner)
    except Exception:       # noqa: BLE001 - a stopped round ends with Stopped; the time is what counts
        pass


def one(agents: int, seconds: float, predict: int) -> dict[str, str]:
    tmp = Path(tempfile.mkdtemp(prefix="gitcost-"))
    try:
        log = git_wrapper(tmp)
        rows = busy(tmp, log, agents, seconds)
        rows.update(start_prediction(tmp, log, predict))
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--agents", type=int, default=16)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--predict", type=int, default=100, help="agents in the start prediction")
    p.add_argument("--compare", type=Path, help="another checkout: run this script on its code too")
    p.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if not a.compare:
        rows = one(a.agents, a.seconds, a.predict)
        if a.json:
            print(json.dumps(rows))
            return
        width = max(map(len, rows))
        print(f"{'measure'.ljust(width)}  value")
        for k, v in rows.items():
            print(f"{k.ljust(width)}  {v}")
        return
    sides = {"before": a.compare.resolve(), "after": Path(__file__).resolve().parents[1]}
    results = {}
    for side, checkout in sides.items():
        print(f"{side}: {checkout}", file=sys.stderr, flush=True)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        proc = subprocess.run([sys.executable, __file__, "--json", "--agents", str(a.agents), "--seconds",
                               str(a.seconds), "--predict", str(a.predict)], cwd=checkout, capture_output=True,
                              text=True, env={**env, "PYTHONPATH": str(checkout)})
        if proc.returncode != 0:
            sys.exit(f"{checkout}: failed:\n{proc.stderr[-2000:]}")
        results[side] = json.loads(proc.stdout.strip().splitlines()[-1])
    width = max(map(len, results["after"]))
    print(f"{'measure'.ljust(width)}  {'before':>32}  {'after':>32}")
    for k in results["after"]:
        print(f"{k.ljust(width)}  {results['before'].get(k, '-'):>32}  {results['after'][k]:>32}")


if __name__ == "__main__":
    main()
