"""What a worktree holds beyond what its branch tracks, and how discard keeps it: ignored files and submodules.

Plain Python (no Textual, no Rich); git runs as an argv list, never through a shell.

- **Ignored files** are sorted with the `disposable:` globs (gitignore-like, `!glob` excludes):
  disposable ones (dependencies, virtualenvs, caches, build output) may be thrown away; every
  other ignored file is work (a `.env`, notes). Discard stores those as an *ignored commit*: a
  root commit whose tree holds them at their paths, blobs written byte for byte (no filters),
  with their modes (executable bit, symlinks). Its id is a `Paneboard-Ignored:` trailer of the
  archive commit, which also has it as a parent, so it is reachable and gc never takes it.
- **Submodules**: the work of each initialised submodule is archived inside its own git dir with
  the same shape as the worktree's (snapshot commit W with parents HEAD, index and ignored
  commit) under `refs/paneboard/archive`; its git dir, which holds every commit made in it, is
  then moved out of the worktree's to `<git-common-dir>/paneboard/archive/modules/<slug>-<time>/N`.
  The archive commit names each one in a `Paneboard-Submodule: {"path", "name", "gitdir", "commit"}`
  trailer. Restore moves the git dir back under the new worktree's, writes the files (W), the
  index and the ignored files, and recurses into that submodule's own submodules.

Whatever cannot be kept this way (a git repository that is not a submodule, a submodule whose git
dir is shared with another checkout) is named, and discard refuses before changing anything.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GitError
from .merge import _NO_LOCKS, _TOOL_IDENTITY, _git, _out, _split_z

IGNORED_LIMIT = 50 * 1024 * 1024
"""Bytes of ignored files that are not disposable that discard archives without --force."""
ARCHIVE_REF = "refs/paneboard/archive"
"""Where a submodule's archived work points, inside the submodule's own git dir."""


def is_disposable(path: str, disposable: tuple[str, ...]) -> bool:
    """True when the worktree-relative path (a folder ends with /) matches the disposable globs."""
    from ..triggers import in_scope
    return in_scope(path, disposable)


@dataclass
class Holdings:
    """What one checkout (a worktree or a submodule in it) holds that git's branch does not."""

    checkout: Path
    changes: list[str] = field(default_factory=list)        # staged, unstaged, untracked (status lines)
    ignored: list[tuple[str, int]] = field(default_factory=list)   # (path, bytes): ignored, not disposable
    unkeepable: list[str] = field(default_factory=list)     # what discard cannot archive, with why
    submodules: list["Submodule"] = field(default_factory=list)

    def all_ignored(self) -> list[tuple[str, int]]:
        """Every ignored file to keep, here and in submodules, as paths relative to this checkout."""
        out = list(self.ignored)
        for sub in self.submodules:
            out += [(f"{sub.path}/{p}", n) for p, n in sub.holdings.all_ignored()]
        return out

    def all_unkeepable(self) -> list[str]:
        out = list(self.unkeepable)
        for sub in self.submodules:
            out += [f"{sub.path}/{p}" for p in sub.holdings.all_unkeepable()]
        return out


@dataclass
class Submodule:
    """An initialised submodule of a checkout: where it is, its git dir, and what it holds."""

    path: str
    name: str
    gitdir: Path
    holdings: Holdings
    local_commits: int = 0      # commits reachable from its branches or HEAD and from no remote-tracking ref


