"""Review data: what an agent changed, as file lists and aligned diff rows.

Plain Python (no Textual, no Rich): git runs as a subprocess with an argv list, never a
shell. Every read of a worktree goes through a *snapshot*: a tree object that holds the
worktree's committed, staged, unstaged and untracked (non-ignored) files, written with a
temporary index so the real index and the working tree are never touched.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
import tempfile
from bisect import bisect_left
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path

from ..errors import GitError
from .objects import read_blob

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
"""The id of git's empty tree (SHA-1 repositories)."""

_NULL_OID = "0" * 40

# Reads must not refresh the real index behind the user's back (`git status` would).
_READ_ENV = {"GIT_OPTIONAL_LOCKS": "0"}


def _git(cwd: Path, *args: str, env: dict[str, str] | None = None, check: bool = True) -> bytes:
    """Run git in `cwd` and return its raw stdout; raise GitError with git's message on failure."""
    full_env = {**os.environ, **_READ_ENV, **(env or {})}
    proc = subprocess.run(["git", *args], cwd=cwd, env=full_env, capture_output=True)
    if check and proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip() or f"exit {proc.returncode}"
        raise GitError(f"git {' '.join(args[:3])} failed in {cwd}: {message}")
    return proc.stdout


def _git_text(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return _git(cwd, *args, env=env).decode("utf-8", "surrogateescape").strip()


def _head_tree(worktree: Path) -> str | None:
    proc = subprocess.run(["git", "rev-parse", "--verify", "--quiet", "HEAD^{tree}"],
                          cwd=worktree, env={**os.environ, **_READ_ENV}, capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def is_clean(worktree: Path) -> bool:
    """True when the worktree has no staged, unstaged or untracked (non-ignored) changes."""
    out = _git(worktree, "status", "--porcelain=v1", "-z", "--untracked-files=all",
               "--ignore-submodules=dirty")
    return out == b""


def snapshot_tree(worktree: Path) -> str:
    """Return the id of a tree holding the worktree's full current state, touching nothing."""
    worktree = Path(worktree)
    head_tree = _head_tree(worktree)
    if head_tree is not None and is_clean(worktree):
        return head_tree
    real_index = Path(_git_text(worktree, "rev-parse", "--path-format=absolute", "--git-path", "index"))
    tmpdir = tempfile.mkdtemp(prefix="paneboard-index-")
    try:
        tmp_index = os.path.join(tmpdir, "index")
        env = {"GIT_INDEX_FILE": tmp_index}
        if real_index.exists():
            # A copy of the real index keeps git's stat cache, so `add -A` only re-hashes
            # files that changed; the result is the same tree as seeding with read-tree HEAD.
            # copy2 keeps the index's mtime, which git's racy-clean check compares file
            # mtimes with: a fresh mtime would hide same-size edits made in the same second.
            shutil.copy2(real_index, tmp_index)
        elif head_tree is not None:
            _git(worktree, "read-tree", "HEAD", env=env)
        else:
            _git(worktree, "read-tree", "--empty", env=env)
        _git(worktree, "add", "-A", "--", ".", env=env)
        return _git_text(worktree, "write-tree", env=env)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def snapshot_commit(worktree: Path, message: str = "paneboard snapshot") -> str:
    """Return a commit (parent HEAD, no ref updated) whose tree is the worktree's snapshot."""
    worktree = Path(worktree)
    tree = snapshot_tree(worktree)
    identity = {
        "GIT_AUTHOR_NAME": "paneboard", "GIT_AUTHOR_EMAIL": "paneboard@localhost",
        "GIT_COMMITTER_NAME": "paneboard", "GIT_COMMITTER_EMAIL": "paneboard@localhost",
    }
    parents = ["-p", "HEAD"] if _head_tree(worktree) is not None else []
    return _git_text(worktree, "commit-tree", tree, *parents, "-m", message, env=identity)


@dataclass(slots=True)
class FileChange:
    """One changed file: its status letter, paths, line counts and the blobs on each side."""

    status: str
    """'A' added, 'M' modified, 'D' deleted, 'R' renamed."""
    path: str
    """The path on the new side (the old path for a deleted file)."""
    old_path: str | None = None
    """The path on the old side, when it differs (renames)."""
    added: int = 0
    removed: int = 0
    binary: bool = False
    old_blob: str | None = field(default=None, repr=False)
    """Blob id on the old side, None when the file is added."""
    new_blob: str | None = field(default=None, repr=False)
    """Blob id on the new side, None when the file is deleted."""

    @property
    def display_path(self) -> str:
        """The path as a user reads it: `old → new` for a rename."""
        if self.status == "R" and self.old_path and self.old_path != self.path:
            return f"{self.old_path} → {self.path}"
        return self.path


def _decode_path(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _parse_raw_numstat(out: bytes) -> list[FileChange]:
    """Parse `diff-tree -z --raw --numstat` output (all raw records come before numstat)."""
    tokens = out.split(b"\0")
    changes: list[FileChange] = []
    i = 0
    while i < len(tokens) and tokens[i].startswith(b":"):
        meta = tokens[i][1:].split(b" ")
        old_oid, new_oid, status = meta[2].decode(), meta[3].decode(), meta[4].decode()
        letter = status[0]
        if letter in "RC":
            old_path, path = _decode_path(tokens[i + 1]), _decode_path(tokens[i + 2])
            i += 3
        else:
            old_path = path = _decode_path(tokens[i + 1])
            i += 2
        if letter == "C":
            letter, old_path = "A", None  # a copy is, to a reviewer, a new file
        elif letter in "TU":
            letter = "M"
        changes.append(FileChange(
            status=letter,
            path=path,
            old_path=old_path if letter != "A" else None,
            old_blob=None if old_oid == _NULL_OID or letter == "A" else old_oid,
            new_blob=None if new_oid == _NULL_OID or letter == "D" else new_oid,
        ))
    counts: list[tuple[str, str]] = []
    while i < len(tokens):
        token = tokens[i]
        if not token:
            i += 1
            continue
        added, removed, rest = token.split(b"\t", 2)
        counts.append((added.decode(), removed.decode()))
        i += 3 if rest == b"" else 1  # a rename lists old and new path as two more tokens
    for change, (added, removed) in zip(changes, counts):
        if added == "-":
            change.binary = True
        else:
            change.added, change.removed = int(added), int(removed)
    return changes


def changed_between(repo: Path, rev_a: str, rev_b: str) -> list[FileChange]:
    """Return the files that differ between two trees or commits, renames detected."""
    out = _git(Path(repo), "diff-tree", "-r", "-z", "-M", "--raw", "--numstat", rev_a, rev_b, "--")
    return _parse_raw_numstat(out)


compare_files = changed_between
"""Alias of `changed_between`: compare agent A's result with agent B's."""


def merge_base(worktree: Path, base: str) -> str:
    """Return the merge-base of `base` and HEAD (or `base` itself when they share no history)."""
    proc = subprocess.run(["git", "merge-base", base, "HEAD"], cwd=worktree,
                          env={**os.environ, **_READ_ENV}, capture_output=True, text=True)
    if proc.returncode == 0 and proc.stdout.strip():
        return proc.stdout.strip()
    return _git_text(Path(worktree), "rev-parse", "--verify", f"{base}^{{commit}}")


def changed_files(worktree: Path, base: str) -> list[FileChange]:
    """Return committed, uncommitted and untracked changes since the merge-base with `base`."""
    worktree = Path(worktree)
    return changed_between(worktree, merge_base(worktree, base), snapshot_tree(worktree))


def diff_stat(worktree: Path, base: str) -> tuple[int, int, int]:
    """Return (files, added lines, removed lines) of `changed_files`."""
    changes = changed_files(worktree, base)
    return len(changes), sum(c.added for c in changes), sum(c.removed for c in changes)


def _blob_text(repo: Path, blob: str | None) -> str:
    if blob is None:
        return ""
    return read_blob(repo, blob).decode("utf-8", "replace")


def blob_texts(repo: Path, change: FileChange) -> tuple[str, str] | None:
    """Return (old text, new text) of a change from its blobs; None for a binary file."""
    if change.binary:
        return None
    old, new = _blob_text(Path(repo), change.old_blob), _blob_text(Path(repo), change.new_blob)
    if "\0" in old or "\0" in new:
        return None
    return old, new


def file_texts(worktree: Path, base: str, change: FileChange) -> tuple[str, str] | None:
    """Return (old text at the merge-base, new text in the snapshot); None for a binary file."""
    worktree = Path(worktree)
    if change.binary:
        return None
    if (change.old_blob is not None or change.status == "A") and (
            change.new_blob is not None or change.status == "D"):
        return blob_texts(worktree, change)
    # A FileChange built by hand: read the old side from git and the new side from disk.
    old = ""
    if change.status != "A":
        ref = f"{merge_base(worktree, base)}:{change.old_path or change.path}"
        old = _git(worktree, "show", ref).decode("utf-8", "replace")
    new = ""
    if change.status != "D":
        new = (worktree / change.path).read_bytes().decode("utf-8", "replace")
    if "\0" in old or "\0" in new:
        return None
    return old, new


# --- aligned rows -------------------------------------------------------------------------


@dataclass(slots=True)
class Row:
    """One display row of a diff: a line on each side (either may be absent) or a hunk header."""

    kind: str
    """'equal', 'replace', 'insert', 'delete' or 'hunk'."""
    left_no: int | None = None
    left_text: str | None = None
    right_no: int | None = None
    right_text: str | None = None
    partner: str | None = None
    """In unified rows: the other version of a replaced line (for marking what changed within it)."""


def split_lines(text: str) -> list[str]:
    """Split text into lines without their endings (a final newline adds no empty line).

    Only \\n, \\r\\n and \\r end a line (not form feeds or U+2028, as `str.splitlines`
    would have it), so line numbers agree with git and with Pygments.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


_DIFFLIB_LIMIT = 1_000_000
"""difflib is quadratic on repeated lines: stretches without a unique line bigger than this
(old lines x new lines) are aligned on equal-count lines, or else shown as one replacement."""


def _longest_chain(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest run of (i, j) pairs increasing in both i and j (patience sorting)."""
    pairs.sort()
    tails: list[int] = []
    tail_index: list[int] = []
    previous: list[int] = [-1] * len(pairs)
    for index, (_, j) in enumerate(pairs):
        pile = bisect_left(tails, j)
        if pile == len(tails):
            tails.append(j)
            tail_index.append(index)
        else:
            tails[pile] = j
            tail_index[pile] = index
        previous[index] = tail_index[pile - 1] if pile else -1
    chain: list[tuple[int, int]] = []
    index = tail_index[-1] if tail_index else -1
    while index >= 0:
        chain.append(pairs[index])
        index = previous[index]
    chain.reverse()
    return chain


def _anchors(old: list[str], alo: int, ahi: int, new: list[str], blo: int, bhi: int,
             unique: bool = True) -> list[tuple[int, int]]:
    """Lines to align on: once on each side (patience diff), or else the same count on each
    side, k-th occurrence with k-th (for long stretches with no unique line at all)."""
    where_old: dict[str, list[int]] = {}
    for i in range(alo, ahi):
        where_old.setdefault(old[i], []).append(i)
    where_new: dict[str, list[int]] = {}
    for j in range(blo, bhi):
        if new[j] in where_old:
            where_new.setdefault(new[j], []).append(j)
    pairs: list[tuple[int, int]] = []
    for line, js in where_new.items():
        is_ = where_old[line]
        if len(is_) == len(js) and (len(js) == 1 or not unique):
            pairs.extend(zip(is_, js))
    return _longest_chain(pairs) if pairs else []


def _matching_blocks(old: list[str], new: list[str]) -> list[tuple[int, int, int]]:
    """(i, j, n) runs of equal lines: patience anchors, difflib between them."""
    blocks: list[tuple[int, int, int]] = []
    stack = [(0, len(old), 0, len(new))]
    while stack:
        alo, ahi, blo, bhi = stack.pop()
        # Common head and tail are cheap to take before anything clever.
        head = 0
        while alo + head < ahi and blo + head < bhi and old[alo + head] == new[blo + head]:
            head += 1
        if head:
            blocks.append((alo, blo, head))
            alo, blo = alo + head, blo + head
        tail = 0
        while alo < ahi - tail and blo < bhi - tail and old[ahi - 1 - tail] == new[bhi - 1 - tail]:
            tail += 1
        if tail:
            blocks.append((ahi - tail, bhi - tail, tail))
            ahi, bhi = ahi - tail, bhi - tail
        if alo >= ahi or blo >= bhi:
            continue
        anchors = _anchors(old, alo, ahi, new, blo, bhi)
        if not anchors and (ahi - alo) * (bhi - blo) > _DIFFLIB_LIMIT:
            anchors = _anchors(old, alo, ahi, new, blo, bhi, unique=False)
        if anchors:
            i0, j0 = alo, blo
            for i, j in anchors:
                blocks.append((i, j, 1))
                stack.append((i0, i, j0, j))
                i0, j0 = i + 1, j + 1
            stack.append((i0, ahi, j0, bhi))
        elif (ahi - alo) * (bhi - blo) <= _DIFFLIB_LIMIT:
            matcher = difflib.SequenceMatcher(None, old[alo:ahi], new[blo:bhi], autojunk=False)
            blocks.extend((alo + i, blo + j, n) for i, j, n in matcher.get_matching_blocks() if n)
    blocks.sort()
    merged: list[tuple[int, int, int]] = []
    for i, j, n in blocks:
        if merged and merged[-1][0] + merged[-1][2] == i and merged[-1][1] + merged[-1][2] == j:
            merged[-1] = (merged[-1][0], merged[-1][1], merged[-1][2] + n)
        else:
            merged.append((i, j, n))
    return merged


def _opcodes(old: list[str], new: list[str]) -> list[tuple[str, int, int, int, int]]:
    """difflib-style opcodes from patience-anchored matching blocks (fast on large files)."""
    codes: list[tuple[str, int, int, int, int]] = []
    i = j = 0
    for ai, bj, size in [*_matching_blocks(old, new), (len(old), len(new), 0)]:
        if i < ai and j < bj:
            codes.append(("replace", i, ai, j, bj))
        elif i < ai:
            codes.append(("delete", i, ai, j, bj))
        elif j < bj:
            codes.append(("insert", i, ai, j, bj))
        i, j = ai + size, bj + size
        if size:
            codes.append(("equal", ai, i, bj, j))
    return codes


def _grouped(codes: list[tuple[str, int, int, int, int]], context: int):
    """Like SequenceMatcher.get_grouped_opcodes, on precomputed opcodes."""
    if not codes or (len(codes) == 1 and codes[0][0] == "equal"):
        return []
    codes = list(codes)
    if codes[0][0] == "equal":
        tag, i1, i2, j1, j2 = codes[0]
        codes[0] = tag, max(i1, i2 - context), i2, max(j1, j2 - context), j2
    if codes[-1][0] == "equal":
        tag, i1, i2, j1, j2 = codes[-1]
        codes[-1] = tag, i1, min(i2, i1 + context), j1, min(j2, j1 + context)
    groups, group = [], []
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal" and i2 - i1 > context * 2:
            group.append((tag, i1, min(i2, i1 + context), j1, min(j2, j1 + context)))
            groups.append(group)
            group = []
            i1, j1 = max(i1, i2 - context), max(j1, j2 - context)
        group.append((tag, i1, i2, j1, j2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        groups.append(group)
    return groups


def _hunk_header(group) -> Row:
    i1, i2 = group[0][1], group[-1][2]
    j1, j2 = group[0][3], group[-1][4]
    old_start = i1 + 1 if i2 > i1 else i1
    new_start = j1 + 1 if j2 > j1 else j1
    text = f"@@ -{old_start},{i2 - i1} +{new_start},{j2 - j1} @@"
    return Row("hunk", old_start, text, new_start, text)


def side_by_side(old_text: str, new_text: str, context: int = 3) -> list[Row]:
    """Return aligned rows for a two-column diff, a 'hunk' row before each hunk."""
    old, new = split_lines(old_text), split_lines(new_text)
    rows: list[Row] = []
    append = rows.append
    for group in _grouped(_opcodes(old, new), context):
        append(_hunk_header(group))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                for k in range(i2 - i1):
                    append(Row("equal", i1 + k + 1, old[i1 + k], j1 + k + 1, new[j1 + k]))
            elif tag == "delete":
                for i in range(i1, i2):
                    append(Row("delete", i + 1, old[i], None, None))
            elif tag == "insert":
                for j in range(j1, j2):
                    append(Row("insert", None, None, j + 1, new[j]))
            else:
                for k in range(max(i2 - i1, j2 - j1)):
                    i, j = i1 + k, j1 + k
                    append(Row("replace",
                               i + 1 if i < i2 else None, old[i] if i < i2 else None,
                               j + 1 if j < j2 else None, new[j] if j < j2 else None))
    return rows


def unified_rows(rows: list[Row]) -> list[Row]:
    """Turn side-by-side rows into unified rows: each replace block becomes deletes, then inserts."""
    out: list[Row] = []
    for is_replace, block in groupby(rows, key=lambda row: row.kind == "replace"):
        if not is_replace:
            out.extend(block)
            continue
        block = list(block)
        out.extend(Row("delete", r.left_no, r.left_text, None, None, r.right_text)
                   for r in block if r.left_no is not None)
        out.extend(Row("insert", None, None, r.right_no, r.right_text, r.left_text)
                   for r in block if r.right_no is not None)
    return out


_WORD = re.compile(r"\w+|\s+|[^\w\s]")
INLINE_LIMIT = 2000
"""Lines longer than this get no within-line marks (matching them costs more than it tells)."""
INLINE_MIN_RATIO = 0.4
"""Below this share of equal words a line was rewritten, not edited: the whole line is the change."""


def changed_spans(old: str, new: str) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
    """What changed within a replaced line, by word: (start, end) character ranges in old and in new.

    Empty on both sides when the lines are equal, too long, or have too little in common.
    """
    if old == new or len(old) > INLINE_LIMIT or len(new) > INLINE_LIMIT:
        return (), ()
    a, b = _WORD.findall(old), _WORD.findall(new)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.ratio() < INLINE_MIN_RATIO:
        return (), ()
    a_at, b_at = _offsets(a), _offsets(b)
    left: list[tuple[int, int]] = []
    right: list[tuple[int, int]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if i2 > i1:
            left.append((a_at[i1], a_at[i2]))
        if j2 > j1:
            right.append((b_at[j1], b_at[j2]))
    return tuple(left), tuple(right)


def _offsets(words: list[str]) -> list[int]:
    out = [0]
    for w in words:
        out.append(out[-1] + len(w))
    return out


def hunk_starts(rows: list[Row]) -> list[int]:
    """Return the indexes of the hunk header rows."""
    return [index for index, row in enumerate(rows) if row.kind == "hunk"]
