"""What a worktree on a host holds beyond its branch, and how discard keeps it there: app/git/keep.py's shape,
made by git and coreutils on the host through `Remote` (argv only).

- **Ignored files** that are not disposable become an *ignored commit* made on the host: a root
  commit of them, blobs written byte for byte (`hash-object --no-filters`), modes as git reads
  them (executable bit, symlinks). The archive commit has it as a parent and names it in its
  `Paneboard-Ignored:` trailer, so a fetch of the archive brings it here and a push takes it back.
- **Submodules**: each initialised submodule's work is archived inside its own git dir
  (`refs/paneboard/archive`, the same shape as the worktree's); discard then moves that git dir,
  which holds every commit made in it (unpushed ones too), into the host clone's keep area
  `<git-common-dir>/paneboard/archive/modules/<slug>-<time>/<i>`. Its `Paneboard-Submodule:`
  record names where it went (`gitdir`) and where it came from (`from`). A move is one rename:
  a link that dies between two moves leaves each git dir whole in one place or the other, and
  `move_gitdirs` run again finishes the job.
"""

from __future__ import annotations

import contextlib
import posixpath
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import GitError, PaneboardError, UnsafeOperation
from ..git import keep as lkeep
from .git import IDENTITY, _git
from .remote import Remote, last_line, script

KEEP_AREA = "paneboard/archive/modules"
"""Where discard moves submodules' git dirs, under the host clone's git common dir."""
ARG_BUDGET = 64 * 1024
"""Bytes of paths passed as arguments in one remote command (the rest go in the next)."""

# Writes an ignored commit's files: "$1" the checkout, then (mode, blob or link target, parent, path) per file.
# Positional parameters only: nothing in them is parsed as code. `set -C`: never over an existing file.
_WRITE_FILES = r'''set -C
cd -- "$1" || exit 1
shift
while [ "$#" -gt 0 ]; do
  mkdir -p -- "$3" || exit 1
  if [ "$1" = 120000 ]; then ln -s -T -- "$2" "$4" || exit 1
  else git cat-file blob "$2" > "$4" || exit 1
    if [ "$1" = 100755 ]; then chmod a+x -- "$4" || exit 1; fi
  fi
  shift 4
done'''


@dataclass
class OnHost(lkeep.Holdings):
    """What a checkout on the host holds beyond its branch, with its git dir there."""

    gitdir: str = ""


def _parts(remote: Remote, commands: list[list[str]], **kw) -> list[str]:
    """Run commands on the host in one call (each runs, whatever the others did); each one's output."""
    mark = f"@@paneboard-{uuid.uuid4().hex}@@"
    line = script([c for cmd in commands for c in (cmd, ["echo", mark])][:-1], sep=";")
    res = remote.run_line(line, check=False, what="git", **kw)
    return res.stdout.split(mark + "\n")


def existing(remote: Remote, paths: list[str]) -> set[str]:
    """Which of these paths exist on the host (one call)."""
    if not paths:
        return set()
    res = remote.run(["stat", "--printf", r"%n\0", "--", *paths], check=False)
    return {p for p in res.stdout.split("\0") if p}


def survey(remote: Remote, checkout: str, disposable: tuple[str, ...]) -> OnHost:
    """What the checkout on the host holds beyond its branch: changes, ignored files to keep (with sizes),
    initialised submodules (recursively); GitError when it is not a checkout there."""
    parts = _parts(remote, [
        ["git", "-C", checkout, "rev-parse", "--absolute-git-dir"],
        ["git", "-C", checkout, "--no-optional-locks", "status", "--porcelain=v1", "-z", "--untracked-files=all",
         "--ignored=matching", "--no-renames"],
        ["git", "-C", checkout, "--no-optional-locks", "ls-files", "-z", "--stage"],
        ["git", "-C", checkout, "config", "-z", "--file", f"{checkout}/.gitmodules", "--get-regexp",
         r"^submodule\..*\.path$"]])
    if len(parts) != 4 or not parts[0].strip():
        raise GitError(f"{checkout} on host {remote.name!r} is not a git checkout (was it removed?)")
    found = OnHost(Path(checkout), gitdir=parts[0].strip())
    folders = []
    for entry in (e for e in parts[1].split("\0") if e):
        code, path = entry[:2], entry[3:]
        if code != "!!":
            if code == "??" and path.endswith("/"):
                found.unkeepable.append(f"{path} (a git repository that is not a submodule; move it out)")
            found.changes.append(entry)
        elif not lkeep.is_disposable(path, disposable):
            (folders if path.endswith("/") else found.ignored).append(path)
    if folders:
        for p in _git(remote, checkout, "--literal-pathspecs", "ls-files", "-z", "--others", "--ignored",
                      "--exclude-standard", "--", *folders).split("\0"):
            if p.endswith("/"):
                found.unkeepable.append(f"{p} (an ignored git repository; move it out or make it disposable)")
            elif p and not lkeep.is_disposable(p, disposable):
                found.ignored.append(p)
    found.ignored = list(_sizes(remote, checkout, found.ignored).items())
    _survey_submodules(remote, found, parts[2], parts[3], disposable)
    return found


