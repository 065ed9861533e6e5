"""The monitor on a real private tmux server and real git worktrees, driven by demo-agent scripts.

Each trigger fires, says what happened, and clears when its condition ends; a restarted
monitor (and `assess_once`) recomputes the same triggers from tmux + git + logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from app.config import Settings, Task
from app.tmux.control import ControlClient
from app.fleet import Fleet
from app.model import Kind, TriggerKind
from app.monitor import Monitor, assess_once, status_file_paths
from app.monitor.watch import Watcher
from app.git.worktrees import find_repo
from tests.helpers import demo_script, git, make_repo, retry_until, until

pytestmark = pytest.mark.slow




@pytest.fixture
def socket_name(tmux_socket):
    """The private tmux server from conftest (killed when the test ends)."""
    return tmux_socket


def make_fleet(tmp_path: Path, socket_name: str, **settings) -> Fleet:
    repo = tmp_path / "project"
    if not repo.exists():
        make_repo(repo, {"README.md": "# demo\n", "src/app.py": "print('hi')\n", "shared.txt": "x\n",
                         ".gitignore": "out/\n"})
    kw = dict(agent="demo", tmux_socket=socket_name, silence=2.0, error_count=3, error_window=60.0)
    kw.update(settings)
    return Fleet(find_repo(repo), Settings(**kw))


def spawn(fleet: Fleet, tmp_path: Path, name: str, steps: list[dict], scope=(), speed: float = 1.0):
    script = demo_script(tmp_path, steps)
    cmd = shlex.join([sys.executable, "-m", "app.demo_agent", "--script", str(script), "--speed", str(speed)])
    return fleet.spawn(Task(name=name, agent=cmd, scope=tuple(scope)))


class Running:
    """A Monitor running in the test's event loop, with every Update it published."""

    def __init__(self, fleet: Fleet, **kw):
        self.monitor = Monitor(fleet, **kw)
        self.updates = []
        self._run = asyncio.create_task(self.monitor.run())
        self._listen = asyncio.create_task(self._collect())

    async def _collect(self):
        async for u in self.monitor.updates():
            self.updates.append(u)

    def agent(self, name: str):
        return next(a for a in self.monitor.agents() if a.name == name)

    def trigger(self, name: str, kind: TriggerKind):
        return next((t for t in self.agent(name).triggers if t.kind == kind), None)

    def raised(self, kind: TriggerKind, name: str) -> list:
        """Raised as news or found while settling: either way the monitor said it (a false one is wrong in both)."""
        return [t for u in self.updates for t in u.raised + u.found if t.kind == kind and t.agent == name]

    def cleared(self, kind: TriggerKind, name: str) -> list:
        return [t for u in self.updates for t in u.cleared if t.kind == kind and t.agent == name]

    async def stop(self):
        self._listen.cancel()
        self._run.cancel()
        for t in (self._listen, self._run):
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass


@pytest.fixture
async def running():
    started: list[Running] = []

    def start(fleet, **kw):
        r = Running(fleet, **kw)
        started.append(r)
        return r

    yield start
    for r in started:
        await r.stop()


ASK = [{"do": "say", "text": "I want to run the tests."},
       {"do": "ask", "title": "Bash command", "question": "pytest -q"},
       {"do": "say", "text": "Tests ran."},
       {"do": "idle"}]


async def test_needs_input_fires_is_explained_and_clears_when_answered(tmp_path, socket_name, running):
    hook_out = tmp_path / "hook.jsonl"
    hook = [sys.executable, "-c",
            "import json, os, sys; t = json.load(sys.stdin); "
            f"open({str(hook_out)!r}, 'a').write(json.dumps([t, os.environ['PANEBOARD_TRIGGER_KIND'], "
            "os.environ['PANEBOARD_TRIGGER_AGENT']]) + '\\n')"]
    fleet = make_fleet(tmp_path, socket_name, on_trigger=tuple(hook), silence=30.0)
    spawn(fleet, tmp_path, "asker", ASK)
    r = running(fleet)
    t = await until(lambda: r.trigger("asker", TriggerKind.NEEDS_INPUT))
    a = r.agent("asker")
    assert a.status.kind == Kind.NEEDS_INPUT and a.status.why
    assert t.what and t.since > 0 and t.agent == "asker"
    assert await until(lambda: r.raised(TriggerKind.NEEDS_INPUT, "asker"))
    # The on_trigger hook got the trigger as JSON on stdin and in its environment, no shell involved.
    rows = await until(lambda: hook_out.exists() and [json.loads(x) for x in hook_out.read_text().splitlines()])
    assert rows[0][0]["kind"] == "needs_input" and rows[0][1:] == ["needs_input", "asker"]
    # The coordination file says who waits for what.
    json_path, md_path = status_file_paths(fleet)
    doc = await until(lambda: json_path.exists() and json.loads(json_path.read_text()))
    assert any(x["name"] == "asker" and x["triggers"] for x in doc["agents"])
    assert "asker" in md_path.read_text()

    await asyncio.to_thread(fleet.send, "asker", "1")
    await until(lambda: r.trigger("asker", TriggerKind.NEEDS_INPUT) is None)
    assert await until(lambda: r.cleared(TriggerKind.NEEDS_INPUT, "asker"))
    await until(lambda: r.agent("asker").status.kind == Kind.IDLE)


