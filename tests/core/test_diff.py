"""app.git.diff on real git repositories: snapshots, changed files, texts and aligned rows."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from app.git import diff
from app.git.diff import FileChange, Row

SPACE_NAME = "name with space.txt"
UNICODE_NAME = "ünïcødé 文件.txt"
QUOTE_NAME = 'it\'s "quoted".txt'


def git(cwd: Path, *args: str) -> str:
    """Run git with a fixed identity and return stdout."""
    proc = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com",
         "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
        cwd=cwd, capture_output=True, text=True, check=True,
    )
    return proc.stdout


def write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")


def lines(prefix: str, count: int) -> str:
    return "".join(f"{prefix} {n}\n" for n in range(1, count + 1))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository on `main` with a few files committed."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    write(root / "modified.txt", "one\ntwo\nthree\n")
    write(root / "deleted.txt", "going away\n")
    write(root / "old_name.py", lines("renamed line", 20))
    write(root / "unstaged.txt", "before\n")
    write(root / SPACE_NAME, "space before\n")
    write(root / ".gitignore", "*.log\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    return root


@pytest.fixture
def agent(repo: Path, tmp_path: Path) -> Path:
    """A worktree on `paneboard/agent` with committed, staged, unstaged and untracked work."""
    worktree = tmp_path / "agent worktree"
    git(repo, "worktree", "add", "-q", "-b", "paneboard/agent", str(worktree), "main")
    # committed
    write(worktree / "modified.txt", "one\nTWO\nthree\nfour\n")
    git(worktree, "mv", "old_name.py", "new_name.py")
    git(worktree, "rm", "-q", "deleted.txt")
    git(worktree, "add", "-A")
    git(worktree, "commit", "-q", "-m", "agent work")
    # staged only
    write(worktree / "staged.txt", "staged\n")
    git(worktree, "add", "staged.txt")
    # unstaged edits
    write(worktree / "unstaged.txt", "after\n")
    write(worktree / SPACE_NAME, "space after\n")
    # untracked, including awkward names and a binary file
    write(worktree / UNICODE_NAME, "unicode\n")
    write(worktree / QUOTE_NAME, "quotes\n")
    write(worktree / "image.bin", b"\x89PNG\x00\x01\x02\x00binary")
    write(worktree / "ignored.log", "never shown\n")
    return worktree


def index_path(worktree: Path) -> Path:
    return Path(git(worktree, "rev-parse", "--path-format=absolute", "--git-path", "index").strip())


def by_path(changes: list[FileChange]) -> dict[str, FileChange]:
    return {change.path: change for change in changes}


def test_changed_files_includes_committed_staged_unstaged_and_untracked(agent: Path) -> None:
    changes = by_path(diff.changed_files(agent, "main"))
    assert set(changes) == {
        "modified.txt", "new_name.py", "deleted.txt", "staged.txt", "unstaged.txt",
        SPACE_NAME, UNICODE_NAME, QUOTE_NAME, "image.bin",
    }
    assert changes["modified.txt"].status == "M"
    assert (changes["modified.txt"].added, changes["modified.txt"].removed) == (2, 1)
    assert changes["deleted.txt"].status == "D"
    assert changes["deleted.txt"].removed == 1
    assert changes["staged.txt"].status == "A"
    assert changes["unstaged.txt"].status == "M"
    assert changes[SPACE_NAME].status == "M"
    assert changes[UNICODE_NAME].status == "A"
    assert changes[QUOTE_NAME].status == "A"
    renamed = changes["new_name.py"]
    assert (renamed.status, renamed.old_path) == ("R", "old_name.py")
    assert (renamed.added, renamed.removed) == (0, 0)
    assert renamed.display_path == "old_name.py → new_name.py"
    binary = changes["image.bin"]
    assert binary.binary and binary.status == "A"


def test_reading_leaves_index_and_status_untouched(agent: Path) -> None:
    index = index_path(agent)
    status_before = git(agent, "status", "--porcelain=v1", "-uall")
    index_before = index.read_bytes()
    refs_before = git(agent, "for-each-ref")

    changes = diff.changed_files(agent, "main")
    for change in changes:
        diff.file_texts(agent, "main", change)
    diff.snapshot_commit(agent)
    diff.diff_stat(agent, "main")

    assert index.read_bytes() == index_before
    assert git(agent, "status", "--porcelain=v1", "-uall") == status_before
    assert git(agent, "for-each-ref") == refs_before
    assert (agent / "ignored.log").read_text() == "never shown\n"


def test_snapshot_of_clean_worktree_is_head_tree(repo: Path) -> None:
    assert diff.snapshot_tree(repo) == git(repo, "rev-parse", "HEAD^{tree}").strip()


def test_snapshot_tree_holds_untracked_and_skips_ignored(agent: Path) -> None:
    tree = diff.snapshot_tree(agent)
    names = git(agent, "ls-tree", "-r", "-z", "--name-only", tree).split("\0")
    assert UNICODE_NAME in names and "staged.txt" in names and "image.bin" in names
    assert "ignored.log" not in names and "deleted.txt" not in names
    assert git(agent, "show", f"{tree}:unstaged.txt") == "after\n"


def test_snapshot_commit_has_head_parent_and_moves_no_ref(agent: Path) -> None:
    head = git(agent, "rev-parse", "HEAD").strip()
    commit = diff.snapshot_commit(agent, message="predict")
    assert git(agent, "rev-parse", f"{commit}^").strip() == head
    assert git(agent, "rev-parse", f"{commit}^{{tree}}").strip() == diff.snapshot_tree(agent)
    assert git(agent, "log", "-1", "--format=%s", commit).strip() == "predict"
    assert git(agent, "rev-parse", "HEAD").strip() == head


def test_file_texts_for_each_status(agent: Path) -> None:
    changes = by_path(diff.changed_files(agent, "main"))
    assert diff.file_texts(agent, "main", changes["modified.txt"]) == (
        "one\ntwo\nthree\n", "one\nTWO\nthree\nfour\n")
    assert diff.file_texts(agent, "main", changes["staged.txt"]) == ("", "staged\n")
    assert diff.file_texts(agent, "main", changes["deleted.txt"]) == ("going away\n", "")
    assert diff.file_texts(agent, "main", changes["unstaged.txt"]) == ("before\n", "after\n")
    assert diff.file_texts(agent, "main", changes[UNICODE_NAME]) == ("", "unicode\n")
    old, new = diff.file_texts(agent, "main", changes["new_name.py"])
    assert old == new == lines("renamed line", 20)
    assert diff.file_texts(agent, "main", changes["image.bin"]) is None


def test_file_texts_for_a_hand_built_change_reads_git_and_disk(agent: Path) -> None:
    change = FileChange(status="M", path=SPACE_NAME)
    assert diff.file_texts(agent, "main", change) == ("space before\n", "space after\n")


def test_diff_stat_sums_the_changes(agent: Path) -> None:
    files, added, removed = diff.diff_stat(agent, "main")
    changes = diff.changed_files(agent, "main")
    assert files == len(changes) == 9
    assert added == sum(c.added for c in changes) and removed == sum(c.removed for c in changes)


def test_changed_files_counts_only_work_since_the_merge_base(repo: Path, agent: Path) -> None:
    # main moves on after the agent started: its new commit is not the agent's work.
    write(repo / "main_only.txt", "main moved on\n")
    git(repo, "add", "main_only.txt")
    git(repo, "commit", "-q", "-m", "main moves")
    assert "main_only.txt" not in by_path(diff.changed_files(agent, "main"))


def test_changed_between_compares_two_agents(repo: Path, tmp_path: Path) -> None:
    for name, text in (("a", "answer A\n"), ("b", "answer B\nmore\n")):
        worktree = tmp_path / name
        git(repo, "worktree", "add", "-q", "-b", f"paneboard/{name}", str(worktree), "main")
        write(worktree / "modified.txt", text)
        write(worktree / f"only_{name}.txt", name)
    commit_a = diff.snapshot_commit(tmp_path / "a")
    tree_b = diff.snapshot_tree(tmp_path / "b")
    changes = by_path(diff.changed_between(repo, commit_a, tree_b))
    assert set(changes) == {"modified.txt", "only_a.txt", "only_b.txt"}
    assert changes["only_a.txt"].status == "D" and changes["only_b.txt"].status == "A"
    assert diff.blob_texts(repo, changes["modified.txt"]) == ("answer A\n", "answer B\nmore\n")
    assert diff.compare_files is diff.changed_between


def test_ten_thousand_line_file(repo: Path) -> None:
    old_lines = [f"value = {n}  # line {n}" for n in range(10_000)]
    write(repo / "big.py", "\n".join(old_lines) + "\n")
    git(repo, "add", "big.py")
    git(repo, "commit", "-q", "-m", "big")
    new_lines = list(old_lines)
    for n in range(0, 10_000, 100):
        new_lines[n] += " changed"
    write(repo / "big.py", "\n".join(new_lines) + "\n")

    (change,) = diff.changed_files(repo, "HEAD")
    assert (change.added, change.removed) == (100, 100)
    old, new = diff.file_texts(repo, "HEAD", change)
    rows = diff.side_by_side(old, new)
    assert sum(row.kind == "replace" for row in rows) == 100
    assert len(diff.hunk_starts(rows)) == 100
    assert len(diff.unified_rows(rows)) == len(rows) + 100


# --- aligned rows on known inputs ---------------------------------------------------------


def test_side_by_side_pairs_replaced_lines_and_pads_the_shorter_side() -> None:
    rows = diff.side_by_side("a\nb\nc\nd\n", "a\nB1\nB2\nc\nd\ne\n", context=1)
    assert rows == [
        Row("hunk", 1, "@@ -1,4 +1,6 @@", 1, "@@ -1,4 +1,6 @@"),
        Row("equal", 1, "a", 1, "a"),
        Row("replace", 2, "b", 2, "B1"),
        Row("replace", None, None, 3, "B2"),
        Row("equal", 3, "c", 4, "c"),
        Row("equal", 4, "d", 5, "d"),
        Row("insert", None, None, 6, "e"),
    ]


def test_side_by_side_splits_distant_changes_into_hunks() -> None:
    old = lines("x", 30)
    new = old.replace("x 2\n", "x two\n").replace("x 29\n", "").replace("x 15\n", "x 15\nnew\n")
    rows = diff.side_by_side(old, new, context=2)
    headers = [row.left_text for row in rows if row.kind == "hunk"]
    assert headers == ["@@ -1,4 +1,4 @@", "@@ -14,4 +14,5 @@", "@@ -27,4 +28,3 @@"]
    assert Row("delete", 29, "x 29", None, None) in rows
    assert Row("insert", None, None, 16, "new") in rows
    # every non-hunk row keeps both sides' line numbers increasing
    lefts = [row.left_no for row in rows if row.kind != "hunk" and row.left_no]
    rights = [row.right_no for row in rows if row.kind != "hunk" and row.right_no]
    assert lefts == sorted(lefts) and rights == sorted(rights)


def test_side_by_side_of_equal_texts_is_empty() -> None:
    assert diff.side_by_side("same\n", "same\n") == []


def test_side_by_side_for_added_and_deleted_files() -> None:
    assert diff.side_by_side("", "a\nb\n") == [
        Row("hunk", 0, "@@ -0,0 +1,2 @@", 1, "@@ -0,0 +1,2 @@"),
        Row("insert", None, None, 1, "a"), Row("insert", None, None, 2, "b"),
    ]
    assert [row.kind for row in diff.side_by_side("a\n", "")] == ["hunk", "delete"]


def test_unified_rows_put_deletions_before_insertions() -> None:
    rows = diff.unified_rows(diff.side_by_side("a\nb\nc\n", "a\nB\nC\nD\n"))
    assert [(row.kind, row.left_no, row.right_no) for row in rows] == [
        ("hunk", 1, 1), ("equal", 1, 1),
        ("delete", 2, None), ("delete", 3, None),
        ("insert", None, 2), ("insert", None, 3), ("insert", None, 4),
    ]


def test_split_lines_treats_crlf_and_form_feed_like_git() -> None:
    assert diff.split_lines("a\r\nb\x0cc\n") == ["a", "b\x0cc"]
    assert diff.split_lines("no newline") == ["no newline"]
    assert diff.split_lines("") == []


def test_rows_rebuild_both_texts_on_random_edits() -> None:
    import random

    rng = random.Random(7)
    for _ in range(500):
        alphabet = ["a", "b", "", "}", "return x", "pass"][: rng.randint(1, 6)]
        old = [rng.choice(alphabet) for _ in range(rng.randint(0, 40))]
        new = list(old)
        for _ in range(rng.randint(0, 8)):
            at = rng.randint(0, len(new))
            roll = rng.random()
            if roll < 0.4:
                new.insert(at, rng.choice([*alphabet, "added"]))
            elif new and roll < 0.8:
                del new[min(at, len(new) - 1)]
            elif new:
                new[min(at, len(new) - 1)] = "changed"
        old_text, new_text = "".join(f"{line}\n" for line in old), "".join(f"{line}\n" for line in new)
        rows = [row for row in diff.side_by_side(old_text, new_text, context=10**6) if row.kind != "hunk"]
        if old != new:
            assert [row.left_text for row in rows if row.left_no is not None] == old
            assert [row.right_text for row in rows if row.right_no is not None] == new
            assert all(row.left_text == row.right_text for row in rows if row.kind == "equal")


def test_many_repeated_lines_stay_fast_enough_to_finish() -> None:
    # Code repeats lines ("", "return total"); a plain difflib diff goes quadratic on it.
    block = ["def f():", "    total = 1", "    return total", ""]
    old = "\n".join(block * 2_500) + "\n"
    new = old.replace("return total", "return total + 1", 700)
    rows = diff.side_by_side(old, new)
    assert sum(row.kind == "replace" for row in rows) == 700


def test_same_size_edit_in_the_same_second_as_the_index_is_seen(repo: Path, tmp_path: Path) -> None:
    # git trusts an entry whose stat data matches unless the file is as new as the index
    # ("racily clean"); the snapshot's index copy must keep the real index's mtime for that.
    worktree = tmp_path / "racy"
    git(repo, "worktree", "add", "-q", "-b", "paneboard/racy", str(worktree), "main")
    git(worktree, "config", "core.trustctime", "false")
    target = worktree / "modified.txt"
    past = time.time_ns() - 10 * 10**9
    os.utime(target, ns=(past, past))
    git(worktree, "update-index", "--refresh")  # the entry now holds `past`, not smudged
    target.write_text("ONE\nTWO\nTHREE\n")  # same size, same inode
    os.utime(target, ns=(past, past))
    os.utime(index_path(worktree), ns=(past, past))  # the index is as old as the edit

    tree = diff.snapshot_tree(worktree)
    assert git(worktree, "show", f"{tree}:modified.txt") == "ONE\nTWO\nTHREE\n"


def test_changed_spans_mark_the_words_that_changed() -> None:
    old, new = '    return f"hello, {name}"', '    return f"Hello, {name}!"'
    left, right = diff.changed_spans(old, new)
    assert [old[a:b] for a, b in left] == ["hello"]
    assert [new[a:b] for a, b in right] == ["Hello", "!"]
    # Equal lines, rewritten lines and very long lines get no marks: the row colour says it all.
    assert diff.changed_spans("same", "same") == ((), ())
    assert diff.changed_spans('print(greet("world"))', "import sys") == ((), ())
    assert diff.changed_spans("x = 1" * 1000, "x = 2" * 1000) == ((), ())
    # A pure insertion marks only the new side.
    left, right = diff.changed_spans("call(a, b)", "call(a, b, c)")
    assert left == () and [("call(a, b, c)")[a:b] for a, b in right] == [", c"]


def test_unified_rows_keep_each_replaced_line_paired_with_its_other_version() -> None:
    rows = diff.unified_rows(diff.side_by_side("a\nold line one\nz\n", "a\nnew line one\nz\n"))
    delete = next(r for r in rows if r.kind == "delete")
    insert = next(r for r in rows if r.kind == "insert")
    assert (delete.left_text, delete.partner) == ("old line one", "new line one")
    assert (insert.right_text, insert.partner) == ("new line one", "old line one")
