"""app.git.merge on real git repositories: prediction, every strategy, refusals that change nothing, kill -9 + recover."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.git import merge as m
from app.errors import UnsafeOperation

ROOT = Path(__file__).resolve().parents[2]
ID = ["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"]
SPACE = "dir with space/name with space.txt"
UNICODE = "ünïcødé 文件.txt"
BINARY = bytes(range(256)) * 40


def git(cwd: Path, *args: str, env: dict | None = None) -> str:
    proc = subprocess.run(["git", *ID, *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))


def numbered(prefix: str, n: int = 30) -> str:
    return "".join(f"{prefix} {i}\n" for i in range(n))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    write(root / "shared.txt", numbered("line"))
    write(root / "other.txt", "other\n")
    write(root / "old_name.py", numbered("renamed"))
    write(root / "gone.txt", "delete me\n")
    write(root / ".gitignore", "*.log\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def agent(repo: Path, name: str) -> Path:
    """A paneboard-style agent: branch paneboard/<name> in a worktree outside the repository."""
    path = repo.parent / "project.paneboard" / name
    git(repo, "worktree", "add", "-q", "-b", f"paneboard/{name}", str(path), "main")
    return path


def edit_line(path: Path, index: int, text: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[index] = text + "\n"
    path.write_text("".join(lines), encoding="utf-8")


def rev(cwd: Path, name: str) -> str:
    return git(cwd, "rev-parse", name).strip()


def status(cwd: Path) -> str:
    return subprocess.run(["git", "status", "--porcelain=v1", "--untracked-files=all"], cwd=cwd,
                          capture_output=True, text=True, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"}).stdout


def files(cwd: Path) -> dict[str, bytes]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(cwd):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for f in filenames:
            if f == ".git":
                continue
            p = Path(dirpath) / f
            out[str(p.relative_to(cwd))] = p.read_bytes()
    return out


def state(repo: Path) -> tuple:
    """Everything a refused merge must leave byte-identical."""
    return (rev(repo, "refs/heads/main"), (repo / ".git" / "index").read_bytes(), status(repo), files(repo),
            sorted(p.name for p in (repo / ".git").iterdir() if p.name != "paneboard"))


def tree_files(cwd: Path, commit: str) -> dict[str, bytes]:
    names = [n for n in git(cwd, "ls-tree", "-r", "-z", "--name-only", commit).split("\0") if n]
    return {n: subprocess.run(["git", "cat-file", "blob", f"{commit}:{n}"], cwd=cwd, capture_output=True).stdout
            for n in names}


def assert_checkout_at(repo: Path, commit: str) -> None:
    """The main checkout sits exactly on commit: HEAD, clean status, every file's bytes."""
    assert rev(repo, "HEAD") == commit
    assert status(repo) == ""
    on_disk = {k: v for k, v in files(repo).items() if not k.endswith(".log")}
    assert on_disk == tree_files(repo, commit)


# ---------------------------------------------------------------- prediction

def test_predict_clean_and_conflict_with_file_name(repo: Path):
    a, b, c = agent(repo, "a"), agent(repo, "b"), agent(repo, "c")
    edit_line(a / "shared.txt", 3, "from a")
    git(a, "commit", "-qam", "a")
    edit_line(b / "shared.txt", 3, "from b")
    git(b, "commit", "-qam", "b")
    write(c / "other.txt", "c was here\n")
    git(c, "commit", "-qam", "c")

    clean = m.predict(repo, "paneboard/a", "paneboard/c")
    assert clean.clean and clean.conflicts == () and len(clean.tree) == 40
    conflict = m.predict(repo, "paneboard/a", "paneboard/b")
    assert not conflict.clean and conflict.conflicts == ("shared.txt",)
    # Nothing was touched: no merge state, same index, no worktree change.
    assert status(repo) == "" and not (repo / ".git" / "MERGE_HEAD").exists()


def test_predict_agent_sees_uncommitted_and_untracked_work(repo: Path):
    a = agent(repo, "a")
    edit_line(repo / "shared.txt", 0, "main changed")
    git(repo, "commit", "-qam", "main")
    index_before = (repo / ".git" / "worktrees" / "a" / "index").read_bytes()
    edit_line(a / "shared.txt", 0, "agent changed (uncommitted)")
    write(a / UNICODE, "new\n")
    prediction = m.predict_agent(repo, "main", a)
    assert not prediction.clean and prediction.conflicts == ("shared.txt",)
    assert (repo / ".git" / "worktrees" / "a" / "index").read_bytes() == index_before
    lines = status(a).splitlines()
    assert lines[0] == " M shared.txt" and lines[1].startswith("?? ") and len(lines) == 2