async def test_silence_fires_under_a_stale_spinner_and_clears_on_output(tmp_path, socket_name, running):
    fleet = make_fleet(tmp_path, socket_name, silence=1.5)
    spawn(fleet, tmp_path, "stuck", [
        {"do": "say", "text": "Working on it."},
        {"do": "silent", "seconds": 4, "spinner": True},
        {"do": "say", "text": "Back."},
        {"do": "idle"}])
    r = running(fleet)
    t = await until(lambda: r.trigger("stuck", TriggerKind.SILENCE), timeout=10)
    a = r.agent("stuck")
    assert a.status.kind == Kind.SILENT and "no output" in a.status.why
    assert "silence threshold" in t.what
    await until(lambda: r.trigger("stuck", TriggerKind.SILENCE) is None, timeout=10)
    assert await until(lambda: r.cleared(TriggerKind.SILENCE, "stuck"))
    assert r.agent("stuck").status.kind != Kind.SILENT


async def test_repeated_errors_fire_then_clear_when_the_window_passes(tmp_path, socket_name, running):
    fleet = make_fleet(tmp_path, socket_name, error_count=3, error_window=3.0, silence=60.0)
    spawn(fleet, tmp_path, "flaky", [
        {"do": "error", "text": "Error: connection to 127.0.0.1:5433 refused (attempt {n}) at {time}",
         "times": 4, "every": 0.2},
        {"do": "idle"}])
    r = running(fleet)
    t = await until(lambda: r.trigger("flaky", TriggerKind.REPEATED_ERRORS))
    assert "refused" in t.evidence and "times" in t.what
    await until(lambda: r.trigger("flaky", TriggerKind.REPEATED_ERRORS) is None, timeout=10)
    assert await until(lambda: r.cleared(TriggerKind.REPEATED_ERRORS, "flaky"))


async def test_out_of_scope_and_overlap_fire_and_clear_with_git(tmp_path, socket_name, running):
    fleet = make_fleet(tmp_path, socket_name, silence=60.0)
    a = spawn(fleet, tmp_path, "rogue", [
        {"do": "edit", "path": "src/app.py"}, {"do": "edit", "path": "README.md"}, {"do": "idle"}],
        scope=["src/**"])
    b = spawn(fleet, tmp_path, "twin", [{"do": "edit", "path": "src/app.py"}, {"do": "idle"}])
    r = running(fleet)
    t = await until(lambda: r.trigger("rogue", TriggerKind.OUT_OF_SCOPE))
    assert "README.md" in t.what and "src/**" in t.what
    o = await until(lambda: r.trigger("rogue", TriggerKind.OVERLAP))
    assert "twin" in o.what and "src/app.py" in o.what
    assert await until(lambda: r.trigger("twin", TriggerKind.OVERLAP))
    # Undo the stray edit and the shared one: both triggers end by themselves.
    git(Path(a.worktree), "checkout", "--", "README.md")
    await until(lambda: r.trigger("rogue", TriggerKind.OUT_OF_SCOPE) is None)
    git(Path(b.worktree), "checkout", "--", "src/app.py")
    await until(lambda: r.trigger("rogue", TriggerKind.OVERLAP) is None and
                r.trigger("twin", TriggerKind.OVERLAP) is None)
    assert await until(lambda: r.cleared(TriggerKind.OUT_OF_SCOPE, "rogue") and r.cleared(TriggerKind.OVERLAP, "twin"))


