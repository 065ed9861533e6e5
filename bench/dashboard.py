"""Benchmark the real dashboard under Textual's Pilot with scripted demo agents; prints a table, never asserts.

    python bench/dashboard.py            # 40 key presses, 60 s CPU windows, 30 status samples
    python bench/dashboard.py --quick    # 20 key presses, 10 s CPU windows, 12 status samples

Everything runs on private tmux servers (`-L pbdash-*`) over throwaway demo repositories
(`app.demo.create_demo_repo`), with a real `Fleet` and the real `Dashboard` (its own Monitor, its
own preview thread, default settings) in `app.run_test(size=(160, 48))`. Agents are
`python -m app.demo_agent --script FILE.json`.

What "the screen shows it" means here. Headless Textual still lays out and composites every frame:
`Screen._compositor_refresh` hands a `CompositorUpdate` to `App._display`, which in headless mode
returns before turning it into terminal bytes. This benchmark wraps `App._display` on the app
instance: for each update it first does what a real terminal driver would (`render_segments`,
the escape-sequence string that would be written to the terminal, so that cost is counted too), then
stamps the frame with `time.perf_counter()` and keeps it. Between measurements (never while one is
in flight) the kept frames are applied in order to a shadow screen of 160 x 48 cells (character +
background colour per cell): exactly the picture the terminal would hold after each write. A
latency ends at the first frame whose shadow screen shows the expected thing, so it covers input
handling, messages, the table/detail update, layout, compositing and rendering to terminal bytes;
it leaves out only the terminal's own write/draw time.

Measures:
1. Key-press latency under load: 16 agents each print 5,000 lines/s (`flood`) into their panes
   while j/k are pressed (j x10, k x10, ...), one press every ~0.8 s, each press injected like the
   real driver's input thread does (`driver.send_message(events.Key)`). Per press, from the moment
   just before the key event is posted until the first frame in which the table row of the newly
   selected agent carries the cursor highlight (its background differs from every other visible
   row). Also reported: the preview's title following the selection, and the preview content
   showing the new agent's pane (that one waits for the 0.25 s preview poll + a capture).
2. CPU while idle, 16 and 48 agents (all at their idle prompt, dashboard up and settled): CPU time
   (utime+stime from /proc) of this process (Textual app + monitor + preview thread), the tmux
   server and the tmux control-mode client over the window, as % of one core; the pipe-pane log
   writers are shown apart. RSS (VmRSS) of this process.
3. Screen change -> status visible, 16 agents (and, for information, 48): `fleet.send(name, "go N")` into an idle agent (it
   answers with a spinner); from the moment `Tmux.send_text` starts typing until the first frame in
   which that agent's table row reads "working" (and `app.agents[name]` says working). Only agents
   whose row is visible on the 48-line screen are used (rows further down are not on the screen).
4. First full paint, 20 agents: from `Dashboard(...)` construction (app start) until the first frame
   in which the table holds all 20 rows and every visible table line shows an agent.
Everything started here (tmux servers and so agents and log writers) is killed at the end, by
socket and by pid.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.cells import get_character_cell_size  # noqa: E402
from textual import events  # noqa: E402
from textual._compositor import ChopsUpdate, CompositorUpdate, LayoutUpdate  # noqa: E402

from app.config import Settings, Task  # noqa: E402
from app.dashboard import Dashboard  # noqa: E402
from app.demo import create_demo_repo  # noqa: E402
from app.fleet import Fleet  # noqa: E402
from app.model import Kind  # noqa: E402
from app.git.worktrees import find_repo  # noqa: E402
from bench.monitor import cpu_seconds, pct, pids_matching  # noqa: E402

SIZE = (160, 48)
FLOOD_RATE = 5000


def rss_mb_self() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# ---------------------------------------------------------------- what the terminal shows

class Shadow:
    """The terminal's picture: a character and a background colour per cell, updated frame by frame."""

    def __init__(self, width: int, height: int) -> None:
        self.w, self.h = width, height
        self.chars = [[" "] * width for _ in range(height)]
        self.bgs: list[list[object]] = [[None] * width for _ in range(height)]

    def _put(self, x: int, y: int, strip) -> None:
        if not 0 <= y < self.h:
            return
        row, bgs = self.chars[y], self.bgs[y]
        for seg in strip:
            if seg.control:
                continue
            bg = seg.style.bgcolor if seg.style is not None else None
            for ch in seg.text:
                w = get_character_cell_size(ch)
                if w <= 0:
                    continue
                if 0 <= x < self.w:
                    row[x], bgs[x] = ch, bg
                if w == 2 and 0 <= x + 1 < self.w:
                    row[x + 1], bgs[x + 1] = "\0", bg
                x += w

    def apply(self, update: CompositorUpdate) -> None:
        """Apply an update the way its render_segments() would draw it."""
        if isinstance(update, LayoutUpdate):
            for y, line in enumerate(update.strips, update.region.y):
                x = update.region.x
                for strip in line:
                    self._put(x, y, strip)
                    x += strip.cell_length
        elif isinstance(update, ChopsUpdate):
            for y, x1, x2 in update.spans:
                for end, (x, strip) in zip(update.chop_ends[y], update.chops[y].items()):
                    if strip is None or x > x2 or end <= x1:
                        continue
                    if not (x2 > x >= x1 and end <= x2):
                        strip = strip.crop(0, min(end, x2) - x)
                    self._put(x, y, strip)

    def raw(self, y: int) -> str:
        """Row y as text, one character per cell ("\\0" for the second half of a wide one)."""
        return "".join(self.chars[y])


