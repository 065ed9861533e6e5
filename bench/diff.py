"""How long a 10,000-line diff takes: from git to rows, until a ReviewScreen shows them, the keys
that move through it (j/k: the line cursor, or scrolling where there is none), and the review of
what changed since the last review.

Run: python bench/diff.py [--runs N]. Prints a table; never asserts times.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.git.diff import changed_files, file_texts, side_by_side, unified_rows  # noqa: E402

BIG = "src/big_module.py"
LINES = 10_000
REVIEWED_REF = "refs/paneboard/reviewed/bench"


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@paneboard.invalid",
                    *args], cwd=cwd, check=True, capture_output=True)


def python_source(count: int, variant: str = "") -> list[str]:
    """Plausible Python: small functions, so the lexer has real work to do."""
    out: list[str] = []
    n = 0
    while len(out) < count:
        out += [f"def function_{n}(value: int, name: str = 'item {n}') -> int:",
                f'    """Return a number for {n}{variant}."""',
                f"    total = value * {n} + len(name)  # step {n}",
                "    if total % 3 == 0:",
                f"        return total // 3 + {n}",
                "    return total", ""]
        n += 1
    return out[:count]


def build_repo(root: Path) -> Path:
    """A repository whose agent worktree changes a 10,000-line file in many places."""
    repo = root / "repo"
    (repo / "src").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    old = python_source(LINES)
    (repo / BIG).write_text("\n".join(old) + "\n")
    for n in range(20):
        (repo / "src" / f"small_{n}.py").write_text("\n".join(python_source(50)) + "\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    worktree = root / "agent"
    git(repo, "worktree", "add", "-q", "-b", "paneboard/bench", str(worktree), "main")
    new = list(old)
    for index in range(len(new) - 1, 0, -1):
        if index % 37 == 0:
            new[index] = new[index].replace("total", "result")  # a changed line
        if index % 211 == 0:
            new.insert(index, "    log.debug('inserted line')")  # an added line
        if index % 499 == 0:
            del new[index:index + 3]  # a removed block
    (worktree / BIG).write_text("\n".join(new) + "\n")
    git(worktree, "commit", "-q", "-am", "half the edits committed")
    (worktree / BIG).write_text("\n".join(new) + "\n# uncommitted tail\n")
    (worktree / "src" / "small_3.py").write_text("print('rewritten')\n")
    (worktree / "untracked.py").write_text("x = 1\n")
    return worktree


def build_since_review(root: Path, worktree: Path) -> Path:
    """A second agent like the first, reviewed at its commit, that then edited every 53rd line again."""
    again = root / "agent-since"
    git(worktree, "worktree", "add", "-q", "-b", "paneboard/bench-since", str(again), "paneboard/bench")
    tree = subprocess.run(["git", "rev-parse", "HEAD^{tree}"], cwd=again, capture_output=True, text=True).stdout.strip()
    git(again, "update-ref", REVIEWED_REF, subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@paneboard.invalid", "commit-tree", tree,
         "-m", "reviewed"], cwd=again, capture_output=True, text=True).stdout.strip())
    lines = (again / BIG).read_text().split("\n")
    for index in range(0, len(lines) - 1, 53):
        lines[index] += "  # edited after the review"
    (again / BIG).write_text("\n".join(lines))
    return again


def measure_core(worktree: Path, runs: int) -> list[tuple[str, float]]:
    timings: dict[str, list[float]] = {}

    def timed(label: str, fn):
        start = time.perf_counter()
        result = fn()
        timings.setdefault(label, []).append(time.perf_counter() - start)
        return result

    for _ in range(runs):
        start = time.perf_counter()
        changes = timed("changed_files (snapshot + diff-tree)", lambda: changed_files(worktree, "main"))
        big = next(change for change in changes if change.path == BIG)
        texts = timed("file_texts (10,000-line file)", lambda: file_texts(worktree, "main", big))
        rows = timed("side_by_side", lambda: side_by_side(*texts))
        timings.setdefault("total: call to rows", []).append(time.perf_counter() - start)
        timed("unified_rows", lambda: unified_rows(rows))
    rows_note = f"{len(rows):,} rows, {sum(r.kind == 'hunk' for r in rows)} hunks, {big.added}+/{big.removed}-"
    print(f"\n{BIG}: {rows_note}\n")
    return [(label, statistics.median(values)) for label, values in timings.items()]


def review_screen(worktree: Path, since_review: bool):
    """The review of the whole work, or (where this checkout has it) of what changed since the last review."""
    from app.screens.review import ReviewScreen
    if not since_review:
        return ReviewScreen(worktree, "main", "bench")
    from app.comments import Drafts
    from app.git.reviewed import reviewed_tree
    from app.screens.review import AgentLink
    link = AgentLink(name="bench", drafts=Drafts(worktree / ".no-drafts", "bench"), send=lambda c: "",
                     busy=lambda: None, reviewed_tree=lambda: reviewed_tree(worktree, REVIEWED_REF))
    return ReviewScreen(worktree, "main", "bench", link=link, since_review=True)


async def measure_since_review(worktree: Path) -> list[tuple[str, float]]:
    """Opening the review of what changed since the last review (none where the checkout lacks it)."""
    try:
        review_screen(worktree, True)
    except ImportError:
        return []
    return await measure_ui(worktree, since_review=True)


async def measure_ui(worktree: Path, since_review: bool = False) -> list[tuple[str, float]]:
    """Times until DiffView has drawn every visible row (Pilot's own waits are not used:
    `pilot.pause()` and `pilot.press()` wait for the CPU to go idle, and the view lexes
    in the background between events)."""
    from textual.app import App

    from widgets.diff_view import DiffView

    drawn: list[float] = []
    render_line = DiffView.render_line

    def timed_render_line(self, y):
        strip = render_line(self, y)
        drawn.append(time.perf_counter())
        return strip

    DiffView.render_line = timed_render_line  # type: ignore[method-assign]

    class Bench(App):
        def on_mount(self) -> None:
            self.push_screen(review_screen(worktree, since_review))

    async def frame(diff: DiffView, since: int) -> float:
        """Wait until a whole frame of rows is drawn after `since` draws; return its time."""
        while len(drawn) < since + diff.size.height:
            await asyncio.sleep(0.001)
        return drawn[since + diff.size.height - 1]

    app = Bench()
    app.animation_level = "none"
    results: list[tuple[str, float]] = []
    start = time.perf_counter()
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            diff = app.screen.query_one(DiffView)
            while not (diff.path == BIG and diff.rows):
                await asyncio.sleep(0.001)
            rows_shown = time.perf_counter()
            painted = await frame(diff, len(drawn))
            what = "since-review ReviewScreen" if since_review else "ReviewScreen"
            results += [(f"{what}: diff rows computed", rows_shown - start),
                        (f"{what}: first diff frame drawn", painted - start)]
            if since_review:
                return results

            async def timed(label: str, action) -> None:
                since, begin = len(drawn), time.perf_counter()
                action()
                results.append((label, await frame(diff, since) - begin))

            timed_actions = [
                ("next hunk (n)", diff.action_next_hunk),
                ("toggle unified (|)", diff.action_toggle_split),
                ("toggle split (|)", diff.action_toggle_split),
                ("jump to end, before lexing reaches it", lambda: diff.scroll_end(animate=False)),
                ("page up", lambda: diff.scroll_page_up(animate=False)),
            ]
            for label, action in timed_actions:
                await timed(label, action)
            lexed = time.perf_counter()
            while diff._pending or not (diff._old and diff._old.done and diff._new and diff._new.done):
                await asyncio.sleep(0.01)
            results.append(("background lexing of both sides finished", time.perf_counter() - lexed))
            diff.scroll_home(animate=False)
            diff.focus()
            await pilot.pause()
            for key, count in (("j", 60), ("k", 60)):
                times = [await key_to_screen(app, key, drawn) for _ in range(count)]
                results += [(f"key {key} (cursor, or scroll without one), median of {count}", statistics.median(times)),
                            (f"key {key}, slowest of {count}", max(times))]
            await pilot.pause()
    finally:
        DiffView.render_line = render_line  # type: ignore[method-assign]
    return results


async def key_to_screen(app, key: str, drawn: list[float]) -> float:
    """Press a key as a terminal would and return the time until the screen showed its effect
    (the last line drawn before 20 ms pass without a draw)."""
    since, begin = len(drawn), time.perf_counter()
    app.simulate_key(key)
    while len(drawn) == since:
        await asyncio.sleep(0.0005)
    count = len(drawn)
    while True:
        await asyncio.sleep(0.02)
        if len(drawn) == count:
            return drawn[-1] - begin
        count = len(drawn)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="repeats of the core measurements")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="paneboard-bench-") as tmp:
        worktree = build_repo(Path(tmp))
        core = measure_core(worktree, args.runs)
        ui = asyncio.run(measure_ui(worktree))
        ui += asyncio.run(measure_since_review(build_since_review(Path(tmp), worktree)))
    print(f"{'measurement':<52} {'seconds':>9}")
    print(f"{'-' * 52} {'-' * 9}")
    print(f"{'(a) app.git.diff, median of ' + str(args.runs):<52}")
    for label, seconds in core:
        print(f"  {label:<50} {seconds:>9.3f}")
    print("(b) headless Pilot app, 160x50")
    for label, seconds in ui:
        print(f"  {label:<50} {seconds:>9.3f}")


if __name__ == "__main__":
    main()
