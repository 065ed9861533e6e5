"""One stats refresh is two git processes and says what the four-call reading said (real repos)."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from app.git import worktrees
from app.git.procs import Runner
from app.monitor.gitstats import StatsScheduler
from app.monitor.watch import Watcher
from tests.helpers import git, make_repo


def reference_stats(worktree: Path, base: str) -> worktrees.Stats:
    """The reading before: diff --numstat, rev-list --count, status --porcelain=v1 (and untracked lines)."""
    diff = subprocess.run(["git", "diff", "--numstat", "-z", "--no-renames", "--merge-base", base], cwd=worktree,
                          capture_output=True, check=True).stdout.decode("utf-8", "surrogateescape")
    commits = git(worktree, "rev-list", "--count", f"{base}..HEAD").strip()
    files, added, removed = [], 0, 0
    for part in diff.split("\0"):
        if "\t" in part:
            a, r, name = part.split("\t", 2)
            files.append(name)
            added += int(a) if a.isdigit() else 0
            removed += int(r) if r.isdigit() else 0
    status = subprocess.run(["git", "status", "--porcelain=v1", "-z", "--untracked-files=all"], cwd=worktree,
                            capture_output=True, check=True).stdout.decode("utf-8", "surrogateescape")
    entries = [e for e in status.split("\0") if e]
    for name in [e[3:] for e in entries if e.startswith("?? ")]:
        files.append(name)
        data = (worktree / name).read_bytes()
        if b"\0" not in data[:8000]:
            added += data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    return worktrees.Stats(files=tuple(files), added=added, removed=removed, dirty=bool(entries), commits=int(commits))


@pytest.fixture
def agent(tmp_path: Path) -> tuple[Path, Path]:
    repo = make_repo(tmp_path / "repo", {"README.md": "# r\n", "src/app.py": "a\nb\nc\n", "old name.txt": "x\ny\n",
                                          "gone.txt": "bye\n", ".gitignore": "out/\n*.log\n"})
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "paneboard/one", str(wt), "main")
    return repo, wt


def refresh(wt: Path, base: str = "main") -> tuple[worktrees.Stats, Runner]:
    runner = Runner()
    return worktrees.stats(wt, base, run=runner, strict=True), runner


def same(wt: Path) -> worktrees.Stats:
    got, runner = refresh(wt)
    want = reference_stats(wt, "main")
    assert (got.files, got.added, got.removed, got.dirty, got.commits) == \
        (want.files, want.added, want.removed, want.dirty, want.commits)
    assert sum(runner.calls.values()) <= 2, runner.calls
    assert got.head == git(wt, "rev-parse", "HEAD").strip()
    return got


def test_committed_uncommitted_renamed_deleted_untracked_and_ignored(agent):
    _, wt = agent
    (wt / "src/app.py").write_text("a\nB\nc\nd\n")
    git(wt, "commit", "-qam", "edit")
    git(wt, "mv", "old name.txt", "new name.txt")
    git(wt, "rm", "-q", "gone.txt")
    (wt / "src/app.py").write_text("a\nB\nc\nd\ne\n")            # uncommitted on top of a commit
    (wt / "untracked dir").mkdir()
    (wt / "untracked dir/new.py").write_text("1\n2\n3")
    (wt / "out").mkdir()
    (wt / "out/build.o").write_text("ignored\n")
    (wt / "debug.log").write_text("ignored\n")
    s = same(wt)
    assert {"new name.txt", "old name.txt", "gone.txt", "untracked dir/new.py", "src/app.py"} <= set(s.files)
    assert not {"out/build.o", "debug.log"} & set(s.files)
    assert s.commits == 1 and s.dirty


def test_binary_and_names_with_spaces_newlines_and_unicode(agent):
    _, wt = agent
    (wt / "pic.bin").write_bytes(b"\x00\x01\x02" * 100)
    (wt / "line\nbreak.txt").write_text("one\n")
    (wt / "ünï cødé.md").write_text("ä\nö\n")
    git(wt, "add", "pic.bin")
    git(wt, "commit", "-qm", "binary")
    (wt / "tab\there.txt").write_text("t\n")
    s = same(wt)
    assert {"pic.bin", "line\nbreak.txt", "ünï cødé.md", "tab\there.txt"} <= set(s.files)


def test_clean_worktree_and_commits_only(agent):
    _, wt = agent
    assert same(wt) == worktrees.Stats(head=git(wt, "rev-parse", "HEAD").strip())
    (wt / "README.md").write_text("# changed\n")
    git(wt, "commit", "-qam", "c1")
    git(wt, "commit", "-q", "--allow-empty", "-m", "c2")
    s = same(wt)
    assert s.commits == 2 and not s.dirty and s.files == ("README.md",)


def test_submodule_bump_and_dirty_submodule(agent, tmp_path):
    repo, _ = agent
    sub = make_repo(tmp_path / "sub", {"lib.txt": "1\n"})
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "vendor/sub")
    git(repo, "commit", "-qm", "sub")
    wt = tmp_path / "wt2"
    git(repo, "worktree", "add", "-q", "-b", "paneboard/two", str(wt), "main")
    git(wt, "-c", "protocol.file.allow=always", "submodule", "update", "-q", "--init")
    (wt / "vendor/sub/lib.txt").write_text("2\n")
    git(wt / "vendor/sub", "commit", "-qam", "bump")
    (wt / "vendor/sub/scratch.txt").write_text("dirty inside\n")
    s = same(wt)
    assert "vendor/sub" in s.files and s.dirty


def test_base_gone_measures_against_the_fork(agent):
    repo, wt = agent
    (wt / "src/app.py").write_text("changed\n")
    git(wt, "commit", "-qam", "c")
    git(repo, "branch", "-m", "main", "trunk")
    s, runner = refresh(wt, "main")
    assert s.files == ("src/app.py",) and s.commits == 1
    assert runner.calls["merge-tree"] == 0


def test_corrupt_index_is_one_clear_failure(agent):
    _, wt = agent
    index = Path(git(wt, "rev-parse", "--path-format=absolute", "--git-path", "index").strip())
    index.write_bytes(b"garbage, not an index")
    with pytest.raises(worktrees.StatsFailed, match="git status: .*index"):
        refresh(wt)
    # Outside the monitor (ls, the fleet) it reads as before: nothing, not a crash.
    assert worktrees.stats(wt, "main").files == ()


# -- coalescing ----------------------------------------------------------------------------------

async def test_a_continuous_burst_is_refreshed_within_the_maximum_wait_one_at_a_time():
    in_flight, most, runs = 0, 0, []

    async def refresh_one(name: str) -> bool:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        runs.append(name)
        return True

    sched = StatsScheduler(refresh_one, debounce=0.2, max_wait=0.4, interval=0.1)
    scheduled = 0
    # Events every 20 ms never leave a quiet 200 ms: a restartable timer would never fire.
    while len(runs) < 3 and scheduled < 2000:
        sched.schedule("busy")
        scheduled += 1
        await asyncio.sleep(0.02)
    sched.close()
    assert len(runs) >= 3, f"no refresh during {scheduled} events"
    assert most == 1


async def test_a_quiet_write_is_refreshed_once():
    runs = []

    async def refresh_one(name: str) -> bool:
        runs.append(name)
        return True

    sched = StatsScheduler(refresh_one, debounce=0.05, max_wait=1.0, interval=0.5)
    for _ in range(5):
        sched.schedule("a")
    await asyncio.sleep(0.3)
    for _ in range(50):
        await asyncio.sleep(0.02)
        if sched.runs:
            break
    await asyncio.sleep(0.2)
    sched.close()
    assert runs == ["a"]


# -- ignored paths -------------------------------------------------------------------------------

def git_log_wrapper(tmp_path: Path, monkeypatch) -> Path:
    """A `git` first on PATH that logs each call's argv, then runs the real git."""
    real = subprocess.run(["which", "git"], capture_output=True, text=True, check=True).stdout.strip()
    bindir, log = tmp_path / "bin", tmp_path / "git.log"
    bindir.mkdir()
    (bindir / "git").write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {real} "$@"\n')
    (bindir / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return log


def test_a_path_git_already_answered_for_costs_no_check_ignore(agent, tmp_path, monkeypatch):
    _, wt = agent
    log = git_log_wrapper(tmp_path, monkeypatch)
    w = Watcher([wt])
    w._roots = w._build_roots()
    sep = os.sep

    def batch(*rels):
        return w._sort({(2, f"{wt}{sep}{r}") for r in rels}, 0.0)

    (wt / "notes.md").write_text("x\n")
    (wt / "trace.log").write_text("x\n")
    first = batch("notes.md", "trace.log")
    assert [set(a.paths) for a in first] == [{"notes.md"}]
    asked = log.read_text().count("check-ignore")
    for _ in range(5):
        assert [set(a.paths) for a in batch("notes.md", "trace.log")] == [{"notes.md"}]
    assert log.read_text().count("check-ignore") == asked
    # A changed .gitignore makes git's earlier answers stale: asked again, and now notes.md is ignored.
    (wt / ".gitignore").write_text("out/\n*.log\nnotes.md\n")
    batch(".gitignore")
    assert batch("notes.md", "trace.log") == []
    assert log.read_text().count("check-ignore") > asked
