"""Benchmark the real dashboard while agents work, at N = 8, 16, 48 and 100; prints a markdown table, never asserts.

    python bench/busy.py                      # N = 8, 16, 48, 100; 20 s CPU windows, 30 key presses
    python bench/busy.py --quick              # N = 8, 16; 6 s windows, 10 key presses (a smoke run, < 2 min)
    python bench/busy.py --before /work/main  # also the dashboard of another checkout, on the same agents

Agents: `bench/busy_agent.py` in real worktrees (`Fleet.spawn`) on a private tmux server. 16 of
them work (at N = 8, all 8): every 0.5 s three output lines and one line appended to a file; the
rest sit idle at a prompt. The dashboard is `python -m app.cli dashboard` of each checkout, a real
process in a 200x50 pane of a second private tmux server (the "terminal"), with
`GIT_TRACE2_EVENT` pointing at a log (every git process it starts, and its arguments) and
`PANEBOARD_PROBE` at a file where a checkout that has the probe marks each conflict prediction.

Per N and dashboard:
- settle: from the process start until a 1 s window of its CPU (its own and its exited children's)
  is below 5 % of a core, all agents idle;
- CPU while they work (a window after a 3 s warm-up), % of one core: the dashboard's own
  process; its children (exited: cutime/cstime of the process; live: their own times), most of it
  git; the agents' tmux server over its baseline (the same load without a dashboard, measured
  first); git processes per second and `git merge-tree` calls in the window; RSS;
- key latency: Down/Up sent to the dashboard's pane with `tmux send-keys`; from just before the
  send until `capture-pane` (polled every 5 ms) shows the cursor's colour on the next row;
- the newest conflict prediction's age: the longest time, sampled over the working window, since
  the last prediction the probe marked (a checkout without the probe says so);
- quit: `q` while the agents work, until the process is gone.
With ccmanager's binary installed under `--ccmanager-prefix` (`npm install --prefix DIR
@kodaikabasawa/ccmanager-linux-x64`; the `ccmanager` package alone is JavaScript that needs Bun), the
same agents run as its sessions (`bench/busy_ccmanager.py`) and its process tree is measured in the
same run, up to `--ccmanager-max` agents; otherwise that column says why it is missing.
Everything started here is killed at the end, by socket and by pid.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.config import Settings, Task
from app.fleet import Fleet
from app.git.worktrees import find_repo
from bench.monitor import TICK, make_repo, pct

AGENT = ROOT / "bench" / "busy_agent.py"
WIDTH, HEIGHT = 200, 50
SETTLED = 5.0          # % of a core
WORKING = 16


# ---------------------------------------------------------------- /proc

def stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def own_cpu(pid: int) -> tuple[float, float]:
    """(own utime+stime, exited children's cutime+cstime) in seconds."""
    f = stat_fields(pid)
    if f is None:
        return 0.0, 0.0
    return (int(f[11]) + int(f[12])) / TICK, (int(f[13]) + int(f[14])) / TICK


def children(pid: int) -> dict[int, tuple[str, float]]:
    """Live children of pid: pid -> (command name, their CPU including their own exited children)."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        f = stat_fields(int(d))
        if f is None or int(f[1]) != pid or f[0] == "Z":
            continue
        try:
            comm = Path(f"/proc/{d}/comm").read_text().strip()
        except OSError:
            continue
        out[int(d)] = (comm, sum(int(x) for x in f[11:15]) / TICK)
    return out


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def alive(pid: int) -> bool:
    f = stat_fields(pid)
    return f is not None and f[0] != "Z"


@dataclass
class Sample:
    """CPU of a process and its children at one moment."""

    at: float
    own: float
    exited: float
    live: dict[int, tuple[str, float]]

    @classmethod
    def take(cls, pid: int) -> Sample:
        own, exited = own_cpu(pid)
        return cls(time.monotonic(), own, exited, children(pid))


def split(a: Sample, b: Sample) -> dict[str, float]:
    """% of a core between two samples: own process, children (exited + live), and the tmux ones among the live."""
    secs = b.at - a.at
    live_b = sum(c for _, c in b.live.values())
    live_a = sum(c for _, c in a.live.values())
    tmux = sum(c - a.live.get(p, ("", 0.0))[1] for p, (name, c) in b.live.items() if name == "tmux")
    kids = (b.exited - a.exited) + live_b - live_a
    return {"own": 100 * (b.own - a.own) / secs, "children": 100 * kids / secs, "control": 100 * tmux / secs}


# ---------------------------------------------------------------- tmux

def tmux(sock: str, *args: str, check: bool = True) -> str:
    p = subprocess.run(["tmux", "-L", sock, *args], capture_output=True, text=True, check=False)
    if check and p.returncode != 0:
        raise RuntimeError(f"tmux {' '.join(args)}: {p.stderr.strip()}")
    return p.stdout


def server_pid(sock: str) -> int:
    return int(tmux(sock, "display-message", "-p", "#{pid}").strip())


_SGR = re.compile(r"\x1b\[([0-9;:]*)m")


def backgrounds(line: str) -> list[str]:
    """The background in effect at each visible cell of a captured line (`capture-pane -e`)."""
    out: list[str] = []
    bg, pos = "", 0
    for m in _SGR.finditer(line + "\x1b[m"):
        out += [bg] * len(line[pos:m.start()])
        pos = m.end()
        params = m.group(1).replace(":", ";").split(";") if m.group(1) else ["0"]
        i = 0
        while i < len(params):
            p = params[i] or "0"
            if p == "0" or p == "49":
                bg = ""
            elif p in ("48",) and i + 1 < len(params):
                n = 5 if params[i + 1] == "2" else 3
                bg = ";".join(params[i:i + n])
                i += n - 1
            elif p.isdigit() and (40 <= int(p) <= 47 or 100 <= int(p) <= 107):
                bg = p
            elif p in ("38",) and i + 1 < len(params):
                i += 4 if params[i + 1] == "2" else 2
            i += 1
    return out


def cursor_row(sock: str, target: str, names: list[str]) -> str | None:
    """The agent whose table row has a background no other visible agent row has (the cursor)."""
    text = tmux(sock, "capture-pane", "-p", "-e", "-t", target, check=False)
    rows: dict[str, str] = {}
    for line in text.splitlines():
        plain = _SGR.sub("", line)
        for name in names:
            x = plain.find(f" {name} ")
            if x >= 0 and name not in rows:
                bgs = backgrounds(line)
                rows[name] = bgs[x + 1] if x + 1 < len(bgs) else ""
                break
    if len(rows) < 3:
        return None
    counts: dict[str, int] = {}
    for bg in rows.values():
        counts[bg] = counts.get(bg, 0) + 1
    unique = [n for n, bg in rows.items() if counts[bg] == 1]
    return unique[0] if len(unique) == 1 else None


# ---------------------------------------------------------------- the agents

class Lab:
    """A throwaway repository whose agents run bench/busy_agent.py on a private tmux server."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="pb-busy-"))
        self.sock = f"pbbusy-{uuid.uuid4().hex[:8]}"
        self.term = f"pbbusyterm-{uuid.uuid4().hex[:8]}"
        self.repo = make_repo(self.tmp / "project")
        for i in range(20):    # something to diff and merge
            (self.repo / "src").mkdir(exist_ok=True)
            (self.repo / "src" / f"module_{i}.py").write_text("".join(f"x_{j} = {j}\n" for j in range(50)))
        subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@b.invalid", "add", "-A"], cwd=self.repo,
                       check=True)
        subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@b.invalid", "commit", "-qm", "src"],
                       cwd=self.repo, check=True)
        (self.repo / "paneboard.yaml").write_text(f"defaults:\n  agent: demo\n  tmux_socket: {self.sock}\n"
                                                  f"  silence: 10m\n")
        self.settings = Settings(agent="demo", tmux_socket=self.sock, silence=600.0)
        self.fleet = Fleet(find_repo(self.repo), self.settings)
        self.go = self.tmp / "go"
        self.go.mkdir()
        self.names: list[str] = []
        tmux(self.term, "-f", "/dev/null", "new-session", "-d", "-s", "keep", "-x", str(WIDTH), "-y", str(HEIGHT))

    def spawn(self, total: int) -> float:
        t0 = time.monotonic()
        while len(self.names) < total:
            name = f"agent-{len(self.names):03d}"
            cmd = shlex.join([sys.executable, str(AGENT), str(self.go / name), f"work/{name}.log"])
            self.fleet.spawn(Task(name=name, agent=cmd))     # one at a time: concurrent worktree adds can fail
            self.names.append(name)
        return time.monotonic() - t0

    def work(self, count: int) -> None:
        """The first `count` agents work, the rest idle."""
        for i, name in enumerate(self.names):
            flag = self.go / name
            if i < count:
                flag.touch()
            else:
                flag.unlink(missing_ok=True)

    def close(self) -> None:
        for sock in (self.sock, self.term):
            subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True, check=False)
        time.sleep(0.3)
        me = os.getpid()
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) == me:
                continue
            try:
                cmd = Path(f"/proc/{d}/cmdline").read_bytes()
            except OSError:
                continue
            if str(self.tmp).encode() in cmd or self.sock.encode() in cmd:
                try:
                    os.kill(int(d), signal.SIGTERM)
                except OSError:
                    pass
        for _ in range(5):
            shutil.rmtree(self.tmp, ignore_errors=True)
            if not self.tmp.exists():
                break
            time.sleep(0.3)


