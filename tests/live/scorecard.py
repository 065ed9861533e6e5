"""Per CLI and version: the live moments tried and how many paneboard read right.

    python -m tests.live.scorecard              # runs tests/live (about 6 minutes) and prints the table
    python -m tests.live.scorecard --from FILE  # prints the table of an earlier run's results file
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path


def table(lines: list[dict]) -> str:
    """The scorecard: one row per CLI/version, then each moment missed with what paneboard read."""
    tried, right, misses = defaultdict(int), defaultdict(int), defaultdict(list)
    for r in lines:
        key = f"{r['cli']} {r['version']}"
        tried[key] += 1
        right[key] += bool(r["ok"])
        if not r["ok"]:
            misses[key].append(f"{r['moment']}: read {r['seen']}")
    out = ["| CLI | moments tried | read right |", "| :- | -: | -: |"]
    out += [f"| {k} | {tried[k]} | {right[k]} |" for k in sorted(tried)]
    out.append(f"| all | {sum(tried.values())} | {sum(right.values())} |")
    for k in sorted(misses):
        out += [f"{k} missed " + m for m in misses[k]]
    return "\n".join(out)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--from"] and len(argv) == 2:
        path = Path(argv[1])
    else:
        path = Path(tempfile.mkstemp(prefix="paneboard-live-", suffix=".jsonl")[1])
        env = {**os.environ, "PANEBOARD_LIVE_RESULTS": str(path)}
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/live"], env=env, check=False)
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    print(table(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
