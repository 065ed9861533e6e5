"""One watchfiles watcher over every agent worktree (and each worktree's git admin dir).

Events are a hint that a worktree is dirty, not a complete change list (watchfiles#245):
consumers recompute with git. Filtering runs in a worker thread, so a 20,000-file burst
costs the event loop one set conversion, not 20,000 Python calls.

`step` is watchfiles' polling step: its Rust loop wakes every `step` ms, takes the GIL and asks
the stop event, events or not, and yields a batch once a step passes with no new change. 50 ms
(watchfiles' own default) puts a file write in the monitor ~100 ms later; 10 ms made it ~20 ms
but cost 3x the monitor's idle CPU (bench/monitor.py, 16 idle agents: 0.30 % vs 0.90 % of a core).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator, Iterable

from watchfiles import awatch

# Directories never worth a recompute: dependencies, caches and build output.
SKIP_DIRS = frozenset({".git", "node_modules", ".venv", "venv", "__pycache__", "dist", "build",
                       "target", ".tox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".cache",
                       ".next", ".gradle", ".idea"})
SKIP_SUFFIXES = (".pyc", ".pyo", ".swp", ".swx", "~", ".tmp")
# In a worktree's admin dir only these mean "a commit, checkout, merge or rebase happened".
# `index` is left out on purpose: `git status` refreshes it, which would feed back into our own recompute.
ADMIN_NAMES = frozenset({"HEAD", "ORIG_HEAD", "MERGE_HEAD", "REBASE_HEAD", "CHERRY_PICK_HEAD"})
_BIG_BURST = 5000
_KNOWN_MAX = 20000       # paths whose ignore answer a worktree keeps


@dataclass(frozen=True)
class FileActivity:
    """Files changed in one worktree (paths relative to it); git=True when its HEAD/reflog moved.

    resync=True (no paths): the watcher (re)started and now sees this worktree; whatever changed
    while it was not watching is in no event, so re-read the worktree's state from git."""

    worktree: Path
    paths: frozenset[str] | set[str]
    at: float
    git: bool = False
    count: int = 0                         # changes seen, including paths dropped as ignored
    resync: bool = False

    def __post_init__(self):
        if not self.count:
            object.__setattr__(self, "count", len(self.paths))


def _retrieve(task: asyncio.Future) -> None:
    if not task.cancelled():
        task.exception()


def admin_dir(worktree: Path) -> Path | None:
    """A linked worktree's admin dir (`<common>/worktrees/<name>`), read from its `.git` file."""
    dotgit = Path(worktree) / ".git"
    try:
        if dotgit.is_file():
            text = dotgit.read_text(encoding="utf-8", errors="replace").strip()
            if text.startswith("gitdir:"):
                p = Path(text[len("gitdir:"):].strip())
                if not p.is_absolute():
                    p = (Path(worktree) / p).resolve()
                return p if p.is_dir() else None
        elif dotgit.is_dir():
            return dotgit
    except OSError:
        return None
    return None