# ---------------------------------------------------------------- one dashboard

@dataclass
class Result:
    values: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def git_starts(path: Path, since: int) -> tuple[int, int, int]:
    """(git processes, merge-tree calls, new offset) in the trace2 log after byte offset `since`."""
    try:
        with path.open("rb") as fh:
            fh.seek(since)
            data = fh.read()
    except OSError:
        return 0, 0, since
    procs = merges = 0
    for line in data.splitlines():
        if b'"event":"start"' not in line:
            continue
        procs += 1
        try:
            argv = json.loads(line).get("argv", [])
        except ValueError:
            continue
        merges += "merge-tree" in argv
    return procs, merges, since + len(data)


def wait_settled(pid: int, limit: float) -> float | None:
    """Seconds from now until a 1 s window of the process's CPU (own + exited children) is below SETTLED %."""
    t0 = time.monotonic()
    samples: list[tuple[float, float]] = []
    while time.monotonic() - t0 < limit:
        own, kids = own_cpu(pid)
        now = time.monotonic()
        samples.append((now, own + kids))
        older = [s for s in samples if now - s[0] >= 1.0]
        if older:
            at, cpu = older[-1]
            if 100 * (own + kids - cpu) / (now - at) < SETTLED:
                return now - t0
        time.sleep(0.1)
    return None


