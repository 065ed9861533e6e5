"""The running watcher notices `.git/info/exclude` and `core.excludesFile` edits without a restart: a path that
one of them gains stops counting as the agent's edit (a real watcher over a real worktree, real git)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.monitor.watch import Watcher
from tests.helpers import git, make_repo, until


@pytest.fixture
def worktree(tmp_path: Path) -> tuple[Path, Path]:
    """(main checkout, an agent's linked worktree) of a real repository."""
    repo = make_repo(tmp_path / "project", {"README.md": "# demo\n", ".gitignore": "*.log\n"})
    wt = tmp_path / "project.paneboard" / "a1"
    git(repo, "worktree", "add", "-q", "-b", "paneboard/a1", str(wt), "main")
    return repo, wt


class Watching:
    """A real Watcher over one worktree, with every path it reported as changed."""

    def __init__(self, wt: Path):
        self.watcher = Watcher([wt])
        self.paths: list[str] = []
        self.resynced = False
        self._task = asyncio.create_task(self._collect())

    async def _collect(self):
        async for activity in self.watcher.events():
            self.resynced |= activity.resync
            self.paths += sorted(activity.paths)

    async def wrote(self, wt: Path, *names: str, marker: str) -> list[str]:
        """Write these files and then a marker file; every path reported up to the marker."""
        start = len(self.paths)
        for name in names:
            (wt / name).write_text(f"{marker}\n")
        await asyncio.sleep(0.3)          # the files land in a batch before the marker's
        (wt / marker).write_text("marker\n")
        await until(lambda: marker in self.paths[start:], timeout=10)
        return self.paths[start:]

    async def close(self):
        await self.watcher.close()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def test_a_path_that_info_exclude_gains_stops_counting_without_a_restart(worktree):
    repo, wt = worktree
    w = Watching(wt)
    try:
        await until(lambda: w.resynced, timeout=10)
        assert "notes.scratch" in await w.wrote(wt, "notes.scratch", "debug.log", marker="m1.txt")
        assert "debug.log" not in w.paths            # .gitignore'd from the start
        with open(repo / ".git" / "info" / "exclude", "a", encoding="utf-8") as fh:
            fh.write("notes.scratch\n")
        seen = await w.wrote(wt, "notes.scratch", marker="m2.txt")
        assert "notes.scratch" not in seen, seen
        assert w.watcher.restarts == 1               # the same watcher, never restarted
        # And back: the exclude loses it, the agent's edit counts again.
        (repo / ".git" / "info" / "exclude").write_text("# nothing\n")
        assert "notes.scratch" in await w.wrote(wt, "notes.scratch", marker="m3.txt")
    finally:
        await w.close()


async def test_a_path_that_core_excludes_file_gains_stops_counting(worktree, tmp_path):
    repo, wt = worktree
    excludes = tmp_path / "my-global-ignore"
    excludes.write_text("")
    git(repo, "config", "core.excludesFile", str(excludes))
    w = Watching(wt)
    try:
        await until(lambda: w.resynced, timeout=10)
        assert "draft.md" in await w.wrote(wt, "draft.md", marker="m1.txt")
        excludes.write_text("draft.md\n")
        seen = await w.wrote(wt, "draft.md", marker="m2.txt")
        assert "draft.md" not in seen, seen
    finally:
        await w.close()
