"""The faults paneboard already survives (issue 10): each test sets up a real repository, real agents on
a private tmux server and, where it matters, the real dashboard in a terminal; breaks one thing; and
checks the exact outcome: files, refs, statuses and exit codes, before against after.

Random moments come from one seed per run, printed and named in every failure message; rerun a
failure with PANEBOARD_FAULT_SEED=<seed>.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app.config import Settings, Task
from app.fleet import Fleet
from app.fleet.spawning import CRASH_ENV as SPAWN_CRASH_ENV
from app.git.merge import CRASH_ENV, CRASH_STEPS
from app.git.worktrees import find_repo
from tests.faults.helpers import (
    EVERYTHING,
    WORK,
    Dashboard,
    alive,
    assert_same,
    cli_argv,
    cli_env,
    committed_files,
    descendants,
    group_members,
    ls_json,
    memory_kb,
    no_traceback,
    one_line_error,
    processes,
    shell_words,
    tree_state,
    walk_files,
)
from tests.helpers import (
    ROOT,
    demo_command,
    demo_script,
    git,
    make_repo,
    paneboard,
    retry_until,
)

SEED = int(os.environ.get("PANEBOARD_FAULT_SEED") or time.time_ns() % 1_000_000)
print(f"fault suite seed: PANEBOARD_FAULT_SEED={SEED}")


@pytest.fixture
def rng(request) -> random.Random:
    """A random source per test, from the run's seed (so a failure can be replayed)."""
    return random.Random(f"{SEED}-{request.node.name}")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A repository with one commit, a .gitignore, and the user's own untracked and ignored files."""
    repo = make_repo(tmp_path / "project", {"README.md": "# demo\n", "src/app.py": "print('hi')\n",
                                            ".gitignore": "*.log\n"})
    (repo / "scratch.txt").write_text("the user's own notes, never added\n")
    (repo / "debug.log").write_text("ignored, but the user's\n")
    return repo


@pytest.fixture
def dashboards(tmux_socket: str):
    """Start real dashboards (closed, with their terminals, when the test ends)."""
    started: list[Dashboard] = []

    def start(repo: Path) -> Dashboard:
        d = Dashboard(repo, tmux_socket)
        started.append(d)
        return d.start()

    yield start
    for d in started:
        d.close()


def fleet_of(repo: Path, socket_name: str) -> Fleet:
    return Fleet(find_repo(repo), Settings(agent="demo", tmux_socket=socket_name))


def spawn(fleet: Fleet, tmp_path: Path, name: str, steps: list[dict], speed: float = 0.1):
    """A demo agent running a script (this checkout's code, whatever the pane's environment)."""
    return fleet.spawn(Task(name=name, agent=demo_command(demo_script(tmp_path, steps), speed),
                            env={"PYTHONPATH": str(ROOT)}))


def wait_statuses(repo: Path, socket_name: str, want: dict[str, str], timeout: float = 20.0) -> dict[str, dict]:
    """Until `ls --json` says exactly these statuses; the listing."""
    rows: dict[str, dict] = {}

    def ok():
        nonlocal rows
        rows = ls_json(repo, socket_name)
        return {n: a["status"] for n, a in rows.items()} == want
    try:
        retry_until(ok, timeout=timeout)
    except AssertionError:
        raise AssertionError(f"wanted {want}, ls --json says "
                             f"{ {n: (a['status'], a['status_why']) for n, a in rows.items()} }") from None
    return rows


def pane_pipe(socket_name: str, pane: str) -> str:
    return subprocess.run(["tmux", "-L", socket_name, "display-message", "-p", "-t", pane, "#{pane_pipe}"],
                          capture_output=True, text=True, check=False).stdout.strip()