def key_latency(lab: Lab, target: str, presses: int) -> tuple[list[float], int]:
    """Down x10, Up x10, ...: seconds from send-keys until the cursor's row moved, and how many were not seen."""
    lat: list[float] = []
    missed = 0
    pattern = ["Down"] * 10 + ["Up"] * 10
    visible = lab.names
    for i in range(presses):
        before = cursor_row(lab.term, target, visible)
        if before is None:
            missed += 1
            time.sleep(0.3)
            continue
        key = pattern[i % len(pattern)]
        row = lab.names.index(before) + (1 if key == "Down" else -1)
        if not 0 <= row < len(lab.names):
            continue
        want = lab.names[row]
        t0 = time.monotonic()
        tmux(lab.term, "send-keys", "-t", target, key)
        seen = None
        while time.monotonic() - t0 < 3.0:
            if cursor_row(lab.term, target, visible) == want:
                seen = time.monotonic() - t0
                break
            time.sleep(0.005)
        if seen is None:
            missed += 1
        else:
            lat.append(seen)
        time.sleep(0.25 + 0.1 * (i % 3))
    return lat, missed


def run_dashboard(lab: Lab, checkout: Path, label: str, n: int, working: int, args, baseline: float) -> Result:
    r = Result()
    trace = lab.tmp / f"trace-{label}-{n}.jsonl"
    probe = lab.tmp / f"probe-{label}-{n}.txt"
    target = f"dash-{label}-{n}"
    env = {"PYTHONPATH": str(checkout), "GIT_TRACE2_EVENT": str(trace), "PANEBOARD_PROBE": str(probe),
           "TERM": "xterm-256color", "COLORTERM": "truecolor"}
    lab.work(0)
    time.sleep(1.0)
    envargs = [x for k, v in env.items() for x in ("-e", f"{k}={v}")]
    t_start = time.monotonic()
    pane, pid_text = tmux(lab.term, "new-window", "-d", "-P", "-F", "#{pane_id} #{pane_pid}", "-n", target,
                          "-c", str(lab.repo), *envargs, "--", sys.executable, "-m", "app.cli", "dashboard").split()
    pid = int(pid_text)
    t_pid = time.monotonic()
    settle = wait_settled(pid, args.settle_limit)
    r.values["settle (below 5 % of a core), all idle"] = f"{settle + (t_pid - t_start):.1f} s" if settle is not None \
        else f"> {args.settle_limit:.0f} s"
    a = Sample.take(pid)
    time.sleep(args.idle_window)
    b = Sample.take(pid)
    idle = split(a, b)
    r.values["CPU all idle: dashboard + children"] = f"{idle['own'] + idle['children']:.1f} %"

    lab.work(working)
    time.sleep(3.0)
    srv = server_pid(lab.sock)
    offset = git_starts(trace, 0)[2]
    s0, srv0, w0 = Sample.take(pid), sum(own_cpu(srv)), time.monotonic()
    probe_ages: list[float] = []
    while time.monotonic() - w0 < args.window:
        time.sleep(0.5)
        probe_ages.append(prediction_age(probe))
    s1, srv1 = Sample.take(pid), sum(own_cpu(srv))
    secs = s1.at - s0.at
    procs, merges, _ = git_starts(trace, offset)
    cpu = split(s0, s1)
    server_extra = 100 * (srv1 - srv0) / secs - baseline
    total = cpu["own"] + cpu["children"] + server_extra
    r.values[f"CPU {working} working: total (process + children + tmux extra)"] = f"{total:.1f} %"
    r.values["  dashboard process"] = f"{cpu['own']:.1f} %"
    r.values["  its children (git; tmux control client)"] = f"{cpu['children']:.1f} % ({cpu['control']:.1f} %)"
    r.values["  tmux server over its baseline"] = f"{server_extra:.1f} %"
    r.values["git processes / s"] = f"{procs / secs:.1f}"
    r.values["git merge-tree calls in the window"] = f"{merges}"
    r.values["RSS"] = f"{rss_mb(pid):.0f} MB"
    if probe_ages and not any(math.isnan(x) for x in probe_ages):
        r.values["newest prediction's age, max over the window"] = f"{max(probe_ages):.1f} s"
    elif probe.exists():
        r.values["newest prediction's age, max over the window"] = "none yet"
    else:
        r.values["newest prediction's age, max over the window"] = "no probe / none"
    lat, missed = key_latency(lab, pane, args.presses)
    r.values["key → selection moved: median"] = f"{statistics.median(lat) * 1000:.0f} ms" if lat else "n/a"
    r.values[f"  p90 ({len(lat)} presses, {missed} not seen)"] = f"{pct(lat, 0.9) * 1000:.0f} ms" if lat else "n/a"
    t_q = time.monotonic()
    tmux(lab.term, "send-keys", "-t", pane, "q")
    while alive(pid) and time.monotonic() - t_q < 20:
        time.sleep(0.01)
    r.values["quit on q while they work"] = f"{time.monotonic() - t_q:.2f} s" if not alive(pid) else "> 20 s"
    if alive(pid):
        os.kill(pid, signal.SIGTERM)
    r.notes.append(f"{label} N={n}: {procs} git processes, idle CPU own {idle['own']:.1f} % + children "
                   f"{idle['children']:.1f} %")
    return r