def test_candidate_commit_is_head_when_clean_else_snapshot(repo: Path):
    a = agent(repo, "a")
    head = rev(a, "HEAD")
    assert m.candidate_commit(a) == head
    write(a / SPACE, "untracked\n")
    snap = m.candidate_commit(a)
    assert snap != head and rev(a, f"{snap}^") == head
    assert git(a, "show", f"{snap}:{SPACE}") == "untracked\n"
    assert rev(a, "HEAD") == head and git(a, "for-each-ref", "--contains", snap) == ""


def test_every_pair_is_predicted(repo: Path):
    names = ["w", "x", "y", "z"]
    trees = {n: agent(repo, n) for n in names}
    edit_line(trees["w"] / "shared.txt", 5, "w")
    edit_line(trees["x"] / "shared.txt", 5, "x")          # conflicts with w (uncommitted)
    write(trees["y"] / "y.txt", "y\n")                      # untracked, touches nothing else
    edit_line(trees["z"] / "shared.txt", 25, "z")
    git(trees["z"], "commit", "-qam", "z")
    matrix = m.predict_fleet(repo, "main", trees)[1]
    assert set(matrix) == {("w", "x"), ("w", "y"), ("w", "z"), ("x", "y"), ("x", "z"), ("y", "z")}
    assert matrix[("w", "x")].conflicts == ("shared.txt",)
    assert all(p.clean for k, p in matrix.items() if k != ("w", "x"))


def test_pairs_meet_on_the_current_base_not_on_an_old_fork_point(repo: Path):
    """An agent that forked after the base moved does not inherit another agent's conflict with the base."""
    old = agent(repo, "old")                                 # forks at the first commit
    edit_line(old / "shared.txt", 5, "old agent's line 5")
    landed = agent(repo, "landed")                           # its work is merged into main meanwhile
    edit_line(landed / "shared.txt", 5, "merged line 5")
    git(landed, "commit", "-qam", "landed")
    git(repo, "merge", "-q", "--no-ff", "-m", "merge landed", "paneboard/landed")
    fresh = agent(repo, "fresh")                             # forks from the moved main
    write(fresh / "fresh.txt", "new file\n")
    other = agent(repo, "other")                             # also from the moved main, touches line 20
    edit_line(other / "shared.txt", 20, "other's line 20")
    vs_base, pairs = m.predict_fleet(repo, "main", {"old": old, "fresh": fresh, "other": other})
    assert vs_base["old"].conflicts == ("shared.txt",)       # the real problem, shown once
    assert vs_base["fresh"].clean and vs_base["other"].clean
    assert pairs[("fresh", "other")].clean
    # fresh carries main's line 5 only because it forked later: that is not fresh's conflict with old.
    assert pairs[("fresh", "old")].clean and pairs[("fresh", "old")].conflicts == ()
    assert m.predict_fleet(repo, "main", {"fresh": fresh, "other": other})[1][("fresh", "other")].clean


def test_pairs_of_agents_that_land_cleanly_conflict_only_on_their_own_changes(repo: Path):
    a, b = agent(repo, "a"), agent(repo, "b")
    # main moves under both: a line neither agent touches.
    write(repo / "shared.txt", (repo / "shared.txt").read_text().replace("line 29\n", "main's line 29\n"))
    git(repo, "commit", "-qam", "main moves")
    late = agent(repo, "late")                               # forks from the moved main
    edit_line(a / "shared.txt", 10, "a's line 10")
    edit_line(late / "shared.txt", 12, "late's line 12")
    edit_line(b / "shared.txt", 10, "b's line 10")
    vs_base, pairs = m.predict_fleet(repo, "main", {"a": a, "b": b, "late": late})
    assert all(p.clean for p in vs_base.values())
    assert pairs[("a", "b")].conflicts == ("shared.txt",)    # the same line, really
    assert pairs[("a", "late")].clean and pairs[("b", "late")].clean


# ---------------------------------------------------------------- committing and merging