class Recorder:
    """Wraps App._display: renders each update to terminal bytes (as a real driver would) and keeps it."""

    def __init__(self, app: Dashboard, probe=None) -> None:
        self.app = app
        self.frames: list[tuple[float, CompositorUpdate, object]] = []
        self.shadow = Shadow(*SIZE)
        self.count = 0
        self.probe = probe
        self.out_bytes = 0
        original = app._display

        def display(screen, renderable) -> None:
            original(screen, renderable)
            if isinstance(renderable, CompositorUpdate):
                data = renderable.render_segments(app.console)  # skipped by Textual when headless
                self.out_bytes += len(data)
                self.count += 1
                self.frames.append((time.perf_counter(), renderable, self.probe() if self.probe else None))

        app._display = display

    def drain(self, each=None) -> None:
        """Apply every kept frame in order to the shadow screen; each(t, shadow, probed) after each one."""
        frames, self.frames = self.frames, []
        for t, update, probed in frames:
            self.shadow.apply(update)
            if each is not None:
                each(t, self.shadow, probed)


def table_rows(app: Dashboard, shadow: Shadow, names) -> dict[str, tuple[int, int]]:
    """Agent name -> (y, x) of its name cell, for the agent rows visible in the table's region."""
    r = app.main_screen.table.region
    found: dict[str, tuple[int, int]] = {}
    for y in range(r.y, min(shadow.h, r.y + r.height)):
        raw = shadow.raw(y)
        for name in names:
            x = raw.find(name, r.x, r.x + r.width)
            if x >= 0 and name not in found:
                found[name] = (y, x)
    return found


def highlighted(app: Dashboard, shadow: Shadow, names) -> str | None:
    """The visible agent row whose background differs from every other visible row (the cursor)."""
    rows = table_rows(app, shadow, names)
    if len(rows) < 3:
        return None
    bgs = {name: shadow.bgs[y][x] for name, (y, x) in rows.items()}
    counts: dict[object, int] = {}
    for bg in bgs.values():
        counts[bg] = counts.get(bg, 0) + 1
    unique = [name for name, bg in bgs.items() if counts[bg] == 1]
    return unique[0] if len(unique) == 1 else None


def row_text(app: Dashboard, shadow: Shadow, name: str) -> str | None:
    rows = table_rows(app, shadow, [name])
    if name not in rows:
        return None
    r = app.main_screen.table.region
    return shadow.raw(rows[name][0])[r.x:r.x + r.width]


# ---------------------------------------------------------------- agents on a private tmux server