def survey(checkout: Path, disposable: tuple[str, ...]) -> Holdings:
    """What the checkout holds beyond its branch: changes, ignored files to keep, initialised submodules (recursively)."""
    checkout = Path(checkout)
    found = Holdings(checkout)
    out = _git(checkout, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignored=matching",
               "--no-renames", env=_NO_LOCKS).stdout
    submodule_paths = set(_submodule_paths(checkout))
    for entry in _split_z(out):
        code, path = entry[:2], entry[3:]
        if code != "!!":
            if code == "??" and path.endswith("/"):
                found.unkeepable.append(f"{path} (a git repository that is not a submodule; move it out)")
            found.changes.append(entry)
            continue
        if is_disposable(path, disposable):
            continue
        for p in _expand(checkout, path) if path.endswith("/") else [path]:
            if p.endswith("/"):
                found.unkeepable.append(f"{p} (an ignored git repository; move it out or make it disposable)")
            elif not is_disposable(p, disposable):
                found.ignored.append((p, _size(checkout / p)))
    names = _submodule_names(checkout)
    for path in sorted(submodule_paths):
        if not (checkout / path / ".git").exists():
            continue        # not initialised: an empty folder, nothing in it to lose
        gitdir = Path(_out(checkout / path, "rev-parse", "--absolute-git-dir")).resolve()
        sub = Submodule(path, names.get(path, path), gitdir, survey(checkout / path, disposable))
        sub.local_commits = int(_out(checkout / path, "rev-list", "--count", "HEAD", "--branches",
                                     "--not", "--remotes") or 0)
        mine = (Path(_out(checkout, "rev-parse", "--absolute-git-dir")).resolve(), checkout.resolve())
        if not any(gitdir.is_relative_to(m) for m in mine):
            found.unkeepable.append(f"{path} (a submodule whose git dir {gitdir} is shared with another checkout)")
        if sub.holdings.submodules:
            found.unkeepable.append(f"{path} (a submodule with initialised submodules of its own)")
        found.submodules.append(sub)
    return found


def _submodule_paths(checkout: Path) -> list[str]:
    out = _git(checkout, "ls-files", "-z", "--stage", env=_NO_LOCKS).stdout
    paths = []
    for entry in _split_z(out):
        meta, _, path = entry.partition("\t")
        if meta.startswith("160000 ") and path not in paths:
            paths.append(path)
    return paths


def _submodule_names(checkout: Path) -> dict[str, str]:
    """Submodule path -> name, from .gitmodules (the name is where its git dir lives under modules/)."""
    if not (checkout / ".gitmodules").is_file():
        return {}
    out = _git(checkout, "config", "-z", "--file", ".gitmodules", "--get-regexp", r"^submodule\..*\.path$",
               check=False).stdout
    names = {}
    for item in _split_z(out):
        key, _, value = item.partition("\n")
        names[value] = key[len("submodule."):-len(".path")]
    return names


def _expand(checkout: Path, folder: str) -> list[str]:
    """The files (and nested repositories, ending in /) of an ignored folder."""
    return _split_z(_git(checkout, "--literal-pathspecs", "ls-files", "-z", "--others", "--ignored",
                         "--exclude-standard", "--", folder, env=_NO_LOCKS).stdout)


def _size(path: Path) -> int:
    try:
        return path.lstat().st_size
    except OSError:
        return 0


# ---------------------------------------------------------------- ignored files as a commit

def ignored_commit(checkout: Path, paths: list[str]) -> str | None:
    """A root commit holding these ignored files byte for byte with their modes; None when there are none."""
    if not paths:
        return None
    checkout = Path(checkout)
    entries = []
    regular = [p for p in paths if not (checkout / p).is_symlink()]
    # --stdin-paths reads one path a line: a name holding a newline is hashed from its bytes instead.
    plain = [p for p in regular if "\n" not in p]
    blobs = dict(zip(plain, _out(checkout, "hash-object", "-w", "--no-filters", "--stdin-paths", input=b"".join(
        p.encode("utf-8", "surrogateescape") + b"\n" for p in plain)).split())) if plain else {}
    for path in regular:
        blob = blobs.get(path) or _out(checkout, "hash-object", "-w", "--no-filters", "--stdin",
                                       input=(checkout / path).read_bytes())
        mode = "100755" if os.stat(checkout / path).st_mode & stat.S_IXUSR else "100644"
        entries.append(f"{mode} {blob}\t{path}")
    for path in paths:
        if (checkout / path).is_symlink():
            target = os.fsencode(os.readlink(checkout / path))
            entries.append(f"120000 {_out(checkout, 'hash-object', '-w', '--stdin', input=target)}\t{path}")
    tmpdir = tempfile.mkdtemp(prefix="paneboard-ignored-")
    try:
        env = {"GIT_INDEX_FILE": os.path.join(tmpdir, "index")}
        _git(checkout, "update-index", "-z", "--index-info", env=env,
             input=b"".join(e.encode("utf-8", "surrogateescape") + b"\0" for e in entries))
        tree = _out(checkout, "write-tree", env=env)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return _out(checkout, "commit-tree", tree, "-m", "paneboard: ignored files", env=_TOOL_IDENTITY)


