"""A remote agent's work archived on its host in app/git/archive.py's shape, and brought back from there.

The archive commit W is made by git on the host: its tree is the worktree's full state (committed,
staged, unstaged, untracked, read through a temporary index), its parents the worktree's HEAD H,
a commit I of the index as it was (read from a copy of the index: the agent's own is never
written), the branch tip when it differs from H, and the ignored commit (app/hosts/keep.py) of
the ignored files that are not disposable. Submodules' work is archived in their own git dirs and
named in `Paneboard-Submodule:` trailers. W goes to `refs/paneboard/archive/<slug>` in the host's
clone (an earlier one to `refs/paneboard/archive-history/`), and the caller fetches it into the
local repository's archive before anything is removed. Removing (`remove`) moves the submodules'
git dirs into the keep area, then removes the worktree and branch; every step can run again.
A worktree that vanished from the host is archived from its branch.
"""

from __future__ import annotations

import time
from typing import Callable

from ..errors import GitError, UnsafeOperation
from ..git import keep as lkeep
from . import keep
from .git import IDENTITY, _git
from .remote import Remote, last_line, script

ARCHIVE_PREFIX = "refs/paneboard/archive/"
HISTORY_PREFIX = "refs/paneboard/archive-history/"


def keep_dir(remote: Remote, repo: str, slug: str) -> str:
    """A fresh folder of the host clone's keep area for this discard's submodule git dirs."""
    common = _git(remote, repo, "rev-parse", "--path-format=absolute", "--git-common-dir").strip()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime()) + f"-{int(time.time() * 1e6) % 1_000_000:06d}"
    return f"{common}/{keep.KEEP_AREA}/{slug}-{stamp}"


def archive(remote: Remote, repo: str, worktree: str, name: str, branch: str, base: str, slug: str,
            holdings: keep.OnHost | None, modules: str | None = None) -> str:
    """Make the archive commit of the worktree (or of its branch, when the worktree is gone) on the host, with
    its ignored files and submodules' work, and point its archive ref at it; the commit."""
    tip = _git(remote, repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False).strip()
    if holdings is not None:
        snapshot, index = keep.read_work(remote, worktree, holdings.gitdir)
        head = _git(remote, worktree, "rev-parse", "HEAD").strip()
        ignored = keep.ignored_commit(remote, worktree, holdings.gitdir, [p for p, _ in holdings.ignored])
        subs = [keep.archive_submodule(remote, sub, f"{modules}/{i}") for i, sub in enumerate(holdings.submodules)]
    elif tip:
        head, ignored, subs = tip, None, []
        snapshot = index = _git(remote, repo, "rev-parse", f"{tip}^{{tree}}").strip()
    else:
        raise GitError(f"nothing to archive on host {remote.name!r}: no worktree at {worktree} and no branch {branch}")
    index_commit = _git(remote, repo, *IDENTITY, "commit-tree", index, "-p", head, "-m", f"index on {branch}").strip()
    now = time.time()
    text = (f"paneboard archive: {' '.join(name.split())}\n\nPaneboard-Name: {' '.join(name.split())}\n"
            f"Paneboard-Branch: {branch}\nPaneboard-Worktree: {' '.join(worktree.split())}\nPaneboard-Base: {base}\n"
            f"Paneboard-Host: {remote.name}\nPaneboard-Time: {now:.6f}\n" + lkeep.trailer_lines(ignored, subs))
    parents = ["-p", head, "-p", index_commit] + (["-p", tip] if tip and tip != head else []) \
        + (["-p", ignored] if ignored else [])
    res = remote.run(["git", "-C", repo, *IDENTITY, "commit-tree", snapshot, *parents, "-F", "-"], stdin=text)
    commit = res.stdout.strip()
    ref = ARCHIVE_PREFIX + slug
    previous = _git(remote, repo, "rev-parse", "--verify", "--quiet", ref, check=False).strip()
    if previous:
        _git(remote, repo, "update-ref", f"{HISTORY_PREFIX}{slug}-{int(now * 1e6)}", previous)
    _git(remote, repo, "update-ref", ref, commit)
    return commit