class Lab:
    """A throwaway demo repository with a Fleet on its own tmux socket."""

    def __init__(self, label: str) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix=f"pb-dash-{label}-"))
        self.sock = f"pbdash-{uuid.uuid4().hex[:8]}"
        self.repo = create_demo_repo(self.tmp / "repo")
        self.settings = Settings(agent="demo", tmux_socket=self.sock, silence=600.0)
        self.fleet = Fleet(find_repo(self.repo), self.settings)
        self.names: list[str] = []

    def spawn(self, prefix: str, start: int, count: int, steps: list[dict]) -> float:
        script = self.tmp / f"{prefix}.json"
        script.write_text(json.dumps(steps))
        cmd = shlex.join([sys.executable, "-m", "app.demo_agent", "--script", str(script)])
        t0 = time.perf_counter()
        for i in range(start, start + count):
            # One at a time: concurrent `git worktree add` can fail (see bench/monitor.py).
            name = f"{prefix}-{i:02d}"
            self.fleet.spawn(Task(name=name, agent=cmd))
            self.names.append(name)
        return time.perf_counter() - t0

    def new_app(self) -> Dashboard:
        return Dashboard(Fleet(find_repo(self.repo), self.settings))

    def server_pid(self) -> int:
        return int(self.fleet.tmux.run("display-message", "-p", "#{pid}")[0])

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True)
        time.sleep(0.3)
        me = os.getpid()
        for pid in set(pids_matching([str(self.tmp)]) + pids_matching([self.sock])):
            if pid != me:
                try:
                    os.kill(pid, signal.SIGTERM)
                except OSError:
                    pass
        for _ in range(5):   # a log writer may still be closing its file
            shutil.rmtree(self.tmp, ignore_errors=True)
            if not self.tmp.exists():
                break
            time.sleep(0.3)


EXIT_ERRORS: list[str] = []


@contextlib.asynccontextmanager
async def running(app: Dashboard):
    """app.run_test(size=SIZE); an exception the app raises while shutting down is noted, not fatal."""
    done = False
    try:
        async with app.run_test(size=SIZE) as pilot:
            yield pilot
            done = True
    except Exception as exc:  # noqa: BLE001
        if not done:
            raise
        EXIT_ERRORS.append(f"{type(exc).__name__}: {exc}")


async def wait_until(cond, timeout: float, step: float = 0.02) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        await asyncio.sleep(step)
    return cond()


def all_kind(app: Dashboard, n: int, kind: Kind) -> bool:
    return len(app.agents) == n and all(a.status.kind == kind for a in app.agents.values())


# ---------------------------------------------------------------- 1. key presses under a flood

def flood_lines(lab: Lab, panes: list[str]) -> int:
    """Lines printed so far by every flooding pane (the highest "flood NNNNNNN" on each screen)."""
    total = 0
    for pane in panes:
        numbers = [int(w) for line in lab.fleet.tmux.capture(pane).splitlines()
                   if line.startswith("flood ") for w in line.split()[1:2] if w.isdigit()]
        total += max(numbers, default=0)
    return total


