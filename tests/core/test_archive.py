"""app.git.archive on real git repositories: discard -> restore round trips, refusals, prune never loses work."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from app.git import archive as ar
from app.git import merge as m
from app.errors import UnsafeOperation
from tests.core.test_merge import BINARY, UNICODE, agent, files, git, repo, rev, write  # noqa: F401  (fixture)


def status_z(cwd: Path) -> list[str]:
    out = subprocess.run(["git", "status", "--porcelain=v1", "-z", "--untracked-files=all"], cwd=cwd,
                         capture_output=True, text=True, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"}).stdout
    return sorted(e for e in out.split("\0") if e)


def picture(worktree: Path) -> dict:
    """Everything restore should bring back."""
    return {"head": rev(worktree, "HEAD"), "status": status_z(worktree),
            "staged": git(worktree, "diff", "--cached", "--binary"),
            "unstaged": git(worktree, "diff", "--binary"),
            "files": {k: v for k, v in files(worktree).items() if not k.endswith(".log")},
            "exec": os.access(worktree / "tool.sh", os.X_OK)}


def busy_agent(repo: Path, name: str = "a") -> Path:
    """An agent with commits, staged, unstaged, deleted, untracked, binary, executable and ignored files."""
    a = agent(repo, name)
    write(a / "committed.txt", "committed\n")
    write(a / "tool.sh", "#!/bin/sh\necho tool\n")
    (a / "tool.sh").chmod(0o755)
    git(a, "add", "committed.txt", "tool.sh")
    git(a, "commit", "-qm", "agent commit")
    write(a / "shared.txt", "staged version\n")
    write(a / "staged new.txt", "staged new\n")
    git(a, "add", "shared.txt", "staged new.txt")
    write(a / "shared.txt", "staged, then edited again\n")      # staged AND unstaged
    write(a / "other.txt", "unstaged edit\n")
    (a / "gone.txt").unlink()                                    # unstaged deletion
    git(a, "rm", "-q", "old_name.py")                            # staged deletion
    write(a / "new dir" / UNICODE, "untracked unicode\n")
    write(a / "blob.bin", BINARY)
    write(a / "debug.log", "ignored, archived beside the rest\n")
    return a


def test_discard_then_restore_round_trip(repo: Path):
    a = busy_agent(repo)
    before = picture(a)
    assert ar.discard_preview(repo, a, "paneboard/a", "main") == (len(before["status"]), 1)

    saved = ar.discard(repo, "a", a, "paneboard/a", "main")
    assert not a.exists() and git(repo, "branch", "--list", "paneboard/a") == ""
    assert rev(repo, saved.ref) == saved.commit and saved.ref == "refs/paneboard/archive/a"
    assert saved.patch.exists() and saved.patch.parent == repo / ".git" / "paneboard" / "archive"
    # The documented shape: W^1 = HEAD, W^2 = index commit, W's tree = everything.
    assert rev(repo, f"{saved.commit}^1") == before["head"]
    assert git(repo, "show", f"{saved.commit}^2:staged new.txt") == "staged new\n"
    assert git(repo, "show", f"{saved.commit}:new dir/{UNICODE}") == "untracked unicode\n"
    listed = ar.list_archives(repo)
    assert [(x.name, x.branch, x.commit, x.base) for x in listed] == [("a", "paneboard/a", saved.commit, "main")]

    path = ar.restore(repo, "a", a, "paneboard/a")
    assert path == a
    assert picture(a) == before
    assert (a / "debug.log").read_text() == "ignored, archived beside the rest\n"


def test_patch_file_brings_the_work_back_without_the_ref(repo: Path, tmp_path: Path):
    a = busy_agent(repo)
    saved = ar.archive(repo, "a", a, "paneboard/a", "main")
    fresh = tmp_path / "fresh"
    git(repo, "worktree", "add", "-q", "--detach", str(fresh), "main")
    git(fresh, "apply", "--index", str(saved.patch))
    assert git(fresh, "write-tree").strip() == git(repo, "rev-parse", f"{saved.commit}^{{tree}}").strip()


def test_archive_of_a_clean_agent_and_twice_keeps_history(repo: Path):
    a = agent(repo, "a")
    first = ar.archive(repo, "a", a, "paneboard/a", "main")
    assert rev(repo, f"{first.commit}^{{tree}}") == rev(repo, "HEAD^{tree}")
    write(a / "n.txt", "n\n")
    second = ar.archive(repo, "a", a, "paneboard/a", "main")
    history = git(repo, "for-each-ref", "--format=%(objectname)", ar.HISTORY_PREFIX).split()
    assert history == [first.commit] and rev(repo, second.ref) == second.commit


def test_restore_refuses_when_branch_or_path_exists(repo: Path, tmp_path: Path):
    a = busy_agent(repo)
    ar.discard(repo, "a", a, "paneboard/a", "main")
    git(repo, "branch", "paneboard/a", "main")
    with pytest.raises(UnsafeOperation, match="branch paneboard/a already exists"):
        ar.restore(repo, "a", a, "paneboard/a")
    git(repo, "branch", "-D", "paneboard/a")
    a.mkdir(parents=True)
    (a / "keep.txt").write_text("someone's file\n")
    with pytest.raises(UnsafeOperation, match="already exists"):
        ar.restore(repo, "a", a, "paneboard/a")
    assert (a / "keep.txt").read_text() == "someone's file\n"
    assert git(repo, "branch", "--list", "paneboard/a") == ""
    other = tmp_path / "elsewhere"
    assert ar.restore(repo, "a", other, "paneboard/a") == other and (other / "blob.bin").read_bytes() == BINARY


def test_discard_refuses_the_main_checkout(repo: Path):
    with pytest.raises(UnsafeOperation, match="main checkout"):
        ar.discard(repo, "main", repo, "main")
    assert rev(repo, "main") and (repo / "shared.txt").exists()


def test_discard_preview_counts_nothing_for_merged_work(repo: Path):
    a = agent(repo, "a")
    write(a / "x.txt", "x\n")
    m.commit_work(a, "x")
    assert ar.discard_preview(repo, a, "paneboard/a", "main") == (0, 1)
    m.merge(repo, "paneboard/a", "main", "squash")
    write(a / "late.txt", "late\n")
    assert ar.discard_preview(repo, a, "paneboard/a", "main") == (1, 0)


def test_prune_removes_only_clean_merged_worktrees(repo: Path):
    merged_clean = agent(repo, "merged-clean")
    write(merged_clean / "mc.txt", "mc\n")
    m.commit_work(merged_clean, "mc")
    m.merge(repo, "paneboard/merged-clean", "main", "squash")      # merged by content, not by ancestry
    merged_dirty = agent(repo, "merged-dirty")
    write(merged_dirty / "md.txt", "md\n")
    m.commit_work(merged_dirty, "md")
    m.merge(repo, "paneboard/merged-dirty", "main", "merge")
    write(merged_dirty / "scratch.txt", "not committed\n")
    unmerged = agent(repo, "unmerged")
    write(unmerged / "u.txt", "u\n")
    m.commit_work(unmerged, "u")
    untouched = agent(repo, "untouched")     # nothing done: merged trivially, clean

    names = sorted(s.branch for s in ar.prunable(repo, "main"))
    assert names == ["paneboard/merged-clean", "paneboard/untouched"]
    removed = ar.prune(repo, "main")
    assert sorted(s.branch for s in removed) == names
    assert not merged_clean.exists() and not untouched.exists()
    assert (merged_dirty / "scratch.txt").read_text() == "not committed\n" and (unmerged / "u.txt").exists()
    assert git(repo, "branch", "--list", "paneboard/unmerged").strip()
    assert ar.list_archives(repo) == []

    removed = ar.prune(repo, "main", archive_others=True)
    assert sorted(s.branch for s in removed) == ["paneboard/merged-dirty", "paneboard/unmerged"]
    assert {x.slug for x in ar.list_archives(repo)} == {"merged-dirty", "unmerged"}
    ar.restore(repo, "merged-dirty", merged_dirty, "paneboard/merged-dirty")
    assert (merged_dirty / "scratch.txt").read_text() == "not committed\n"
    assert status_z(merged_dirty) == ["?? scratch.txt"]


def test_ignored_files_round_trip_byte_for_byte_and_disposable_ones_are_dropped(repo: Path):
    from app.git import keep
    write(repo / ".gitignore", "*.log\n.env\nbuild/\ncache/\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-qm", "ignore more")
    a = agent(repo, "a")
    write(a / ".env", "SECRET=1\r\n")                  # CRLF kept as is: no filters
    write(a / "cache" / "tool.log", BINARY)
    write(a / "cache" / "run.sh", "#!/bin/sh\n")
    (a / "cache" / "run.sh").chmod(0o755)
    os.symlink("run.sh", a / "cache" / "latest.log")
    write(a / "cache" / "two\nlines.log", "a name with a newline\n")
    write(a / "cache" / "x.pyc", "compiled\n")          # disposable inside a kept folder
    write(a / "build" / "out.log", "build output\n")    # a disposable folder
    held = keep.survey(a, ("build/", "*.pyc"))
    assert sorted(p for p, _ in held.ignored) == [".env", "cache/latest.log", "cache/run.sh", "cache/tool.log",
                                                  "cache/two\nlines.log"]
    assert held.changes == [] and held.unkeepable == [] and held.submodules == []

    ar.discard(repo, "a", a, "paneboard/a", "main", disposable=("build/", "*.pyc"))
    ar.restore(repo, "a", a, "paneboard/a")
    assert (a / ".env").read_bytes() == b"SECRET=1\r\n" and (a / "cache" / "tool.log").read_bytes() == BINARY
    assert os.access(a / "cache" / "run.sh", os.X_OK) and os.readlink(a / "cache" / "latest.log") == "run.sh"
    assert (a / "cache" / "two\nlines.log").read_text() == "a name with a newline\n"
    assert not (a / "cache" / "x.pyc").exists() and not (a / "build").exists()
    assert status_z(a) == []


def test_discard_over_the_bound_refuses_and_changes_nothing(repo: Path):
    a = agent(repo, "a")
    write(a / "big.log", b"x" * 3000)
    write(a / "small.log", b"y" * 10)
    with pytest.raises(UnsafeOperation, match=r"come to 0\.0 MB, over the 0\.0 MB .*biggest: big\.log \(0\.0 MB\), "
                                              r"small\.log"):
        ar.discard(repo, "a", a, "paneboard/a", "main", limit=1000)
    assert (a / "big.log").exists() and rev(repo, "paneboard/a") and ar.list_archives(repo) == []
    ar.discard(repo, "a", a, "paneboard/a", "main", force=True, limit=1000)
    ar.restore(repo, "a", a, "paneboard/a")
    assert (a / "big.log").read_bytes() == b"x" * 3000


def test_prune_keeps_what_an_agent_may_still_use_and_says_why(repo: Path):
    a = agent(repo, "a")
    write(a / "notes.log", "mine\n")
    b = agent(repo, "b")
    states = {s.branch: s for s in ar.worktree_states(repo, "main", running={b.resolve(): "its agent b is running"})}
    assert states["paneboard/a"].why_kept == "ignored files that are not disposable: notes.log"
    assert states["paneboard/b"].why_kept == "its agent b is running"
    assert not states["paneboard/a"].prunable and not states["paneboard/b"].prunable
    assert ar.prune(repo, "main", states=list(states.values())) == []
    assert (a / "notes.log").read_text() == "mine\n" and b.is_dir()