def test_commit_work_includes_everything_and_falls_back_on_identity(repo: Path, monkeypatch):
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(var, raising=False)
    a = agent(repo, "a")
    assert m.commit_work(a, "nothing") is None
    edit_line(a / "shared.txt", 1, "modified")
    write(a / "new dir" / UNICODE, "untracked\n")
    (a / "gone.txt").unlink()
    write(a / "debug.log", "ignored\n")
    head = m.commit_work(a, "agent work")
    assert head == rev(a, "HEAD") and status(a) == ""
    assert git(a, "log", "-1", "--format=%an <%ae>").strip() == "paneboard <paneboard@localhost>"
    names = git(a, "show", "--name-only", "--format=", "-z", "HEAD").split("\0")
    assert {"shared.txt", f"new dir/{UNICODE}", "gone.txt"} <= set(names) and "debug.log" not in names
    git(repo, "config", "user.name", "Configured")
    git(repo, "config", "user.email", "c@example.com")
    write(a / "more.txt", "more\n")
    m.commit_work(a, "more")
    assert git(a, "log", "-1", "--format=%an").strip() == "Configured"


@pytest.mark.parametrize("strategy", ["merge", "squash", "rebase"])
def test_merge_each_strategy_moves_base_and_updates_clean_main_checkout(repo: Path, strategy: str):
    a = agent(repo, "a")
    edit_line(a / "shared.txt", 2, "committed by agent")
    git(a, "commit", "-qam", "agent commit 1")
    write(a / "second.txt", "second\n")
    git(a, "add", "second.txt")
    git(a, "commit", "-qm", "agent commit 2", env={"GIT_AUTHOR_NAME": "Agent A", "GIT_AUTHOR_EMAIL": "a@x"})
    edit_line(a / "shared.txt", 20, "uncommitted by agent")
    write(a / SPACE, "untracked by agent\n")
    # Base moves on meanwhile, in another file.
    write(repo / "other.txt", "main moved\n")
    git(repo, "commit", "-qam", "main moves")
    old = rev(repo, "main")

    assert m.commit_work(a, "agent leftovers")
    tip = rev(a, "HEAD")
    result = m.merge(repo, "paneboard/a", "main", strategy)
    assert (result.strategy, result.base, result.old) == (strategy, "main", old)
    assert rev(repo, "refs/heads/main") == result.new != old
    content = tree_files(repo, result.new)
    assert b"committed by agent" in content["shared.txt"] and b"uncommitted by agent" in content["shared.txt"]
    assert content[SPACE] == b"untracked by agent\n" and content["second.txt"] == b"second\n"
    assert content["other.txt"] == b"main moved\n"
    assert_checkout_at(repo, result.new)
    parents = git(repo, "rev-list", "--parents", "-n1", result.new).split()[1:]
    if strategy == "merge":
        assert parents == [old, tip] and len(result.commits) == 3
    elif strategy == "squash":
        assert parents == [old] and len(result.commits) == 3
    else:
        assert len(result.commits) == 3
        assert git(repo, "rev-list", "--count", f"{old}..{result.new}").strip() == "3"
        assert git(repo, "log", "-1", "--format=%an %s", f"{result.new}~1").strip() == "Agent A agent commit 2"
    assert m.pending(repo) is None


def test_rebase_fast_forwards_when_base_did_not_move(repo: Path):
    a = agent(repo, "a")
    write(a / "f.txt", "f\n")
    m.commit_work(a, "f")
    result = m.merge(repo, "paneboard/a", "main", "rebase")
    assert result.new == rev(a, "HEAD") and result.commits == (result.new,)
    assert_checkout_at(repo, result.new)


def test_nothing_to_merge_is_a_no_op(repo: Path):
    agent(repo, "a")
    before = state(repo)
    for strategy in m.STRATEGIES:
        result = m.merge(repo, "paneboard/a", "main", strategy)
        assert result.new == result.old and not result.changed
    assert state(repo) == before


