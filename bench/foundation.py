"""Foundation benchmarks: `up` of 10 tasks, `ls --json` and first dashboard paint with 20 agents.

    python3 bench/foundation.py            # prints a table; never asserts

Runs on a private tmux server and a throwaway repository; kills everything it started.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.demo import create_demo_repo  # noqa: E402

IDLE_SCRIPT = [{"do": "say", "text": "ready"}, {"do": "idle"}]


def cli(*args: str, cwd: Path, socket_name: str) -> subprocess.CompletedProcess:
    # PYTHONDONTWRITEBYTECODE (set on some machines) would make every run compile paneboard's
    # sources again (~40 ms); an installed paneboard has its bytecode compiled by pip.
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE", "PYTHONDONTWRITEBYTECODE")}
    env.update(PANEBOARD_TMUX_SOCKET=socket_name, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)


def panes_running(socket_name: str) -> int:
    out = subprocess.run(["tmux", "-L", socket_name, "list-panes", "-a", "-F",
                          "#{pane_dead} #{pane_current_command}"], capture_output=True, text=True).stdout
    return sum(1 for line in out.splitlines() if line.startswith("0 ") and "python" in line)


def task_file(n: int, script: Path, prefix: str) -> str:
    cmd = shlex.join([sys.executable, "-m", "app.demo_agent", "--script", str(script)])
    lines = ["defaults:", "  agent: demo", "tasks:"]
    for i in range(n):
        lines += [f"  - name: {prefix}{i:02d}", f"    agent: {json.dumps(cmd)}", "    prompt: hello"]
    return "\n".join(lines) + "\n"


async def first_paint(repo: Path, socket_name: str, n: int) -> tuple[float, float]:
    from app.dashboard import Dashboard
    from app.fleet import Fleet
    from widgets.agent_table import AgentTable
    t0 = time.perf_counter()
    app = Dashboard(Fleet.open(repo, socket_name=socket_name))
    rows_at = stats_at = None
    async with app.run_test(size=(160, 50)) as pilot:
        table = app.query_one(AgentTable)
        while stats_at is None and time.perf_counter() - t0 < 30:
            await pilot.pause(0.01)
            if rows_at is None and table.row_count == n:
                rows_at = time.perf_counter() - t0
            if rows_at is not None and len(app.agents) == n and any(a.files_changed for a in app.agents.values()):
                stats_at = time.perf_counter() - t0
    return rows_at or float("nan"), stats_at or float("nan")


def main() -> None:
    socket_name = f"pbbench-{uuid.uuid4().hex[:8]}"
    tmp = Path(tempfile.mkdtemp(prefix="paneboard-bench-"))
    rows: list[tuple[str, str, str]] = []
    try:
        repo = create_demo_repo(tmp / "repo")
        script = tmp / "idle.json"
        script.write_text(json.dumps(IDLE_SCRIPT))

        # 1. `paneboard up` of a 10-task file until all 10 panes run their agents.
        (repo / "paneboard.yaml").write_text(task_file(10, script, "up"), encoding="utf-8")
        t0 = time.perf_counter()
        result = cli("up", cwd=repo, socket_name=socket_name)
        assert result.returncode == 0, result.stderr
        while panes_running(socket_name) < 10 and time.perf_counter() - t0 < 60:
            time.sleep(0.02)
        rows.append(("up: 10 tasks until 10 agents run", f"{time.perf_counter() - t0:.2f} s", "≤ 10 s"))

        # 10 more agents to reach 20, some with changes so stats have work to do.
        (repo / "paneboard.yaml").write_text(task_file(10, script, "more"), encoding="utf-8")
        result = cli("up", cwd=repo, socket_name=socket_name)
        assert result.returncode == 0, result.stderr
        agents = json.loads(cli("ls", "--json", cwd=repo, socket_name=socket_name).stdout)
        for i, a in enumerate(agents):
            wt = Path(a["worktree"])
            (wt / "inventory" / "stock.py").write_text((wt / "inventory" / "stock.py").read_text() + f"\n# {i}\n")
            (wt / f"new_{i}.txt").write_text("x\n" * i)

        # 2. `paneboard ls --json` with 20 agents.
        times = []
        for _ in range(10):
            t0 = time.perf_counter()
            out = cli("ls", "--json", cwd=repo, socket_name=socket_name)
            times.append(time.perf_counter() - t0)
            assert len(json.loads(out.stdout)) == 20
        rows.append(("ls --json, 20 agents (median of 10)", f"{statistics.median(times) * 1000:.0f} ms",
                     "≤ 300 ms"))
        rows.append(("ls --json, 20 agents (max of 10)", f"{max(times) * 1000:.0f} ms", ""))
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"])
        rows.append(("  of which: bare python start", f"{(time.perf_counter() - t0) * 1000:.0f} ms", ""))

        # 3. Dashboard start to first full paint with 20 agents.
        paints = [asyncio.run(first_paint(repo, socket_name, 20)) for _ in range(3)]
        rows.append(("dashboard: start -> 20 rows painted (median of 3)",
                     f"{statistics.median(p[0] for p in paints) * 1000:.0f} ms", "≤ 1.5 s"))
        rows.append(("dashboard: start -> rows with git stats (median of 3)",
                     f"{statistics.median(p[1] for p in paints) * 1000:.0f} ms", "≤ 1.5 s"))
    finally:
        subprocess.run(["tmux", "-L", socket_name, "kill-server"], capture_output=True)
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'result':>10}  target")
    for name, value, target in rows:
        print(f"{name.ljust(width)}  {value:>10}  {target}")


if __name__ == "__main__":
    main()