def write_ignored(checkout: Path, commit: str) -> int:
    """Write the ignored commit's files into the checkout (never over an existing file); how many were written."""
    checkout = Path(checkout)
    listing = _split_z(_git(checkout, "ls-tree", "-r", "-z", "--full-tree", commit).stdout)
    entries = []
    for item in listing:
        meta, _, path = item.partition("\t")
        mode, _, blob = meta.split(" ")
        entries.append((mode, blob, path))
    if not entries:
        return 0
    batch = _git(checkout, "cat-file", "--batch", input="".join(f"{b}\n" for _, b, _ in entries).encode()).stdout
    pos = 0
    for mode, blob, path in entries:
        header_end = batch.index(b"\n", pos)
        size = int(batch[pos:header_end].split()[2])
        data = batch[header_end + 1: header_end + 1 + size]
        pos = header_end + 1 + size + 1
        target = checkout / path
        if os.path.lexists(target):
            raise GitError(f"restore refused to overwrite {target}: it exists, and the archive holds another")
        target.parent.mkdir(parents=True, exist_ok=True)
        if mode == "120000":
            os.symlink(os.fsdecode(data), target)
        else:
            target.write_bytes(data)
            if mode == "100755":
                target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return len(entries)


# ---------------------------------------------------------------- trailers

def trailers(cwd: Path, commit: str) -> tuple[str | None, list[dict]]:
    """(ignored commit, submodule records) that an archive commit names in its trailers."""
    message = _out(cwd, "log", "-1", "--format=%B", commit)
    ignored, subs = None, []
    for line in message.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key == "Paneboard-Ignored":
            ignored = value.strip()
        elif sep and key == "Paneboard-Submodule":
            subs.append(json.loads(value))
    return ignored, subs


def trailer_lines(ignored: str | None, subs: list[dict]) -> str:
    """The trailers that name an archive's ignored commit and submodules."""
    lines = [f"Paneboard-Ignored: {ignored}"] if ignored else []
    lines += [f"Paneboard-Submodule: {json.dumps(s, ensure_ascii=True)}" for s in subs]
    return "".join(line + "\n" for line in lines)


# ---------------------------------------------------------------- snapshots, prune's view, submodule git dirs

def index_tree(worktree: Path, fallback: str) -> str:
    """The tree of the worktree's index, written from a copy so the real index is not touched."""
    real = Path(_out(worktree, "rev-parse", "--path-format=absolute", "--git-path", "index"))
    if not real.exists():
        return fallback
    tmpdir = tempfile.mkdtemp(prefix="paneboard-index-")
    try:
        copy = os.path.join(tmpdir, "index")
        shutil.copy2(real, copy)
        proc = _git(worktree, "write-tree", env={"GIT_INDEX_FILE": copy}, check=False)
        # Unmerged entries cannot be written; the full snapshot still holds the files.
        return proc.stdout.decode().strip() if proc.returncode == 0 else fallback
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def _listing(paths: list[str], limit: int = 3) -> str:
    return ", ".join(paths[:limit]) + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def what_prune_would_lose(holdings: Holdings, common_dir: Path) -> list[str]:
    """Beyond tracked changes: what removing this worktree would lose (ignored files, submodule work), as reasons."""
    reasons = []
    ignored = [p for p, _ in holdings.all_ignored()]
    if ignored:
        reasons.append(f"ignored files that are not disposable: {_listing(ignored)}")
    if holdings.all_unkeepable():
        reasons.append(f"it holds {_listing(holdings.all_unkeepable(), 1)}")
    for sub in holdings.submodules:
        if sub.holdings.changes:
            reasons.append(f"submodule {sub.path} has uncommitted or untracked changes")
        unsaved = _unsaved_commits(sub, common_dir)
        if unsaved:
            reasons.append(f"submodule {sub.path} has {unsaved} commit(s) found nowhere else (push them first)")
    return reasons