def test_renames_binary_and_odd_names(repo: Path):
    a = agent(repo, "a")
    git(a, "mv", "old_name.py", "new name ü.py")
    write(a / "assets" / "logo.bin", BINARY)
    write(a / SPACE, "spaces\n")
    write(a / UNICODE, "unicode\n")
    (a / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (a / "run.sh").chmod(0o755)
    m.commit_work(a, "odd files")
    result = m.merge(repo, "paneboard/a", "main", "squash")
    assert_checkout_at(repo, result.new)
    assert (repo / "assets" / "logo.bin").read_bytes() == BINARY
    assert not (repo / "old_name.py").exists() and (repo / "new name ü.py").read_text() == numbered("renamed")
    assert os.access(repo / "run.sh", os.X_OK)


def test_rename_on_agent_merges_with_edit_on_base(repo: Path):
    a = agent(repo, "a")
    git(a, "mv", "old_name.py", "moved.py")
    git(a, "commit", "-qm", "rename")
    edit_line(repo / "old_name.py", 4, "edited on main")
    git(repo, "commit", "-qam", "edit")
    assert m.predict(repo, "main", "paneboard/a").clean
    result = m.merge(repo, "paneboard/a", "main", "rebase")
    assert_checkout_at(repo, result.new)
    assert "edited on main" in (repo / "moved.py").read_text() and not (repo / "old_name.py").exists()


def test_base_checked_out_in_another_worktree_is_updated(repo: Path, tmp_path: Path):
    git(repo, "checkout", "-q", "-b", "dev")
    side = tmp_path / "main-elsewhere"
    git(repo, "worktree", "add", "-q", str(side), "main")
    a = agent(repo, "a")
    write(a / "x.txt", "x\n")
    m.commit_work(a, "x")
    dev_files = files(repo)
    result = m.merge(repo, "paneboard/a", "main", "merge")
    assert_checkout_at(side, result.new)
    assert files(repo) == dev_files and rev(repo, "HEAD") == rev(repo, "dev")


def test_base_not_checked_out_anywhere(repo: Path):
    git(repo, "checkout", "-q", "-b", "dev")
    a = agent(repo, "a")
    write(a / "x.txt", "x\n")
    m.commit_work(a, "x")
    before = files(repo)
    result = m.merge(repo, "paneboard/a", "main", "squash")
    assert rev(repo, "main") == result.new and files(repo) == before and status(repo) == ""


# ---------------------------------------------------------------- refusals change nothing

def test_refuses_conflict_and_changes_nothing(repo: Path):
    a = agent(repo, "a")
    edit_line(a / "shared.txt", 7, "agent")
    m.commit_work(a, "agent")
    edit_line(repo / "shared.txt", 7, "main")
    git(repo, "commit", "-qam", "main")
    write(repo / "notes.log", "ignored file\n")
    write(repo / "scratch.txt", "untracked, harmless\n")
    before = state(repo)
    for strategy in m.STRATEGIES:
        with pytest.raises(UnsafeOperation, match=r"conflicts with main in shared\.txt"):
            m.merge(repo, "paneboard/a", "main", strategy)
    assert state(repo) == before and m.pending(repo) is None


def test_rebase_refuses_when_one_replayed_commit_conflicts(repo: Path):
    a = agent(repo, "a")
    edit_line(a / "shared.txt", 9, "temporary")
    git(a, "commit", "-qam", "one")
    edit_line(a / "shared.txt", 9, "line 9")
    write(a / "keep.txt", "keep\n")
    git(a, "add", "keep.txt")
    git(a, "commit", "-qam", "two: back, plus a file")
    edit_line(repo / "shared.txt", 9, "main")
    git(repo, "commit", "-qam", "main")
    before = state(repo)
    assert m.predict(repo, "main", "paneboard/a").clean
    with pytest.raises(UnsafeOperation, match="replaying .* conflicts in shared.txt"):
        m.merge(repo, "paneboard/a", "main", "rebase")
    assert state(repo) == before
    assert m.merge(repo, "paneboard/a", "main", "merge").changed


@pytest.mark.parametrize("dirt", ["modified", "staged", "overwritten-untracked", "overwritten-ignored"])
def test_refuses_dirty_main_checkout_and_changes_nothing(repo: Path, dirt: str):
    a = agent(repo, "a")
    write(a / "added.txt", "agent\n")
    write(a / "added.log", "agent log, forced in\n")
    git(a, "add", "-f", "added.txt", "added.log")
    edit_line(a / "shared.txt", 0, "agent")
    m.commit_work(a, "agent")
    if dirt == "modified":
        edit_line(repo / "other.txt", 0, "user edit")
    elif dirt == "staged":
        write(repo / "staged.txt", "staged\n")
        git(repo, "add", "staged.txt")
    elif dirt == "overwritten-untracked":
        write(repo / "added.txt", "user's own file\n")
    else:
        write(repo / "added.log", "user's ignored file\n")
    before = state(repo)
    with pytest.raises(UnsafeOperation, match="merge refused") as info:
        m.merge(repo, "paneboard/a", "main", "merge")
    assert "\n" not in str(info.value)
    assert state(repo) == before and m.pending(repo) is None


def test_untracked_file_elsewhere_does_not_block_and_survives(repo: Path):
    a = agent(repo, "a")
    write(a / "added.txt", "agent\n")
    m.commit_work(a, "agent")
    write(repo / "mine.txt", "user's untracked file\n")
    result = m.merge(repo, "paneboard/a", "main", "merge")
    assert rev(repo, "HEAD") == result.new
    assert status(repo) == "?? mine.txt\n" and (repo / "mine.txt").read_text() == "user's untracked file\n"


def test_base_moved_during_merge_is_refused(repo: Path, monkeypatch):
    a = agent(repo, "a")
    write(a / "added.txt", "agent\n")
    m.commit_work(a, "agent")
    other = agent(repo, "other")
    write(other / "o.txt", "o\n")
    m.commit_work(other, "other")
    racer = rev(other, "HEAD")
    real = m._crash_point

    def race(step):
        if step == "journaled":   # someone else moves main between our read and our write
            git(repo, "update-ref", "refs/heads/main", racer)
        real(step)

    monkeypatch.setattr(m, "_crash_point", race)
    with pytest.raises(UnsafeOperation, match="moved while merging"):
        m.merge(repo, "paneboard/a", "main", "merge")
    assert rev(repo, "main") == racer and m.pending(repo) is None


# ---------------------------------------------------------------- kill -9 at every step, then recover

def run_merge_and_die(repo: Path, step: str, strategy: str) -> subprocess.CompletedProcess:
    code = ("import sys; from pathlib import Path; from app.git.merge import merge; "
            "merge(Path(sys.argv[1]), 'paneboard/a', 'main', sys.argv[2])")
    env = {**os.environ, m.CRASH_ENV: step, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code, str(repo), strategy], env=env, capture_output=True,
                          text=True, timeout=60)


