"""Incremental conflict prediction: merge-tree runs only where paths meet, once per tree, never starved.

Real repositories and worktrees; git calls are counted through the predictor's runner (`Runner.calls`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.git import merge as merging
from app.git import worktrees
from app.git.prediction import FleetPredictor, Work
from app.git.procs import Runner
from app.monitor.predict import PredictionScheduler
from tests.helpers import git, make_repo

FILES = {"README.md": "# r\n", "src/app.py": "".join(f"line {i}\n" for i in range(20)), "docs/guide.md": "g\n"}


class Fleet:
    """Agents as worktrees of one repository, and their `Work` as the monitor would hand it over."""

    def __init__(self, root: Path):
        self.repo = make_repo(root / "repo", FILES)
        self.root = root
        self.gen: dict[str, int] = {}

    def add(self, name: str) -> Path:
        wt = self.root / name
        git(self.repo, "worktree", "add", "-q", "-b", f"paneboard/{name}", str(wt), "main")
        return wt

    def work(self, *names: str) -> dict[str, Work]:
        out = {}
        for n in names:
            wt = self.root / n
            s = worktrees.stats(wt, "main")
            self.gen[n] = self.gen.get(n, 0) + 1
            out[n] = Work(wt, frozenset(s.files), s.head, s.dirty, self.gen[n])
        return out


@pytest.fixture
def fleet(tmp_path) -> Fleet:
    return Fleet(tmp_path)


def edit(wt: Path, path: str, text: str) -> None:
    (wt / path).parent.mkdir(parents=True, exist_ok=True)
    (wt / path).write_text(text)


def test_disjoint_pairs_never_run_merge_tree(fleet: Fleet):
    for name, path in (("a", "src/a.py"), ("b", "src/b.py"), ("c", "docs/c.md")):
        edit(fleet.add(name), path, f"{name}\n")
    runner = Runner()
    p = FleetPredictor(fleet.repo, runner)
    r = p.update("main", fleet.work("a", "b", "c"), {"a", "b", "c"})
    assert r.vs_base == {"a": (), "b": (), "c": ()}
    assert r.pairs == {("a", "b"): (), ("a", "c"): (), ("b", "c"): ()}
    assert runner.calls["merge-tree"] == 0
    assert runner.calls["add"] == 0         # no snapshot tree written either


def test_meeting_pairs_are_predicted_like_predict_fleet(fleet: Fleet):
    a, b, c = fleet.add("a"), fleet.add("b"), fleet.add("c")
    edit(a, "src/app.py", FILES["src/app.py"].replace("line 3\n", "line three (a)\n"))
    edit(b, "src/app.py", FILES["src/app.py"].replace("line 3\n", "line 3 by b\n"))
    edit(c, "src/app.py", FILES["src/app.py"].replace("line 15\n", "line fifteen (c)\n"))
    git(c, "commit", "-qam", "c commits")
    runner = Runner()
    r = FleetPredictor(fleet.repo, runner).update("main", fleet.work("a", "b", "c"), {"a", "b", "c"})
    vs_base, pairs = merging.predict_fleet(fleet.repo, "main", {n: fleet.root / n for n in "abc"})
    assert r.vs_base == {n: p.conflicts for n, p in vs_base.items()}
    assert r.pairs == {k: p.conflicts for k, p in pairs.items()}
    assert r.pairs[("a", "b")] == ("src/app.py",) and r.pairs[("a", "c")] == () and r.pairs[("b", "c")] == ()
    assert runner.calls["merge-tree"] == 3      # the three pairs that share src/app.py; the base never moved


def test_a_pair_is_predicted_again_only_after_one_side_changed_its_tree(fleet: Fleet):
    a, b, c = fleet.add("a"), fleet.add("b"), fleet.add("c")
    edit(a, "src/app.py", FILES["src/app.py"].replace("line 3\n", "A\n"))
    edit(b, "src/app.py", FILES["src/app.py"].replace("line 3\n", "B\n"))
    edit(c, "docs/c.md", "c\n")
    runner = Runner()
    p = FleetPredictor(fleet.repo, runner)
    p.update("main", fleet.work("a", "b", "c"), {"a", "b", "c"})
    assert runner.calls["merge-tree"] == 1
    # Touched, rewritten with the same bytes, stats refreshed: the same tree, so no merge-tree.
    edit(a, "src/app.py", FILES["src/app.py"].replace("line 3\n", "A\n"))
    r = p.update("main", fleet.work("a", "b", "c"), {"a", "b", "c"})
    assert runner.calls["merge-tree"] == 1 and r.pairs[("a", "b")] == ("src/app.py",)
    # c changes its own file: its pairs stay disjoint, nothing to merge.
    edit(c, "docs/c.md", "c again\n")
    p.update("main", fleet.work("a", "b", "c"), {"c"})
    assert runner.calls["merge-tree"] == 1
    # a resolves towards b: a new tree on one side, predicted again, now clean.
    edit(a, "src/app.py", FILES["src/app.py"].replace("line 3\n", "B\n"))
    r = p.update("main", fleet.work("a", "b", "c"), {"a"})
    assert runner.calls["merge-tree"] == 2 and r.pairs[("a", "b")] == ()


def test_base_moves_predicted_only_where_it_moved_in_an_agents_paths(fleet: Fleet):
    a, b = fleet.add("a"), fleet.add("b")
    edit(a, "src/app.py", FILES["src/app.py"].replace("line 1\n", "A\n"))
    edit(b, "docs/guide.md", "b\n")
    runner = Runner()
    p = FleetPredictor(fleet.repo, runner)
    p.update("main", fleet.work("a", "b"), {"a", "b"})
    assert runner.calls["merge-tree"] == 0
    (fleet.repo / "src/app.py").write_text(FILES["src/app.py"].replace("line 1\n", "base\n"))
    git(fleet.repo, "commit", "-qam", "base moves in src/app.py")
    r = p.update("main", fleet.work("a", "b"), set())      # no agent changed: the base did
    assert r.vs_base == {"a": ("src/app.py",), "b": ()}
    assert runner.calls["merge-tree"] == 1                  # a only: the base moved in none of b's paths
    p.update("main", fleet.work("a", "b"), set())
    assert runner.calls["merge-tree"] == 1


def test_a_rename_onto_the_same_path_is_still_predicted(fleet: Fleet):
    a, b = fleet.add("a"), fleet.add("b")
    git(a, "mv", "docs/guide.md", "docs/manual.md")
    git(a, "commit", "-qm", "rename")
    edit(b, "docs/manual.md", "b writes its own manual\n")
    runner = Runner()
    r = FleetPredictor(fleet.repo, runner).update("main", fleet.work("a", "b"), {"a", "b"})
    assert r.pairs[("a", "b")] == ("docs/manual.md",)
    assert runner.calls["merge-tree"] == 1


def test_a_hundred_agents_arriving_run_each_needed_prediction_once(fleet: Fleet):
    names = [f"ag{i:03d}" for i in range(100)]
    for i, n in enumerate(names):
        wt = fleet.add(n)
        edit(wt, f"own/{n}.txt", f"{n}\n")
        if i % 10 == 0:         # ten agents write one line of the same file, differently
            edit(wt, "src/app.py", FILES["src/app.py"].replace("line 7\n", f"{n}\n"))
    runner = Runner()
    p = FleetPredictor(fleet.repo, runner)
    arrived: list[str] = []
    for start in range(0, 100, 25):            # stats come in over several rounds, as at a start
        new = names[start:start + 25]
        arrived += new
        r = p.update("main", fleet.work(*arrived), set(new))
    p.update("main", fleet.work(*arrived), set(arrived))      # every agent refreshed again, unchanged
    assert len(r.pairs) == 100 * 99 // 2
    assert runner.calls["merge-tree"] == 10 * 9 // 2
    assert sum(1 for v in r.pairs.values() if v) == 45


async def test_a_continuous_burst_does_not_starve_predictions(fleet: Fleet):
    a, b = fleet.add("a"), fleet.add("b")
    edit(b, "src/app.py", "b\n")
    runner = Runner()
    rounds = []
    sched = PredictionScheduler(fleet.repo, lambda: "main", runner, rounds.append, lambda *_: None,
                                debounce=0.3, max_wait=0.6, base_every=30.0)
    task = asyncio.create_task(sched.run())
    try:
        sched.update("b", fleet.work("b")["b"])
        i = 0
        # An update every 50 ms, never quiet for the 300 ms debounce: rounds must come anyway.
        while len(rounds) < 3 and i < 400:
            edit(a, "src/app.py", f"a {i}\n")
            sched.update("a", fleet.work("a")["a"])
            i += 1
            await asyncio.sleep(0.05)
        assert len(rounds) >= 3, f"no prediction during {i} updates"
        assert sched.latest.pairs[("a", "b")] == ("src/app.py",)
    finally:
        task.cancel()
        runner.close()
