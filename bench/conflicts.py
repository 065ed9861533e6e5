"""Conflict prediction benchmark: 10 agents with real divergent edits, the 45-pair matrix and single predictions.

Run: python bench/conflicts.py [--agents 10] [--files 200] [--repeat 5]
Prints a table of timings; never asserts on them.
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

from app.git import merge  # noqa: E402

ID = ["-c", "user.name=bench", "-c", "user.email=bench@example.com", "-c", "commit.gpgsign=false"]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *ID, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def build(root: Path, agents: int, files: int) -> dict[str, Path]:
    """A repository with `files` source files and `agents` worktrees: some edits overlap, most do not."""
    repo = root / "project"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for i in range(files):
        path = repo / "src" / f"mod{i // 20}" / f"file{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"def f{j}():\n    return {j}\n\n" for j in range(40)))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    worktrees = {}
    for a in range(agents):
        name = f"agent{a}"
        wt = root / "project.paneboard" / name
        git(repo, "worktree", "add", "-q", "-b", f"paneboard/{name}", str(wt), "main")
        # Each agent edits 8 files of its own and one shared hot spot (agents of the same parity
        # write the same line differently: real conflicts), commits half and leaves half uncommitted.
        for k in range(8):
            f = wt / "src" / f"mod{(a * 8 + k) // 20 % (files // 20)}" / f"file{(a * 8 + k) % files}.py"
            text = f.read_text().replace("return 3\n", f"return 3  # agent {a}\n")
            f.write_text(text + f"\n\ndef added_by_{name}_{k}():\n    return {a}\n")
            if k == 4:
                git(wt, "commit", "-q", "-am", f"{name}: first half")
        hot = wt / "src" / "mod0" / "file0.py"
        hot.write_text(hot.read_text().replace("return 7\n", f"return 7 + {a % 2}  # hot spot\n"))
        (wt / f"notes-{name}.md").write_text(f"untracked notes of {name}\n")
        worktrees[name] = wt
    return worktrees


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pb-conflicts-") as tmp:
        worktrees = build(Path(tmp), args.agents, args.files)
        repo = Path(tmp) / "project"
        rows = []

        def timed(label: str, fn, repeat: int = args.repeat):
            samples, value = [], None
            for _ in range(repeat):
                t0 = time.perf_counter()
                value = fn()
                samples.append((time.perf_counter() - t0) * 1000)
            rows.append((label, statistics.median(samples), min(samples), max(samples)))
            return value

        first = next(iter(worktrees.values()))
        head = git(first, "rev-parse", "HEAD").strip()
        timed("predict(main, branch tip)", lambda: merge.predict(repo, "main", head), args.repeat * 4)
        timed("candidate_commit (dirty worktree)", lambda: merge.candidate_commit(first), args.repeat * 4)
        timed("predict_agent (snapshot + predict)", lambda: merge.predict_agent(repo, "main", first), args.repeat * 4)
        pairs = len(worktrees) * (len(worktrees) - 1) // 2
        matrix = timed(f"predict_fleet {len(worktrees)} agents / {pairs} pairs",
                       lambda: merge.predict_fleet(repo, "main", worktrees)[1])
        timed("predict_fleet, 1 worker", lambda: merge.predict_fleet(repo, "main", worktrees, workers=1))

        # One real merge per strategy (agents 1, 3, 5 do not conflict with each other), main checked out.
        for strategy, name in (("merge", "agent1"), ("squash", "agent3"), ("rebase", "agent5")):
            merge.commit_work(worktrees[name], f"{name}: rest")
            timed(f"merge --{strategy} (main checked out, clean)",
                  lambda: merge.merge(repo, f"paneboard/{name}", "main", strategy), 1)

        print(f"{'operation':45} {'median ms':>10} {'min':>8} {'max':>8}")
        for label, med, lo, hi in rows:
            print(f"{label:45} {med:10.1f} {lo:8.1f} {hi:8.1f}")
        conflicted = sorted(k for k, p in matrix.items() if not p.clean)
        print(f"\n{len(conflicted)} of {len(matrix)} pairs conflict, e.g. {conflicted[:3]} in "
              f"{matrix[conflicted[0]].conflicts if conflicted else ()}")


if __name__ == "__main__":
    main()
