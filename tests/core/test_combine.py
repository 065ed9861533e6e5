"""Combining candidates: hunks picked from two versions, trees built without touching any worktree."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import GitError
from app.git.combine import HunkChoice, Plan, build_tree, pick_hunks
from app.git.diff import side_by_side, snapshot_tree
from tests.helpers import git, make_repo

OLD = "".join(f"line {n}\n" for n in range(1, 31))
NEW = OLD.replace("line 3\n", "line three\n").replace("line 25\n", "line 25\nline 25b\n")


def headers(old: str, new: str) -> list[str]:
    return [r.left_text for r in side_by_side(old, new) if r.kind == "hunk"]


def test_pick_hunks_takes_only_the_chosen_hunks_from_the_new_side():
    first, second = headers(OLD, NEW)
    assert pick_hunks(OLD, NEW, set())[0] == OLD
    assert pick_hunks(OLD, NEW, {first, second})[0] == NEW
    assert pick_hunks(OLD, NEW, {first})[0] == OLD.replace("line 3\n", "line three\n")
    assert pick_hunks(OLD, NEW, {second})[0] == OLD.replace("line 25\n", "line 25\nline 25b\n")
    assert pick_hunks(OLD, NEW, set())[1] == {first, second}


def test_pick_hunks_keeps_line_endings_and_a_missing_last_newline():
    old, new = "a\r\nb\r\nc", "a\r\nB\r\nc\r\nd"
    (hunk,) = headers(old, new)
    assert pick_hunks(old, new, {hunk})[0] == new
    assert pick_hunks(old, new, set())[0] == old


@pytest.fixture
def two(tmp_path: Path):
    repo = make_repo(tmp_path / "project", {"a.txt": OLD, "b.txt": "b\n", "dir/c.txt": "c\n"})
    trees = {}
    for name, edit in (("one", {"a.txt": NEW, "b.txt": "b one\n"}), ("two", {"b.txt": "b two\n", "dir/c.txt": None})):
        wt = tmp_path / name
        git(repo, "worktree", "add", "-q", "-b", name, str(wt), "main")
        for path, text in edit.items():
            (wt / path).unlink() if text is None else (wt / path).write_text(text)
        trees[name] = snapshot_tree(wt)
    return repo, trees


def show(repo: Path, tree: str, path: str) -> str | None:
    files = git(repo, "ls-tree", "-r", "--name-only", tree).split()
    return git(repo, "show", f"{tree}:{path}") if path in files else None


def test_build_tree_takes_files_and_directories_and_hunks(two):
    repo, trees = two
    first, _ = headers(OLD, NEW)
    tree = build_tree(repo, Plan(start=trees["one"], trees=trees, files={"b.txt": "two", "dir": "two"},
                                 hunks=[HunkChoice("a.txt", "two", "one", (first,))]))
    assert show(repo, tree, "b.txt") == "b two\n"
    assert show(repo, tree, "dir/c.txt") is None, "taking a directory takes its deletions too"
    assert show(repo, tree, "a.txt") == OLD.replace("line 3\n", "line three\n")
    assert git(repo, "status", "--porcelain") == ""


def test_a_choice_that_cannot_be_honoured_is_one_error_and_writes_no_ref(two):
    repo, trees = two
    refs = git(repo, "for-each-ref")
    with pytest.raises(GitError, match="hunk @@ -1,1 \\+1,1 @@ of a.txt does not apply"):
        build_tree(repo, Plan(start="main", trees=trees, hunks=[HunkChoice("a.txt", "two", "one", ("@@ -1,1 +1,1 @@",))]))
    with pytest.raises(GitError, match="nope.txt is neither in one"):
        build_tree(repo, Plan(start="main", trees=trees, files={"nope.txt": "one"}))
    assert git(repo, "for-each-ref") == refs
