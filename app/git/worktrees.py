"""Git plumbing for agents: the repository, branch + worktree lifecycle, and change stats.

Every git call here is an argv list run with subprocess, never a shell: worktree, status and
rev-parse are commands GitPython would only wrap, and `paneboard ls` would pay its ~50 ms import
for nothing (ARCHITECTURE.md, "Git: GitPython or argv").
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import BaseBranchMissing, GitError

BRANCH_PREFIX = "paneboard/"
_THREAD_LOCK = threading.Lock()


@dataclass(frozen=True)
class RepoInfo:
    """The repository paneboard works on."""

    root: Path          # main checkout
    common_dir: Path    # shared .git directory (holds paneboard's state)

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def state_dir(self) -> Path:
        return self.common_dir / "paneboard"


def run_git(cwd: Path, *args: str, check: bool = True, env: dict[str, str] | None = None,
            input: str | None = None, pass_fds: tuple[int, ...] = ()) -> str:
    """Run git with an argv list in cwd; return stdout (raise GitError with git's message on failure)."""
    full_env = None
    if env:
        full_env = {**os.environ, **env}
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          env=full_env, input=input, pass_fds=pass_fds)
    if check and proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        raise GitError(f"git {args[0]}: {msg[-1] if msg else f'exit {proc.returncode}'}")
    return proc.stdout


def find_repo(path: Path) -> RepoInfo:
    """The repository containing path; errors if it is not one or has no commits."""
    path = Path(path).resolve()
    if not path.is_dir():
        raise GitError(f"{path}: no such directory")
    proc = subprocess.run(["git", "rev-parse", "--is-bare-repository", "--show-toplevel", "--git-common-dir"],
                          cwd=path, capture_output=True, text=True)
    if proc.returncode != 0:
        raise GitError(f"{path} is not inside a git repository (run `git init` and commit, or pass --repo)")
    lines = proc.stdout.splitlines()
    if lines[0] == "true" or len(lines) < 3:
        raise GitError(f"{path} is a bare repository; paneboard needs a checkout")
    common = (path / lines[2]).resolve()
    # From inside an agent's worktree, work on the main checkout.
    root = common.parent if common.name == ".git" else Path(lines[1]).resolve()
    if subprocess.run(["git", "rev-parse", "--verify", "--quiet", "HEAD^{commit}"], cwd=root,
                      capture_output=True).returncode != 0:
        raise GitError(f"{root} has no commits yet; make a first commit so agents have a base to branch from")
    return RepoInfo(root=root, common_dir=common)


def resolve_base(info: RepoInfo, base: str | None) -> str:
    """The base branch name: the given one (must exist) or the main checkout's current branch."""
    if base:
        if not branch_exists(info, base):
            raise GitError(f"the base branch {base!r} does not exist: create it (`git branch {base}`) "
                           "or set `base:` in paneboard.yaml (or --base)")
        return base
    branch = run_git(info.root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).strip()
    if not branch:
        raise GitError(f"{info.root} has a detached HEAD; check out a branch or set defaults.base / --base")
    return branch


def branch_exists(info: RepoInfo, branch: str) -> bool:
    return subprocess.run(["git", "show-ref", "--verify", "--quiet", f"refs/heads/{branch}"],
                          cwd=info.root).returncode == 0


@dataclass(frozen=True)
class Origin:
    """Where a branch was created: from which branch (when git recorded a name), at which commit, when."""

    base: str | None
    commit: str | None
    at: float = 0.0


def branch_origin(cwd: Path, branch: str) -> Origin:
    """The first entry of the branch's reflog ("branch: Created from main"): its base, fork commit and time."""
    out = run_git(cwd, "reflog", "show", "--date=unix", "--format=%H%x00%gd%x00%gs", f"refs/heads/{branch}",
                  check=False).strip().splitlines()
    if not out or out[-1].count("\0") != 2:
        return Origin(None, None)
    commit, selector, subject = out[-1].split("\0")
    stamp = selector.rpartition("@{")[2].rstrip("}")
    prefix = "branch: Created from "
    base = subject[len(prefix):].removeprefix("refs/heads/") if subject.startswith(prefix) else None
    if base == "HEAD" or (base and (base.startswith("refs/") or commit.startswith(base))):
        base = None  # created from a commit, not from a branch
    return Origin(base, commit, float(stamp) if stamp.isdigit() else 0.0)


