"""Archive, discard, restore and prune agents' worktrees without ever losing work.

Plain Python (no Textual, no Rich); git runs as an argv list, never through a shell.

The shape of an archive (the same as `git stash` uses)
------------------------------------------------------
`refs/paneboard/archive/<slug>` points to a commit W:

    W          tree = the worktree's full state: committed + staged + unstaged + untracked
    ├─ W^1 = H   the worktree's HEAD (the branch tip), so every agent commit stays reachable
    ├─ W^2 = I   tree = the index as it was (staged changes), parent H
    └─ W^3       only when the branch tip differed from the worktree's HEAD: that tip

Restoring checks out H on a new branch, writes W's tree into the files and puts I back as
the index, so committed, staged, unstaged and untracked files all come back as they were.
The commit message holds `Paneboard-*` trailers (name, branch, worktree, base, patch, time).
Archiving the same slug again moves the older archive to
`refs/paneboard/archive-history/<slug>-<time>`, so nothing is dropped.

Ignored files and submodules (app/git/keep.py)
----------------------------------------------
Ignored files that are not disposable (see `disposable:`) are a further parent of W, a root
commit named by the `Paneboard-Ignored:` trailer; disposable ones are not archived. Each
initialised submodule's work is archived in its own git dir, which discard moves to
`<git-common-dir>/paneboard/archive/modules/`; `Paneboard-Submodule:` trailers name them.
Restore brings both back. Discard refuses, changing nothing, when ignored files to keep pass
`keep.IGNORED_LIMIT` (unless forced) or the worktree holds what it cannot keep.

Beside the ref, `<git-common-dir>/paneboard/archive/<slug>-<time>.patch` holds
`git diff --binary` from the fork point with base to W: `git apply --index` on that commit
brings the tracked and untracked work back even without the ref.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from ..config import DEFAULT_DISPOSABLE
from ..errors import GitError, UnsafeOperation
from ..names import slugify
from . import keep
from .merge import _NO_LOCKS, _TOOL_IDENTITY, _git, _is_ancestor, _out, _rev, _split_z, _tree, predict
from .worktrees import BRANCH_PREFIX, RepoInfo, find_repo, list_worktrees, resolve_base

ARCHIVE_PREFIX = "refs/paneboard/archive/"
HISTORY_PREFIX = "refs/paneboard/archive-history/"


@dataclass(frozen=True)
class Archive:
    """One archived agent: the ref and commit that hold its work, and the patch file beside it."""

    name: str
    slug: str
    ref: str
    commit: str
    head: str
    branch: str
    worktree: str
    base: str
    created: float
    patch: Path | None
    ignored: int = 0        # ignored files archived (not disposable), submodules included
    submodules: int = 0     # initialised submodules whose work is archived
    host: str = ""          # the host it was made on (`Paneboard-Host:`), where restore brings it back


def archive_slug(name: str, branch: str) -> str:
    """The archive's ref name component: the branch's paneboard slug, else a slug of the agent name."""
    if branch.startswith(BRANCH_PREFIX) and len(branch) > len(BRANCH_PREFIX):
        return branch[len(BRANCH_PREFIX):]
    return slugify(name)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _worktree_present(worktree: Path) -> bool:
    # Worktree paths are absolute: an empty or relative one must never stand for the current directory.
    return Path(worktree).is_absolute() and (Path(worktree) / ".git").exists()


def _fork_point(root: Path, base: str | None, head: str, info: RepoInfo) -> str:
    with contextlib.suppress(GitError):
        base = resolve_base(info, base)
        proc = _git(root, "merge-base", f"refs/heads/{base}", head, check=False)
        if proc.returncode == 0:
            return proc.stdout.decode().strip()
    return head


def _stamp(created: float) -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.localtime(created)) + f"-{int(created * 1e6) % 1_000_000:06d}"


def archive(repo_root: Path, name: str, worktree: Path, branch: str, base: str | None = None,
            disposable: tuple[str, ...] = DEFAULT_DISPOSABLE, holdings: keep.Holdings | None = None,
            modules_dir: Path | None = None) -> Archive:
    """Store the branch's commits, the worktree's uncommitted, untracked and (not disposable) ignored files,
    and its submodules' work under refs/paneboard/archive/<slug>.

    modules_dir: where discard will move the submodules' git dirs (the trailers name it); None
    leaves them where they are.
    """
    from . import diff

    info = find_repo(Path(repo_root))
    root, worktree = info.root, Path(worktree)
    tip = _rev(root, f"refs/heads/{branch}")
    present = _worktree_present(worktree)
    if tip is None and not present:
        raise GitError(f"nothing to archive for {name}: no branch {branch!r} and no worktree at {worktree}")
    head = (_rev(worktree, "HEAD") if present else tip) or tip
    head_tree = _tree(root, head)
    if present:
        holdings = holdings or keep.survey(worktree, disposable)
        snapshot, index = diff.snapshot_tree(worktree), keep.index_tree(worktree, head_tree)
        ignored = keep.ignored_commit(worktree, [p for p, _ in holdings.ignored])
        subs = [_archive_submodule(sub, modules_dir, i) for i, sub in enumerate(holdings.submodules)]
    else:
        snapshot = index = head_tree
        ignored, subs = None, []
    slug = archive_slug(name, branch)
    created = time.time()
    stamp = _stamp(created)
    patch = info.state_dir / "archive" / f"{slug}-{stamp}.patch"
    resolved_base = base or ""
    with contextlib.suppress(GitError):
        resolved_base = resolve_base(info, base)
    text = (f"paneboard archive: {_one_line(name)}\n\n"
            f"Paneboard-Name: {_one_line(name)}\nPaneboard-Branch: {branch}\n"
            f"Paneboard-Worktree: {_one_line(str(worktree))}\nPaneboard-Base: {resolved_base}\n"
            f"Paneboard-Patch: {patch}\nPaneboard-Time: {created:.6f}\n" + keep.trailer_lines(ignored, subs))
    index_commit = _out(root, "commit-tree", index, "-p", head, "-m", f"index on {branch}", env=_TOOL_IDENTITY)
    parents = ["-p", head, "-p", index_commit] + (["-p", tip] if tip and tip != head else []) \
        + (["-p", ignored] if ignored else [])
    commit = _out(root, "commit-tree", snapshot, *parents, "-F", "-", input=text.encode("utf-8"), env=_TOOL_IDENTITY)

    ref = ARCHIVE_PREFIX + slug
    previous = _rev(root, ref)
    if previous:
        _git(root, "update-ref", f"{HISTORY_PREFIX}{slug}-{stamp}", previous)
    _git(root, "update-ref", "-m", f"paneboard: archive {name}", ref, commit, *([previous] if previous else ["0" * 40]))
    _write_patch(root, patch, _fork_point(root, base, head, info), commit, name, branch, ref)
    return Archive(name=name, slug=slug, ref=ref, commit=commit, head=head, branch=branch, worktree=str(worktree),
                   base=resolved_base, created=created, patch=patch,
                   ignored=len(holdings.all_ignored()) if present else 0, submodules=len(subs))


def _write_patch(root: Path, patch: Path, fork: str, commit: str, name: str, branch: str, ref: str) -> None:
    patch.parent.mkdir(parents=True, exist_ok=True)
    body = _git(root, "diff", "--binary", "--full-index", "-M", fork, commit).stdout
    header = (f"# paneboard archive of {_one_line(name)} (branch {branch}, {ref})\n"
              f"# apply on {fork} with: git apply --index <this file>\n\n").encode("utf-8", "surrogateescape")
    tmp = patch.with_suffix(".patch.tmp")
    tmp.write_bytes(header + body)
    os.replace(tmp, patch)


def _archive_submodule(sub: keep.Submodule, modules_dir: Path | None, i: int) -> dict:
    """Archive one submodule's work inside its own git dir (ref refs/paneboard/archive); its trailer record."""
    from . import diff

    co = sub.holdings.checkout
    head = _rev(co, "HEAD")
    if head is None:
        raise UnsafeOperation(f"discard refused: submodule {sub.path} has no commit checked out; nothing was changed")
    ignored = keep.ignored_commit(co, [p for p, _ in sub.holdings.ignored])
    index_commit = _out(co, "commit-tree", keep.index_tree(co, _tree(co, head)), "-p", head, "-m", "index",
                        env=_TOOL_IDENTITY)
    text = f"paneboard archive of submodule {sub.path}\n\n" + keep.trailer_lines(ignored, [])
    commit = _out(co, "commit-tree", diff.snapshot_tree(co), "-p", head, "-p", index_commit,
                  *(["-p", ignored] if ignored else []), "-F", "-", input=text.encode("utf-8"), env=_TOOL_IDENTITY)
    _git(co, "update-ref", "-m", "paneboard: archive", keep.ARCHIVE_REF, commit)
    gitdir = modules_dir / str(i) if modules_dir is not None else sub.gitdir
    return {"path": sub.path, "name": sub.name, "gitdir": str(gitdir), "commit": commit}


