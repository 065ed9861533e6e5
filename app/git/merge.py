"""Safe merging of agents' branches: predict conflicts, build the result without a working tree, move the base atomically.

Plain Python (no Textual, no Rich); git runs as an argv list, never through a shell.

How a merge stays safe
----------------------
1. Refuse first (`_plan`): the base branch gone, the branch gone, a checkout of the base branch
   (the main checkout or any worktree) with an operation in progress, a held index.lock or
   tracked changes, a conflict predicted by `git merge-tree --write-tree`, a rebase that cannot
   replay a commit, or untracked or ignored files the merge would overwrite (checked by path,
   then a `git read-tree -n -m -u` dry run). `preflight()` runs the same checks on an agent's
   work before it is committed, so the fleet refuses before it changes even the agent's branch.
2. Build the result commit from objects only: `merge-tree --write-tree` + `commit-tree` for
   "merge" and "squash"; for "rebase" each agent commit is replayed with merge-tree over a
   throw-away commit whose parent is the replayed commit's parent (git 2.39 has neither
   `merge-tree --merge-base` nor `git replay`), so no working tree or index is touched.
3. Write the journal `<git-common-dir>/paneboard/merge-journal.json` (temp file, fsync, rename).
4. Compare-and-swap the base ref: `git update-ref refs/heads/BASE NEW OLD`.
5. Bring every clean checkout of the base along with `git read-tree -m -u OLD NEW`.
6. Remove the journal.

`recover()` (run at start, and by `merge()` before it begins) reads a left-over journal and
decides from facts, not from how far the dead process claimed to get: the base ref still at
OLD means roll back (checkouts are put back to OLD), at NEW means finish (checkouts are
brought to NEW, including ones a killed `read-tree` left half-written with a stale
`index.lock`), anywhere else means someone moved it since and nothing is touched. A journal
that cannot be read (garbage, truncated, the wrong shape) is not acted on: it is moved aside
to `merge-journal.json.corrupt-<time>` and named in one line.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from . import diff
from ..errors import BaseBranchMissing, GitError, UnsafeOperation
from .worktrees import RepoInfo, find_repo, list_worktrees

STRATEGIES = ("merge", "squash", "rebase")

CRASH_ENV = "PANEBOARD_MERGE_CRASH_AT"
CRASH_STEPS = ("computed", "journaled", "ref-updated", "checkout-partial", "checkout-updated")
"""Where a test may make merge() SIGKILL itself (see CRASH_ENV); in order of execution."""

JOURNAL_NAME = "merge-journal.json"
_LOCK_NAME = "merge.lock"
_JOURNAL_VERSION = 1
LOCK_WAIT = 30.0
"""Seconds recover() waits for another process to let go of a checkout's index.lock."""

# Reads must not refresh a user's index behind their back (`git status` would).
_NO_LOCKS = {"GIT_OPTIONAL_LOCKS": "0"}
# Identity for throw-away objects nobody reads the author of (snapshots, replay helpers).
_TOOL_IDENTITY = {
    "GIT_AUTHOR_NAME": "paneboard", "GIT_AUTHOR_EMAIL": "paneboard@localhost",
    "GIT_COMMITTER_NAME": "paneboard", "GIT_COMMITTER_EMAIL": "paneboard@localhost",
}
_IN_PROGRESS = ("MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD", "rebase-merge", "rebase-apply", "BISECT_LOG")


# ---------------------------------------------------------------- git helpers (shared with archive.py)

def _git(cwd: Path, *args: str, env: dict[str, str] | None = None, input: bytes | None = None,
         check: bool = True) -> subprocess.CompletedProcess:
    """Run git (argv list) in cwd; raw bytes out; GitError with git's last message line on failure."""
    full_env = {**os.environ, **env} if env else None
    proc = subprocess.run(["git", *args], cwd=cwd, env=full_env, input=input, capture_output=True)
    if check and proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines() or [f"exit {proc.returncode}"]
        raise GitError(f"git {args[0]} failed in {cwd}: {lines[-1]}")
    return proc


def _out(cwd: Path, *args: str, env: dict[str, str] | None = None, input: bytes | None = None) -> str:
    return _git(cwd, *args, env=env, input=input).stdout.decode("utf-8", "surrogateescape").strip()