def prepare_crash_repo(repo: Path) -> Path:
    a = agent(repo, "a")
    for i in range(12):
        write(a / "many" / f"file {i} ü.txt", f"agent file {i}\n")
    edit_line(a / "shared.txt", 4, "agent edit")
    (a / "gone.txt").unlink()
    (a / "pkg").mkdir()
    git(a, "mv", "old_name.py", "pkg/renamed.py")
    write(a / "blob.bin", BINARY)
    m.commit_work(a, "agent work")
    write(repo / "other.txt", "main moved\n")
    git(repo, "commit", "-qam", "main moves")
    return a


@pytest.mark.parametrize("strategy", ["merge", "rebase"])
@pytest.mark.parametrize("step", m.CRASH_STEPS)
def test_kill_9_at_each_step_then_recover_is_consistent(repo: Path, step: str, strategy: str):
    prepare_crash_repo(repo)
    old = rev(repo, "main")
    write(repo / "mine.txt", "user's untracked file\n")
    proc = run_merge_and_die(repo, step, strategy)
    assert proc.returncode == -9, proc.stderr

    recovery = m.recover(repo)
    assert m.pending(repo) is None
    assert not (repo / ".git" / "index.lock").exists()
    main = rev(repo, "main")
    if step == "computed":
        assert recovery is None and main == old
    elif step == "journaled":
        assert recovery.outcome == "rolled-back" and main == old
    else:
        assert recovery.outcome == "finished" and main == recovery.new != old
    assert rev(repo, "HEAD") == main
    assert status(repo) == "?? mine.txt\n"
    on_disk = {k: v for k, v in files(repo).items() if k != "mine.txt"}
    assert on_disk == tree_files(repo, main)
    if main != old:
        assert (repo / "blob.bin").read_bytes() == BINARY and not (repo / "gone.txt").exists()
    assert m.recover(repo) is None      # idempotent
    # And the repository works on: the same merge goes through (or is a no-op once done).
    result = m.merge(repo, "paneboard/a", "main", strategy)
    assert rev(repo, "main") == result.new and status(repo) == "?? mine.txt\n"


def test_merge_finishes_an_interrupted_merge_first(repo: Path):
    prepare_crash_repo(repo)
    assert run_merge_and_die(repo, "checkout-partial", "squash").returncode == -9
    assert m.pending(repo) is not None and (repo / ".git" / "index.lock").exists()
    result = m.merge(repo, "paneboard/a", "main", "squash")
    assert m.pending(repo) is None and not result.changed
    assert_checkout_at(repo, rev(repo, "main"))