async def key_latency(lab: Lab, n: int, presses: int, notes: list[str]) -> dict:
    steps = [{"do": "say", "text": "ready"},
             {"do": "flood", "lines_per_second": FLOOD_RATE, "seconds": 900},
             {"do": "idle", "reply_work": 1.0, "reply_edit": "notes.md"}]
    spawn_s = lab.spawn("flood", 0, n, steps)
    names = list(lab.names)
    app = lab.new_app()
    rec = Recorder(app)
    res: dict = {"hl": [], "cursor": [], "title": [], "preview": [], "missed": 0}
    async with running(app):
        table = app.main_screen.table
        if not await wait_until(lambda: table.row_count == n and len(app.agents) == n, 60):
            raise RuntimeError(f"flood: {table.row_count} rows after 60 s")
        await asyncio.sleep(3.0)
        rec.drain()
        if highlighted(app, rec.shadow, names) is None:
            raise RuntimeError("flood: cannot find the cursor row on the screen")
        cursor_at: list[float] = []
        texts: list[tuple[float, str | None]] = []

        def on_cursor(_value) -> None:
            cursor_at.append(time.perf_counter())

        def on_text(_value) -> None:
            texts.append((time.perf_counter(), app.main_screen.selected))

        app.watch(table, "cursor_row", on_cursor, init=False)
        app.watch(app.main_screen.preview, "screen_text", on_text, init=False)
        me, server = os.getpid(), lab.server_pid()
        panes = [a.pane for a in app.agents.values() if a.pane]
        agents = [pid for pid in pids_matching(["app.demo_agent", str(lab.tmp)])]
        l0 = await asyncio.to_thread(flood_lines, lab, panes)
        c0, s0, w0 = cpu_seconds(me), cpu_seconds(server), time.monotonic()
        a0 = sum(cpu_seconds(pid) for pid in agents)
        pattern = (["j"] * 10 + ["k"] * 10)
        for i in range(presses):
            key = pattern[i % len(pattern)]
            rec.drain()
            row = table.cursor_row + (1 if key == "j" else -1)
            target = table.row_names[row]
            cursor_at.clear()
            texts.clear()
            found: dict[str, float] = {}
            t0 = time.perf_counter()
            app._driver.send_message(events.Key(key, key))

            def each(t: float, shadow: Shadow, _probed) -> None:
                if "hl" not in found and highlighted(app, shadow, names) == target:
                    found["hl"] = t
                if "title" not in found:
                    pr = app.main_screen.preview.region
                    if f"· {target}" in shadow.raw(pr.y)[pr.x:pr.x + pr.width]:
                        found["title"] = t
                text_at = next((tt for tt, sel in texts if sel == target), None)
                if "preview" not in found and text_at is not None and t >= text_at:
                    found["preview"] = t

            end = time.monotonic() + 3.0
            await asyncio.sleep(0.8)
            rec.drain(each)
            while ("hl" not in found or "preview" not in found) and time.monotonic() < end:
                await asyncio.sleep(0.2)
                rec.drain(each)
            if cursor_at:
                res["cursor"].append(cursor_at[0] - t0)
            if "hl" in found:
                res["hl"].append(found["hl"] - t0)
            else:
                res["missed"] += 1
            if "title" in found:
                res["title"].append(found["title"] - t0)
            if "preview" in found:
                res["preview"].append(found["preview"] - t0)
            await asyncio.sleep(0.05)
        wall = time.monotonic() - w0
        res["cpu_self"] = (cpu_seconds(me) - c0) / wall * 100
        res["cpu_server"] = (cpu_seconds(server) - s0) / wall * 100
        res["cpu_agents"] = (sum(cpu_seconds(pid) for pid in agents) - a0) / wall * 100
        l1 = await asyncio.to_thread(flood_lines, lab, panes)
        res["rate"] = (l1 - l0) / wall / max(1, len(panes))
        res["frames"] = rec.count
        res["counters"] = dict(app.monitor.counters)
    notes.append(f"flood: {n} agents spawned in {spawn_s:.1f} s; during the presses the agents printed "
                 f"{res['rate']:.0f} lines/s each (asked {FLOOD_RATE}); this process used {res['cpu_self']:.0f} %, "
                 f"the tmux server {res['cpu_server']:.0f} %, the {len(agents)} agents {res['cpu_agents']:.0f} % "
                 f"of a core; "
                 f"{rec.count} frames painted; monitor counters {res['counters']}; load {loadavg()}")
    return res


# ---------------------------------------------------------------- 2. idle CPU, 3. status latency

async def cpu_window(lab: Lab, seconds: float) -> dict:
    me = os.getpid()
    server = lab.server_pid()
    control = pids_matching(["-C", lab.sock], parent=me)
    writers = pids_matching(["logs.py", str(lab.fleet.repo.common_dir)])

    def sample():
        return (cpu_seconds(me), cpu_seconds(server), sum(cpu_seconds(p) for p in control),
                sum(cpu_seconds(p) for p in writers))

    before, t = sample(), time.monotonic()
    await asyncio.sleep(seconds)
    after, wall = sample(), time.monotonic() - t
    used = [(b - a) / wall * 100 for a, b in zip(before, after)]
    return {"self": used[0], "server": used[1], "control": used[2], "writers": used[3],
            "total": used[0] + used[1] + used[2], "rss": rss_mb_self(), "n_control": len(control),
            "n_writers": len(writers), "load": loadavg()}


async def settle_idle(app: Dashboard, n: int, settle: float) -> None:
    if not await wait_until(lambda: all_kind(app, n, Kind.IDLE), 90, 0.1):
        kinds = {a.name: a.status.kind.value for a in app.agents.values()}
        raise RuntimeError(f"not all {n} agents idle: {kinds}")
    await wait_until(lambda: app.main_screen.conflicts is not None, 60, 0.1)   # first merge prediction done
    await asyncio.sleep(settle)


async def idle_and_status(lab: Lab, n: int, window: float, samples: int, notes: list[str]) -> dict:
    app = lab.new_app()
    rec = Recorder(app)
    out: dict = {}
    async with running(app):
        await settle_idle(app, n, 3.0)
        rec.drain()
        out["cpu"] = await cpu_window(lab, window)
        rec.drain()
        out["cpu"]["frames"] = rec.count

        # screen change -> status visible
        visible = [name for name in lab.names if name in table_rows(app, rec.shadow, lab.names)]
        started: list[float] = []
        tmux = lab.fleet.tmux
        original_send_text = tmux.send_text

        def send_text(pane, text, enter=True):
            started.append(time.perf_counter())
            original_send_text(pane, text, enter)

        tmux.send_text = send_text
        # Stage stamps: first Update from the monitor showing the agent working (an extra subscriber),
        # and the first AgentTable.set_agents call that gets it working.
        stamps: dict[str, float] = {}
        watched: list[str] = []

        async def listen() -> None:
            async for update in app.monitor.updates():
                for a in update.agents:
                    if watched and a.name == watched[0] and a.status.kind == Kind.WORKING:
                        stamps.setdefault("update", time.perf_counter())

        listener = asyncio.create_task(listen())
        original_set_agents = app.main_screen.table.set_agents

        def set_agents(agents):
            if watched and any(a.name == watched[0] and a.status.kind == Kind.WORKING for a in agents):
                stamps.setdefault("table", time.perf_counter())
            original_set_agents(agents)

        app.main_screen.table.set_agents = set_agents
        stages: dict[str, list[float]] = {"typed": [], "update": [], "table": []}
        lat: list[float] = []
        detail: list[tuple[float, float, float, float]] = []
        state_lat: list[float] = []
        missed = 0
        try:
            for i in range(samples):
                name = visible[i % len(visible)]
                ok = await wait_until(lambda: app.agents[name].status.kind == Kind.IDLE, 10)
                await asyncio.sleep(0.1)
                rec.drain()
                if not ok or "idle" not in (row_text(app, rec.shadow, name) or ""):
                    missed += 1
                    continue
                started.clear()
                stamps.clear()
                watched[:] = [name]
                await asyncio.to_thread(lab.fleet.send, name, f"go {i}")
                t_typed = time.perf_counter()
                t0 = started[0]
                state_ok = await wait_until(lambda: app.agents[name].status.kind == Kind.WORKING, 3, 0.005)
                t_state = time.perf_counter()
                await asyncio.sleep(0.15)
                seen: list[float] = []

                def each(t: float, shadow: Shadow, _probed) -> None:
                    if not seen and t >= t0 and "working" in (row_text(app, shadow, name) or ""):
                        seen.append(t)

                rec.drain(each)
                if seen and state_ok:
                    lat.append(seen[0] - t0)
                    state_lat.append(t_state - t0)
                    stages["typed"].append(t_typed - t0)
                    for k in ("update", "table"):
                        if k in stamps:
                            stages[k].append(stamps[k] - t0)
                    detail.append((seen[0] - t0, t_typed - t0, stamps.get("update", t0) - t0,
                                   stamps.get("table", t0) - t0))
                else:
                    missed += 1
                await asyncio.sleep(0.05)
        finally:
            tmux.send_text = original_send_text
            app.main_screen.table.set_agents = original_set_agents
            listener.cancel()
        out["status"] = lat
        out["status_missed"] = missed
    notes.append(f"idle {n}: {len(visible)} agent rows visible on the {SIZE[0]}x{SIZE[1]} screen; "
                 f"{out['cpu']['frames']} frames; control clients {out['cpu']['n_control']}, "
                 f"log writers {out['cpu']['n_writers']} ({out['cpu']['writers']:.2f} % together); "
                 f"status samples {len(lat)} (missed {missed}); app.agents says working after "
                 f"p50 {pct(state_lat, 0.5) * 1000:.0f} ms (polled every 5 ms); stages p50 from typing start: "
                 f"fleet.send returned {ms(stages['typed'], 0.5)}, monitor Update says working "
                 f"{ms(stages['update'], 0.5)}, table.set_agents gets it {ms(stages['table'], 0.5)}, "
                 f"painted {ms(lat, 0.5)}; slowest samples (painted / typed / update / table, ms): "
                 + ", ".join("/".join(f"{x * 1000:.0f}" for x in d) for d in sorted(detail, reverse=True)[:4]))
    return out


