"""A remote agent's work archived on its host in app/git/archive.py's shape, and brought back from there.

The archive commit W is made by git on the host: its tree is the worktree's full state (committed,
staged, unstaged, untracked, read through a temporary index), its parents the worktree's HEAD H
and a commit I of the index as it was (read from a copy of the index: the agent's own is never
written). It goes to `refs/paneboard/archive/<slug>` in the host's clone (an earlier one to
`refs/paneboard/archive-history/`), and the caller fetches it into the local repository's archive
before anything is removed. Ignored files that are not disposable, and submodules, are not
archived from a host: discard refuses such a worktree, changing nothing.
"""

from __future__ import annotations

import time

from ..errors import GitError, UnsafeOperation
from ..git.keep import is_disposable
from .git import IDENTITY, _git
from .remote import Remote, last_line, script

ARCHIVE_PREFIX = "refs/paneboard/archive/"
HISTORY_PREFIX = "refs/paneboard/archive-history/"


def refuse_what_cannot_be_kept(remote: Remote, worktree: str, disposable: tuple[str, ...]) -> None:
    """Refuse (one line, nothing changed) a worktree holding ignored files to keep or submodules."""
    out = _git(remote, worktree, "--no-optional-locks", "status", "--porcelain=v1", "-z", "--ignored=matching",
               "--untracked-files=all")
    kept = [e[3:] for e in out.split("\0") if e.startswith("!! ") and not is_disposable(e[3:], disposable)]
    if kept:
        raise UnsafeOperation(f"discard refused: the worktree on host {remote.name!r} holds ignored files that are "
                              f"not disposable ({', '.join(kept[:3])}), which are not archived from a host; "
                              f"nothing was changed (move them, or add them to `disposable:`)")
    if _git(remote, worktree, "submodule", "status", check=False).strip():
        raise UnsafeOperation(f"discard refused: the worktree on host {remote.name!r} has submodules, which are "
                              f"not archived from a host; nothing was changed")


def archive(remote: Remote, repo: str, worktree: str, name: str, branch: str, base: str, slug: str) -> str:
    """Make the archive commit of the worktree on the host and point its archive ref at it; the commit."""
    git_dir = _git(remote, worktree, "rev-parse", "--absolute-git-dir").strip()
    snap, copy = f"{git_dir}/paneboard-archive.index", f"{git_dir}/paneboard-archive-copy.index"
    try:
        res = remote.run_line(script([
            ["env", f"GIT_INDEX_FILE={snap}", "git", "-C", worktree, "read-tree", "HEAD"],
            ["env", f"GIT_INDEX_FILE={snap}", "git", "-C", worktree, "add", "-A"],
            ["env", f"GIT_INDEX_FILE={snap}", "git", "-C", worktree, "write-tree"],
            ["cp", "--", f"{git_dir}/index", copy],
            ["env", f"GIT_INDEX_FILE={copy}", "git", "-C", worktree, "write-tree"]]), check=False, what="git")
        if res.returncode != 0:
            raise GitError(f"cannot read the work in {worktree} on host {remote.name!r}: {last_line(res.stderr)}")
        snapshot, index = res.stdout.split()[-2:]
    finally:
        remote.run(["rm", "-f", "--", snap, copy], check=False)
    head = _git(remote, worktree, "rev-parse", "HEAD").strip()
    index_commit = _git(remote, worktree, *IDENTITY, "commit-tree", index, "-p", head, "-m",
                        f"index on {branch}").strip()
    now = time.time()
    text = (f"paneboard archive: {' '.join(name.split())}\n\nPaneboard-Name: {' '.join(name.split())}\n"
            f"Paneboard-Branch: {branch}\nPaneboard-Worktree: {worktree}\nPaneboard-Base: {base}\n"
            f"Paneboard-Host: {remote.name}\nPaneboard-Time: {now:.6f}\n")
    res = remote.run(["git", "-C", worktree, *IDENTITY, "commit-tree", snapshot, "-p", head, "-p", index_commit,
                      "-F", "-"], stdin=text)
    commit = res.stdout.strip()
    ref = ARCHIVE_PREFIX + slug
    previous = _git(remote, repo, "rev-parse", "--verify", "--quiet", ref, check=False).strip()
    if previous:
        _git(remote, repo, "update-ref", f"{HISTORY_PREFIX}{slug}-{int(now * 1e6)}", previous)
    _git(remote, repo, "update-ref", ref, commit)
    return commit


def remove(remote: Remote, repo: str, worktree: str, branch: str) -> None:
    """Remove the archived worktree and its branch on the host."""
    _git(remote, repo, "worktree", "remove", "--force", worktree)
    _git(remote, repo, "branch", "-D", branch)


def restore(remote: Remote, repo: str, worktree: str, branch: str, commit: str) -> None:
    """Recreate branch and worktree on the host from an archive commit there: files and index as they were."""
    if remote.run(["test", "-e", worktree], check=False).returncode == 0:
        raise UnsafeOperation(f"restore refused: {worktree} already exists on host {remote.name!r} "
                              f"(move it away first)")
    if _git(remote, repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False).strip():
        raise UnsafeOperation(f"restore refused: branch {branch} already exists on host {remote.name!r}")
    parents = _git(remote, repo, "rev-list", "--parents", "-n", "1", commit).split()[1:]
    head, index = parents[0], parents[1] if len(parents) > 1 else commit
    _git(remote, repo, "worktree", "add", "--quiet", "-b", branch, worktree, head)
    res = remote.run_line(script([["git", "-C", worktree, "read-tree", "-m", "-u", "HEAD", f"{commit}^{{tree}}"],
                                  ["git", "-C", worktree, "read-tree", "--reset", f"{index}^{{tree}}"]]),
                          check=False, what="git")
    if res.returncode != 0:
        remote.run(["git", "-C", repo, "worktree", "remove", "--force", worktree], check=False)
        remote.run(["git", "-C", repo, "branch", "-D", branch], check=False)
        raise GitError(f"restore on host {remote.name!r} failed: {last_line(res.stderr)}; nothing was left there")
    remote.run(["git", "-C", worktree, "update-index", "-q", "--refresh"], check=False)
