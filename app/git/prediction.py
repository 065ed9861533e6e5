"""Incremental fleet prediction: `merge.predict_fleet`'s answers, computed only where they can change.

Only two changes that touch a common path (or a file and a directory above it) can conflict,
so a pair whose changed paths are disjoint is clean without a `git merge-tree`, and an agent is
merged with the base only when the base moved in its paths since it forked. Every answer git
gives is cached by what it depends on: the base commit and each side's tree.

An agent's tree is the tree of its work including uncommitted changes. It is written only when
a prediction needs it, through a temporary copy of the agent's index (`add -A`, `write-tree`:
the real index and the working tree are never touched), and only once per change the monitor
saw (`Work.generation`): a file touched but unchanged writes the same tree, so the cached
predictions still hold and no `merge-tree` runs again.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BaseBranchMissing, GitError
from .merge import Prediction, _split_z, _with_parents
from .procs import GitRun, Stopped, plain_run

_READ = {"GIT_OPTIONAL_LOCKS": "0"}
_TOOL_IDENTITY = {
    "GIT_AUTHOR_NAME": "paneboard", "GIT_AUTHOR_EMAIL": "paneboard@localhost",
    "GIT_COMMITTER_NAME": "paneboard", "GIT_COMMITTER_EMAIL": "paneboard@localhost",
    "GIT_AUTHOR_DATE": "1700000000 +0000", "GIT_COMMITTER_DATE": "1700000000 +0000",
}


@dataclass(frozen=True)
class Work:
    """What the monitor knows of one agent's work after its last stats refresh."""

    worktree: Path
    files: frozenset[str]
    head: str
    dirty: bool = True
    generation: int = 0       # bumped by every stats refresh: the tree may have changed


@dataclass
class _Side:
    """An agent's work as merge-tree sees it: its candidate commit and that commit's tree."""

    generation: int
    head: str
    tree: str
    commit: str


@dataclass
class Round:
    """One prediction round's answers and how much git it took."""

    vs_base: dict[str, tuple[str, ...]] = field(default_factory=dict)
    pairs: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    merge_trees: int = 0
    failed: dict[str, str] = field(default_factory=dict)      # agent -> why its work could not be read