async def test_a_change_made_before_the_file_watcher_is_live_is_seen(tmp_path, socket_name, running,
                                                                    monkeypatch):
    """The monitor reads each worktree's git state at start and its file watcher goes live a moment
    later: a write in between is in no file event, so a watcher (re)start makes it read git again."""
    fleet = make_fleet(tmp_path, socket_name, silence=60.0)
    a = spawn(fleet, tmp_path, "quiet", [{"do": "idle"}])
    build, wrote, r = Watcher._build_roots, [], None

    def late_build(self):           # runs in a thread before the watcher starts
        if not wrote:
            retry_until(lambda: r is not None and "quiet" in r.monitor._facts
                        and r.monitor._facts["quiet"].stats_done, timeout=10)
            (Path(a.worktree) / "gap.txt").write_text("written while nothing watched\n")
            wrote.append(time.time())
        return build(self)

    monkeypatch.setattr(Watcher, "_build_roots", late_build)
    r = running(fleet)
    await until(lambda: wrote)
    assert await until(lambda: r.agent("quiet").files == ("gap.txt",))
    assert r.agent("quiet").status.kind != Kind.SILENT


async def test_screens_are_read_again_when_the_control_client_comes_back(tmp_path, socket_name, running):
    """A question printed while no control client listened is in no output event: once a new
    client is attached, every live pane's screen is read again, so the question is seen."""
    fleet = make_fleet(tmp_path, socket_name, silence=60.0)
    code = ("import sys, time; sys.stdin.readline(); "
            "print('Overwrite config.yaml? [y/n] ', end='', flush=True); time.sleep(600)")
    a = fleet.spawn(Task(name="asker", agent=shlex.join([sys.executable, "-c", code])))
    clients = []

    class Gated(ControlClient):
        async def start(self, timeout: float = 10.0) -> None:
            if clients:     # the second client: only once the question is on screen
                await until(lambda: "[y/n]" in fleet.tmux.capture(a.pane))
            clients.append(self)
            await super().start(timeout)

    r = running(fleet, control_factory=Gated)
    await until(lambda: r.monitor._control is not None and r.monitor._facts["asker"].captured)
    assert r.agent("asker").status.kind != Kind.NEEDS_INPUT
    os.kill(clients[0].pid, signal.SIGKILL)
    await until(lambda: r.monitor._control is None)
    await asyncio.to_thread(fleet.tmux.send_text, a.pane, "go")
    s = await until(lambda: r.agent("asker").status.kind == Kind.NEEDS_INPUT and r.agent("asker").status)
    assert len(clients) == 2 and "[y/n]" in s.evidence


async def test_commit_in_a_worktree_is_seen(tmp_path, socket_name, running):
    fleet = make_fleet(tmp_path, socket_name, silence=60.0)
    a = spawn(fleet, tmp_path, "committer", [{"do": "idle"}])
    r = running(fleet)
    await until(lambda: r.agent("committer").status.kind == Kind.IDLE)
    (Path(a.worktree) / "new.txt").write_text("hello\n")
    await until(lambda: r.agent("committer").files == ("new.txt",))
    git(Path(a.worktree), "add", "new.txt")
    git(Path(a.worktree), "commit", "-q", "-m", "add new.txt")
    await until(lambda: r.agent("committer").commits == 1)


async def test_exit_is_loud_when_failing_and_clears_when_killed(tmp_path, socket_name, running):
    fleet = make_fleet(tmp_path, socket_name, silence=60.0)
    spawn(fleet, tmp_path, "crasher", [{"do": "say", "text": "oops"}, {"do": "exit", "code": 3}])
    spawn(fleet, tmp_path, "done", [{"do": "say", "text": "all done"}, {"do": "exit", "code": 0}])
    r = running(fleet)
    t = await until(lambda: r.trigger("crasher", TriggerKind.EXITED))
    assert t.loud and "3" in t.what
    assert r.agent("crasher").status.kind == Kind.EXITED and r.agent("crasher").exit_code == 3
    t0 = await until(lambda: r.trigger("done", TriggerKind.EXITED))
    assert not t0.loud
    await asyncio.to_thread(fleet.kill, "crasher")
    r.monitor.refresh()
    await until(lambda: r.trigger("crasher", TriggerKind.EXITED) is None)
    assert await until(lambda: r.cleared(TriggerKind.EXITED, "crasher"))


