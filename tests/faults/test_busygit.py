"""Faults in the monitor's git work: a worktree that vanishes mid-refresh, git killed mid-refresh, a corrupt
index, and a dashboard that stops during a long merge-tree. One clear line each; the monitor goes on."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

from app.git.prediction import FleetPredictor, Work
from app.git.procs import Runner, Stopped
from app.git import worktrees
from app.model import Kind
from tests.helpers import git, until
from tests.integration.test_monitor import Running, make_fleet, spawn

IDLE = [{"do": "idle"}]


class Faulty(Runner):
    """The monitor's own runner, with one fault injected before the first `git status` it runs."""

    def __init__(self, fault):
        super().__init__()
        self.fault = fault
        self.done = False

    def __call__(self, cwd, *args, **kw):
        if not self.done and "status" in args:
            self.done = True
            self.fault(Path(cwd))
        return super().__call__(cwd, *args, **kw)


def notes(r: Running, name: str) -> list[str]:
    return [n["what"] for n in r.monitor.publisher.log if n["agent"] == name]


async def started(tmp_path, tmux_socket, fault=None, **kw):
    fleet = make_fleet(tmp_path, tmux_socket)
    a = spawn(fleet, tmp_path, "one", IDLE)
    r = Running(fleet, **kw)
    if fault is not None:
        r.monitor.git = fault       # before the first refresh: the initial one meets the fault
    await until(lambda: r.monitor._facts.get("one") is not None)
    return fleet, a, r


async def test_a_worktree_that_vanishes_mid_refresh_is_told_missing(tmp_path, tmux_socket):
    fleet, a, r = await started(tmp_path, tmux_socket, Faulty(lambda cwd: shutil.rmtree(cwd)), rediscover_every=0.5)
    try:
        await until(lambda: r.agent("one").status.kind == Kind.MISSING)
        assert not Path(a.worktree).exists() and r.monitor.git.done
        assert not r._run.done()            # the monitor goes on
        assert not [n for n in notes(r, "one") if "git cannot read" in n]
    finally:
        await r.stop()


async def test_git_killed_mid_refresh_is_one_note_and_the_next_refresh_reads(tmp_path, tmux_socket, monkeypatch):
    real, bindir, armed = shutil.which("git"), tmp_path / "bin", tmp_path / "kill-next-status"
    bindir.mkdir()
    # The next `git status` is killed (SIGKILL, as an OOM killer would) while it runs; then git is git again.
    (bindir / "git").write_text(f'#!/bin/sh\ncase " $* " in *" status "*) if [ -e {armed} ]; then rm -f {armed}; '
                                f'kill -9 $$; fi;; esac\nexec {real} "$@"\n')
    (bindir / "git").chmod(0o755)
    fleet, a, r = await started(tmp_path, tmux_socket, stats_interval=0.1)
    try:
        await until(lambda: r.monitor.counters["stats"] > 0)
        monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
        armed.write_text("")
        (Path(a.worktree) / "during.txt").write_text("written while git dies\n")
        await until(lambda: any("git cannot read its worktree" in n for n in notes(r, "one")))
        assert not armed.exists()
        (Path(a.worktree) / "after.txt").write_text("the monitor goes on\n")
        await until(lambda: {"during.txt", "after.txt"} <= set(r.agent("one").files))
        told = [n for n in notes(r, "one") if "git cannot read" in n]
        assert len(told) == 1 and "exit -9" in told[0], told
    finally:
        await r.stop()


async def test_a_corrupt_index_is_one_clear_note_until_it_is_mended(tmp_path, tmux_socket):
    fleet, a, r = await started(tmp_path, tmux_socket, stats_interval=0.1)
    wt = Path(a.worktree)
    try:
        (wt / "first.txt").write_text("1\n")
        await until(lambda: "first.txt" in r.agent("one").files)
        index = Path(git(wt, "rev-parse", "--path-format=absolute", "--git-path", "index").strip())
        index.write_bytes(b"not an index at all")
        for i in range(3):
            (wt / f"more{i}.txt").write_text("x\n")
            await until(lambda: r.monitor.stats.runs > 0)
        await until(lambda: any("index" in n for n in notes(r, "one")))
        told = [n for n in notes(r, "one") if "git cannot read its worktree" in n]
        assert len(told) == 1 and "git status" in told[0] and "index" in told[0], told
        assert "first.txt" in r.agent("one").files          # what was known stays
        index.unlink()
        git(wt, "reset", "-q")
        (wt / "mended.txt").write_text("y\n")
        await until(lambda: "mended.txt" in r.agent("one").files)
    finally:
        await r.stop()


def test_stopping_kills_a_running_merge_tree_and_the_round_gives_up(tmp_path, monkeypatch):
    """A quit during a long prediction: the runner kills the git child by its pid; the thread ends."""
    real = shutil.which("git")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    pids = tmp_path / "pids"
    # A merge-tree that would take a minute (a huge repository); everything else is the real git.
    (bindir / "git").write_text(f'#!/bin/sh\nif [ "$1" = merge-tree ]; then echo $$ >> {pids}; exec sleep 60; fi\n'
                                f'exec {real} "$@"\n')
    (bindir / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    repo = tmp_path / "repo"
    from tests.helpers import make_repo
    make_repo(repo, {"f.txt": "base\n"})
    works = {}
    for n in ("a", "b"):
        wt = tmp_path / n
        git(repo, "worktree", "add", "-q", "-b", n, str(wt), "main")
        (wt / "f.txt").write_text(f"{n}\n")
        s = worktrees.stats(wt, "main")
        works[n] = Work(wt, frozenset(s.files), s.head, s.dirty, 1)
    runner = Runner()
    outcome = []

    def round_() -> None:
        try:
            FleetPredictor(repo, runner).update("main", works, {"a", "b"})
            outcome.append("finished")
        except Stopped:
            outcome.append("stopped")

    t = threading.Thread(target=round_)
    t.start()
    pid = until_sync(lambda: pids.exists() and pids.read_text().split())
    runner.close()
    t.join(30)
    assert outcome == ["stopped"] and not t.is_alive()
    assert not Path(f"/proc/{pid[0]}").exists() or "Z" in Path(f"/proc/{pid[0]}/stat").read_text().split()[2]


def until_sync(fn, timeout: float = 30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = fn()
        if got:
            return got
        time.sleep(0.02)
    raise AssertionError("never happened")
