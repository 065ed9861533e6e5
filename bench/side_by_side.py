"""Run one benchmark of this project on two checkouts in one run, interleaved, and print them side by side.

    python bench/side_by_side.py /path/to/before monitor.py --rounds 2 -- --quick
    python bench/side_by_side.py /path/to/before dashboard.py --rounds 2 -- --quick --parts 16,paint

The other checkout (e.g. `git worktree add ../before <commit>`, or a clone) runs its own copy of
the benchmark script against its own code; this checkout runs its copy. Runs alternate
(before, after, before, after…) so that a machine that gets busier part-way hurts both sides
alike. Each value is the median over the rounds. Never asserts: it prints numbers.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def run(checkout: Path, script: str, args: list[str]) -> str:
    """One run of `bench/<script>` in `checkout`, with that checkout's code first on the path."""
    proc = subprocess.run([sys.executable, str(checkout / "bench" / script), *args], cwd=checkout,
                          capture_output=True, text=True, env={**_env(), "PYTHONPATH": str(checkout)})
    if proc.returncode != 0:
        sys.exit(f"{checkout}: bench/{script} failed:\n{proc.stderr[-2000:]}")
    return proc.stdout


def _env() -> dict[str, str]:
    import os
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def measures(output: str) -> dict[str, str]:
    """The benchmark's result rows as name -> value text (both scripts' table shapes)."""
    rows: dict[str, str] = {}
    lines = output.splitlines()
    header = next((ln for ln in lines if ln.startswith("N | ")), None)
    if header:                                   # monitor.py: one " | " row per fleet size
        names, seen = [], set()
        for name in header.split(" | "):         # "tmux srv" and "total" repeat under the poller's columns
            names.append(f"poller {name}" if name in seen else name)
            seen.add(name)
        for ln in lines:
            cells = ln.split(" | ")
            if len(cells) == len(names) and cells[0].strip().isdigit():
                for name, cell in zip(names[1:], cells[1:]):
                    rows[f"N={cells[0].strip()} {name}"] = cell.strip()
        return rows
    if any(ln.startswith("measure") for ln in lines):   # dashboard.py: "name  value  target"
        start = next(i for i, ln in enumerate(lines) if ln.startswith("measure"))
        for ln in lines[start + 1:]:
            if not ln.strip():
                break
            m = re.match(r"^(.*?\S)\s{2,}(\S.*?)(?:\s{2,}.*)?$", ln)
            if m:
                rows[m.group(1).strip()] = m.group(2).strip()
    return rows


def median_text(values: list[str]) -> str:
    """The median of values like "83 ms" or "0.57 %" (the first number in each), unit kept."""
    numbers = [float(m.group()) for v in values if (m := _NUMBER.search(v))]
    if not numbers or len(numbers) != len(values):
        return " / ".join(values)
    unit = _NUMBER.sub("", values[0], count=1).strip()
    med = statistics.median(numbers)
    digits = 2 if any("." in (_NUMBER.search(v).group()) for v in values) else 0
    return f"{med:.{digits}f} {unit}".strip()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("before", type=Path, help="the other checkout")
    p.add_argument("script", help="monitor.py or dashboard.py")
    p.add_argument("--rounds", type=int, default=1)
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    a = p.parse_args(argv[:cut])
    args = argv[cut + 1:]                  # after --: the benchmark's own arguments
    sides = {"before": a.before.resolve(), "after": ROOT}
    results: dict[str, list[dict[str, str]]] = {"before": [], "after": []}
    for r in range(a.rounds):
        for side, checkout in sides.items():
            print(f"round {r + 1}: {side} ({checkout})", file=sys.stderr, flush=True)
            results[side].append(measures(run(checkout, a.script, args)))
    names = [n for n in results["after"][0] if n in results["before"][0]]
    width = max(len(n) for n in names)
    print(f"bench/{a.script} {' '.join(args)}: median of {a.rounds} interleaved round(s)")
    print(f"{'measure'.ljust(width)}  {'before':>14}  {'after':>14}")
    for n in names:
        before = median_text([run_[n] for run_ in results["before"]])
        after = median_text([run_[n] for run_ in results["after"]])
        print(f"{n.ljust(width)}  {before:>14}  {after:>14}")


if __name__ == "__main__":
    main()