def test_kill_9_with_base_not_checked_out(repo: Path):
    prepare_crash_repo(repo)
    git(repo, "checkout", "-q", "-b", "dev")
    old = rev(repo, "main")
    assert run_merge_and_die(repo, "ref-updated", "merge").returncode == -9
    recovery = m.recover(repo)
    assert recovery.outcome == "finished" and rev(repo, "main") == recovery.new != old
    assert status(repo) == ""


def test_checkout_update_failing_after_the_ref_moved_puts_everything_back(repo: Path, monkeypatch):
    a = agent(repo, "a")
    write(a / "added.txt", "agent\n")
    m.commit_work(a, "agent")
    old = rev(repo, "main")
    real = m._crash_point

    def sneak(step):
        if step == "ref-updated":   # the user creates the file in the window after our checks
            write(repo / "added.txt", "user's file, created just now\n")
        real(step)

    monkeypatch.setattr(m, "_crash_point", sneak)
    with pytest.raises(UnsafeOperation, match="put back as they were"):
        m.merge(repo, "paneboard/a", "main", "merge")
    assert rev(repo, "main") == old and m.pending(repo) is None
    assert status(repo) == "?? added.txt\n" and (repo / "added.txt").read_text() == "user's file, created just now\n"


def test_recover_waits_for_a_live_index_lock_and_keeps_the_journal(repo: Path, monkeypatch):
    prepare_crash_repo(repo)
    assert run_merge_and_die(repo, "checkout-partial", "merge").returncode == -9
    monkeypatch.setattr(m, "LOCK_WAIT", 0.3)
    with open(repo / ".git" / "index.lock", "ab"):     # someone is holding the lock right now
        recovery = m.recover(repo)
        assert recovery.outcome == "blocked" and m.pending(repo) is not None
        with pytest.raises(UnsafeOperation, match="not settled yet"):
            m.merge(repo, "paneboard/a", "main", "merge")
    recovery = m.recover(repo)
    assert recovery.outcome == "finished" and m.pending(repo) is None
    assert status(repo) == "" and rev(repo, "HEAD") == recovery.new


def big_merge_repo(root: Path, n: int = 1000) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    for i in range(n):
        write(root / f"d{i % 20}" / f"f{i}.txt", f"base {i}\n" * 10)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    a = agent(root, "a")
    for i in range(n):
        path = a / f"d{i % 20}" / f"f{i}.txt"
        path.unlink() if i % 7 == 0 else path.write_text(f"agent {i}\n" * 10)
    for i in range(300):
        write(a / "new" / f"n{i}.txt", "new\n")
    m.commit_work(a, "big change")
    return root


@pytest.mark.slow
def test_kill_9_of_the_whole_process_group_at_real_moments(tmp_path: Path):
    """Real SIGKILLs of merge + its git children (torn read-tree included), then recover: always consistent."""
    import signal
    import time
    code = "import sys; from pathlib import Path; from app.git.merge import merge; merge(Path(sys.argv[1]), 'paneboard/a', 'main')"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    outcomes = []
    for k, delay in enumerate((None, 0.0, 0.01, 0.03, 0.08)):
        repo = big_merge_repo(tmp_path / f"t{k}" / "project")
        old, journal = rev(repo, "main"), repo / ".git" / "paneboard" / m.JOURNAL_NAME
        proc = subprocess.Popen([sys.executable, "-c", code, str(repo)], env=env, start_new_session=True)
        if delay is None:
            time.sleep(0.05)                      # during start-up and the checks: nothing written yet
        else:
            deadline = time.monotonic() + 60
            while not journal.exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.0005)
            time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        recovery = m.recover(repo)
        outcomes.append(recovery.outcome if recovery else None)
        main = rev(repo, "main")
        # Either as before, or fully merged (by recover, or by a merge that finished before the kill).
        merged = git(repo, "rev-list", "--parents", "-n1", main).split()[1:] == [old, rev(repo, "paneboard/a")]
        assert main == old or merged
        assert rev(repo, "HEAD") == main and status(repo) == "" and m.pending(repo) is None
        assert not (repo / ".git" / "index.lock").exists()
        assert subprocess.run(["git", "diff", "--quiet", main], cwd=repo).returncode == 0
    assert "finished" in outcomes, outcomes


# ---------------------------------------------------------------- an unreadable journal, and refusals before any change