def discard_preview(repo_root: Path, worktree: Path, branch: str, base: str) -> tuple[int, int]:
    """(files, commits) that discarding would lose without its archive: changed files, and commits not yet in base."""
    root = find_repo(Path(repo_root)).root
    files = 0
    if _worktree_present(Path(worktree)):
        files = len(_split_z(_git(Path(worktree), "status", "--porcelain=v1", "-z", "--untracked-files=all",
                                  "--no-renames", env=_NO_LOCKS).stdout))
    tip = _rev(root, f"refs/heads/{branch}")
    if tip is None or is_merged(root, base, tip):
        return files, 0
    if _rev(root, f"refs/heads/{base}") is None:
        return files, int(_out(root, "rev-list", "--count", tip) or 0)
    return files, int(_out(root, "rev-list", "--count", f"refs/heads/{base}..{tip}") or 0)


def is_merged(repo_root: Path, base: str, commit: str) -> bool:
    """True when commit's work is already in base: an ancestor, or merging it would change nothing (squash, rebase)."""
    base_ref = f"refs/heads/{base}"
    if _is_ancestor(repo_root, commit, base_ref):
        return True
    with contextlib.suppress(GitError):
        prediction = predict(repo_root, base_ref, commit)
        return prediction.clean and prediction.tree == _tree(repo_root, base_ref)
    return False