class FleetPredictor:
    """Keeps every agent's predicted merge into the base, and every pair's, current at the least git cost."""

    def __init__(self, repo_root: Path, run: GitRun | None = None):
        self.root = Path(repo_root)
        self.run = run or plain_run
        self._sides: dict[str, _Side] = {}
        self._moved: dict[tuple[str, str], frozenset[str]] = {}      # (base, head) -> paths the base changed
        self._merged: dict[tuple[str, str], Prediction] = {}         # (ours, theirs commit-or-tree key) -> result
        self._head_trees: dict[str, str] = {}                       # commit -> its tree (never changes)
        self._ancestor: dict[tuple[str, str], bool] = {}            # (base, head) -> base is in head
        self._landed_commits: dict[tuple[str, str], str] = {}        # (base, candidate) -> commit on the base
        self.merge_trees = 0
        self.base: str | None = None                                 # the base commit the answers are for
        self.vs_base: dict[str, tuple[str, ...]] = {}
        self.pairs: dict[tuple[str, str], tuple[str, ...]] = {}
        self._reach: dict[str, tuple[frozenset[str], set[str]]] = {}  # files -> files with their directories

    # -- a round --------------------------------------------------------------------------

    def update(self, base: str, work: dict[str, Work], changed: set[str]) -> Round:
        """Predict again what `changed` agents' new work (or a moved base) can have changed; the full answers."""
        base_commit = self.base_commit(base)
        if base_commit is None:
            raise BaseBranchMissing(base)
        if base_commit != self.base:
            self.base, changed = base_commit, set(work)
        for name in [n for n in self.vs_base if n not in work]:
            self._forget(name)
        before, failed = self.merge_trees, {}
        changed = {n for n in changed if n in work}
        for name in sorted(changed):
            try:
                self.vs_base[name] = self._vs_base(name, work[name])
            except Stopped:
                raise
            except (GitError, OSError) as exc:
                failed[name] = str(exc)
                self.vs_base[name] = ()
        done: set[tuple[str, str]] = set()
        for name in sorted(changed):
            for other in work:
                key = (name, other) if name < other else (other, name)
                if other == name or key in done:
                    continue
                done.add(key)
                self.pairs[key] = self._pair(key, work, failed)
        return Round(dict(self.vs_base), dict(self.pairs), self.merge_trees - before, failed)

    def _forget(self, name: str) -> None:
        self.vs_base.pop(name, None)
        self._sides.pop(name, None)
        self._reach.pop(name, None)
        for key in [k for k in self.pairs if name in k]:
            del self.pairs[key]

    def _with_dirs(self, name: str, files: frozenset[str]) -> set[str]:
        cached = self._reach.get(name)
        if cached is None or cached[0] != files:
            cached = self._reach[name] = (files, _with_parents(files))
        return cached[1]

    def _vs_base(self, name: str, w: Work) -> tuple[str, ...]:
        """The agent against the base: clean without git unless the base moved in its paths since it forked."""
        moved = self._base_moved(self.base, w)
        if not (moved & self._with_dirs(name, w.files) or w.files & _with_parents(moved)):
            return ()
        return self._merge(self.base, self._side(name, w).commit).conflicts

    def _pair(self, key: tuple[str, str], work: dict[str, Work], failed: dict[str, str]) -> tuple[str, ...]:
        """Two agents meeting on the base: clean without git unless their changed paths meet."""
        a, b = key
        wa, wb = work[a], work[b]
        if a in failed or b in failed:
            return ()
        if not (wa.files & self._with_dirs(b, wb.files) or wb.files & self._with_dirs(a, wa.files)):
            return ()
        try:
            result = self._merge(self._landed(a, wa), self._landed(b, wb))
        except Stopped:
            raise
        except (GitError, OSError) as exc:
            failed.setdefault(a, str(exc))
            return ()
        # A file is the pair's conflict only if both agents changed it themselves.
        return tuple(f for f in result.conflicts if f in wa.files and f in wb.files)

    def _landed(self, name: str, w: Work) -> str:
        """The agent's work as it would land on the base (as it is when it cannot land cleanly)."""
        side = self._side(name, w)
        if self._contains_base(w):
            return side.commit            # the base is already in it: landing changes nothing
        p = self._merge(self.base, side.commit)
        if not p.clean or p.tree is None:
            return side.commit
        key = (self.base, side.commit)
        if key not in self._landed_commits:
            self._landed_commits[key] = self._git(
                self.root, "commit-tree", p.tree, "-p", self.base, "-p", side.commit, "-m",
                "paneboard: as it would land", env=_TOOL_IDENTITY).decode().strip()
        return self._landed_commits[key]

    # -- git, each call through the runner --------------------------------------------------

    def _git(self, cwd: Path, *args: str, env: dict[str, str] | None = None) -> bytes:
        proc = self.run(cwd, *args, env={**_READ, **(env or {})})
        if proc.returncode != 0:
            said = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise GitError(f"git {args[0]} failed in {cwd}: {said[-1] if said else f'exit {proc.returncode}'}")
        return proc.stdout

    def base_commit(self, base: str) -> str | None:
        """The base branch's commit now (None when it is gone)."""
        proc = self.run(self.root, "rev-parse", "--verify", "--quiet", f"refs/heads/{base}^{{commit}}")
        return proc.stdout.decode().strip() or None if proc.returncode == 0 else None

    def _side(self, name: str, w: Work) -> _Side:
        """The agent's candidate: HEAD when clean, else a commit of a snapshot tree (once per generation)."""
        side = self._sides.get(name)
        if side is not None and side.generation == w.generation and side.head == w.head:
            return side
        head_tree = self._head_trees.get(w.head)
        if head_tree is None:
            head_tree = self._head_trees[w.head] = self._git(w.worktree, "rev-parse", f"{w.head}^{{tree}}").decode().strip()
        tree = self._snapshot(w.worktree) if w.dirty else head_tree
        if side is not None and side.head == w.head and side.tree == tree:
            commit = side.commit
        elif tree == head_tree:
            commit = w.head
        else:
            # A fixed date: the same tree on the same HEAD is the same commit, and the cache holds.
            commit = self._git(w.worktree, "commit-tree", tree, "-p", w.head, "-m", "paneboard snapshot",
                               env=_TOOL_IDENTITY).decode().strip()
        self._sides[name] = side = _Side(w.generation, w.head, tree, commit)
        return side

    def _snapshot(self, worktree: Path) -> str:
        """The tree of everything in the worktree (a temporary copy of its index; nothing real touched)."""
        real = _index_of(worktree) or self._git(worktree, "rev-parse", "--path-format=absolute", "--git-path",
                                                 "index").decode().strip()
        tmpdir = tempfile.mkdtemp(prefix="paneboard-index-")
        try:
            env = {"GIT_INDEX_FILE": os.path.join(tmpdir, "index")}
            if os.path.exists(real):
                shutil.copy2(real, env["GIT_INDEX_FILE"])   # keeps git's stat cache (and its mtime)
            else:
                self._git(worktree, "read-tree", "HEAD", env=env)
            self._git(worktree, "add", "-A", "--", ".", env=env)
            return self._git(worktree, "write-tree", env=env).decode().strip()
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)

    def _merge(self, ours: str, theirs: str) -> Prediction:
        """`git merge-tree --write-tree` of two commits, cached by the pair (commits name their trees)."""
        key = (ours, theirs)
        hit = self._merged.get(key)
        if hit is not None:
            return hit
        self.merge_trees += 1
        proc = self.run(self.root, "merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", ours, theirs)
        fields = _split_z(proc.stdout)
        if proc.returncode not in (0, 1) or not fields:
            said = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise GitError(f"cannot predict merging {theirs} into {ours}: {said[-1] if said else proc.returncode}")
        result = Prediction(clean=proc.returncode == 0, conflicts=tuple(dict.fromkeys(fields[1:])), tree=fields[0])
        self._merged[key] = result
        return result

    def _base_moved(self, base: str, w: Work) -> frozenset[str]:
        """The paths the base changed since the agent forked (one diff per base and HEAD)."""
        key = (base, w.head)
        if key not in self._moved:
            out = self._git(w.worktree, "diff", "--name-only", "--no-renames", "-z", f"{w.head}...{base}")
            self._moved[key] = frozenset(_split_z(out))
        return self._moved[key]

    def _contains_base(self, w: Work) -> bool:
        """True when the base commit is an ancestor of the agent's HEAD (one call per base and HEAD)."""
        key = (self.base, w.head)
        if key not in self._ancestor:
            proc = self.run(w.worktree, "merge-base", "--is-ancestor", self.base, w.head)
            self._ancestor[key] = proc.returncode == 0
        return self._ancestor[key]


def _index_of(worktree: Path) -> str | None:
    """The worktree's index file, read from its `.git` file (no git process); None when it cannot tell."""
    dotgit = Path(worktree) / ".git"
    try:
        if dotgit.is_dir():
            return str(dotgit / "index")
        text = dotgit.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return None
    admin = Path(text[len("gitdir:"):].strip())
    return str(admin if admin.is_absolute() else (Path(worktree) / admin).resolve()) + "/index"