async def test_limit_fires_and_clears_when_it_leaves_the_screen(tmp_path, socket_name, running):
    fleet = make_fleet(tmp_path, socket_name, silence=60.0)
    spawn(fleet, tmp_path, "limited", [
        {"do": "limit", "resets": "3pm"},
        {"do": "silent", "seconds": 2},
        {"do": "flood", "lines_per_second": 400, "seconds": 0.5},
        {"do": "idle"}])
    r = running(fleet)
    t = await until(lambda: r.trigger("limited", TriggerKind.LIMIT))
    assert "3pm" in t.what
    await until(lambda: r.trigger("limited", TriggerKind.LIMIT) is None, timeout=10)


async def test_acknowledge_and_snooze(tmp_path, socket_name, running):
    fleet = make_fleet(tmp_path, socket_name, silence=60.0)
    spawn(fleet, tmp_path, "asker", ASK)
    r = running(fleet, tick=0.2)
    await until(lambda: r.trigger("asker", TriggerKind.NEEDS_INPUT))
    assert r.monitor.acknowledge("asker", "needs_input")
    assert r.trigger("asker", TriggerKind.NEEDS_INPUT) is None
    assert r.monitor.book.active("asker")             # hidden, still active
    r.monitor.book._acked.clear()                      # as if it fired again
    r.monitor.snooze("asker", "needs_input", 0.5)
    assert r.trigger("asker", TriggerKind.NEEDS_INPUT) is None
    await until(lambda: r.trigger("asker", TriggerKind.NEEDS_INPUT), timeout=10)


async def test_burst_of_20000_files_does_not_stall_the_loop(tmp_path, socket_name, running):
    fleet = make_fleet(tmp_path, socket_name, silence=60.0)
    a = spawn(fleet, tmp_path, "builder", [{"do": "idle"}], scope=["src/**"])
    r = running(fleet)
    await until(lambda: r.agent("builder").status.kind == Kind.IDLE)
    gaps: list[float] = []
    stop = asyncio.Event()

    async def heartbeat():
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    beat = asyncio.create_task(heartbeat())
    target = Path(a.worktree) / "src" / "generated"

    def burst():
        target.mkdir(parents=True)
        for i in range(20_000):
            (target / f"m{i:05d}.py").write_text("x = 1\n")

    await asyncio.to_thread(burst)
    await until(lambda: r.agent("builder").files_changed >= 20_000, timeout=30)
    stop.set()
    await beat
    worst = max(gaps)
    print(f"\n20,000-file burst: worst event-loop gap {worst * 1000:.0f} ms over {len(gaps)} beats")
    assert worst < 1.0, f"event loop stalled for {worst:.2f}s"
    assert r.trigger("builder", TriggerKind.OUT_OF_SCOPE) is None     # all inside src/**


async def test_restart_recomputes_the_same_triggers(tmp_path, socket_name, running):
    fleet = make_fleet(tmp_path, socket_name, silence=60.0, error_window=600.0)
    spawn(fleet, tmp_path, "asker", ASK)
    spawn(fleet, tmp_path, "rogue", [{"do": "edit", "path": "README.md"}, {"do": "idle"}], scope=["src/**"])
    spawn(fleet, tmp_path, "flaky", [
        {"do": "error", "text": "Error: connection to 127.0.0.1:5433 refused (attempt {n})", "times": 3,
         "every": 0.1}, {"do": "idle"}])
    spawn(fleet, tmp_path, "crasher", [{"do": "exit", "code": 2}])
    want = {("asker", "needs_input"), ("rogue", "out_of_scope"), ("flaky", "repeated_errors"),
            ("crasher", "exited")}

    def keys(agents):
        return {(t.agent, t.kind.value) for a in agents for t in a.triggers}

    def all_raised(r):
        got = keys(r.monitor.agents())
        assert got == want, f"missing {sorted(want - got)}, extra {sorted(got - want)}"
        return r.monitor.agents()

    first = running(fleet)
    await until(lambda: all_raised(first))
    await first.stop()

    again = running(make_fleet(tmp_path, socket_name, silence=60.0, error_window=600.0))
    got = await until(lambda: all_raised(again))
    assert {a.name: a.status.kind for a in got}["crasher"] == Kind.EXITED

    once = await asyncio.to_thread(assess_once, fleet)
    assert keys(once) == want, keys(once) ^ want