def prediction_age(probe: Path) -> float:
    """Seconds since the newest conflict prediction round began, as the monitor marks it (nan: none yet)."""
    try:
        lines = probe.read_text().split("\n")
    except OSError:
        return float("nan")
    stamps = [float(ln.split()[0]) for ln in lines if ln.endswith(" predicted")]
    return time.time() - stamps[-1] if stamps else float("nan")


def tmux_baseline(lab: Lab, working: int, seconds: float) -> float:
    """% of a core the agents' tmux server spends with `working` agents working and no dashboard."""
    lab.work(working)
    time.sleep(2.0)
    pid = server_pid(lab.sock)
    c0, t0 = sum(own_cpu(pid)), time.monotonic()
    time.sleep(seconds)
    c1, t1 = sum(own_cpu(pid)), time.monotonic()
    lab.work(0)
    return 100 * (c1 - c0) / (t1 - t0)


# ---------------------------------------------------------------- main

def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="N = 8, 16; 6 s windows; 10 presses")
    p.add_argument("--sizes", default=None, help="comma-separated N (default 8,16,48,100)")
    p.add_argument("--before", type=Path, action="append", default=[],
                   help="another checkout whose dashboard is measured on the same agents (repeatable)")
    p.add_argument("--ccmanager-prefix", type=Path, default=None,
                   help="npm prefix where ccmanager and its binary are installed (`npm install --prefix DIR "
                        "@kodaikabasawa/ccmanager-linux-x64`)")
    p.add_argument("--ccmanager-max", type=int, default=48,
                   help="largest N measured under ccmanager (its sessions open through its menu, ~3 s each)")
    args = p.parse_args()
    sizes = [int(x) for x in (args.sizes or ("8,16" if args.quick else "8,16,48,100")).split(",")]
    args.window = 6.0 if args.quick else 20.0
    args.idle_window = 3.0 if args.quick else 10.0
    args.presses = 10 if args.quick else 30
    args.settle_limit = 30.0 if args.quick else 60.0
    sides = [(f"before ({c.name})", c.resolve()) for c in args.before] + [("this", ROOT)]
    print(f"busy benchmark: {os.cpu_count()} cores, dashboards {', '.join(f'{l}={c}' for l, c in sides)}, "
          f"load at start {' '.join(Path('/proc/loadavg').read_text().split()[:3])}", flush=True)
    results: dict[tuple[int, str], Result] = {}
    from bench import busy_ccmanager
    binary, ccm = busy_ccmanager.find_binary(args.ccmanager_prefix)
    if binary is not None:
        print(f"ccmanager {busy_ccmanager.version(binary)}: {binary}", flush=True)
    lab = Lab()
    try:
        for n in sizes:
            spawn_s = lab.spawn(n)
            working = min(WORKING, n)
            base = tmux_baseline(lab, working, min(args.window, 8.0))
            print(f"N={n}: spawned in {spawn_s:.1f} s; tmux server baseline with {working} working {base:.1f} %",
                  flush=True)
            for label, checkout in sides:
                results[(n, label)] = run_dashboard(lab, checkout, label.split()[0], n, working, args, base)
                print(f"  {label}: " + "; ".join(f"{k.strip()}={v}" for k, v in results[(n, label)].values.items()),
                      flush=True)
            if binary is not None and n <= args.ccmanager_max:
                results[(n, "ccmanager")] = r = busy_ccmanager.measure(lab, binary, n, working, args)
                print("  ccmanager: " + "; ".join(f"{k.strip()}={v}" for k, v in r.values.items()) +
                      "".join(f"\n    {note}" for note in r.notes), flush=True)
    finally:
        lab.close()
    print_table(sizes, [s[0] for s in sides], results, ccm, args.ccmanager_max)


def print_table(sizes: list[int], labels: list[str], results: dict, ccm: str, ccm_max: int) -> None:
    print()
    for n in sizes:
        working = min(WORKING, n)
        theirs = results.get((n, "ccmanager"))
        why = ccm or f"not measured at N > {ccm_max} (--ccmanager-max): its sessions open one by one through its menu"
        print(f"### N = {n} agents, {working} working\n")
        print("| measure | " + " | ".join(labels) + " | ccmanager |")
        print("| :- | " + " | ".join("-:" for _ in labels) + " | -: |")
        names = list(results[(n, labels[-1])].values)
        for i, name in enumerate(names):
            cells = [results[(n, label)].values.get(name, "") for label in labels]
            other = theirs.values.get(name, "") if theirs is not None else (why if i == 0 else "")
            print(f"| {name} | " + " | ".join(cells) + f" | {other} |")
        if theirs is not None:
            print("| ccmanager sessions | " + " | ".join("" for _ in labels) + f" | {theirs.values.get('sessions', '')} |")
            for note in theirs.notes:
                print(f"\n{note}")
        print()
    print(f"load at end {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")


if __name__ == "__main__":
    main()