def all_refs(repo: Path) -> str:
    return git(repo, "for-each-ref", "--format=%(refname) %(objectname)")


@pytest.mark.parametrize("content", [b"\xff\xfe garbage", b"{}", b"[]", b"",
                                     b'{"version": 1, "ref": "refs/heads/main", "old": 7}'])
def test_an_unreadable_journal_is_moved_aside_and_nothing_is_touched(repo: Path, content: bytes):
    journal = repo / ".git" / "paneboard" / m.JOURNAL_NAME
    journal.parent.mkdir(parents=True)
    journal.write_bytes(content)
    before = (all_refs(repo), status(repo), files(repo))
    assert m.pending(repo) is None
    recovery = m.recover(repo)
    assert recovery.outcome == "unreadable" and "moved aside" in recovery.summary()
    assert "( -> )" not in recovery.summary() and "\n" not in recovery.summary()
    assert not journal.exists()
    assert [p.read_bytes() for p in journal.parent.glob(m.JOURNAL_NAME + ".corrupt-*")] == [content]
    assert (all_refs(repo), status(repo), files(repo)) == before
    assert m.recover(repo) is None


def test_an_abandoned_recovery_says_the_base_was_deleted(repo: Path):
    prepare_crash_repo(repo)
    assert run_merge_and_die(repo, "journaled", "merge").returncode == -9
    git(repo, "checkout", "-q", "-b", "dev")
    git(repo, "branch", "-q", "-D", "main")
    recovery = m.recover(repo)
    assert recovery.outcome == "abandoned"
    assert recovery.summary().startswith("an interrupted merge into main was left as it was (")
    assert "main was deleted after the interrupted merge; nothing was touched" in recovery.summary()


def test_predicting_against_a_missing_branch_is_an_error_not_a_conflict(repo: Path):
    from app.errors import BaseBranchMissing, GitError
    a = agent(repo, "a")
    with pytest.raises(GitError, match="not something we can merge"):
        m.predict(repo, "refs/heads/nope", "main")
    with pytest.raises(BaseBranchMissing, match="the base branch nope no longer exists"):
        m.predict_agent(repo, "nope", a)
    with pytest.raises(BaseBranchMissing):
        m.merge(repo, "paneboard/a", "nope")


def test_preflight_refuses_what_merge_would_without_changing_anything(repo: Path):
    a = agent(repo, "a")
    write(a / "notes.txt", "agent's notes\n")               # not committed yet: preflight sees the snapshot
    write(repo / "notes.txt", "the user's notes\n")
    before = (all_refs(repo), status(repo), status(a), files(repo), files(a))
    with pytest.raises(UnsafeOperation, match="would overwrite untracked or ignored notes.txt"):
        m.preflight(repo, "paneboard/a", "main", "merge", m.candidate_commit(a))
    assert (all_refs(repo), status(repo), status(a), files(repo), files(a)) == before
    (repo / "notes.txt").unlink()
    m.preflight(repo, "paneboard/a", "main", "merge", m.candidate_commit(a))   # nothing in the way now


def test_commit_work_puts_the_index_back_when_a_hook_refuses(repo: Path):
    a = agent(repo, "a")
    write(a / "staged.txt", "staged\n")
    git(a, "add", "staged.txt")
    write(a / "unstaged.txt", "unstaged\n")
    hook = repo / ".git" / "hooks" / "pre-commit"
    write(hook, "#!/bin/sh\necho 'hook says no' >&2\nexit 1\n")
    hook.chmod(0o755)
    staged = git(a, "ls-files", "-s")
    with pytest.raises(m.GitError, match="hook says no"):
        m.commit_work(a, "agent work")
    assert git(a, "ls-files", "-s") == staged and status(a) == "A  staged.txt\n?? unstaged.txt\n"
    assert not list((repo / ".git" / "worktrees" / "a").glob("index.paneboard-saved"))


def test_holds_tells_work_in_base_from_work_not_in_it(repo: Path):
    a = agent(repo, "a")
    assert m.holds(repo, "main", "paneboard/a")          # nothing of its own yet
    write(a / "new.txt", "new\n")
    m.commit_work(a, "agent")
    assert not m.holds(repo, "main", "paneboard/a")
    m.merge(repo, "paneboard/a", "main", "squash")
    assert m.holds(repo, "main", "paneboard/a")          # squashed: not an ancestor, but its work is there