def _refuse_main_checkout(info: RepoInfo, worktree: Path, branch: str) -> None:
    if Path(worktree).resolve() == info.root:
        raise UnsafeOperation(f"refused: {worktree} is the main checkout, not an agent worktree")
    current = _git(info.root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).stdout.decode().strip()
    if branch == current:
        raise UnsafeOperation(f"refused: {branch} is checked out in the main checkout")


def _remove(info: RepoInfo, worktree: Path, branch: str, tip: str | None, force: bool) -> None:
    if Path(worktree).is_absolute() and Path(worktree).exists():
        _git(info.root, "worktree", "remove", *(["--force"] if force else []), str(worktree))
    _git(info.root, "worktree", "prune", check=False)
    if tip is not None:
        # Compare-and-swap: a commit made after we looked keeps the branch alive.
        if _git(info.root, "update-ref", "-d", f"refs/heads/{branch}", tip, check=False).returncode != 0:
            raise UnsafeOperation(f"branch {branch} moved while it was being removed; it was kept")


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


def refuse_what_cannot_be_kept(holdings: keep.Holdings, force: bool, limit: int = keep.IGNORED_LIMIT) -> None:
    """Refuse (one line, nothing changed) when discard could not archive everything the worktree holds."""
    bad = holdings.all_unkeepable()
    if bad:
        more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
        raise UnsafeOperation(f"discard refused: it cannot keep {bad[0]}{more}; nothing was changed")
    ignored = holdings.all_ignored()
    total = sum(n for _, n in ignored)
    if total > limit and not force:
        biggest = ", ".join(f"{p} ({_mb(n)})" for p, n in sorted(ignored, key=lambda e: (-e[1], e[0]))[:3])
        raise UnsafeOperation(
            f"discard refused: its ignored files that are not disposable come to {_mb(total)}, over the "
            f"{_mb(limit)} an archive takes (biggest: {biggest}); move them out, list them under `disposable:` "
            f"in paneboard.yaml, or discard --force to archive them all; nothing was changed")