def _sizes(remote: Remote, checkout: str, paths: list[str]) -> dict[str, int]:
    """Each file's size in bytes (a symlink's own), read by coreutils `du` on the host."""
    if not paths:
        return {}
    names = "".join(f"{checkout}/{p}\0" for p in paths)
    res = remote.run(["du", "-0", "-b", "-l", "--files0-from=-"], stdin=names, check=False)
    sizes = dict.fromkeys(paths, 0)
    for item in (i for i in res.stdout.split("\0") if "\t" in i):
        size, _, name = item.partition("\t")
        rel = name[len(checkout) + 1:]
        if rel in sizes and size.isdigit():
            sizes[rel] = int(size)
    return sizes


def _survey_submodules(remote: Remote, found: OnHost, stage: str, modules: str, disposable: tuple[str, ...]) -> None:
    checkout = str(found.checkout)
    paths = []
    for entry in (e for e in stage.split("\0") if e):
        meta, _, path = entry.partition("\t")
        if meta.startswith("160000 ") and path not in paths:
            paths.append(path)
    if not paths:
        return
    names = {}
    for item in (i for i in modules.split("\0") if i):
        key, _, value = item.partition("\n")
        names[value] = key[len("submodule."):-len(".path")]
    initialised = existing(remote, [f"{checkout}/{p}/.git" for p in paths])
    mine = (posixpath.normpath(found.gitdir), posixpath.normpath(checkout))
    for path in paths:
        if f"{checkout}/{path}/.git" not in initialised:
            continue        # not initialised: an empty folder, nothing in it to lose
        inner = survey(remote, f"{checkout}/{path}", disposable)
        gitdir = posixpath.normpath(inner.gitdir)
        if not any(gitdir == m or gitdir.startswith(m + "/") for m in mine):
            found.unkeepable.append(f"{path} (a submodule whose git dir {gitdir} is shared with another checkout)")
        if inner.submodules:
            found.unkeepable.append(f"{path} (a submodule with initialised submodules of its own)")
        found.submodules.append(lkeep.Submodule(path, names.get(path, path), Path(gitdir), inner))


# ---------------------------------------------------------------- the work, the ignored files, a submodule's archive

def read_work(remote: Remote, checkout: str, git_dir: str) -> tuple[str, str]:
    """(tree of the checkout's full state, tree of its index), read through temporary indexes on the host."""
    snap, copy = f"{git_dir}/paneboard-archive.index", f"{git_dir}/paneboard-archive-copy.index"
    with _removed_on_failure(remote, snap, copy):
        res = remote.run_line(script([
            ["rm", "-f", "--", snap, copy],
            ["env", f"GIT_INDEX_FILE={snap}", "git", "-C", checkout, "read-tree", "HEAD"],
            ["env", f"GIT_INDEX_FILE={snap}", "git", "-C", checkout, "add", "-A"],
            ["env", f"GIT_INDEX_FILE={snap}", "git", "-C", checkout, "write-tree"],
            ["cp", "--", f"{git_dir}/index", copy],
            ["env", f"GIT_INDEX_FILE={copy}", "git", "-C", checkout, "write-tree"],
            ["rm", "-f", "--", snap, copy]]), check=False, what="git")
        if res.returncode != 0:
            raise GitError(f"cannot read the work in {checkout} on host {remote.name!r}: {last_line(res.stderr)}")
        snapshot, index = res.stdout.split()[-2:]
    return snapshot, index