def _unsaved_commits(sub: Submodule, common_dir: Path) -> int:
    """Commits of the submodule that neither a remote-tracking ref nor the main checkout's copy of it holds."""
    if not sub.local_commits:
        return 0
    co = sub.holdings.checkout
    commits = _out(co, "rev-list", "HEAD", "--branches", "--not", "--remotes").split()
    shared = Path(common_dir) / "modules" / sub.name
    if not shared.is_dir() or shared.resolve() == sub.gitdir:
        return len(commits)
    out = _git(co, "--git-dir", str(shared), "cat-file", "--batch-check", input="".join(c + "\n" for c in commits).encode(),
               check=False).stdout.decode()
    return sum(1 for line in out.splitlines() if line.endswith(" missing"))


def move_gitdirs(moves: list[tuple[Path, Path]]) -> list[tuple[Path, Path]]:
    """Move each git dir from src to dst (all or none: what moved is moved back on failure); the moves done."""
    done: list[tuple[Path, Path]] = []
    try:
        for src, dst in moves:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(src), str(dst))
            done.append((src, dst))
    except BaseException:
        for src, dst in reversed(done):
            shutil.move(str(dst), str(src))
        raise
    return done


def restore_submodules(checkout: Path, records: list[dict]) -> None:
    """Bring archived submodules back into a restored worktree: git dir, files, index and ignored files."""
    gitdir = Path(_out(checkout, "rev-parse", "--absolute-git-dir"))
    moves = [(Path(rec["gitdir"]), gitdir / "modules" / _safe_name(rec["name"], i)) for i, rec in enumerate(records)]
    for _, dst in moves:
        if dst.exists():
            raise GitError(f"restore refused: {dst} already exists")
    done = move_gitdirs(moves)
    try:
        for rec, (_, dst) in zip(records, moves):
            _restore_submodule(checkout / rec["path"], dst, rec["commit"])
    except BaseException:
        # The worktree is about to be removed: its git dir must not take the submodules' with it.
        move_gitdirs([(dst, src) for src, dst in reversed(done)])
        raise
    for src, _ in done:
        with contextlib.suppress(OSError):
            src.parent.rmdir()      # the discard's modules folder, once empty


def _safe_name(name: str, i: int) -> str:
    parts = name.split("/")
    return name if name and all(p not in ("", ".", "..") for p in parts) else f"paneboard-{i}"


def _restore_submodule(path: Path, gitdir: Path, commit: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / ".git").write_text(f"gitdir: {os.path.relpath(gitdir, path)}\n", encoding="utf-8")
    _git(path, "config", "--file", str(gitdir / "config"), "core.worktree", os.path.relpath(path, gitdir))
    parents = _out(path, "rev-list", "--parents", "-n", "1", commit).split()[1:]
    with contextlib.suppress(FileNotFoundError):
        (gitdir / "index").unlink()     # it described files that are gone; rebuilt from the archive below
    _git(path, "read-tree", "--reset", "-u", f"{commit}^{{tree}}")
    _git(path, "read-tree", "--reset", f"{parents[1]}^{{tree}}")
    _git(path, "update-index", "-q", "--refresh", check=False)
    ignored, _ = trailers(path, commit)
    if ignored:
        write_ignored(path, ignored)
    _git(path, "update-ref", "-d", ARCHIVE_REF, commit, check=False)