def remove(remote: Remote, repo: str, worktree: str, branch: str, held: set[str], subs: list[dict],
           on_step: Callable[[str], None] = lambda step: None) -> None:
    """Move the archived submodules' git dirs into the keep area, then remove the worktree and its branch on the
    host (the branch only while it still points at a commit the archive holds); each step can run again."""
    keep.move_gitdirs(remote, [(rec["from"], rec["gitdir"]) for rec in subs if rec.get("from")])
    on_step("remove")
    if keep.existing(remote, [worktree]):
        _git(remote, repo, "worktree", "remove", "--force", worktree)
    else:
        _git(remote, repo, "worktree", "prune", check=False)
    ref = f"refs/heads/{branch}"
    tip = _git(remote, repo, "rev-parse", "--verify", "--quiet", ref, check=False).strip()
    if tip and tip not in held:
        raise UnsafeOperation(f"branch {branch} on host {remote.name!r} moved since it was archived; it was kept "
                              f"(discard again to archive it too)")
    if tip:
        _git(remote, repo, "update-ref", "-d", ref, tip)


def restore(remote: Remote, repo: str, worktree: str, branch: str, commit: str, ignored: str | None,
            subs: list[dict], on_step: Callable[[str], None] = lambda step: None) -> list[str]:
    """Recreate branch and worktree on the host from an archive commit there: files, index, ignored files and
    submodules as they were; what could not come back, in words. On failure nothing is left there (when the
    host still answers); on_step("restore") comes just before anything is made."""
    if keep.existing(remote, [worktree]):
        raise UnsafeOperation(f"restore refused: {worktree} already exists on host {remote.name!r} "
                              f"(move it away first)")
    if _git(remote, repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False).strip():
        raise UnsafeOperation(f"restore refused: branch {branch} already exists on host {remote.name!r}")
    parents = _git(remote, repo, "rev-list", "--parents", "-n", "1", commit).split()[1:]
    head, index = parents[0], parents[1] if len(parents) > 1 else commit
    on_step("restore")
    _git(remote, repo, "worktree", "add", "--quiet", "-b", branch, worktree, head)
    try:
        res = remote.run_line(script([["git", "-C", worktree, "read-tree", "-m", "-u", "HEAD", f"{commit}^{{tree}}"],
                                      ["git", "-C", worktree, "read-tree", "--reset", f"{index}^{{tree}}"]]),
                              check=False, what="git")
        if res.returncode != 0:
            raise GitError(f"restore on host {remote.name!r} failed: {last_line(res.stderr)}; nothing was left there")
        remote.run(["git", "-C", worktree, "update-index", "-q", "--refresh"], check=False)
        if ignored:
            keep.write_ignored(remote, worktree, ignored)
        git_dir = _git(remote, worktree, "rev-parse", "--absolute-git-dir").strip()
        return keep.restore_submodules(remote, worktree, git_dir, subs, on_step)
    except BaseException:
        undo_restore(remote, repo, worktree, branch, {head}, subs, quiet=True)
        raise


def undo_restore(remote: Remote, repo: str, worktree: str, branch: str, held: set[str], subs: list[dict],
                 quiet: bool = False) -> None:
    """Take back a restore that stopped halfway on the host: submodule git dirs back to the keep area, then the
    worktree and branch removed (the archive holds everything they held). quiet: best effort, never raises."""
    try:
        git_dir = _git(remote, worktree, "rev-parse", "--absolute-git-dir", check=False).strip() \
            if keep.existing(remote, [f"{worktree}/.git"]) else ""
        if git_dir:
            keep.move_gitdirs(remote, [(keep.placed(git_dir, rec, i), rec["gitdir"]) for i, rec in enumerate(subs)])
        elif subs and keep.existing(remote, [worktree]):
            raise UnsafeOperation(f"{worktree} on host {remote.name!r} is not a checkout any more; move it away, "
                                  f"then restore again")
        remove(remote, repo, worktree, branch, held, [])
    except Exception:
        if not quiet:
            raise