@contextlib.contextmanager
def _removed_on_failure(remote: Remote, *paths: str):
    """Remove these temporary files on the host when the block fails (on success its last command did)."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(PaneboardError):
            remote.run(["rm", "-f", "--", *paths], check=False)
        raise


def ignored_commit(remote: Remote, checkout: str, git_dir: str, paths: list[str]) -> str | None:
    """A root commit made on the host holding these ignored files byte for byte with their modes; None if none."""
    if not paths:
        return None
    index = f"{git_dir}/paneboard-ignored.index"
    env = ["env", f"GIT_INDEX_FILE={index}"]
    with _removed_on_failure(remote, index):
        # update-index reads each file's mode as git does (executable bit, symlink); hash-object --no-filters
        # then stores the bytes as they are, as keep.py does locally.
        parts = _parts(remote, [["rm", "-f", "--", index],
                                [*env, "git", "-C", checkout, "update-index", "--add", "-z", "--stdin"],
                                [*env, "git", "-C", checkout, "ls-files", "-z", "--stage"]],
                       stdin="".join(p + "\0" for p in paths))
        modes = {}
        for entry in (e for e in parts[-1].split("\0") if e):
            meta, _, path = entry.partition("\t")
            modes[path] = meta.split(" ")
        if set(modes) != set(paths):
            raise GitError(f"cannot read the ignored files in {checkout} on host {remote.name!r} "
                           f"({', '.join(sorted(set(paths) - set(modes))[:3])})")
        regular = [p for p in paths if modes[p][0] != "120000"]
        blobs = _hash_files(remote, checkout, regular)
        info = "".join(f"{modes[p][0]} {blobs.get(p, modes[p][1])}\t{p}\0" for p in paths)
        res = remote.run_line(script([[*env, "git", "-C", checkout, "update-index", "-z", "--index-info"],
                                      [*env, "git", "-C", checkout, "write-tree"],
                                      ["rm", "-f", "--", index]]), stdin=info, what="git")
        tree = res.stdout.split()[-1]
    return _git(remote, checkout, *IDENTITY, "commit-tree", tree, "-m", "paneboard: ignored files").strip()


def _hash_files(remote: Remote, checkout: str, paths: list[str]) -> dict[str, str]:
    # --stdin-paths reads one path a line: a name holding a newline is named as an argument instead.
    plain, odd = [p for p in paths if "\n" not in p], [p for p in paths if "\n" in p]
    commands = ([["git", "-C", checkout, "hash-object", "-w", "--no-filters", "--stdin-paths"]] if plain else []) \
        + ([["git", "-C", checkout, "hash-object", "-w", "--no-filters", "--", *odd]] if odd else [])
    if not commands:
        return {}
    res = remote.run_line(script(commands), stdin="".join(p + "\n" for p in plain), what="git")
    blobs = res.stdout.split()
    if len(blobs) != len(plain) + len(odd):
        raise GitError(f"cannot store the ignored files in {checkout} on host {remote.name!r}")
    return dict(zip(plain + odd, blobs))


def write_ignored(remote: Remote, checkout: str, commit: str) -> int:
    """Write an ignored commit's files into the checkout on the host (never over an existing file); how many."""
    entries = []
    for item in (i for i in _git(remote, checkout, "ls-tree", "-r", "-z", "--full-tree", commit).split("\0") if i):
        meta, _, path = item.partition("\t")
        mode, _, blob = meta.split(" ")
        entries.append((mode, blob, path))
    links = [b for m, b, _ in entries if m == "120000"]
    targets = _link_targets(remote, checkout, links) if links else {}
    args: list[str] = []
    for i, (mode, blob, path) in enumerate(entries):
        args += [mode, targets.get(blob, blob) if mode == "120000" else blob, posixpath.dirname(path) or ".", path]
        if sum(len(a) + 1 for a in args) > ARG_BUDGET or i == len(entries) - 1:
            res = remote.run(["sh", "-c", _WRITE_FILES, "sh", checkout, *args], check=False)
            if res.returncode != 0:
                raise GitError(f"restore refused to write the ignored files in {checkout} on host "
                               f"{remote.name!r}: {last_line(res.stderr)}")
            args = []
    return len(entries)


def _link_targets(remote: Remote, checkout: str, blobs: list[str]) -> dict[str, str]:
    parts = _parts(remote, [["git", "-C", checkout, "cat-file", "blob", b] for b in blobs])
    if len(parts) != len(blobs):
        raise GitError(f"cannot read the archived symlinks in {checkout} on host {remote.name!r}")
    return dict(zip(blobs, parts))