def git_ignored(worktree: Path, paths: Iterable[str]) -> set[str]:
    """The paths git ignores in this worktree (one `git check-ignore --stdin` call)."""
    paths = list(paths)
    if not paths:
        return set()
    try:
        proc = subprocess.run(["git", "check-ignore", "--stdin", "-z"], cwd=worktree,
                              input="\0".join(paths).encode() + b"\0", capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return set()
    if proc.returncode not in (0, 1):
        return set()
    return {p for p in proc.stdout.decode("utf-8", "replace").split("\0") if p}


def _common_dir(admin: Path | None) -> Path | None:
    """The repository's git dir shared by its worktrees, from a worktree's admin dir (its `commondir` file)."""
    if admin is None:
        return None
    try:
        text = (admin / "commondir").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return admin            # a main checkout's own .git
    p = Path(text)
    return p if p.is_absolute() else (admin / p).resolve()


def exclude_files(common: Path) -> tuple[Path, ...]:
    """The files besides `.gitignore` that say what git ignores: `info/exclude` and `core.excludesFile`."""
    proc = subprocess.run(["git", "--git-dir", str(common), "config", "--path", "--get", "core.excludesFile"],
                          capture_output=True, text=True, check=False)
    configured = proc.stdout.strip()
    if proc.returncode == 0 and configured:
        excludes = Path(configured)
    else:   # git's default when it is not set
        excludes = Path(os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")) / "git" / "ignore"
    return common / "info" / "exclude", excludes


def _stamp(paths: tuple[Path, ...]) -> tuple:
    """What changes when one of these files is edited, replaced, created or removed (one stat each)."""
    out = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append((st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:
            out.append(None)
    return tuple(out)


@dataclass
class _Root:
    worktree: Path
    admin: Path | None
    ignored_dirs: set[str] = field(default_factory=set)   # learnt from check-ignore: "out/" etc.
    known: dict[str, bool] = field(default_factory=dict)  # path -> git ignores it (git's answers, kept)
    excludes: tuple[Path, ...] = ()                       # info/exclude, core.excludesFile
    excludes_stamp: tuple = ()                            # as they were when the answers were given

    def forget_ignores(self) -> None:
        """A .gitignore changed: git's earlier answers may no longer hold."""
        self.known.clear()
        self.ignored_dirs.clear()

    def excludes_changed(self) -> bool:
        """True (once) when info/exclude or core.excludesFile changed since git's answers were kept."""
        stamp = _stamp(self.excludes)
        if stamp == self.excludes_stamp:
            return False
        self.excludes_stamp = stamp
        return True


class Watcher:
    """One `awatch` over all worktrees; `set_worktrees` restarts it (debounced) with a new set."""

    def __init__(self, worktrees: Iterable[Path] = (), *, step: int = 50, debounce: int = 200,
                 restart_delay: float = 0.3, check_ignore: bool = True):
        self.step = step
        self.debounce = debounce
        self.restart_delay = restart_delay
        self.check_ignore = check_ignore
        self._wanted: set[Path] = {Path(p) for p in worktrees}
        self._roots: dict[str, _Root] = {}
        self._excludes: dict[Path, tuple[Path, ...]] = {}     # common dir -> its exclude files (asked once)
        self._stop: asyncio.Event | None = None
        self._changed: asyncio.Event | None = None
        self._closed = False
        self.restarts = 0
        self.batches = 0

    @property
    def worktrees(self) -> set[Path]:
        return set(self._wanted)

    def set_worktrees(self, worktrees: Iterable[Path]) -> None:
        """Watch exactly these worktrees from now on (the watcher restarts shortly after)."""
        wanted = {Path(p) for p in worktrees}
        if wanted != self._wanted:
            self._wanted = wanted
            if self._changed is not None:
                self._changed.set()

    async def close(self) -> None:
        self._closed = True
        if self._stop is not None:
            self._stop.set()
        if self._changed is not None:
            self._changed.set()

    def _build_roots(self) -> dict[str, _Root]:
        roots: dict[str, _Root] = {}
        for wt in self._wanted:
            if not wt.is_dir():
                continue
            old = self._roots.get(str(wt))
            if old is not None:
                roots[str(wt)] = _Root(wt, admin_dir(wt), old.ignored_dirs, old.known, old.excludes,
                                       old.excludes_stamp)
                continue
            root = roots[str(wt)] = _Root(wt, admin_dir(wt))
            common = _common_dir(root.admin)
            if common is not None:
                if common not in self._excludes:
                    self._excludes[common] = exclude_files(common)
                root.excludes = self._excludes[common]
                root.excludes_stamp = _stamp(root.excludes)
        return roots

    async def events(self) -> AsyncIterator[FileActivity]:
        """FileActivity batches, one per worktree per watcher batch, until `close()`."""
        self._changed = asyncio.Event()
        while not self._closed:
            self._changed.clear()
            self._roots = await asyncio.to_thread(self._build_roots)
            paths = [str(r.worktree) for r in self._roots.values()]
            paths += [str(r.admin) for r in self._roots.values() if r.admin is not None]
            if not paths:
                await self._changed.wait()
                continue
            self._stop = stop = asyncio.Event()
            restart = asyncio.create_task(self._restart_when_changed(stop))
            self.restarts += 1
            batches = awatch(*paths, stop_event=stop, step=self.step, debounce=self.debounce,
                             watch_filter=None, recursive=True, ignore_permission_denied=True)
            following = asyncio.ensure_future(anext(batches))
            try:
                # The first step of `following` sets up the watches (RustNotify's constructor runs
                # before awatch's first await); from then on every change is an event. What changed
                # before, since the last watcher stopped, is in none: say so once per root.
                await asyncio.sleep(0)
                at = time.time()
                for r in list(self._roots.values()):
                    yield FileActivity(r.worktree, frozenset(), at, resync=True)
                while True:
                    try:
                        changes = await following
                    except StopAsyncIteration:
                        break
                    at = time.time()
                    self.batches += 1
                    batch = await asyncio.to_thread(self._sort, changes, at)
                    following = asyncio.ensure_future(anext(batches))
                    for activity in batch:
                        yield activity
            except FileNotFoundError:
                # A worktree vanished between listing and watching: rebuild the set.
                await asyncio.sleep(self.restart_delay)
            finally:
                restart.cancel()
                stop.set()                  # the Rust loop ends within one step
                if not following.done():
                    following.cancel()
                following.add_done_callback(_retrieve)      # nobody awaits it any more

    async def _restart_when_changed(self, stop: asyncio.Event) -> None:
        await self._changed.wait()
        # Debounce: spawning ten agents restarts the watcher once, not ten times.
        while True:
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), self.restart_delay)
            except asyncio.TimeoutError:
                break
        self._changed.set()      # so the outer loop sees it and rebuilds
        stop.set()

    # -- filtering (runs in a worker thread) ----------------------------------

    def _sort(self, changes, at: float) -> list[FileActivity]:
        """Group raw changes by worktree, drop ignored paths; one FileActivity per worktree."""
        by_prefix: dict[str, tuple[_Root, bool]] = {}
        lengths: set[int] = set()
        for r in self._roots.values():
            by_prefix[str(r.worktree)] = (r, False)
            lengths.add(len(str(r.worktree)))
            if r.admin is not None:
                by_prefix[str(r.admin)] = (r, True)
                lengths.add(len(str(r.admin)))
        ordered = sorted(lengths, reverse=True)
        files: dict[str, set[str]] = {}
        counts: dict[str, int] = {}
        git_moved: set[str] = set()
        sep = os.sep
        for _change, path in changes:
            for n in ordered:
                if len(path) > n and path[n] == sep and path[:n] in by_prefix:
                    root, is_admin = by_prefix[path[:n]]
                    rel = path[n + 1:]
                    break
            else:
                continue
            key = str(root.worktree)
            if is_admin:
                if rel in ADMIN_NAMES or rel == "logs/HEAD":
                    git_moved.add(key)
                continue
            counts[key] = counts.get(key, 0) + 1
            parts = rel.split(sep)
            if not SKIP_DIRS.isdisjoint(parts[:-1]) or parts[-1] in SKIP_DIRS or rel.endswith(SKIP_SUFFIXES):
                continue
            if root.ignored_dirs and any(rel.startswith(d) for d in root.ignored_dirs):
                continue
            files.setdefault(key, set()).add(rel)
        out: list[FileActivity] = []
        for key in set(files) | git_moved:
            root = self._roots[key]
            rels = files.get(key, set())
            if rels and self.check_ignore:
                rels = self._drop_ignored(root, rels)
            if rels or key in git_moved:
                out.append(FileActivity(root.worktree, rels, at, git=key in git_moved,
                                        count=counts.get(key, 0) or len(rels)))
        return out

    def _drop_ignored(self, root: _Root, rels: set[str]) -> set[str]:
        """The paths git does not ignore; git is asked only about paths it was not asked about before,
        so an agent writing the same files again costs no git process."""
        # Answers hold until a .gitignore, info/exclude or core.excludesFile changes (a stat per batch for the last two).
        if root.excludes_changed() or any(r == ".gitignore" or r.endswith(os.sep + ".gitignore") for r in rels):
            root.forget_ignores()
        unknown = [r for r in rels if r not in root.known]
        if unknown:
            if len(root.known) > _KNOWN_MAX:
                root.known.clear()
            ignored = git_ignored(root.worktree, unknown)
            root.known.update((r, r in ignored) for r in unknown)
            if ignored:
                self._learn_ignored_dirs(root, ignored)
        return {r for r in rels if not root.known.get(r, False)}

    @staticmethod
    def _learn_ignored_dirs(root: _Root, ignored: set[str]) -> None:
        """Remember top-level directories whose every changed file is ignored, to skip them next burst."""
        if len(root.ignored_dirs) > 64:
            return
        tops = {p.split(os.sep, 1)[0] for p in ignored if os.sep in p}
        for top in tops:
            if git_ignored(root.worktree, [top + os.sep]):
                root.ignored_dirs.add(top + os.sep)
