"""The faults paneboard already survives (issue 10): each test sets up a real repository, real agents on
a private tmux server and, where it matters, the real dashboard in a terminal; breaks one thing; and
checks the exact outcome: files, refs, statuses and exit codes, before against after.

Random moments come from one seed per run, printed and named in every failure message; rerun a
failure with PANEBOARD_FAULT_SEED=<seed>.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.config import Settings, Task
from app.fleet import Fleet
from app.git.merge import CRASH_ENV, CRASH_STEPS
from app.git.worktrees import find_repo
from tests.faults.helpers import (EVERYTHING, WORK, Dashboard, alive, assert_same, cli_argv, cli_env,
                                  committed_files, descendants, group_members, ls_json, memory_kb, no_traceback,
                                  one_line_error, processes, shell_words, tree_state, walk_files)
from tests.helpers import ROOT, demo_command, demo_script, git, make_repo, paneboard, retry_until

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


def statuses(repo: Path, socket_name: str) -> dict[str, str]:
    return {n: a["status"] for n, a in ls_json(repo, socket_name).items()}


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
                          capture_output=True, text=True).stdout.strip()


def branches(repo: Path) -> dict[str, str]:
    out = git(repo, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads")
    return dict(line.split() for line in out.splitlines())


def windows(socket_name: str) -> list[str]:
    out = subprocess.run(["tmux", "-L", socket_name, "list-windows", "-a", "-F", "#{window_name}"],
                         capture_output=True, text=True)
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
        def strays():
            table = processes()
            return [table[p].cmdline for p, start in seen.items()
                    if p in table and table[p].start == start and alive(p)]
        retry_until(lambda: not strays(), timeout=10)
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
        out, err = proc.communicate(timeout=60)
        if name == "baseline":
            duration = time.monotonic() - started
            assert proc.returncode == 0, err
        if crash_at:
            assert proc.returncode == -signal.SIGKILL, f"{where}: {err}"
        # The git commands the dead merge had started finish on their own (a kill -9 reaches only it).
        retry_until(lambda: not group_members(proc.pid), timeout=15)

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
                          capture_output=True).returncode == 0
    assert (project / "scratch.txt").read_text() == "the user's own notes, never added\n"
    assert (project / "debug.log").read_text() == "ignored, but the user's\n"