def archive_submodule(remote: Remote, sub: lkeep.Submodule, keep_dir: str) -> dict:
    """Archive one submodule's work inside its own git dir on the host; its trailer record (moved to keep_dir)."""
    co = str(sub.holdings.checkout)
    head = _git(remote, co, "rev-parse", "--verify", "--quiet", "HEAD", check=False).strip()
    if not head:
        raise UnsafeOperation(f"discard refused: submodule {sub.path} has no commit checked out; nothing was changed")
    snapshot, index = read_work(remote, co, str(sub.gitdir))
    ignored = ignored_commit(remote, co, str(sub.gitdir), [p for p, _ in sub.holdings.ignored])
    index_commit = _git(remote, co, *IDENTITY, "commit-tree", index, "-p", head, "-m", "index").strip()
    text = f"paneboard archive of submodule {sub.path}\n\n" + lkeep.trailer_lines(ignored, [])
    commit = remote.run(["git", "-C", co, *IDENTITY, "commit-tree", snapshot, "-p", head, "-p", index_commit,
                         *(["-p", ignored] if ignored else []), "-F", "-"], stdin=text).stdout.strip()
    _git(remote, co, "update-ref", "-m", "paneboard: archive", lkeep.ARCHIVE_REF, commit)
    return {"path": sub.path, "name": sub.name, "gitdir": keep_dir, "commit": commit, "from": str(sub.gitdir)}


# ---------------------------------------------------------------- submodule git dirs moved aside and back

def move_gitdirs(remote: Remote, moves: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Move each git dir src -> dst on the host, one rename each, skipping one already moved; the moves made.
    Refuses, moving nothing, when both places are taken."""
    here = existing(remote, [p for move in moves for p in move])
    for src, dst in moves:
        if src in here and dst in here:
            raise UnsafeOperation(f"both {src} and {dst} exist on host {remote.name!r}: paneboard will not choose "
                                  f"between them; move one away; nothing was moved")
    todo = [(src, dst) for src, dst in moves if src in here]
    if todo:
        res = remote.run_line(script([["mkdir", "-p", "--", *sorted({posixpath.dirname(d) for _, d in todo})]]
                                     + [["mv", "-T", "--", src, dst] for src, dst in todo]), check=False, what="mv")
        if res.returncode != 0:
            raise GitError(f"cannot move a submodule's git dir on host {remote.name!r}: {last_line(res.stderr)} "
                           f"(each git dir is whole in one place; run the command again)")
    return todo


def restore_submodules(remote: Remote, checkout: str, git_dir: str, records: list[dict],
                       on_step: Callable[[str], None] = lambda step: None) -> list[str]:
    """Bring archived submodules back into a restored worktree on the host: git dir, files, index, ignored files;
    what could not come back, in words (a git dir gone from the host)."""
    gone = existing(remote, [r["gitdir"] for r in records])
    notes, moves, kept = [], [], []
    for i, rec in enumerate(records):
        if rec["gitdir"] not in gone:
            notes.append(f"the work of submodule {rec['path']} is gone: its git dir {rec['gitdir']} is no longer on "
                         f"host {remote.name!r} (its folder is left empty)")
            continue
        moves.append((rec["gitdir"], placed(git_dir, rec, i)))
        kept.append(rec)
    done = move_gitdirs(remote, moves)
    try:
        on_step("submodules")
        for rec, (_, dst) in zip(kept, moves):
            _restore_submodule(remote, f"{checkout}/{rec['path']}", dst, rec["commit"])
    except BaseException:
        move_gitdirs(remote, [(dst, src) for src, dst in reversed(done)])
        raise
    return notes


def placed(git_dir: str, rec: dict, i: int) -> str:
    """Where a restored worktree (git dir git_dir) holds the git dir of its i-th archived submodule."""
    return f"{git_dir}/modules/{lkeep._safe_name(rec['name'], i)}"


def _restore_submodule(remote: Remote, path: str, gitdir: str, commit: str) -> None:
    res = remote.run_line(script([
        ["mkdir", "-p", "--", path],
        ["tee", "--", f"{path}/.git"],
        ["git", "config", "--file", f"{gitdir}/config", "core.worktree", posixpath.relpath(path, gitdir)],
        ["rm", "-f", "--", f"{gitdir}/index"],      # it described files that are gone; rebuilt below
        ["git", "-C", path, "read-tree", "--reset", "-u", f"{commit}^{{tree}}"],
        ["git", "-C", path, "read-tree", "--reset", f"{commit}^2^{{tree}}"]]),
        stdin=f"gitdir: {posixpath.relpath(gitdir, path)}\n", check=False, what="git")
    if res.returncode != 0:
        raise GitError(f"cannot restore submodule {path} on host {remote.name!r}: {last_line(res.stderr)}")
    remote.run(["git", "-C", path, "update-index", "-q", "--refresh"], check=False)
    ignored = next((line.partition(": ")[2].strip() for line in _git(remote, path, "log", "-1", "--format=%B",
                                                                        commit).splitlines()
                    if line.startswith("Paneboard-Ignored: ")), "")
    if ignored:
        write_ignored(remote, path, ignored)
    _git(remote, path, "update-ref", "-d", lkeep.ARCHIVE_REF, commit, check=False)