# ---------------------------------------------------------------- 4. first paint

async def first_paint(lab: Lab, n: int) -> float:
    t0 = time.perf_counter()
    app = lab.new_app()
    rec = Recorder(app, probe=lambda: app.main_screen.table.row_count if hasattr(app.main_screen, "table") else 0)
    async with running(app):
        await wait_until(lambda: hasattr(app.main_screen, "table") and app.main_screen.table.row_count == n, 30, 0.01)
        await asyncio.sleep(0.5)
        frames = list(rec.frames)
        rec.drain()
        visible = len(table_rows(app, rec.shadow, lab.names))
        shadow = Shadow(*SIZE)
        for t, update, rows in frames:
            shadow.apply(update)
            if rows == n and len(table_rows(app, shadow, lab.names)) >= visible:
                return t - t0
    return float("nan")


# ---------------------------------------------------------------- main

def ms(values: list[float], q: float) -> str:
    return f"{pct(values, q) * 1000:.0f} ms" if values else "n/a"


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="20 presses, 10 s CPU windows, 12 status samples")
    p.add_argument("--presses", type=int, default=None)
    p.add_argument("--window", type=float, default=None, help="seconds of each idle CPU window")
    p.add_argument("--samples", type=int, default=None, help="status samples")
    p.add_argument("--parts", default="keys,16,paint,48",
                   help="comma-separated parts to run: keys (flood + key presses), 16 (idle CPU + status at 16), "
                        "paint (first paint at 20), 48 (idle CPU + status at 48); default all")
    args = p.parse_args()
    presses = args.presses or (20 if args.quick else 40)
    window = args.window or (10.0 if args.quick else 60.0)
    samples = args.samples or (12 if args.quick else 30)
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no", "app", "widgets"],
                           capture_output=True, text=True).stdout.strip()
    print(f"code: {ROOT} at {head or 'no git checkout'}{' + uncommitted changes in app/ or widgets/' if dirty else ''}")
    print(f"dashboard benchmark: {os.cpu_count()} cores, screen {SIZE[0]}x{SIZE[1]}, CPU windows {window:.0f} s, "
          f"load at start {loadavg()}", flush=True)
    rows: list[tuple[str, str, str]] = []
    notes: list[str] = []

    parts = set(args.parts.split(","))
    # 1. key presses while 16 agents flood
    if "keys" in parts:
        rows += await keys_part(presses, notes)
        print("\n".join(f"{a}: {b}" for a, b, _ in rows), flush=True)
    lab = Lab("idle")
    try:
        idle = [{"do": "say", "text": "ready"}, {"do": "idle", "reply_work": 1.0, "reply_edit": "notes.md"}]
        spawn16 = lab.spawn("agent", 0, 16, idle)
        # 2 + 3 at 16 agents
        if "16" in parts:
            s = await idle_and_status(lab, 16, window, samples, notes)
            c = s["cpu"]
            rows += idle_rows(16, s, cpu_target="≤ 2 %", rss_target="≤ 150 MB", p50="≤ 100 ms", p99="≤ 300 ms")
            notes.append(f"idle 16: spawned in {spawn16:.1f} s; load during the CPU window {c['load']}")

        # 4. first paint with 20
        if "paint" in parts or "48" in parts:
            lab.spawn("agent", 16, 4, idle)
        if "paint" in parts:
            paints = [await first_paint(lab, 20) for _ in range(3)]
            rows.append(("first full paint, 20 agents (median of 3)",
                         f"{statistics.median(paints) * 1000:.0f} ms", "≤ 1.5 s"))
            notes.append("first paint runs: " + ", ".join(f"{x * 1000:.0f} ms" for x in paints))

        # 2 at 48 agents
        if "48" in parts:
            spawn48 = lab.spawn("agent", 20, 28, idle)
            s = await idle_and_status(lab, 48, window, samples, notes)
            c = s["cpu"]
            rows += idle_rows(48, s, cpu_target="≤ 5 %", rss_target="", p50="(none)", p99="(none)")
            notes.append(f"idle 48: 28 more spawned in {spawn48:.1f} s; load during the CPU window {c['load']}")
    finally:
        lab.close()
    print_table(rows, notes)