def discard(repo_root: Path, name: str, worktree: Path, branch: str, base: str | None = None,
            disposable: tuple[str, ...] = DEFAULT_DISPOSABLE, force: bool = False,
            limit: int = keep.IGNORED_LIMIT) -> Archive:
    """Archive the agent's work (ignored files and submodules too), then remove its worktree and branch;
    restore() brings it back. Refuses, changing nothing, when it could not keep everything."""
    info = find_repo(Path(repo_root))
    worktree = Path(worktree)
    _refuse_main_checkout(info, worktree, branch)
    holdings = keep.survey(worktree, disposable) if _worktree_present(worktree) else None
    modules_dir = None
    if holdings is not None:
        refuse_what_cannot_be_kept(holdings, force, limit)
        if holdings.submodules:
            modules_dir = info.state_dir / "archive" / "modules" / f"{archive_slug(name, branch)}-{_stamp(time.time())}"
    saved = archive(info.root, name, worktree, branch, base, disposable, holdings, modules_dir)
    held = set(_out(info.root, "rev-list", "--parents", "-n", "1", saved.commit).split()[1:])
    tip = _rev(info.root, f"refs/heads/{branch}")
    if tip is not None and tip not in held:
        raise UnsafeOperation(f"branch {branch} moved while it was being archived; nothing was removed, discard again")
    moved = keep.move_gitdirs([(s.gitdir, modules_dir / str(i)) for i, s in enumerate(holdings.submodules)]) \
        if modules_dir is not None else []
    try:
        _remove(info, worktree, branch, tip, force=True)
    except BaseException:
        if worktree.exists():
            keep.move_gitdirs([(dst, src) for src, dst in moved])
        raise
    return saved


def restore(repo_root: Path, name: str, worktree_path: Path, branch: str) -> Path:
    """Recreate branch and worktree from the agent's archive: uncommitted, untracked and ignored files and
    submodules back as they were."""
    info = find_repo(Path(repo_root))
    root, path = info.root, Path(worktree_path)
    ref = ARCHIVE_PREFIX + archive_slug(name, branch)
    commit = _rev(root, ref)
    if commit is None:
        raise GitError(f"no archive for {name} ({ref}); see list_archives()")
    if _rev(root, f"refs/heads/{branch}") is not None:
        raise UnsafeOperation(f"restore refused: branch {branch} already exists (rename or delete it first)")
    if path.exists() or path.is_symlink():
        raise UnsafeOperation(f"restore refused: {path} already exists (move it away first)")
    ignored, subs = keep.trailers(root, commit)
    for rec in subs:
        if not Path(rec["gitdir"]).is_dir():
            raise UnsafeOperation(f"restore refused: the archived git dir of submodule {rec['path']} "
                                  f"({rec['gitdir']}) is gone; its patch {ref} still holds the rest")
    parents = _out(root, "rev-list", "--parents", "-n", "1", commit).split()[1:]
    head = parents[0]
    index = parents[1] if len(parents) > 1 else commit
    path.parent.mkdir(parents=True, exist_ok=True)
    _git(root, "worktree", "add", "--quiet", "-b", branch, str(path), head)
    try:
        # Files: H -> W (two-way, so git writes only what differs); then the index goes back to I.
        _git(path, "read-tree", "-m", "-u", "HEAD", f"{commit}^{{tree}}")
        _git(path, "read-tree", "--reset", f"{index}^{{tree}}")
        _git(path, "update-index", "-q", "--refresh", check=False)
        if ignored:
            keep.write_ignored(path, ignored)
        keep.restore_submodules(path, subs)
    except BaseException:
        _git(root, "worktree", "remove", "--force", str(path), check=False)
        _git(root, "worktree", "prune", check=False)
        _git(root, "update-ref", "-d", f"refs/heads/{branch}", check=False)
        raise
    return path


def list_archives(repo_root: Path) -> list[Archive]:
    """Every current archive, newest first."""
    root = find_repo(Path(repo_root)).root
    out = _git(root, "for-each-ref", "--format=%(refname)%00%(objectname)%00%(contents)%1e", ARCHIVE_PREFIX).stdout
    archives: list[Archive] = []
    for record in out.decode("utf-8", "surrogateescape").split("\x1e"):
        record = record.strip("\n")
        if not record:
            continue
        ref, commit, message = record.split("\0", 2)
        fields = {}
        for line in message.splitlines():
            key, sep, value = line.partition(": ")
            if sep and key.startswith("Paneboard-"):
                fields[key.removeprefix("Paneboard-")] = value
        parents = _out(root, "rev-list", "--parents", "-n", "1", commit).split()[1:]
        patch = Path(fields["Patch"]) if fields.get("Patch") else None
        archives.append(Archive(
            name=fields.get("Name", ref.removeprefix(ARCHIVE_PREFIX)), slug=ref.removeprefix(ARCHIVE_PREFIX),
            ref=ref, commit=commit, head=parents[0] if parents else commit, branch=fields.get("Branch", ""),
            worktree=fields.get("Worktree", ""), base=fields.get("Base", ""),
            created=float(fields.get("Time", 0) or 0), patch=patch if patch and patch.exists() else None,
            host=fields.get("Host", "")))
    return sorted(archives, key=lambda a: a.created, reverse=True)


