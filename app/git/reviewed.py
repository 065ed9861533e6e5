"""What the reviewer last saw of each agent: `refs/paneboard/reviewed/<slug>`.

Plain Python (no Textual); git runs as argv. The ref points to a commit whose tree is the
worktree's full state when it was reviewed (committed, staged, unstaged and untracked: a
snapshot, see `diff.snapshot_tree`) and whose parent is the worktree's HEAD then, so the
agent's commits of that moment stay reachable. Nothing in the worktree or its index is touched.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from ..errors import GitError
from ..names import slugify
from . import diff
from .worktrees import BRANCH_PREFIX

PREFIX = "refs/paneboard/reviewed/"

_IDENTITY = {"GIT_AUTHOR_NAME": "paneboard", "GIT_AUTHOR_EMAIL": "paneboard@localhost",
             "GIT_COMMITTER_NAME": "paneboard", "GIT_COMMITTER_EMAIL": "paneboard@localhost"}


def ref_of(name: str, branch: str) -> str:
    """The agent's reviewed ref: named after its branch's slug (like its archive), else its name's."""
    slug = branch[len(BRANCH_PREFIX):] if branch.startswith(BRANCH_PREFIX) and len(branch) > len(BRANCH_PREFIX) \
        else slugify(name)
    return PREFIX + slug


def reviewed_commit(repo: Path, ref: str) -> str | None:
    """The commit the ref points to, None when this agent was never reviewed."""
    proc = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=repo,
                          capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None


def reviewed_refs(repo: Path) -> set[str]:
    """Every agent's reviewed ref that exists (one git call for the whole fleet)."""
    proc = subprocess.run(["git", "for-each-ref", "--format=%(refname)", PREFIX], cwd=repo,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise GitError(f"could not list the reviewed refs: {proc.stderr.strip()}")
    return set(proc.stdout.split())


def reviewed_tree(repo: Path, ref: str) -> str | None:
    """The tree the reviewer saw last, None when never reviewed."""
    commit = reviewed_commit(repo, ref)
    return None if commit is None else diff._git_text(Path(repo), "rev-parse", f"{commit}^{{tree}}")


def mark(worktree: Path, ref: str, tree: str | None = None, what: str = "") -> str:
    """Record `tree` (default: the worktree's state now) as what the reviewer saw; returns the commit."""
    worktree = Path(worktree)
    tree = tree or diff.snapshot_tree(worktree)
    parents = ["-p", "HEAD"] if diff._head_tree(worktree) is not None else []
    commit = diff._git_text(worktree, "commit-tree", tree, *parents, "-m", f"paneboard: reviewed {what}".strip(),
                            env=_IDENTITY)
    proc = subprocess.run(["git", "update-ref", "-m", "paneboard: reviewed", ref, commit], cwd=worktree,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise GitError(f"could not record the review in {ref}: {proc.stderr.strip()}")
    return commit


def has_new_work(worktree: Path, ref: str) -> bool:
    """True when the agent was reviewed before and its worktree differs from what was seen then."""
    seen = reviewed_tree(worktree, ref)
    return seen is not None and diff.snapshot_tree(Path(worktree)) != seen
