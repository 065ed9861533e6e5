"""Combining best-of-N candidates: a tree built from chosen files and hunks of several candidates.

Plain Python (no Textual); git runs as argv, never a shell. Everything is built from the
candidates' snapshot trees with a temporary index and written as objects only (blobs, a tree,
a commit): no candidate's worktree, index or branch is touched, and a choice that cannot be
honoured raises before anything (a ref, a branch, a worktree) exists.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GitError
from .diff import _grouped, _hunk_header, _opcodes

_IDENTITY = {"GIT_AUTHOR_NAME": "paneboard", "GIT_AUTHOR_EMAIL": "paneboard@localhost",
             "GIT_COMMITTER_NAME": "paneboard", "GIT_COMMITTER_EMAIL": "paneboard@localhost"}
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


@dataclass(frozen=True)
class HunkChoice:
    """For one file: take `left`'s version, except the hunks named in `from_right` (their headers, as the
    compare view shows them: `@@ -a,b +c,d @@`), which come from `right`."""

    path: str
    left: str
    right: str
    from_right: tuple[str, ...]


@dataclass
class Plan:
    """What to build: a starting tree, whole files from candidates, and files put together hunk by hunk."""

    start: str
    """The tree the rest comes from (a candidate's snapshot, or the base)."""
    trees: dict[str, str]
    """Candidate name -> its snapshot tree."""
    files: dict[str, str] = field(default_factory=dict)
    """Path (a file or a directory) -> the candidate whose version is taken."""
    hunks: list[HunkChoice] = field(default_factory=list)


def _git(repo: Path, *args: str, env: dict[str, str] | None = None, input: bytes | None = None) -> bytes:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, input=input,
                          env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", **(env or {})})
    if proc.returncode != 0:
        raise GitError(f"git {args[0]}: {proc.stderr.decode('utf-8', 'replace').strip() or proc.returncode}")
    return proc.stdout


def _entries(repo: Path, tree: str, path: str) -> list[tuple[str, str, str]]:
    """(mode, object, path) of every file at or under `path` in `tree`."""
    out = _git(repo, "ls-tree", "-r", "-z", "--full-tree", tree, "--", path)
    entries = []
    for record in out.split(b"\0"):
        if record:
            meta, name = record.split(b"\t", 1)
            mode, _, oid = meta.decode().split(" ")
            entries.append((mode, oid, name.decode("utf-8", "surrogateescape")))
    return entries


def split_keep(text: str) -> list[str]:
    """Lines with their endings (the same lines `diff.split_lines` counts)."""
    return _LINE.findall(text)


def pick_hunks(old: str, new: str, from_new: set[str], context: int = 3) -> tuple[str, set[str]]:
    """`old` with the hunks whose headers are in `from_new` taken from `new`; also the headers that exist."""
    a_keep, b_keep = split_keep(old), split_keep(new)
    a = [line.rstrip("\r\n") for line in a_keep]
    b = [line.rstrip("\r\n") for line in b_keep]
    codes = _opcodes(a, b)
    chosen: set[tuple[int, int, int, int]] = set()
    headers: set[str] = set()
    for group in _grouped(codes, context):
        header = _hunk_header(group).left_text or ""
        headers.add(header)
        if header in from_new:
            chosen |= {(i1, i2, j1, j2) for tag, i1, i2, j1, j2 in group if tag != "equal"}
    out: list[str] = []
    for tag, i1, i2, j1, j2 in codes:
        out += b_keep[j1:j2] if tag != "equal" and (i1, i2, j1, j2) in chosen else a_keep[i1:i2]
    return "".join(_ended(out, "\r\n" if "\r\n" in old + new else "\n")), headers


def _ended(lines: list[str], ending: str) -> list[str]:
    """Every line but the last ends with a newline (a last line that is no longer last may have had none)."""
    return [line if line.endswith(("\n", "\r")) or i == len(lines) - 1 else line + ending
            for i, line in enumerate(lines)]


def _blob_text(repo: Path, oid: str) -> str:
    data = _git(repo, "cat-file", "blob", oid)
    if b"\0" in data[:8000]:
        raise GitError(f"object {oid[:10]} is binary: take the whole file instead of hunks")
    return data.decode("utf-8", "surrogateescape")


def _hunk_blob(repo: Path, plan: Plan, choice: HunkChoice) -> tuple[str, str] | None:
    """(mode, blob) of a file put together from two candidates' hunks; None when the result is no file."""
    left = _entries(repo, plan.trees[choice.left], choice.path)
    right = _entries(repo, plan.trees[choice.right], choice.path)
    left_file = next((e for e in left if e[2] == choice.path), None)
    right_file = next((e for e in right if e[2] == choice.path), None)
    if left_file is None and right_file is None:
        raise GitError(f"{choice.path} is in neither {choice.left} nor {choice.right}; nothing was created")
    old = _blob_text(repo, left_file[1]) if left_file else ""
    new = _blob_text(repo, right_file[1]) if right_file else ""
    text, headers = pick_hunks(old, new, set(choice.from_right))
    missing = [h for h in choice.from_right if h not in headers]
    if missing:
        raise GitError(f"hunk {missing[0]} of {choice.path} does not apply: {choice.left} and {choice.right} "
                       f"no longer differ there; nothing was created")
    if left_file is None and not text:
        return None
    mode = (left_file or right_file)[0]
    blob = _git(repo, "hash-object", "-w", "--stdin", "--path", choice.path,
                input=text.encode("utf-8", "surrogateescape")).decode().strip()
    return mode, blob


def build_tree(repo: Path, plan: Plan) -> str:
    """Write the combined tree (objects only; no ref, index or worktree touched) and return its id."""
    repo = Path(repo)
    tmpdir = tempfile.mkdtemp(prefix="paneboard-combine-")
    env = {"GIT_INDEX_FILE": os.path.join(tmpdir, "index")}
    try:
        _git(repo, "read-tree", plan.start, env=env)
        for path, candidate in plan.files.items():
            if candidate not in plan.trees:
                raise GitError(f"--take {path}={candidate}: {candidate} is not a candidate of this task")
            taken = _entries(repo, plan.trees[candidate], path)
            present = _git(repo, "ls-files", "-z", "--", path, env=env).split(b"\0")
            present = [p for p in present if p]
            if not taken and not present:
                raise GitError(f"{path} is neither in {candidate} nor in the rest of the tree; nothing was created")
            if present:
                _git(repo, "update-index", "-z", "--force-remove", "--stdin", env=env, input=b"\0".join(present) + b"\0")
            _add(repo, env, taken)
        for choice in plan.hunks:
            for name in (choice.left, choice.right):
                if name not in plan.trees:
                    raise GitError(f"{name} is not a candidate of this task")
            result = _hunk_blob(repo, plan, choice)
            _git(repo, "update-index", "-z", "--force-remove", "--stdin", env=env,
                 input=choice.path.encode("utf-8", "surrogateescape") + b"\0")
            if result is not None:
                _add(repo, env, [(result[0], result[1], choice.path)])
        return _git(repo, "write-tree", env=env).decode().strip()
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def _add(repo: Path, env: dict[str, str], entries: list[tuple[str, str, str]]) -> None:
    if entries:
        data = b"".join(f"{mode} {oid}\t".encode() + path.encode("utf-8", "surrogateescape") + b"\0"
                        for mode, oid, path in entries)
        _git(repo, "update-index", "-z", "--add", "--index-info", env=env, input=data)


def commit(repo: Path, tree: str, parent: str, message: str) -> str:
    """A commit of `tree` on `parent` (no ref moves)."""
    return _git(repo, "commit-tree", tree, "-p", parent, "-F", "-", env=_IDENTITY,
                input=message.encode("utf-8", "surrogateescape")).decode().strip()