def _rev(cwd: Path, rev: str) -> str | None:
    """The commit id rev names, or None."""
    proc = _git(cwd, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def _tree(cwd: Path, rev: str) -> str:
    return _out(cwd, "rev-parse", "--verify", f"{rev}^{{tree}}")


def _is_ancestor(cwd: Path, a: str, b: str) -> bool:
    return _git(cwd, "merge-base", "--is-ancestor", a, b, check=False).returncode == 0


def _split_z(raw: bytes) -> list[str]:
    return [p.decode("utf-8", "surrogateescape") for p in raw.split(b"\0") if p]


def identity_args(cwd: Path) -> list[str]:
    """`-c user.name=… -c user.email=…` fallbacks, only for what neither config nor environment sets."""
    args: list[str] = []
    for key, env_name, fallback in (("user.name", "GIT_COMMITTER_NAME", "paneboard"),
                                    ("user.email", "GIT_COMMITTER_EMAIL", "paneboard@localhost")):
        if os.environ.get(env_name):
            continue
        if _git(cwd, "config", "--get", key, check=False).returncode != 0:
            args += ["-c", f"{key}={fallback}"]
    return args


def is_clean(worktree: Path, untracked: bool = True) -> bool:
    """True when the worktree has no staged or unstaged changes (and, if asked, no untracked files)."""
    out = _git(worktree, "status", "--porcelain=v1", "-z",
               "--untracked-files=all" if untracked else "--untracked-files=no",
               "--ignore-submodules=dirty", env=_NO_LOCKS).stdout
    return out == b""


# ---------------------------------------------------------------- prediction

@dataclass(frozen=True)
class Prediction:
    """What merging two commits would give: clean or not, the conflicted files, the merged tree."""

    clean: bool
    conflicts: tuple[str, ...] = ()
    tree: str | None = None


def predict(repo_root: Path, ours: str, theirs: str) -> Prediction:
    """Predict merging theirs into ours with `git merge-tree --write-tree` (no working tree or ref touched)."""
    proc = _git(Path(repo_root), "merge-tree", "--write-tree", "--name-only", "--no-messages", "-z",
                ours, theirs, check=False)
    fields = _split_z(proc.stdout)
    tree = fields[0] if fields else None
    if proc.returncode not in (0, 1) or tree is None:
        # Exit 1 without a tree is git refusing to start (a missing ref), not a conflict.
        said = (proc.stderr or proc.stdout).decode("utf-8", "replace").strip().splitlines()
        lines = said or [f"exit {proc.returncode}"]
        raise GitError(f"cannot predict merging {theirs} into {ours}: {lines[-1]}")
    if proc.returncode == 0:
        return Prediction(clean=True, conflicts=(), tree=tree)
    conflicts = tuple(dict.fromkeys(fields[1:]))
    return Prediction(clean=False, conflicts=conflicts, tree=tree)


def candidate_commit(worktree: Path) -> str:
    """The agent's result: HEAD when the worktree is clean, else a snapshot commit of everything (no ref, no index change)."""
    worktree = Path(worktree)
    head, head_tree = _out(worktree, "rev-parse", "HEAD", "HEAD^{tree}").split()
    tree = diff.snapshot_tree(worktree)
    if tree == head_tree:
        return head
    return _out(worktree, "commit-tree", tree, "-p", head, "-m", "paneboard snapshot", env=_TOOL_IDENTITY)


def predict_agent(repo_root: Path, base_branch: str, worktree: Path) -> Prediction:
    """Predict merging an agent's full current work (committed or not) into base_branch."""
    if _rev(Path(repo_root), f"refs/heads/{base_branch}") is None:
        raise BaseBranchMissing(base_branch)
    return predict(repo_root, f"refs/heads/{base_branch}", candidate_commit(worktree))


def may_conflict(worktree: Path, base_branch: str, files) -> bool:
    """False when merging the worktree's work (which changed `files`) into base_branch cannot conflict: the
    base has not moved since it forked, or moved only in other paths (two git calls at most, no snapshot)."""
    worktree, ref = Path(worktree), f"refs/heads/{base_branch}"
    if _is_ancestor(worktree, ref, "HEAD"):
        return False
    moved = _split_z(_git(worktree, "diff", "--name-only", "--no-renames", "-z", f"HEAD...{ref}",
                          env=_NO_LOCKS).stdout)
    # The same path on both sides, or a file on one side where the other has a directory.
    moved, mine = set(moved), set(files)
    return bool(moved & _with_parents(mine) or mine & _with_parents(moved))


def commit_may_conflict(repo_root: Path, base_branch: str, commit: str, files) -> bool:
    """`may_conflict` for a commit in the repository (a remote agent's fetched work) rather than a worktree."""
    root, ref = Path(repo_root), f"refs/heads/{base_branch}"
    if _is_ancestor(root, ref, commit):
        return False
    moved = set(_split_z(_git(root, "diff", "--name-only", "--no-renames", "-z", f"{commit}...{ref}",
                              env=_NO_LOCKS).stdout))
    mine = set(files)
    return bool(moved & _with_parents(mine) or mine & _with_parents(moved))


def _with_parents(paths) -> set[str]:
    """The paths and every directory above them."""
    out = set()
    for path in paths:
        parts = path.split("/")
        out.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    return out


def adds_nothing(repo_root: Path, base_branch: str, worktree: Path) -> bool:
    """True when the agent's full current work (committed or not) is already in base_branch: nothing to merge."""
    return _is_ancestor(Path(repo_root), candidate_commit(worktree), f"refs/heads/{base_branch}")


def predict_fleet(repo_root: Path, base: str, worktrees: dict[str, Path], workers: int | None = None
                  ) -> tuple[dict[str, Prediction], dict[tuple[str, str], Prediction]]:
    """Predict every agent merging into base, and every pair meeting there: (vs_base, pairs).

    pairs holds {(a, b): Prediction} for a < b by name. Each agent's work (HEAD, or a snapshot of
    its uncommitted work) is first laid on the current base as it would land there; two agents
    are then merged over that base, so a pair conflicts only where their own changes collide —
    not because one of them forked before the base moved (that shows in vs_base). An agent that
    conflicts with the base is paired as it is, over its fork point, and a pair's conflicts keep
    only the files both agents changed themselves (so such a pair can still show a file both
    touched, at other lines, that the base changed under the first one: resolve vs_base first).
    """
    repo_root = Path(repo_root)
    base_commit = _rev(repo_root, f"refs/heads/{base}")
    if base_commit is None:
        raise BaseBranchMissing(base)
    names = sorted(worktrees)
    workers = workers or min(8, max(2, (os.cpu_count() or 2) * 2))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        candidates = dict(zip(names, pool.map(lambda n: candidate_commit(Path(worktrees[n])), names)))
        vs_base = dict(zip(names, pool.map(lambda n: predict(repo_root, base_commit, candidates[n]), names)))

        def landed(name: str) -> str:
            p = vs_base[name]
            if not p.clean or p.tree is None:
                return candidates[name]
            return _out(repo_root, "commit-tree", p.tree, "-p", base_commit, "-p", candidates[name],
                        "-m", "paneboard: as it would land", env=_TOOL_IDENTITY)

        def own_files(name: str) -> frozenset[str]:
            out = _git(repo_root, "diff", "--name-only", "--no-renames", "-z", "--merge-base", base_commit,
                       candidates[name], env=_NO_LOCKS).stdout
            return frozenset(_split_z(out))

        on_base = dict(zip(names, pool.map(landed, names)))
        own = dict(zip(names, pool.map(own_files, names)))

        def pair(p: tuple[str, str]) -> Prediction:
            result = predict(repo_root, on_base[p[0]], on_base[p[1]])
            # A file is the pair's conflict only if both agents changed it themselves; the rest is
            # one agent against the base (an agent that could not be laid on it was merged as it is).
            mine = tuple(f for f in result.conflicts if f in own[p[0]] and f in own[p[1]])
            return result if mine == result.conflicts else Prediction(clean=not mine, conflicts=mine, tree=result.tree)

        pairs = list(itertools.combinations(names, 2))
        return vs_base, dict(zip(pairs, pool.map(pair, pairs)))


def holds(repo_root: Path, rev: str, commit: str) -> bool:
    """True when rev already holds commit's work: commit is an ancestor, or merging it would change nothing."""
    root = Path(repo_root)
    if _is_ancestor(root, commit, rev):
        return True
    try:
        prediction = predict(root, rev, commit)
    except GitError:
        return False
    return prediction.clean and prediction.tree == _tree(root, rev)


# ---------------------------------------------------------------- committing an agent's work

def commit_work(worktree: Path, message: str, verify: bool = True) -> str | None:
    """Commit every uncommitted and untracked change on the worktree's branch; the new HEAD, or None if nothing changed."""
    worktree = Path(worktree)
    index = _git_path(worktree, "index")
    saved = index.with_name("index.paneboard-saved")
    had_index = index.exists()
    if had_index:
        shutil.copy2(index, saved)  # a refused commit (a hook said no) puts the staging area back as it was
    try:
        _git(worktree, "add", "-A", "--", ".")
        if _git(worktree, "diff", "--cached", "--quiet", check=False).returncode == 0:
            return None
        _git(worktree, *identity_args(worktree), "commit", "--quiet", *([] if verify else ["--no-verify"]),
             "-F", "-", input=message.encode("utf-8"))
    except GitError:
        if had_index:
            os.replace(saved, index)
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            saved.unlink()
    return _out(worktree, "rev-parse", "HEAD")


# ---------------------------------------------------------------- merging

@dataclass(frozen=True)
class MergeResult:
    """A finished merge: base moved from old to new.

    commits: the agent commits brought in, oldest first (for "rebase", the replayed ones);
    empty with old == new when there was nothing to merge.
    """

    strategy: str
    base: str
    old: str
    new: str
    commits: tuple[str, ...]
    notes: tuple[str, ...] = ()     # what the user should know: a submodule checkout left as it was

    @property
    def changed(self) -> bool:
        return self.old != self.new


@dataclass(frozen=True)
class Recovery:
    """What recover() did with an interrupted merge.

    outcome: 'finished', 'rolled-back', 'abandoned' (base was moved by someone else since; nothing
    touched), 'blocked' (a checkout is locked by another git command; the journal is kept) or
    'unreadable' (the journal was garbage: moved aside, nothing touched; notes say where).
    """

    outcome: str
    base: str
    old: str
    new: str
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        """What happened, on one line for a person."""
        if self.outcome == "unreadable":
            return "; ".join(self.notes)
        done = {"finished": "finished", "rolled-back": "rolled back", "abandoned": "left as it was",
                "blocked": "not settled yet"}.get(self.outcome, self.outcome)
        text = f"an interrupted merge into {self.base} was {done} ({self.old[:10]} -> {self.new[:10]})"
        return text + (": " + "; ".join(self.notes) if self.notes else "")


def _crash_point(step: str) -> None:
    """Test hook: die like `kill -9` at this step when PANEBOARD_MERGE_CRASH_AT names it."""
    if os.environ.get(CRASH_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def merge(repo_root: Path, branch: str, base: str, strategy: str = "merge",
          message: str | None = None) -> MergeResult:
    """Merge branch into base with strategy "merge", "squash" or "rebase"; all or nothing, refusing when unsafe."""
    _check_request(branch, base, strategy)
    info = find_repo(Path(repo_root))
    root = info.root
    with _merge_lock(info):
        recovery = _recover_locked(info)
        if recovery is not None and recovery.outcome == "blocked":
            raise UnsafeOperation(f"merge refused: an interrupted merge is not settled yet ({recovery.notes[-1]})")
        plan = _plan(info, branch, base, strategy, message)
        ref, old, new, commits, checkouts = plan.ref, plan.old, plan.new, plan.commits, plan.checkouts
        if new == old:
            return MergeResult(strategy, base, old, old, ())
        _crash_point("computed")

        journal = {"version": _JOURNAL_VERSION, "pid": os.getpid(), "time": time.time(), "strategy": strategy,
                   "branch": branch, "base": base, "ref": ref, "old": old, "new": new,
                   "checkouts": [str(c) for c in checkouts], "updating": None}
        _write_journal(info, journal)
        _crash_point("journaled")
        moved = _git(root, "update-ref", "-m", f"paneboard: {strategy} {branch}", ref, new, old, check=False)
        if moved.returncode != 0:
            _remove_journal(info)
            raise UnsafeOperation(f"merge refused: {base} moved while merging; nothing was changed, merge again")
        _crash_point("ref-updated")

        done: list[Path] = []
        for checkout in checkouts:
            journal["updating"] = str(checkout)
            _write_journal(info, journal)
            try:
                _update_checkout(checkout, old, new)
            except GitError as exc:
                _undo(info, ref, old, new, done)
                raise UnsafeOperation(f"merge refused: updating {checkout} failed ({exc}); "
                                      f"{base} and its checkouts were put back as they were") from None
            done.append(checkout)
        _crash_point("checkout-updated")
        _remove_journal(info)
        return MergeResult(strategy, base, old, new, tuple(commits), _update_submodules(info, checkouts, old, new, branch))


def _update_submodules(info: RepoInfo, checkouts: list[Path], old: str, new: str, branch: str) -> tuple[str, ...]:
    """After a merge, bring each checkout's initialised submodules that the merge moved to their merged commit,
    when they were clean at the old one; notes for those left as they were (git status stays clean otherwise)."""
    raw = _split_z(_git(info.root, "diff-tree", "-r", "-z", "--no-renames", old, new).stdout)
    moved = [(path, meta.split()[2], meta.split()[3]) for meta, path in zip(raw[0::2], raw[1::2])
             if meta.split()[0] == ":160000" and meta.split()[1] == "160000"]
    # The agent's worktree holds the submodule commits it made, which may be nowhere else yet.
    sources = [p for p, b in list_worktrees(info).items() if b == branch]
    notes = []
    for checkout in checkouts:
        for path, was, now in moved:
            note = _update_submodule(checkout, path, was, now, sources)
            if note:
                notes.append(note)
    return tuple(notes)


def _update_submodule(checkout: Path, path: str, was: str, now: str, sources: list[Path]) -> str | None:
    sub = checkout / path
    if not (sub / ".git").exists() or _rev(sub, "HEAD") == now:
        return None     # not initialised (git status shows nothing), or already there
    todo = f"then run `git submodule update -- {path}` in {checkout}"
    dirty = _git(sub, "status", "--porcelain", "--untracked-files=no", env=_NO_LOCKS).stdout
    if _rev(sub, "HEAD") != was or dirty:
        return f"submodule {path} in {checkout} was left as it was (it has local changes or another commit); {todo}"
    for source in [s / path for s in sources if (s / path / ".git").exists()] + ["origin"]:
        if _rev(sub, now) is not None:
            break
        _git(sub, "fetch", "--quiet", "--no-tags", str(source), now, check=False)
    proc = _git(sub, "checkout", "--quiet", "--detach", now, check=False) if _rev(sub, now) else None
    if proc is None or proc.returncode != 0:
        why = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] if proc else [f"{now[:10]} is not there"]
        return f"submodule {path} in {checkout} stays at {was[:10]} ({'; '.join(why)}); fetch {now[:10]} there, {todo}"
    return None


def _check_request(branch: str, base: str, strategy: str) -> None:
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown merge strategy {strategy!r} (one of {', '.join(STRATEGIES)})")
    if branch == base:
        raise UnsafeOperation(f"merge refused: {branch!r} cannot be merged into itself")


@dataclass(frozen=True)
class _Plan:
    """A merge with every precondition checked: base moves from old to new, its checkouts follow."""

    ref: str
    old: str
    new: str
    commits: tuple[str, ...]
    checkouts: tuple[Path, ...]


def _plan(info: RepoInfo, branch: str, base: str, strategy: str, message: str | None,
          tip: str | None = None) -> _Plan:
    """Check every precondition of merging tip (default: the branch's tip) into base and build the result commit.

    Nothing a user sees changes here (only unreferenced objects are written), so a refusal leaves
    refs, indexes and files exactly as they were.
    """
    root = info.root
    ref = f"refs/heads/{base}"
    old = _rev(root, ref)
    if old is None:
        raise BaseBranchMissing(base)
    tip = tip or _rev(root, f"refs/heads/{branch}")
    if tip is None:
        raise GitError(f"merge refused: the branch {branch} no longer exists; nothing was changed")
    checkouts = tuple(_checkouts_of(info, base))
    for checkout in checkouts:
        _refuse_if_busy(checkout, base)
    prediction = predict(root, old, tip)
    if not prediction.clean:
        raise UnsafeOperation(f"merge refused: {branch} conflicts with {base} in {_names(prediction.conflicts)}; "
                              "nothing was changed (resolve in the agent's worktree, then merge again)")
    new, commits = _result_commit(root, strategy, branch, base, old, tip, prediction, message)
    if new != old:
        for checkout in checkouts:
            _refuse_if_overwrites(checkout, base, old, new)
    return _Plan(ref, old, new, tuple(commits), checkouts)


def preflight(repo_root: Path, branch: str, base: str, strategy: str, tip: str) -> None:
    """Refuse exactly as merge() would if branch pointed at tip (an agent's work not committed yet); change nothing."""
    _check_request(branch, base, strategy)
    info = find_repo(Path(repo_root))
    if journal_path(info).exists():
        raise UnsafeOperation("merge refused: an interrupted merge is not settled yet; nothing was changed "
                              "(run `paneboard ls` to settle it, then merge again)")
    _plan(info, branch, base, strategy, None, tip)


def _names(paths: tuple[str, ...], limit: int = 5) -> str:
    shown = ", ".join(paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def _checkouts_of(info: RepoInfo, base: str) -> list[Path]:
    return [path for path, branch in list_worktrees(info).items() if branch == base and path.is_dir()]


def _git_path(checkout: Path, name: str) -> Path:
    return Path(_out(checkout, "rev-parse", "--path-format=absolute", "--git-path", name))


def _refuse_if_busy(checkout: Path, base: str) -> None:
    """Refuse when a checkout of base has tracked changes, an operation in progress or a held index lock."""
    for name in _IN_PROGRESS:
        if _git_path(checkout, name).exists():
            raise UnsafeOperation(f"merge refused: {checkout} has a git operation in progress ({name}); "
                                  "finish or abort it first")
    if _git_path(checkout, "index.lock").exists():
        raise UnsafeOperation(f"merge refused: {checkout} is locked by another git command (index.lock); try again")
    status = _split_z(_git(checkout, "status", "--porcelain=v1", "-z", "--untracked-files=no", "--no-renames",
                           "--ignore-submodules=dirty", env=_NO_LOCKS).stdout)
    if status:
        raise UnsafeOperation(f"merge refused: {checkout} (on {base}) has uncommitted changes "
                              f"({len(status)} files, e.g. {status[0][3:]}); commit or stash them, then merge again")


def _refuse_if_overwrites(checkout: Path, base: str, old: str, new: str) -> None:
    """Refuse when bringing the checkout from old to new would overwrite untracked or ignored files."""
    # git itself overwrites *ignored* files on a merge; a user's `.env` or notes.log is work too.
    added = [path for status, path in _changed_paths(checkout, old, new) if status == "A"]
    present = {p for p in added if os.path.lexists(checkout / p)}
    for path in added:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if os.path.lexists(checkout / prefix) and not (checkout / prefix).is_dir():
                present.add(prefix)
    if present:
        names = sorted(present)
        untracked: list[str] = []
        for start in range(0, len(names), 500):
            untracked += _split_z(_git(checkout, "--literal-pathspecs", "ls-files", "-z", "--others", "--",
                                       *names[start:start + 500]).stdout)
        if untracked:
            raise UnsafeOperation(f"merge refused: in {checkout} (on {base}) the merge would overwrite untracked or "
                                  f"ignored {_names(tuple(sorted(set(untracked))), 3)}; move it away, then merge again")
    # The dry run locks its index: give it a copy (mtime kept for git's racy-clean check), so a
    # kill here cannot leave an index.lock in the user's checkout before any journal exists.
    tmpdir = tempfile.mkdtemp(prefix="paneboard-merge-")
    try:
        copy = os.path.join(tmpdir, "index")
        shutil.copy2(_git_path(checkout, "index"), copy)
        proc = _git(checkout, "read-tree", "-n", "-m", "-u", old, new, env={"GIT_INDEX_FILE": copy}, check=False)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    if proc.returncode != 0:
        lines = [ln.removeprefix("error: ") for ln in proc.stderr.decode("utf-8", "replace").splitlines()
                 if ln.strip()]
        raise UnsafeOperation(f"merge refused: in {checkout} (on {base}): {lines[0] if lines else 'update would fail'}; "
                              "move those files away, then merge again")


def _result_commit(root: Path, strategy: str, branch: str, base: str, old: str, tip: str,
                   prediction: Prediction, message: str | None) -> tuple[str, list[str]]:
    """The commit base should point to after the merge, and the agent commits it brings in."""
    commits = _out(root, "rev-list", "--reverse", "--topo-order", f"{old}..{tip}").split()
    if not commits:
        return old, []
    ident = identity_args(root)
    if strategy == "merge":
        text = message or f"Merge branch '{branch}' into {base}\n"
        new = _out(root, *ident, "commit-tree", prediction.tree, "-p", old, "-p", tip, "-F", "-",
                   input=text.encode("utf-8"))
        return new, commits
    if strategy == "squash":
        if prediction.tree == _tree(root, old):
            return old, []
        subjects = _out(root, "log", "--reverse", "--format=* %s", f"{old}..{tip}")
        text = message or f"Squash branch '{branch}' into {base}\n\n{subjects}\n"
        new = _out(root, *ident, "commit-tree", prediction.tree, "-p", old, "-F", "-", input=text.encode("utf-8"))
        return new, commits
    return _replay(root, branch, base, old, tip)


def _replay(root: Path, branch: str, base: str, old: str, tip: str) -> tuple[str, list[str]]:
    """Rebase: replay the non-merge commits of old..tip onto old, from objects only; fast-forward when possible."""
    merges = _out(root, "rev-list", "--count", "--merges", f"{old}..{tip}")
    picks = _out(root, "rev-list", "--reverse", "--topo-order", "--no-merges", f"{old}..{tip}").split()
    if _is_ancestor(root, old, tip) and merges == "0":
        return tip, picks
    ident = identity_args(root)
    current, current_tree = old, _tree(root, old)
    replayed: list[str] = []
    for commit in picks:
        parents = _out(root, "rev-list", "--parents", "-n", "1", commit).split()[1:]
        if not parents:
            raise UnsafeOperation(f"merge refused: {branch} has a root commit {commit[:10]}; use strategy 'merge'")
        # A throw-away commit with current's tree and the picked commit's parent: merge-tree then
        # takes that parent as merge base, which is a cherry-pick of `commit` onto `current`.
        helper = _out(root, "commit-tree", current_tree, "-p", parents[0], "-m", "paneboard replay",
                      env=_TOOL_IDENTITY)
        step = predict(root, helper, commit)
        if not step.clean:
            subject = _out(root, "log", "-1", "--format=%s", commit)
            raise UnsafeOperation(f"merge refused: replaying {commit[:10]} ({subject}) onto {base} conflicts in "
                                  f"{_names(step.conflicts)}; nothing was changed (try strategy 'merge')")
        if step.tree == current_tree:
            continue  # already in base, as `git rebase` drops it
        author = _out(root, "log", "-1", "--format=%an%x00%ae%x00%ad", "--date=raw", commit).split("\0")
        raw = _git(root, "cat-file", "commit", commit).stdout
        text = raw.split(b"\n\n", 1)[1] if b"\n\n" in raw else b""
        current = _out(root, *ident, "commit-tree", step.tree, "-p", current, "-F", "-", input=text,
                       env={"GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1], "GIT_AUTHOR_DATE": author[2]})
        current_tree = step.tree
        replayed.append(current)
    return current, replayed


def _changed_paths(cwd: Path, old: str, new: str) -> list[tuple[str, str]]:
    """(status letter, path) for every path that differs between two commits, without rename pairing."""
    fields = _split_z(_git(cwd, "diff-tree", "-r", "-z", "--no-renames", "--name-status", old, new).stdout)
    return list(zip(fields[0::2], fields[1::2]))


def _update_checkout(checkout: Path, old: str, new: str) -> None:
    """Bring a clean checkout from old to new (files and index); git checks everything before it writes."""
    if os.environ.get(CRASH_ENV) == "checkout-partial":
        _simulate_torn_update(checkout, old, new)
    _git(checkout, "read-tree", "-m", "-u", old, new)


def _simulate_torn_update(checkout: Path, old: str, new: str) -> None:
    """Test hook: leave what a `read-tree -u` killed half-way leaves (half the files written, index old, index.lock), then die."""
    changes = _changed_paths(checkout, old, new)
    for status, path in changes[: max(1, len(changes) // 2)]:
        target = checkout / path
        if status == "D":
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(_git(checkout, "cat-file", "blob", f"{new}:{path}").stdout)
    _git_path(checkout, "index.lock").write_bytes(b"")
    _crash_point("checkout-partial")


def _undo(info: RepoInfo, ref: str, old: str, new: str, done: list[Path]) -> None:
    """Put updated checkouts and then the base ref back (checkout first: a crash in between is then finished by recover)."""
    for checkout in reversed(done):
        _git(checkout, "read-tree", "-m", "-u", new, old)
    _git(info.root, "update-ref", "-m", "paneboard: merge undone", ref, old, new)
    _remove_journal(info)


# ---------------------------------------------------------------- journal, lock, recovery

def journal_path(info: RepoInfo) -> Path:
    return info.state_dir / JOURNAL_NAME


def _write_journal(info: RepoInfo, data: dict) -> None:
    info.state_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=info.state_dir, prefix=".merge-journal-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, ensure_ascii=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, journal_path(info))
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(info.state_dir)


def _remove_journal(info: RepoInfo) -> None:
    with contextlib.suppress(FileNotFoundError):
        journal_path(info).unlink()
    _fsync_dir(info.state_dir)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _merge_lock(info: RepoInfo, timeout: float = 30.0) -> Iterator[None]:
    """One merge or recovery at a time per repository, across processes (the kernel drops it if we die)."""
    info.state_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    with open(info.state_dir / _LOCK_NAME, "a+") as lock:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise UnsafeOperation("another paneboard merge is running in this repository; try again") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def pending(repo_root: Path) -> dict | None:
    """The journal of an interrupted merge, if there is one that can be read."""
    journal, _ = _read_journal(journal_path(find_repo(Path(repo_root))))
    return journal


_SHA_LENGTHS = (40, 64)


def _journal_problem(journal) -> str | None:
    """Why journal is not one this paneboard wrote (None when it is)."""
    if not isinstance(journal, dict):
        return f"it holds a JSON {type(journal).__name__}, not an object"
    if journal.get("version") != _JOURNAL_VERSION:
        return f"version {journal.get('version')!r}, not {_JOURNAL_VERSION}"
    for key in ("branch", "base", "ref", "old", "new"):
        if not isinstance(journal.get(key), str) or not journal[key]:
            return f"it has no {key}"
    for key in ("old", "new"):
        if len(journal[key]) not in _SHA_LENGTHS or any(c not in "0123456789abcdef" for c in journal[key]):
            return f"its {key} is not a commit id"
    if journal["ref"] != f"refs/heads/{journal['base']}":
        return "its ref and base disagree"
    checkouts = journal.get("checkouts", [])
    if not isinstance(checkouts, list) or not all(isinstance(c, str) for c in checkouts):
        return "its checkouts are not a list of paths"
    if not isinstance(journal.get("updating"), (str, type(None))):
        return "its updating field is not a path"
    return None


def _read_journal(path: Path) -> tuple[dict | None, str]:
    """The journal at path, or None and why it cannot be read ("" when there is none)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, ""
    except OSError as exc:
        return None, exc.strerror or type(exc).__name__
    try:
        journal = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "it is not text"
    except json.JSONDecodeError:
        return None, "it is empty" if not raw.strip() else "it is not JSON"
    why = _journal_problem(journal)
    return (None, why) if why else (journal, "")


def _move_journal_aside(info: RepoInfo, why: str) -> Recovery:
    """An unreadable journal is not ours to act on: keep it for a human, touch nothing else."""
    path = journal_path(info)
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        os.rename(path, aside)
    except OSError as exc:
        raise UnsafeOperation(f"{path} cannot be read ({why}) nor moved aside ({exc.strerror}); "
                              "move it away by hand, then run paneboard again") from None
    _fsync_dir(info.state_dir)
    return Recovery("unreadable", "", "", "", (
        f"the merge journal {path} could not be read ({why}); it was moved aside to {aside.name} and nothing "
        f"was touched (if a merge was interrupted, `git status` in {info.root} shows what it left)",))


def recover(repo_root: Path) -> Recovery | None:
    """Finish or roll back a merge a crash interrupted, so refs, indexes and files agree; None if there was none."""
    info = find_repo(Path(repo_root))
    with _merge_lock(info):
        return _recover_locked(info)


def _recover_locked(info: RepoInfo) -> Recovery | None:
    path = journal_path(info)
    journal, why = _read_journal(path)
    if journal is None:
        # Written by rename, so a torn or foreign journal is not ours to act on.
        return _move_journal_aside(info, why) if why else None
    ref, old, new, base = journal["ref"], journal["old"], journal["new"], journal["base"]
    now = _rev(info.root, ref)
    notes: list[str] = []
    if now == new:
        outcome, target = "finished", new
    elif now == old:
        outcome, target = "rolled-back", old
    else:
        outcome, target = "abandoned", None
        moved = f"was moved to {now[:10]}" if now else "was deleted"
        notes.append(f"{base} {moved} after the interrupted merge; nothing was touched")
    blocked = False
    if target is not None:
        for checkout in map(Path, journal.get("checkouts", [])):
            try:
                note = _settle_checkout(checkout, ref, old, new, target, journal)
            except _Blocked as exc:
                blocked, note = True, str(exc)
            if note:
                notes.append(note)
    if blocked:
        # Keep the journal: the next recover() (or merge()) tries again once the checkout is free.
        return Recovery("blocked", base, old, new, tuple(notes))
    path.unlink()
    _fsync_dir(info.state_dir)
    return Recovery(outcome, base, old, new, tuple(notes))


class _Blocked(Exception):
    """A checkout cannot be settled yet (another process holds its index lock)."""


def _held_open(path: Path) -> bool | None:
    """Whether any process has path open (Linux /proc), or None when that cannot be known."""
    proc = Path("/proc")
    if not (proc / "self" / "fd").is_dir():
        return None
    target = str(path)
    for fd_dir in proc.glob("[0-9]*/fd"):
        try:
            for fd in fd_dir.iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == target:
                        return True
        except OSError:
            continue
    return False


def _settle_checkout(checkout: Path, ref: str, old: str, new: str, target: str, journal: dict) -> str | None:
    """Make a checkout of base agree with target (old or new): index, and files of the paths the merge changes."""
    if not checkout.is_dir():
        return f"{checkout} no longer exists"
    head = _git(checkout, "symbolic-ref", "--quiet", "HEAD", check=False).stdout.decode().strip()
    if head != ref:
        return f"{checkout} is no longer on {ref.removeprefix('refs/heads/')}; left alone"
    lock = _git_path(checkout, "index.lock")
    if lock.exists():
        # A killed read-tree leaves its lock behind; a live git command (or an orphaned read-tree
        # child of the dead merge, still finishing) holds it open and drops it soon.
        started = time.monotonic()
        while lock.exists():
            held, waited = _held_open(lock), time.monotonic() - started
            if held is False or (held is None and waited > 1.5) or waited > LOCK_WAIT:
                break
            time.sleep(0.05)
        if lock.exists():
            if journal.get("updating") != str(checkout) or _held_open(lock):
                raise _Blocked(f"{checkout} is locked by another git command (index.lock); run recover again")
            lock.unlink()
    other = old if target == new else new
    index_at_target = _git(checkout, "diff-index", "--cached", "--quiet", target, "--", check=False).returncode == 0
    changes = _changed_paths(checkout, old, new)
    in_target = set(_split_z(_git(checkout, "ls-tree", "-r", "-z", "--name-only", target).stdout)) if changes else set()
    if not index_at_target and _git(checkout, "read-tree", "-m", "-u", other, target, check=False).returncode == 0:
        # Nothing was half-written: git's own checked update did it (it refuses to clobber local edits).
        return f"{checkout} brought to {target[:10]}"
    if not index_at_target:
        # A torn update: the index is written last, so it still says `other`; keep its stat data where entries agree.
        if _git(checkout, "read-tree", "-m", other, target, check=False).returncode != 0:
            _git(checkout, "read-tree", "--reset", target)
    tracked_diff = set(_split_z(_git(checkout, "diff", "--name-only", "-z", "--no-renames", target).stdout))
    stale = [p for _, p in changes if p in tracked_diff and p in in_target]
    leftovers = [p for _, p in changes if p not in in_target and os.path.lexists(checkout / p)]
    for path in leftovers:
        _remove_file(checkout, path)
    if stale:
        _git(checkout, "checkout-index", "-f", "-z", "--stdin",
             input=b"".join(p.encode("utf-8", "surrogateescape") + b"\0" for p in stale))
    _git(checkout, "update-index", "-q", "--refresh", check=False)
    if index_at_target and not stale and not leftovers:
        return None
    return f"{checkout} brought to {target[:10]} ({len(stale) + len(leftovers)} files rewritten)"


def _remove_file(checkout: Path, path: str) -> None:
    target = checkout / path
    if target.is_dir() and not target.is_symlink():
        return  # a directory where the merge removed a file: it holds other, tracked paths
    target.unlink()
    parent = target.parent
    while parent != checkout:
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent
