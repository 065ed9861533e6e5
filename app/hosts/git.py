"""The host's side of git: its clone (made when missing), the base pushed to a ref, worktrees, stats, snapshots.

What is checked out in the host's clone never changes: the base arrives as
`refs/paneboard/base/<slug>`, each agent gets its own worktree and branch, and an agent's
uncommitted work is read through a temporary index into `refs/paneboard/snapshot/<slug>`.
Local git talks to the host's clone over the same ssh (`Remote.git_env`).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass

from ..errors import GitError, HostUnreachable
from ..git.worktrees import Stats
from .remote import Remote, last_line, script

BASE_REFS = "refs/paneboard/base/"
SNAPSHOT_REFS = "refs/paneboard/snapshot/"
IDENTITY = ["-c", "user.name=paneboard", "-c", "user.email=paneboard@localhost"]
TRANSFER_TIMEOUT = 120.0


def _git(remote: Remote, cwd: str, *args: str, check: bool = True) -> str:
    res = remote.run(["git", "-C", cwd, *args], check=False)
    if check and res.returncode != 0:
        raise GitError(f"git {args[0]} on host {remote.name!r}: {last_line(res.stderr) or res.returncode}")
    return res.stdout


def ensure_clone(remote: Remote, repo: str) -> bool:
    """Make sure `repo` on the host is a git repository (created empty when the path does not exist); True if made."""
    if remote.run(["git", "-C", repo, "rev-parse", "--git-dir"], check=False).returncode == 0:
        return False
    res = remote.run_line(script([["test", "!", "-e", repo], ["git", "init", "-q", repo]]), check=False)
    if res.returncode != 0:
        raise GitError(f"{repo} on host {remote.name!r} exists and is not a git repository: point `repo:` at "
                       f"a clone, or at a path that does not exist yet")
    return True


def local_git(root, remote: Remote, *args: str, timeout: float = TRANSFER_TIMEOUT) -> None:
    """Run a local `git push`/`fetch` that travels to the host; a failure is one line, nothing half-done."""
    try:
        proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **remote.git_env()})
    except subprocess.TimeoutExpired:
        raise HostUnreachable(remote.name, f"git {args[0]} did not finish within {timeout:g}s") from None
    if proc.returncode != 0:
        line = last_line(proc.stderr)
        if "Could not read from remote repository" in proc.stderr or "ssh:" in proc.stderr:
            raise HostUnreachable(remote.name, _ssh_line(proc.stderr) or line)
        raise GitError(f"git {args[0]} to host {remote.name!r}: {line}")


def _ssh_line(stderr: str) -> str:
    for line in stderr.splitlines():
        if line.startswith("ssh:") or "Host key verification failed" in line or "REMOTE HOST IDENTIFICATION" in line:
            return line.strip("@ ").strip()
    return ""


def push_base(root, remote: Remote, repo: str, commit: str, slug: str) -> str:
    """Bring the host's clone the base commit as `refs/paneboard/base/<slug>`; that ref's name."""
    ref = BASE_REFS + slug
    local_git(root, remote, "push", "--quiet", "--force", "--no-verify", remote.remote_url(repo), f"{commit}:{ref}")
    return ref


def add_worktree(remote: Remote, repo: str, branch: str, path: str, ref: str) -> None:
    """Create the agent's branch from ref and check it out at path on the host (refused if either exists)."""
    if remote.run(["test", "-e", path], check=False).returncode == 0:
        raise GitError(f"worktree path {path} already exists on host {remote.name!r} (pick another name)")
    _git(remote, repo, "worktree", "add", "--quiet", "-b", branch, path, ref)


def remove_new_worktree(remote: Remote, repo: str, branch: str, path: str) -> None:
    """Undo `add_worktree` for an agent that never started (its branch holds nothing of anyone's)."""
    remote.run(["git", "-C", repo, "worktree", "remove", "--force", path], check=False)
    remote.run(["git", "-C", repo, "branch", "-D", branch], check=False)


@dataclass(frozen=True)
class HostStats(Stats):
    """A remote agent's stats, with a fingerprint of its work: it differs whenever HEAD or any changed,
    staged or untracked file's content does (read without writing anything on the host)."""

    work: str = ""


# The worktree is a positional parameter of this fixed script, never parsed as code: a hash of the
# tracked changes against HEAD, then one hash per untracked file (names are in the status output).
_WORK_SCRIPT = ('cd -- "$1" || exit 1; git --no-optional-locks diff --no-ext-diff --no-color --binary HEAD -- '
                '| git hash-object --stdin; git ls-files -z -o --exclude-standard | xargs -0r git hash-object --')


def stats(remote: Remote, worktree: str, base: str) -> HostStats:
    """The worktree's change stats against its base ref, its HEAD and a fingerprint of its work, in one
    ssh call (untracked files count as files)."""
    mark = "@@paneboard-stats@@"
    line = script([["git", "-C", worktree, "diff", "--numstat", "-z", "--no-renames", "--merge-base", base],
                   ["echo", mark],
                   ["git", "-C", worktree, "rev-list", "--count", f"{base}..HEAD"],
                   ["echo", mark],
                   ["git", "-C", worktree, "--no-optional-locks", "status", "--porcelain=v1", "-z",
                    "--untracked-files=all"],
                   ["echo", mark],
                   ["git", "-C", worktree, "rev-parse", "--verify", "--quiet", "HEAD"],
                   ["echo", mark],
                   ["sh", "-c", _WORK_SCRIPT, "sh", worktree]], sep=";")
    res = remote.run_line(line, check=False, what="git")
    parts = res.stdout.split(mark + "\n")
    if len(parts) != 5:
        return HostStats()
    numstat, commits, status, head, contents = parts
    files: list[str] = []
    added = removed = 0
    for part in numstat.split("\0"):
        if "\t" in part:
            a, r, name = part.split("\t", 2)
            files.append(name)
            added += int(a) if a.isdigit() else 0
            removed += int(r) if r.isdigit() else 0
    entries = [e for e in status.split("\0") if e]
    files += [e[3:] for e in entries if e.startswith("?? ")]
    head = head.strip()
    work = hashlib.sha1("\0".join((head, status, contents)).encode("utf-8", "replace")).hexdigest() if head else ""
    return HostStats(files=tuple(files), added=added, removed=removed, dirty=bool(entries),
                     commits=int(commits.strip()) if commits.strip().isdigit() else 0, head=head, work=work)


# The worktree and the ref are positional parameters of this fixed script, never parsed as code. A copy of
# the agent's index keeps git's stat cache (only changed files are read), and the agent's own is untouched.
_SNAPSHOT_SCRIPT = """set -e
cd -- "$1"
dir=$(git rev-parse --absolute-git-dir)
export GIT_INDEX_FILE="$dir/paneboard-snapshot.index"
trap 'rm -f -- "$GIT_INDEX_FILE"' EXIT
if [ -f "$dir/index" ]; then cp -p -- "$dir/index" "$GIT_INDEX_FILE"; else git read-tree HEAD; fi
git add -A
tree=$(git write-tree)
commit=$(git rev-parse HEAD)
if [ "$tree" != "$(git rev-parse 'HEAD^{tree}')" ]; then
  commit=$(git -c user.name=paneboard -c user.email=paneboard@localhost commit-tree "$tree" -p "$commit" \\
    -m 'paneboard: uncommitted work')
fi
git update-ref "$2" "$commit"
echo "$commit"
"""


def snapshot(remote: Remote, worktree: str, slug: str) -> str:
    """Commit the worktree's state (uncommitted and untracked work too) to `refs/paneboard/snapshot/<slug>`
    through a temporary index, so the agent's index and files are untouched, in one ssh call; the ref's name."""
    ref = SNAPSHOT_REFS + slug
    res = remote.run(["sh", "-c", _SNAPSHOT_SCRIPT, "sh", worktree, ref], check=False)
    if res.returncode != 0 or not res.stdout.strip():
        raise GitError(f"cannot read the work in {worktree} on host {remote.name!r}: "
                       f"{last_line(res.stderr) or res.returncode}")
    return ref


def fetch(root, remote: Remote, repo: str, src: str, dst: str) -> str:
    """Fetch src from the host's clone into the local ref dst (forced: it mirrors the host); its commit."""
    # --no-recurse-submodules: a submodule commit made on the host is not here to fetch (it stays on the host).
    local_git(root, remote, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules",
              remote.remote_url(repo), f"+{src}:{dst}")
    return subprocess.run(["git", "rev-parse", dst], cwd=root, capture_output=True, text=True).stdout.strip()


def commit_subjects(remote: Remote, worktree: str, base: str, count: int) -> list[str]:
    """The newest `count` commits of the worktree's branch since base, oldest first, as "<short id> <subject>"
    (one ssh call; HostUnreachable when the host does not answer, GitError when git there fails)."""
    out = _git(remote, worktree, "--no-optional-locks", "log", f"-{max(1, int(count))}", "--reverse",
               "--format=%h %s", f"{base}..HEAD")
    return out.splitlines()