def agent_base(info: RepoInfo, recorded: str, configured: str | None, branch: str, agent: str | None = None) -> str:
    """The branch an agent merges into: its recorded base, else the configured `base:`; BaseBranchMissing if neither."""
    if recorded and branch_exists(info, recorded):
        return recorded
    if configured and configured != recorded and branch_exists(info, configured):
        return configured
    fork = branch_origin(info.root, branch).commit if branch else None
    raise BaseBranchMissing(recorded or configured or "(none recorded)", fork, agent)


def worktree_root(info: RepoInfo, configured: str | None) -> Path:
    """Where agent worktrees go: outside the repository by default."""
    if configured:
        p = Path(os.path.expanduser(configured))
        return p if p.is_absolute() else (info.root / p)
    return info.root.parent / f"{info.root.name}.paneboard"


def add_worktree(info: RepoInfo, branch: str, path: Path, base: str, hold: tuple[int, ...] = ()) -> None:
    """Create branch from base and check it out at path; refuses if either already exists (git keeps the
    hold fds open while it runs, so a lock on them outlives a caller killed meanwhile)."""
    if branch_exists(info, branch):
        raise GitError(f"branch {branch!r} already exists (pick another name, or `git branch -d {branch}`)")
    if path.exists():
        raise GitError(f"worktree path {path} already exists (pick another name or move it away)")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Concurrent `git worktree add` in one repository can fail reading each other's admin dirs
    # ("failed to read .git/worktrees/<name>/commondir"): serialise them across threads and processes.
    info.state_dir.mkdir(parents=True, exist_ok=True)
    with _THREAD_LOCK, open(info.state_dir / "worktree.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            run_git(info.root, "worktree", "add", "--quiet", "-b", branch, str(path), base, pass_fds=hold)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def remove_new_worktree(info: RepoInfo, branch: str, path: Path) -> None:
    """Undo add_worktree for a worktree paneboard just created and nothing has written to."""
    if path.exists():
        run_git(info.root, "worktree", "remove", "--force", str(path), check=False)
    run_git(info.root, "worktree", "prune", check=False)
    if branch_exists(info, branch):
        run_git(info.root, "branch", "-D", branch, check=False)


def list_worktrees(info: RepoInfo) -> dict[Path, str | None]:
    """Every worktree path -> its branch (None when detached)."""
    out = run_git(info.root, "worktree", "list", "--porcelain", "-z")
    result: dict[Path, str | None] = {}
    path: Path | None = None
    for field in out.split("\0"):
        if field.startswith("worktree "):
            path = Path(field[len("worktree "):])
            result[path] = None
        elif field.startswith("branch ") and path is not None:
            result[path] = field[len("branch "):].removeprefix("refs/heads/")
    return result


@dataclass(frozen=True)
class Stats:
    """Files changed and lines added/removed by an agent, committed or not, against its base."""

    files: tuple[str, ...] = ()
    added: int = 0
    removed: int = 0
    dirty: bool = False
    commits: int = 0
    head: str = ""          # HEAD's commit, when read


class StatsFailed(GitError):
    """git could not read the worktree (a corrupt index, a vanished directory): the message says which."""


def head_branch(worktree: Path) -> str | None:
    """The branch checked out in a worktree, read from its HEAD file (no git process); None when detached."""
    dotgit = Path(worktree) / ".git"
    try:
        if dotgit.is_file():
            text = dotgit.read_text(encoding="utf-8", errors="replace").strip()
            admin = Path(text.removeprefix("gitdir:").strip())
            admin = admin if admin.is_absolute() else (Path(worktree) / admin)
        else:
            admin = dotgit
        head = (admin / "HEAD").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    return head[len("ref: refs/heads/"):] if head.startswith("ref: refs/heads/") else None


@dataclass
class _Status:
    untracked: list[str]
    head: str = ""
    ahead: int | None = None
    dirty: bool = False


def _status_v2(raw: bytes) -> _Status:
    """What `status --porcelain=v2 --branch -z` says: untracked files, HEAD, ahead/behind its upstream, dirty."""
    fields = raw.decode("utf-8", "surrogateescape").split("\0")
    st = _Status([])
    i = 0
    while i < len(fields):
        entry = fields[i]
        i += 1
        if not entry:
            continue
        if entry.startswith("# branch.ab "):
            st.ahead = int(entry.split()[2].lstrip("+"))
        elif entry.startswith("# branch.oid "):
            st.head = entry.split()[2] if entry.split()[2] != "(initial)" else ""
        elif entry.startswith("? "):
            st.untracked.append(entry[2:])
            st.dirty = True
        elif not entry.startswith("#"):
            st.dirty = True
            i += entry.startswith("2 ")     # a rename carries its original path in the next field
    return st


def stats(worktree: Path, base: str, run=None, strict: bool = False) -> Stats:
    """Change stats of a worktree against the merge-base with base: two git calls, no index writes.

    One `status --porcelain=v2 --branch` gives the dirty state, the untracked files and, with the
    base configured as the branch's upstream for that call only, the commits ahead of it; one
    `diff --numstat --merge-base BASE` gives the tracked files and +/- (committed and not).
    `strict`: a status git refuses (a corrupt index) raises StatsFailed instead of reading as clean.
    """
    from .procs import plain_run
    run = run or plain_run
    worktree = Path(worktree)
    if not (worktree / ".git").exists():
        return Stats()
    branch = head_branch(worktree)
    upstream = ["-c", f"branch.{branch}.remote=.", "-c", f"branch.{branch}.merge=refs/heads/{base}"] if branch else []
    # --no-optional-locks: our read must never take index.lock while the agent commits.
    st = run(worktree, "--no-optional-locks", *upstream, "status", "--porcelain=v2", "--branch", "-z",
             "--untracked-files=all", "--no-renames")
    if st.returncode != 0 and strict:
        said = st.stderr.decode("utf-8", "replace").strip().splitlines()
        raise StatsFailed(f"git status: {said[-1] if said else f'exit {st.returncode}'}")
    status = _status_v2(st.stdout) if st.returncode == 0 else _Status([])
    commits = status.ahead
    # `diff --merge-base BASE` compares the working tree with merge-base(BASE, HEAD): one call.
    proc = run(worktree, "--no-optional-locks", "diff", "--numstat", "-z", "--no-renames", "--merge-base", base)
    if proc.returncode != 0 or commits is None:
        # The base branch is gone (or HEAD is detached): measure against the commit the branch was created at.
        fork = base if proc.returncode == 0 else _fork_of_head(worktree)
        if fork is not None and proc.returncode != 0:
            proc = run(worktree, "--no-optional-locks", "diff", "--numstat", "-z", "--no-renames", fork)
        if fork is None or proc.returncode != 0:
            if strict and fork is not None:
                said = proc.stderr.decode("utf-8", "replace").strip().splitlines()
                raise StatsFailed(f"git diff: {said[-1] if said else f'exit {proc.returncode}'}")
            return Stats()
        count = run(worktree, "rev-list", "--count", f"{fork}..HEAD").stdout.decode().strip()
        commits = int(count) if count.isdigit() else 0
    files: list[str] = []
    added = removed = 0
    for part in proc.stdout.decode("utf-8", "surrogateescape").split("\0"):
        if not part or "\t" not in part:
            continue
        a, r, name = part.split("\t", 2)
        files.append(name)
        added += int(a) if a.isdigit() else 0
        removed += int(r) if r.isdigit() else 0
    for name in status.untracked:
        files.append(name)
        added += _lines_of(worktree / name)
    return Stats(files=tuple(files), added=added, removed=removed, dirty=status.dirty, commits=commits,
                 head=status.head)


def _lines_of(path: Path) -> int:
    """Lines in a new text file (0 for a binary or unreadable one)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(4 << 20)
    except OSError:
        return 0
    if b"\0" in data[:8000]:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)


def _fork_of_head(worktree: Path) -> str | None:
    """The commit the worktree's branch was created at, or None (detached, or no reflog)."""
    branch = run_git(worktree, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).strip()
    return branch_origin(worktree, branch).commit if branch else None