def branches(repo: Path) -> dict[str, str]:
    out = git(repo, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads")
    return dict(line.split() for line in out.splitlines())


def windows(socket_name: str) -> list[str]:
    out = subprocess.run(["tmux", "-L", socket_name, "list-windows", "-a", "-F", "#{window_name}"],
                         capture_output=True, text=True, check=False)
    return out.stdout.split("\n")[:-1]


ASK = [{"do": "say", "text": "I want to run the tests."},
       {"do": "ask", "title": "Bash command", "question": "pytest -q"},
       {"do": "idle"}]

# Agents in every state a dashboard must not lose track of, two of them printing all the time.
FLEET = {
    "idle": ([{"do": "say", "text": "Editing."}, {"do": "edit", "path": "src/idle.py", "text": "x = 1"},
              {"do": "idle"}], "idle"),
    "asker": (ASK, "needs_input"),
    "crashed": ([{"do": "say", "text": "bye"}, {"do": "exit", "code": 3}], "exited"),
    "busy": ([{"do": "work", "seconds": 6000, "label": "Thinking"}], "working"),
    "printer": ([{"do": "flood", "lines_per_second": 40, "seconds": 6000}], "working"),
}


def start_fleet(repo: Path, socket_name: str, tmp_path: Path, names=tuple(FLEET)) -> dict[str, dict]:
    fleet = fleet_of(repo, socket_name)
    for name in names:
        spawn(fleet, tmp_path, name, FLEET[name][0], speed=1.0 if name in ("busy", "printer") else 0.1)
    return wait_statuses(repo, socket_name, {n: FLEET[n][1] for n in names})


# ---------------------------------------------------------------- 1. kill -9 of the dashboard


@pytest.mark.slow
def test_dashboard_killed_at_random_moments_loses_nothing_and_leaves_no_process(
        project, tmux_socket, tmp_path, dashboards, rng):
    rows = start_fleet(project, tmux_socket, tmp_path)
    want = {n: a["status"] for n, a in rows.items()}
    before = {n: tree_state(Path(a["worktree"])) for n, a in rows.items()}
    main_before = tree_state(project)
    state_before = (project / ".git" / "paneboard" / "state.json").read_bytes()
    agents = {n: a["pid"] for n, a in rows.items() if a["pane_alive"]}

    for attempt in range(3):
        d = dashboards(project)
        delay = rng.uniform(0.05, 2.5)
        seen: dict[int, int] = {}           # every process the dashboard started: pid -> start time
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline:
            table = processes()
            seen.update({pid: table[pid].start for pid in descendants(d.pid, table)})
            time.sleep(0.02)
        d.kill9()
        where = f"(seed {SEED}, kill {attempt + 1} after {delay:.2f}s)"
        print(f"dashboard killed after {delay:.2f}s; it had started {len(seen)} processes")

        # Nothing of the dead dashboard lives on: its control client and git commands end with it.
        def strays(seen=seen):
            table = processes()
            return [table[p].cmdline for p, start in seen.items()
                    if p in table and table[p].start == start and alive(p)]
        try:
            retry_until(lambda: not strays(), timeout=10)
        except AssertionError:
            raise AssertionError(f"still running after the dashboard died {where}: {strays()}") from None
        # What must outlive it does: every agent, and the log writer of every live pane.
        for name, pid in agents.items():
            assert alive(pid), f"agent {name} died with the dashboard {where}"
        after = ls_json(project, tmux_socket)
        assert {n: a["status"] for n, a in after.items()} == want, where
        for name, a in after.items():
            if a["pane_alive"]:
                assert pane_pipe(tmux_socket, a["pane"]) == "1", f"{name}'s log pipe closed {where}"
        for name, a in rows.items():
            assert_same(before[name], tree_state(Path(a["worktree"])), what=f"worktree of {name} {where}")
        assert_same(main_before, tree_state(project), what=f"main checkout {where}")
        assert (project / ".git" / "paneboard" / "state.json").read_bytes() == state_before, where

    # A new dashboard shows every agent as it was, and quits cleanly.
    d = dashboards(project)
    d.wait_statuses(want)
    screen = d.screen()
    assert all(name in screen for name in want), screen
    assert d.quit() == 0
    assert all(alive(pid) for pid in agents.values())


# ---------------------------------------------------------------- 2. kill -9 of a merge


def _merge_process(repo: Path, socket_name: str, name: str, strategy: str, crash_at: str | None):
    env = cli_env(socket_name)
    if crash_at:
        env[CRASH_ENV] = crash_at
    # Its own process group, so the test can wait for the git commands a killed merge orphaned.
    return subprocess.Popen(cli_argv("merge", name, "--strategy", strategy), cwd=repo, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _agent_work(worktree: Path, k: int) -> None:
    """Committed, modified, untracked and binary work in an agent's worktree."""
    (worktree / "committed").mkdir()
    (worktree / "committed" / f"c{k}.txt").write_text(f"committed by agent {k}\n")
    git(worktree, "add", "committed")
    git(worktree, "commit", "-q", "-m", f"agent {k} commits")
    (worktree / "slots" / f"s{k}.txt").write_text(f"slot {k}, changed by its agent\n")
    (worktree / "new").mkdir()
    (worktree / "new" / f"n{k}.bin").write_bytes(bytes(range(256)) * 4 + f"agent {k}".encode())


@pytest.mark.slow
def test_merge_killed_at_random_moments_is_all_or_nothing(project, tmux_socket, rng):
    n_random = 4
    names = ["baseline", *CRASH_STEPS, *[f"random{i}" for i in range(n_random)]]
    for k in range(len(names)):
        (project / "slots").mkdir(exist_ok=True)
        (project / "slots" / f"s{k}.txt").write_text(f"slot {k}\n")
    git(project, "add", "slots")
    git(project, "commit", "-q", "-m", "slots")
    initial = committed_files(project, "HEAD")
    fleet = fleet_of(project, tmux_socket)
    worktrees = {}
    for k, name in enumerate(names):
        # An agent that has finished (merging a live one may be refused).
        agent = fleet.spawn(Task(name=name, agent="true"))
        worktrees[name] = Path(agent.worktree)
        _agent_work(worktrees[name], k)
    merged_so_far = dict(initial)
    duration = 1.0

    for k, name in enumerate(names):
        crash_at = name if name in CRASH_STEPS else None
        strategy = "merge" if name == "baseline" or crash_at else rng.choice(["merge", "squash", "rebase"])
        # Past the interpreter's start (~0.1 s), into the commit, the merge and the clean-up.
        delay = rng.uniform(0.3 * duration, 1.1 * duration) if name.startswith("random") else None
        where = f"(seed {SEED}, {name}: strategy {strategy}, " + \
            (f"crash at {crash_at})" if crash_at else f"killed after {delay:.2f}s)" if delay is not None else ")")
        wt = worktrees[name]
        old = git(project, "rev-parse", "main").strip()
        main_before = tree_state(project)
        wt_files, wt_links, _ = walk_files(wt)
        changed = {p: data for p, (_, data) in wt_files.items() if initial.get(p) != data}
        expected_main = {p: data for p, (_, data) in main_before.files.items()} | changed

        started = time.monotonic()
        proc = _merge_process(project, tmux_socket, name, strategy, crash_at)
        if delay is not None:
            try:
                proc.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
        if name == "baseline":
            duration = time.monotonic() - started
            assert proc.returncode == 0, err
        if crash_at:
            assert proc.returncode == -signal.SIGKILL, f"{where}: {err}"
        # The git commands the dead merge had started finish on their own (a kill -9 reaches only it).
        retry_until(lambda pgrp=proc.pid: not group_members(pgrp), timeout=15)

        # The next command settles whatever was left, in one line at most, and never a traceback.
        nxt = paneboard("ls", cwd=project, socket_name=tmux_socket)
        no_traceback(nxt)
        assert nxt.returncode == 0, f"{where}: {nxt.stderr}"
        assert not (project / ".git" / "paneboard" / "merge-journal.json").exists(), where
        new = git(project, "rev-parse", "main").strip()
        main_after = tree_state(project)
        assert git(project, "status", "--porcelain", "--untracked-files=no") == "", where
        assert main_after.untracked == main_before.untracked and main_after.ignored == main_before.ignored, where
        if new == old:
            # Nothing happened to the base: the main checkout is exactly as it was.
            assert_same(main_before, main_after, WORK + ("index", "head_commit"), what=f"main checkout {where}")
        else:
            # Exactly the merged result: the old base plus the agent's work, checked out and clean.
            git(project, "merge-base", "--is-ancestor", old, new)  # raises if old is not in new
            assert committed_files(project, new) == committed_files(project, old) | changed, where
            assert {p: d for p, (_, d) in main_after.files.items()} == expected_main, where
            if strategy == "merge":
                parents = git(project, "rev-list", "--parents", "-n", "1", new).split()[1:]
                assert parents[0] == old, where
        # The agent's work is intact: in its worktree if it is still there, and on its branch.
        if wt.exists():
            assert walk_files(wt)[:2] == (wt_files, wt_links), f"agent worktree changed {where}"
        else:
            assert new != old, f"worktree removed without a merge {where}"
        tip_files = committed_files(project, f"paneboard/{name}")
        if new != old or not wt.exists():
            assert {p: tip_files.get(p) for p in changed} == changed, where

        # And merging again (if the killed run did not get to record it) completes.
        if not ls_json(project, tmux_socket)[name]["merged"]:
            again = paneboard("merge", name, "--strategy", strategy, cwd=project, socket_name=tmux_socket)
            no_traceback(again)
            assert again.returncode == 0, f"{where}: {again.stderr}"
        merged_so_far |= changed
        assert committed_files(project, "main") == merged_so_far, where
        assert {p: d for p, (_, d) in tree_state(project).files.items()} == \
            {p: d for p, (_, d) in main_before.files.items()} | changed, where
        assert git(project, "status", "--porcelain", "--untracked-files=no") == "", where
        print(f"{where}: exit {proc.returncode}, base {'moved' if new != old else 'kept'}; "
              f"{(err.strip().splitlines() or [''])[-1][:80]}")

    # Ten merges, nine of them killed: git itself is undamaged, and the user's own files are untouched.
    assert subprocess.run(["git", "fsck", "--no-dangling", "--no-progress"], cwd=project,
                          capture_output=True, check=False).returncode == 0
    assert (project / "scratch.txt").read_text() == "the user's own notes, never added\n"
    assert (project / "debug.log").read_text() == "ignored, but the user's\n"


# ---------------------------------------------------------------- 3. tmux kill-server, 4. kill-pane


@pytest.mark.slow
def test_tmux_server_killed_shows_every_agent_exited_and_loses_no_work(project, tmux_socket, tmp_path, dashboards):
    names = ("idle", "asker", "busy")
    rows = start_fleet(project, tmux_socket, tmp_path, names)
    before = {n: tree_state(Path(a["worktree"])) for n, a in rows.items()}
    refs = branches(project)
    d = dashboards(project)
    d.wait_statuses({n: FLEET[n][1] for n in names})

    subprocess.run(["tmux", "-L", tmux_socket, "kill-server"], check=True)

    d.wait_statuses({n: "exited" for n in names})
    assert all(a["why"] for a in d.document()["agents"]), d.document()
    after = ls_json(project, tmux_socket)
    assert sorted(after) == sorted(names)
    for name, a in after.items():
        assert (a["status"], a["pane_alive"], a["worktree_exists"]) == ("exited", False, True), a
        assert "vanished" in a["status_why"], a["status_why"]
        assert_same(before[name], tree_state(Path(a["worktree"])), what=f"worktree of {name}")
    assert branches(project) == refs
    screen = d.screen()
    assert screen.count("exited") >= len(names) and "Traceback" not in screen, screen
    assert d.alive() and d.quit() == 0


@pytest.mark.slow
def test_one_pane_killed_shows_that_agent_exited_and_the_others_go_on(project, tmux_socket, tmp_path, dashboards):
    names = ("idle", "asker", "busy")
    rows = start_fleet(project, tmux_socket, tmp_path, names)
    want = {n: FLEET[n][1] for n in names}
    before = {n: tree_state(Path(a["worktree"])) for n, a in rows.items()}
    d = dashboards(project)
    d.wait_statuses(want)

    subprocess.run(["tmux", "-L", tmux_socket, "kill-pane", "-t", rows["busy"]["pane"]], check=True)

    d.wait_statuses({**want, "busy": "exited"})
    after = ls_json(project, tmux_socket)
    assert after["busy"]["status"] == "exited" and "vanished" in after["busy"]["status_why"]
    for name in ("idle", "asker"):
        assert (after[name]["status"], after[name]["pane"], after[name]["pid"]) == \
            (want[name], rows[name]["pane"], rows[name]["pid"]) and alive(rows[name]["pid"])
    assert sorted(windows(tmux_socket)) == ["asker", "idle"]
    for name, a in rows.items():
        assert_same(before[name], tree_state(Path(a["worktree"])), what=f"worktree of {name}")
    # The dashboard still follows the others: an answer moves the asker on.
    assert paneboard("send", "asker", "1", cwd=project, socket_name=tmux_socket).returncode == 0
    d.wait_statuses({**want, "busy": "exited", "asker": "idle"})
    assert d.quit() == 0


# ---------------------------------------------------------------- 5. a 20,000-file burst


MEMORY_BOUND_KB = 500 * 1024


def report_memory(d: Dashboard, what: str) -> int:
    """Print the dashboard's memory (now and peak) and return the peak in kB."""
    mem = memory_kb(d.pid)
    print(f"dashboard memory after {what}: RSS {mem['VmRSS'] / 1024:.0f} MB, peak {mem['VmHWM'] / 1024:.0f} MB")
    return mem["VmHWM"]


@pytest.mark.slow
def test_burst_of_20000_files_keeps_the_dashboard_answering_and_counts_them(
        project, tmux_socket, tmp_path, dashboards):
    rows = start_fleet(project, tmux_socket, tmp_path, ("idle",))
    d = dashboards(project)
    d.wait_statuses({"idle": "idle"})
    target = Path(rows["idle"]["worktree"]) / "generated"
    written = [0]

    def burst():
        target.mkdir()
        for i in range(20_000):
            (target / f"m{i:05d}.py").write_text(f"x = {i}\n")
            written[0] += 1

    writer = threading.Thread(target=burst)
    writer.start()
    try:
        retry_until(lambda: written[0] >= 2_000)
        # While the files keep coming, another agent asks a question: the dashboard reports it.
        asker = paneboard("spawn", "asker", "--agent", demo_command(demo_script(tmp_path, ASK), 0.1),
                          cwd=project, socket_name=tmux_socket)
        assert asker.returncode == 0, asker.stderr
        retry_until(lambda: d.statuses().get("asker") == "needs_input", timeout=20)
        print(f"the question was reported after {written[0]:,} of 20,000 files")
    finally:
        writer.join()
    files = lambda: {a["name"]: len(a["files"]) for a in d.document()["agents"]}
    retry_until(lambda: files() == {"idle": 20_001, "asker": 0}, timeout=30)
    d.wait_statuses({"idle": "idle", "asker": "needs_input"})
    assert ls_json(project, tmux_socket)["idle"]["files_changed"] == 20_001
    assert report_memory(d, "a 20,000-file burst") < MEMORY_BOUND_KB
    assert d.quit() == 0
    print(f"quit after the burst took {d.quit_seconds:.1f}s")


# ---------------------------------------------------------------- 6. 50 MB of binary output, 7. a 1 MB line


def gated_agent(fleet: Fleet, tmp_path: Path, name: str, produce: str) -> Path:
    """An agent that waits for a go file, runs the shell snippet `produce` (its output is the fault),
    then asks a question with the demo agent. Returns the go file."""
    go = tmp_path / f"go-{name}"
    script = demo_script(tmp_path, ASK)
    # Whatever state the output left the terminal in, end it: CAN, ST, BEL, then a full reset (RIS).
    body = (f'while [ ! -e "$2" ]; do sleep 0.05; done; {produce}; touch "$2.done"; '
            r"printf '\030\033\\\007\033c'; "
            # The terminal answered queries hidden in the output by typing into the pane: not the user's keys.
            'sleep 0.3; "$0" -c "import termios; termios.tcflush(0, termios.TCIFLUSH)"; '
            'exec "$0" -m app.demo_agent --script "$1" --speed 0.1')
    fleet.spawn(Task(name=name, agent=shell_words("sh", "-c", body, sys.executable, str(script), str(go)),
                     env={"PYTHONPATH": str(ROOT)}))
    return go


def log_bytes(repo: Path, name: str) -> int:
    return sum(p.stat().st_size for p in (repo / ".git" / "paneboard" / "logs").glob(f"{name}.log*"))


@pytest.mark.slow
def test_50_mb_of_binary_output_leaves_the_dashboard_alive_and_bounded(project, tmux_socket, tmp_path, dashboards):
    rows = start_fleet(project, tmux_socket, tmp_path, ("idle",))
    go = gated_agent(fleet_of(project, tmux_socket), tmp_path, "binary", "head -c 50000000 /dev/urandom")
    d = dashboards(project)
    # Blank until its gate opens: a just-started agent whose screen is still blank reads starting (issue 11).
    d.wait_statuses({"idle": "idle", "binary": "starting"})
    started = time.monotonic()
    go.touch()
    # Garbage on a screen can pass for anything for a moment: judge only once the output has ended.
    retry_until(lambda: Path(f"{go}.done").exists(), timeout=120)
    print(f"50 MB of binary output went through in {time.monotonic() - started:.1f}s")
    d.wait_statuses({"idle": "idle", "binary": "needs_input"}, timeout=60)
    peak = report_memory(d, "50 MB of binary output")
    assert peak < MEMORY_BOUND_KB
    after = wait_statuses(project, tmux_socket, {"idle": "idle", "binary": "needs_input"})
    assert after["binary"]["pane_alive"] and after["idle"]["pid"] == rows["idle"]["pid"]
    # Its log kept the output but rotates: at most three files of 2 MB (and one read's worth more).
    assert 2_000_000 < log_bytes(project, "binary") <= 3 * 2 * 1024 * 1024 + 65536
    assert d.quit() == 0


@pytest.mark.slow
def test_a_1_mb_line_without_newline_is_survived_live_and_after_a_restart(project, tmux_socket, tmp_path, dashboards):
    line = "python3 -c 'import sys; sys.stdout.write((\"abcdefghij klmnopqrst üñï \" * 40000)[:1000000]); sys.stdout.flush()'"
    go = gated_agent(fleet_of(project, tmux_socket), tmp_path, "longline", f"{line}; sleep 0.5")
    d = dashboards(project)
    d.wait_statuses({"longline": "starting"})     # blank until its gate opens (issue 11)
    go.touch()
    retry_until(lambda: Path(f"{go}.done").exists(), timeout=60)
    d.wait_statuses({"longline": "needs_input"}, timeout=60)
    assert report_memory(d, "a 1 MB line") < MEMORY_BOUND_KB
    wait_statuses(project, tmux_socket, {"longline": "needs_input"})
    # A new dashboard reads the line back from the log, and still sees the question.
    d.kill9()
    again = dashboards(project)
    again.wait_statuses({"longline": "needs_input"})
    assert report_memory(again, "reading a 1 MB line back from the log") < MEMORY_BOUND_KB
    assert again.quit() == 0


# ---------------------------------------------------------------- 8, 9. parallel spawns


def run_parallel(repo: Path, socket_name: str, argvs: list[list[str]]) -> list[subprocess.CompletedProcess]:
    """Start every command at once and wait for all of them."""
    procs = [subprocess.Popen(cli_argv(*argv), cwd=repo, env=cli_env(socket_name), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for argv in argvs]
    results = []
    for argv, p in zip(argvs, procs):
        out, err = p.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(argv, p.returncode, out, err))
    return results


def worktree_dirs(repo: Path) -> list[str]:
    root = repo.parent / f"{repo.name}.paneboard"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def registered_worktrees(repo: Path) -> list[str]:
    return [line.split(" ", 1)[1] for line in git(repo, "worktree", "list", "--porcelain").splitlines()
            if line.startswith("worktree ")]


def state_agents(repo: Path) -> dict:
    return json.loads((repo / ".git" / "paneboard" / "state.json").read_text(encoding="utf-8"))["agents"]


@pytest.mark.slow
def test_parallel_spawns_of_one_name_make_exactly_one_agent(project, tmux_socket):
    results = run_parallel(project, tmux_socket, [["spawn", "same", "--agent", "sleep 300"]] * 5)
    winners = [r for r in results if r.returncode == 0]
    assert len(winners) == 1, [(r.returncode, r.stderr) for r in results]
    for loser in (r for r in results if r.returncode != 0):
        assert loser.returncode == 2 and "same" in one_line_error(loser), loser.stderr
    rows = ls_json(project, tmux_socket)
    assert list(rows) == ["same"] and rows["same"]["pane_alive"]
    assert [b for b in branches(project) if b.startswith("paneboard/")] == ["paneboard/same"]
    assert registered_worktrees(project) == [str(project), rows["same"]["worktree"]]
    assert worktree_dirs(project) == ["same"]
    assert sorted(p.name for p in (project / ".git" / "worktrees").iterdir()) == ["same"]
    assert windows(tmux_socket) == ["same"]
    assert list(state_agents(project)) == ["same"]
    assert tree_state(Path(rows["same"]["worktree"])).head == "refs/heads/paneboard/same"


@pytest.mark.slow
def test_parallel_spawns_of_ten_names_make_ten_agents_with_their_own_ports(project, tmux_socket):
    names = [f"agent-{i}" for i in range(10)]
    results = run_parallel(project, tmux_socket, [["spawn", n, "--agent", "sleep 300"] for n in names])
    assert [r.returncode for r in results] == [0] * 10, [r.stderr for r in results]
    rows = ls_json(project, tmux_socket)
    assert sorted(rows) == names
    assert all(a["pane_alive"] for a in rows.values())
    assert len({a["port"] for a in rows.values()}) == 10
    assert sorted(b for b in branches(project) if b.startswith("paneboard/")) == [f"paneboard/{n}" for n in names]
    assert worktree_dirs(project) == names
    assert sorted(registered_worktrees(project)[1:]) == sorted(a["worktree"] for a in rows.values())
    assert sorted(windows(tmux_socket)) == names
    state = state_agents(project)       # readable, and it lists all ten
    assert sorted(state) == names and len({r["port"] for r in state.values()}) == 10
    # Each agent really got its own port in its environment.
    for name, a in rows.items():
        env = Path(f"/proc/{a['pid']}/environ").read_bytes().split(b"\0")
        assert f"PORT={a['port']}".encode() in env and f"PANEBOARD_AGENT={name}".encode() in env


# ---------------------------------------------------------------- 10. hostile names and prompts


HOSTILE_NAMES = [
    "with space", 'dq"uote', "it's", "$(touch {m}/n1)", "`touch {m}/n2`", "a;touch {m}/n3;", "ünïcødé ✓ 名前",
    "-leading-dash", "--rm", "..", "../../escape", "x" * 300, "#{{pane_id}}", "#(touch {m}/n4)",
    "[bold]markup[/]", "back\\;", ";", "a:b.c", "%1", "~/home", "*", "{{prompt}}",
]
HOSTILE_PROMPT = ("say \"hi\" 'bye'; $(touch {m}/p1) `touch {m}/p2` #(touch {m}/p3) #{{pane_id}} #[fg=red] ${{HOME}} "
                  "&& touch {m}/p4 | cat > {m}/p5; \\ -- --help %s %n {{prompt}} ünï ✓")


@pytest.mark.slow
def test_hostile_names_and_prompts_run_nothing_and_arrive_literally(project, tmux_socket, tmp_path, dashboards):
    marks = tmp_path / "marks"
    marks.mkdir()
    names = [n.format(m=marks) for n in HOSTILE_NAMES]
    prompt = HOSTILE_PROMPT.format(m=marks) + "\nsecond line"
    demo = ["--agent", "demo", "--prompt", prompt, "--env", "PANEBOARD_DEMO_SCENARIO=asker",
            "--env", "PANEBOARD_DEMO_SPEED=0.05"]
    # A custom command gets its prompt pasted: it writes the line it receives to a file.
    received = tmp_path / "received.txt"
    reader = shell_words(sys.executable, "-c", f"import sys; print('ready>', flush=True); "
                                               f"open({str(received)!r}, 'w').write(sys.stdin.readline())")
    one_line = HOSTILE_PROMPT.format(m=marks)
    results = run_parallel(project, tmux_socket, [["spawn", *demo, "--", n] for n in names]
                           + [["spawn", "--agent", reader, "--prompt", one_line, "--", "#(touch reader)"]])
    assert [r.returncode for r in results] == [0] * len(results), [r.stderr for r in results if r.returncode]

    rows = ls_json(project, tmux_socket)
    assert sorted(rows) == sorted(names + ["#(touch reader)"])
    # The prompt reached each agent as one argv element, byte for byte.
    for name in names:
        argv = Path(f"/proc/{rows[name]['pid']}/cmdline").read_bytes().split(b"\0")[:-1]
        assert argv[-1].decode() == prompt, (name, argv[-1])
    retry_until(lambda: received.exists() and received.read_text())
    assert received.read_text(encoding="utf-8") == one_line + "\n"
    # Every name got its own branch, worktree (inside the worktree root, whatever `..` it held) and window.
    root = project.parent / f"{project.name}.paneboard"
    worktrees = [Path(a["worktree"]) for a in rows.values()]
    assert len(set(worktrees)) == len(rows) and all(w.parent == root and w.is_dir() for w in worktrees)
    assert len({a["branch"] for a in rows.values()}) == len(rows) == len(branches(project)) - 1
    assert len(set(windows(tmux_socket))) == len(rows)
    assert {n: r["prompt"] for n, r in state_agents(project).items() if n in names} == {n: prompt for n in names}

    # The dashboard shows them all, and nothing in a name or prompt is run by it either.
    d = dashboards(project)
    retry_until(lambda: set(d.statuses()) == set(rows), timeout=20)
    assert d.alive() and "[bold]markup[/]" in d.screen() + json.dumps(d.document())
    assert d.quit() == 0
    assert sorted(p.name for p in marks.iterdir()) == [] and not (project / "reader").exists()


# ---------------------------------------------------------------- 11. discard and restore round trips


BINARY = bytes(range(256)) * 8 + b"\0\xff\xfe not utf-8 \x80\x81"


def _binary(wt: Path) -> None:
    (wt / "assets" / "logo.bin").write_bytes(BINARY[::-1])                 # tracked, changed
    (wt / "assets" / "new.bin").write_bytes(BINARY * 3)                     # untracked
    (wt / "assets" / "staged.bin").write_bytes(BINARY[:100])
    git(wt, "add", "assets/staged.bin")                                     # staged, then changed again
    (wt / "assets" / "staged.bin").write_bytes(BINARY[100:300])


def _symlinks(wt: Path) -> None:
    (wt / "link-readme").unlink()
    (wt / "link-readme").symlink_to("src/app.py")                          # tracked link, new target
    (wt / "newlink").symlink_to("src")                                     # untracked link to a directory
    (wt / "dangling").symlink_to("does/not/exist")                         # untracked, dangling
    (wt / "old.txt").unlink()
    (wt / "old.txt").symlink_to("README.md")                               # a file became a link
    (wt / "staged-link").symlink_to("assets/logo.bin")
    git(wt, "add", "staged-link")


def _modes(wt: Path) -> None:
    (wt / "tool.sh").chmod(0o755)                                           # chmod +x, unstaged
    (wt / "run.sh").chmod(0o644)                                            # chmod -x, unstaged
    git(wt, "update-index", "--chmod=+x", "other.txt")                      # +x staged, file still 644
    (wt / "new.sh").write_text("#!/bin/sh\necho new\n")
    (wt / "new.sh").chmod(0o755)                                            # untracked executable


def _renames(wt: Path) -> None:
    git(wt, "mv", "old.txt", "renamed.txt")                                 # staged rename
    (wt / "moved").mkdir()
    (wt / "other.txt").rename(wt / "moved" / "other.txt")                  # unstaged rename
    git(wt, "mv", "dir/a.txt", "dir/a-renamed.txt")
    (wt / "dir" / "a-renamed.txt").write_text("renamed and changed\n")      # renamed, then edited


def _deletions(wt: Path) -> None:
    git(wt, "rm", "-q", "gone-staged.txt")                                   # staged deletion
    (wt / "gone-unstaged.txt").unlink()                                     # unstaged deletion
    git(wt, "rm", "-q", "--cached", "keep-file.txt")                         # untracked now, still there
    git(wt, "rm", "-q", "-r", "dir")                                         # a whole directory


def _staged_vs_unstaged(wt: Path) -> None:
    (wt / "README.md").write_text("# staged version\n")
    git(wt, "add", "README.md")
    (wt / "README.md").write_text("# unstaged version, on top of the staged one\n")
    (wt / "added.txt").write_text("added, staged\n")
    git(wt, "add", "added.txt")
    (wt / "added.txt").write_text("added, staged, then changed\n")
    (wt / "src" / "app.py").write_text("print('staged')\n")
    git(wt, "add", "src/app.py")
    (wt / "src" / "app.py").unlink()                                        # staged change, then deleted
    (wt / "partial.txt").write_text("one\ntwo\n")
    git(wt, "add", "partial.txt")
    (wt / "partial.txt").write_text("one\ntwo\nthree\n")


WORK_KINDS = {"binary": _binary, "symlinks": _symlinks, "modes": _modes, "renames": _renames,
              "deletions": _deletions, "staged-vs-unstaged": _staged_vs_unstaged}


def discard_fixture_repo(repo: Path) -> None:
    """Files each kind of work starts from, committed on main."""
    for name, text in {"old.txt": "old\n", "other.txt": "other\n", "gone-staged.txt": "gone\n",
                       "gone-unstaged.txt": "gone too\n", "keep-file.txt": "kept\n", "dir/a.txt": "a\n",
                       "dir/b.txt": "b\n", "tool.sh": "#!/bin/sh\necho tool\n", "run.sh": "#!/bin/sh\necho run\n"
                       }.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    (repo / "run.sh").chmod(0o755)
    (repo / "assets").mkdir()
    (repo / "assets" / "logo.bin").write_bytes(BINARY)
    (repo / "link-readme").symlink_to("README.md")
    git(repo, "add", "-A", "--", *(p.name for p in repo.iterdir() if p.name not in (".git", "scratch.txt", "debug.log")))
    git(repo, "commit", "-q", "-m", "files to work on")


@pytest.mark.parametrize("kinds", [[k] for k in WORK_KINDS] + [list(WORK_KINDS)[:2] + ["modes", "staged-vs-unstaged"]],
                         ids=[*WORK_KINDS, "several-at-once"])
def test_discard_then_restore_brings_the_worktree_back_byte_for_byte(project, tmux_socket, kinds):
    discard_fixture_repo(project)
    agent = fleet_of(project, tmux_socket).spawn(Task(name="worker", agent="sleep 300"))
    wt = Path(agent.worktree)
    (wt / "committed.txt").write_text("committed on the agent's branch\n")
    git(wt, "add", "committed.txt")
    git(wt, "commit", "-q", "-m", "agent work")
    for kind in kinds:
        WORK_KINDS[kind](wt)
    before = tree_state(wt)
    assert before.untracked or before.index != tree_state(project).index     # there is work to lose
    branch = before.refs["refs/heads/paneboard/worker"]

    discarded = paneboard("discard", "worker", "--yes", cwd=project, socket_name=tmux_socket)
    assert discarded.returncode == 0, discarded.stderr
    assert not wt.exists() and "paneboard/worker" not in branches(project)
    restored = paneboard("restore", "worker", cwd=project, socket_name=tmux_socket)
    assert restored.returncode == 0, restored.stderr

    after = tree_state(wt)
    # Everything but directories left empty (git keeps files, not directories) and the archive ref it added.
    assert_same(before, after, tuple(p for p in EVERYTHING if p not in ("refs", "empty_dirs")),
                what=f"worktree after {kinds}")
    assert after.refs["refs/heads/paneboard/worker"] == branch
    assert not after.ignored and not after.stash


# ---------------------------------------------------------------- 12. kill -9 of a spawn (found while writing this suite)


@pytest.mark.slow
def test_spawn_killed_before_its_record_leaves_nothing_half_created(project, tmux_socket):
    # The spawn is SIGKILLed right after `git worktree add`, before its record and window (the spawn's
    # own crash hook: its intent record now takes the state lock first, so a held lock stops it earlier).
    proc = subprocess.Popen(cli_argv("spawn", "half", "--agent", "sleep 300"), cwd=project,
                            env={**cli_env(tmux_socket), SPAWN_CRASH_ENV: "worktree-added"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert "paneboard/half" in branches(project), "the kill landed before the worktree"
    retry_until(lambda: not group_members(proc.pid), timeout=15)

    rows = ls_json(project, tmux_socket)
    leftovers = {"branch": "paneboard/half" in branches(project), "worktree": "half" in worktree_dirs(project),
                 "registered": len(registered_worktrees(project)) > 1}
    # Either the half-made agent is shown (so the user can act on it), or nothing of it remains.
    assert "half" in rows or not any(leftovers.values()), leftovers
    again = paneboard("spawn", "half", "--agent", "sleep 300", cwd=project, socket_name=tmux_socket)
    no_traceback(again)
    assert again.returncode == 0, again.stderr
    assert list(ls_json(project, tmux_socket)) == ["half"] and worktree_dirs(project) == ["half"]