async def test_errors_printed_while_the_monitor_starts_are_counted_once_each(tmp_path, socket_name, running):
    """The first screen is captured before the output stream opens: errors printed in between are
    on the next screen only, and errors already streamed are on it too. Each counts exactly once."""
    fleet = make_fleet(tmp_path, socket_name, silence=60.0, error_count=3, error_window=600.0)
    names = [f"e{i}" for i in range(6)]
    for i, name in enumerate(names):
        spawn(fleet, tmp_path, name, [
            {"do": "silent", "seconds": 0.08 * i},
            {"do": "error", "text": "Error: disk quota exceeded (try {n})", "times": 10, "every": 0.03},
            {"do": "idle"}])
    r = running(fleet)

    def counts():
        got = {}
        for name in names:
            t = r.trigger(name, TriggerKind.REPEATED_ERRORS)
            got[name] = int(t.what.split()[3]) if t else 0     # "the same error N times since ..."
        return got

    def all_counted():
        got = counts()
        assert all(n >= 10 for n in got.values()), got
        return got

    await until(all_counted, timeout=10)
    await asyncio.sleep(0.5)        # a late double count would show now
    assert counts() == {name: 10 for name in names}


def test_assess_once_is_fast_for_20_agents(tmp_path, socket_name):
    fleet = make_fleet(tmp_path, socket_name, silence=60.0)
    for i in range(20):
        spawn(fleet, tmp_path, f"a{i:02d}", [{"do": "edit", "path": f"f{i}.txt"}, {"do": "idle"}])
    assess_once(fleet)       # warm up: imports, first git calls
    t0 = time.perf_counter()
    agents = assess_once(fleet)
    took = time.perf_counter() - t0
    print(f"\nassess_once, 20 agents: {took * 1000:.0f} ms")
    assert len(agents) == 20 and all(a.status.kind != Kind.EXITED for a in agents)


# -- QA fixes ------------------------------------------------------------------------------


def test_assess_once_reads_every_pane_screen(tmp_path, socket_name):
    """Each pane's screen reaches its agent, whatever its pane id (display-message runs strftime: "%4")."""
    fleet = make_fleet(tmp_path, socket_name, silence=60.0)
    want = {}
    for i in range(2):
        spawn(fleet, tmp_path, f"idle{i}", [{"do": "say", "text": "Done."}, {"do": "idle"}])
        spawn(fleet, tmp_path, f"asker{i}", ASK[:2])
        spawn(fleet, tmp_path, f"busy{i}", [{"do": "work", "seconds": 120, "label": "Building"}])
        want |= {f"idle{i}": Kind.IDLE, f"asker{i}": Kind.NEEDS_INPUT, f"busy{i}": Kind.WORKING}
    assert {a.pane for a in fleet.agents(stats=False)} >= {"%3", "%4", "%5"}

    def assessed():
        agents = {a.name: a for a in assess_once(fleet)}
        got = {n: a.status.kind for n, a in agents.items()}
        assert got == want, got
        # A blank screen also reads as working: the busy ones must show their spinner line.
        assert all("esc to interrupt" in agents[f"busy{i}"].status.evidence for i in range(2)), agents
        return agents

    agents = retry_until(assessed, timeout=20)
    assert all("blank" not in a.status.why for a in agents.values())
    assert {t.kind for t in agents["asker1"].triggers} == {TriggerKind.NEEDS_INPUT}