def idle_rows(n: int, s: dict, cpu_target: str, rss_target: str, p50: str, p99: str) -> list[tuple[str, str, str]]:
    c = s["cpu"]
    return [
        (f"idle CPU, {n} agents: this process (app + monitor)", f"{c['self']:.2f} %", ""),
        ("  tmux server", f"{c['server']:.2f} %", ""),
        ("  tmux control-mode client", f"{c['control']:.2f} %", ""),
        ("  total", f"{c['total']:.2f} %", cpu_target),
        (f"RSS of this process, {n} agents", f"{c['rss']:.0f} MB", rss_target),
        (f"screen change -> 'working' painted in the table, {n}: p50", ms(s["status"], 0.5), p50),
        (f"  p99 ({len(s['status'])} samples)", ms(s["status"], 0.99), p99),
    ]


async def keys_part(presses: int, notes: list[str]) -> list[tuple[str, str, str]]:
    lab = Lab("flood")
    try:
        r = await key_latency(lab, 16, presses, notes)
    finally:
        lab.close()
    return [
        (f"j/k -> cursor row repainted, 16 x {FLOOD_RATE} lines/s: p50", ms(r["hl"], 0.5), "≤ 100 ms"),
        ("  p95", ms(r["hl"], 0.95), "≤ 100 ms"),
        (f"  max ({len(r['hl'])} presses, {r['missed']} not seen)", ms(r["hl"], 1.0), ""),
        ("  key -> cursor moved in the table (before any paint), p50 / max",
         f"{ms(r['cursor'], 0.5)} / {ms(r['cursor'], 1.0)}", ""),
        ("  key -> preview title shows the agent, p50 / p95",
         f"{ms(r['title'], 0.5)} / {ms(r['title'], 0.95)}", ""),
        ("  key -> preview shows the agent's pane, p50 / p95",
         f"{ms(r['preview'], 0.5)} / {ms(r['preview'], 0.95)}", ""),
    ]


def print_table(rows: list[tuple[str, str, str]], notes: list[str]) -> None:
    width = max(len(r[0]) for r in rows)
    print()
    print(f"{'measure'.ljust(width)}  {'result':>16}  target")
    for name, value, target in rows:
        print(f"{name.ljust(width)}  {value:>16}  {target}")
    print()
    print("\n".join(notes))
    if EXIT_ERRORS:
        print(f"the app raised while exiting in {len(EXIT_ERRORS)} of its runs: {'; '.join(sorted(set(EXIT_ERRORS)))}")
    print(f"load at end {loadavg()}")


if __name__ == "__main__":
    asyncio.run(main())