@dataclass(frozen=True)
class WorktreeState:
    """An agent worktree as prune sees it, with what keeps it if anything does."""

    path: Path
    branch: str
    merged: bool
    clean: bool
    kept: tuple[str, ...] = ()       # what else it holds that removing it would lose (ignored files, submodule work)
    running: str = ""                # why its agent may still be running ("" when it is not)
    submodules: bool = False         # has initialised submodules (git removes it only when forced)

    @property
    def prunable(self) -> bool:
        return self.merged and self.clean and not self.kept and not self.running

    @property
    def why_kept(self) -> str:
        """What keeps this worktree, in one line ("" when nothing does)."""
        reasons = [self.running] if self.running else []
        if not self.merged:
            reasons.append("its branch is not merged")
        if not self.clean:
            reasons.append("it has uncommitted or untracked changes")
        return "; ".join(reasons + list(self.kept))


def worktree_states(repo_root: Path, base: str, disposable: tuple[str, ...] = DEFAULT_DISPOSABLE,
                    running: dict[Path, str] | None = None) -> list[WorktreeState]:
    """Every paneboard worktree (branch under paneboard/): merged into base, clean, and what else keeps it.

    running maps a worktree (resolved) to why its agent may still be running: such a worktree is kept.
    """
    info = find_repo(Path(repo_root))
    states = []
    for path, branch in list_worktrees(info).items():
        if not branch or not branch.startswith(BRANCH_PREFIX) or branch == base or path.resolve() == info.root:
            continue
        tip = _rev(info.root, f"refs/heads/{branch}")
        kept: list[str] = []
        clean, subs = False, False
        if path.is_dir():
            holdings = keep.survey(path, disposable)
            clean, subs = not holdings.changes, bool(holdings.submodules)
            kept += keep.what_prune_would_lose(holdings, info.common_dir)
        else:
            kept.append("its folder is gone (removed outside paneboard)")
            clean = True
        states.append(WorktreeState(path=path, branch=branch, merged=tip is not None and is_merged(info.root, base, tip),
                                    clean=clean, kept=tuple(kept), submodules=subs,
                                    running=(running or {}).get(path.resolve(), "")))
    return states


def prunable(repo_root: Path, base: str, disposable: tuple[str, ...] = DEFAULT_DISPOSABLE) -> list[WorktreeState]:
    """The paneboard worktrees that are clean and whose branch is merged into base: safe to remove."""
    return [s for s in worktree_states(repo_root, base, disposable) if s.prunable]


def prune(repo_root: Path, base: str, archive_others: bool = False, disposable: tuple[str, ...] = DEFAULT_DISPOSABLE,
          states: list[WorktreeState] | None = None) -> list[WorktreeState]:
    """Remove clean, merged worktrees that hold nothing else to keep, and their branches; with archive_others,
    discard (archive first) the rest too, except where an agent may still run."""
    info = find_repo(Path(repo_root))
    removed = []
    for state in worktree_states(info.root, base, disposable) if states is None else states:
        tip = _rev(info.root, f"refs/heads/{state.branch}")
        if state.prunable:
            # Without submodules no --force: git itself refuses if the worktree got dirty since we looked.
            try:
                _remove(info, state.path, state.branch, tip, force=state.submodules)
            except (GitError, UnsafeOperation):
                continue
            removed.append(state)
        elif archive_others and state.path.is_dir() and not state.running:
            with contextlib.suppress(GitError, UnsafeOperation):
                discard(info.root, state.branch.removeprefix(BRANCH_PREFIX), state.path, state.branch, base,
                        disposable)
                removed.append(state)
    return removed