def test_refresh_from_a_worker_thread_wakes_the_monitor(tmp_path, socket_name):
    """The dashboard calls refresh() from thread workers; the monitor's loop must wake for it."""
    fleet = make_fleet(tmp_path, socket_name, silence=60.0)
    spawn(fleet, tmp_path, "checked", [{"do": "idle"}])
    spawn(fleet, tmp_path, "asker", ASK)
    # The monitor runs in its own loop thread, idle between rare timers: nothing else wakes it.
    monitor = Monitor(fleet, tick=30.0, rediscover_every=30.0)
    loop = asyncio.new_event_loop()
    loop.set_debug(True)        # asyncio then refuses loop calls from other threads instead of losing them

    async def run():
        with contextlib.suppress(asyncio.CancelledError):
            await monitor.run()

    task = loop.create_task(run())
    runner = threading.Thread(target=loop.run_until_complete, args=(task,), daemon=True)
    runner.start()

    def agent(name):
        try:
            return next(a for a in monitor.agents() if a.name == name)
        except (RuntimeError, StopIteration):     # read from another thread while it changes
            return None

    try:
        retry_until(lambda: agent("checked") and agent("checked").status.kind == Kind.IDLE)
        retry_until(lambda: any(t.kind == TriggerKind.NEEDS_INPUT for t in agent("asker").triggers))
        time.sleep(0.5)     # settle: the loop has nothing left to do but wait 30 s

        def worker():       # what a @work(thread=True) worker does after a check
            with fleet.state.edit() as data:
                data["agents"]["checked"]["last_check"] = {"passed": True, "exit_code": 0, "summary": "ok"}
            monitor.refresh()
            return monitor.acknowledge("asker", "needs_input")

        acked = []

        def run_worker():
            try:
                acked.append(worker())
            except Exception as exc:      # noqa: BLE001 - handed to the test
                acked.append(exc)

        t = threading.Thread(target=run_worker)
        t.start()
        t.join(10)
        assert acked == [True]
        retry_until(lambda: agent("checked").last_check, timeout=10)
        assert not any(t.kind == TriggerKind.NEEDS_INPUT for t in agent("asker").triggers)
    finally:
        loop.call_soon_threadsafe(task.cancel)
        runner.join(10)
        loop.close()


async def test_deliberate_stops_raise_no_exited_trigger(tmp_path, socket_name, running):
    """kill, discard and merge record the stop first; a pane that dies or vanishes after that is no crash."""
    fleet = make_fleet(tmp_path, socket_name, silence=60.0, close_on_merge=True)
    for name in ("killed", "discarded", "merged"):
        spawn(fleet, tmp_path, name, [{"do": "edit", "path": f"{name}.txt"}, {"do": "idle"}])
    r = running(fleet, tick=0.2)
    await until(lambda: all([r.agent(n).status.kind == Kind.IDLE and r.agent(n).files
                             for n in ("killed", "discarded", "merged")]))

    # A slow tmux: the window closes only after the monitor saw the pane die.
    close = fleet.tmux.kill_window

    def kill_window_late(pane):
        retry_until(lambda: not next((f.agent.pane_alive for f in r.monitor._facts.values()
                                      if f.agent.pane == pane), False), timeout=5)
        close(pane)

    fleet.tmux.kill_window = kill_window_late
    await asyncio.to_thread(fleet.kill, "killed")
    await asyncio.to_thread(fleet.merge, "merged")
    fleet.tmux.kill_window = close

    # Discarded while a rediscovery looks: the record goes between its state read and its pane list.
    panes = fleet.tmux.list_agent_panes
    pending = [lambda: fleet.discard("discarded")]

    def list_panes_racing():
        if pending:
            pending.pop()()
        return panes()

    fleet.tmux.list_agent_panes = list_panes_racing
    r.monitor.refresh()
    await until(lambda: "discarded" not in {a.name for a in r.monitor.agents()})
    fleet.tmux.list_agent_panes = panes
    r.monitor.refresh()
    await until(lambda: r.agent("killed").pane is None and r.agent("merged").pane is None)
    await asyncio.sleep(0.5)
    for name in ("killed", "discarded", "merged"):
        assert not r.raised(TriggerKind.EXITED, name), r.raised(TriggerKind.EXITED, name)
    assert r.agent("killed").status.kind == Kind.EXITED and "stopped" in r.agent("killed").status.why


async def test_a_restored_agent_without_a_pane_is_no_crash(tmp_path, socket_name, running):
    fleet = make_fleet(tmp_path, socket_name, silence=60.0)
    spawn(fleet, tmp_path, "again", [{"do": "edit", "path": "x.txt"}, {"do": "idle"}])
    await asyncio.to_thread(retry_until, lambda: (Path(fleet.get("again").worktree) / "x.txt").exists())
    await asyncio.to_thread(fleet.discard, "again")
    await asyncio.to_thread(fleet.restore, "again")
    with fleet.state.edit() as data:           # as the record may say it: restored, never killed here
        data["agents"]["again"].pop("killed_at", None)
    r = running(fleet)
    await until(lambda: r.agent("again").status.kind == Kind.EXITED)
    await asyncio.sleep(0.3)
    assert not r.raised(TriggerKind.EXITED, "again") and r.trigger("again", TriggerKind.EXITED) is None
    assert "restored" in r.agent("again").status.why
    once = {a.name: a for a in await asyncio.to_thread(assess_once, fleet)}
    assert once["again"].triggers == []
