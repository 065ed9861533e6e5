"""The demo repository and its task file: a small real project that `paneboard demo` runs demo agents on.

`create_demo_repo` writes a little Python package (``inventory/``) with tests, commits it on
``main`` and returns its path; `demo_task_file_text` is the paneboard.yaml that gives one task to
each scenario of the scripted demo agent (`app.demo_agent`), with scopes that match what each
scenario edits (the rogue one strays outside its scope on purpose) and the repository's tests as
its check. `start` creates it and starts the agents on the demo's own tmux socket, then lands a
teammate's commit on `main` that one agent's work conflicts with; `running` finds the demo a socket
still runs (so `paneboard demo` reopens it) and `stop` stops it.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from .errors import GitError, PaneboardError

SOCKET = "paneboard-demo"
"""The demo's own tmux socket (tmux -L): its agents never mix with yours."""
MARK = "paneboard.demo"
"""Git config key that marks a repository as one `paneboard demo` created."""

DEMO_FILES: dict[str, str] = {
    "README.md": """\
# inventory

A tiny stock-keeping library: items, stock levels, prices and a text report.

    python -m unittest

Items are identified by their `sku`.
""",
    ".gitignore": """\
__pycache__/
*.pyc
.pytest_cache/
.venv/
""",
    "pyproject.toml": """\
[project]
name = "inventory"
version = "0.1.0"
requires-python = ">=3.10"

[tool.pytest.ini_options]
testpaths = ["tests"]
""",
    "inventory/__init__.py": '''\
"""A tiny stock-keeping library."""

from .models import Item
from .stock import Stock

__all__ = ["Item", "Stock"]
''',
    "inventory/models.py": '''\
"""The things a shop keeps in stock."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Item:
    """One kind of thing on the shelf."""

    sku: str
    name: str
    unit_price: float
    tags: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.sku:
            raise ValueError("an item needs a sku")
        if self.unit_price < 0:
            raise ValueError(f"{self.sku}: price cannot be negative")

    def label(self) -> str:
        """What the shelf label says."""
        return f"{self.name} ({self.sku}) {self.unit_price:.2f}"
''',
    "inventory/stock.py": '''\
"""How many of each item the shop has."""

from __future__ import annotations

from collections import Counter

from .models import Item


class OutOfStock(Exception):
    """Raised when taking more than there is."""


class Stock:
    """Quantities per sku, plus the items they belong to."""

    def __init__(self) -> None:
        self.items: dict[str, Item] = {}
        self.counts: Counter[str] = Counter()

    def add(self, item: Item, quantity: int = 1) -> None:
        """Put quantity of item on the shelf."""
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        self.items[item.sku] = item
        self.counts[item.sku] += quantity

    def take(self, sku: str, quantity: int = 1) -> Item:
        """Take quantity of sku off the shelf."""
        if self.counts[sku] < quantity:
            raise OutOfStock(f"{sku}: only {self.counts[sku]} left")
        self.counts[sku] -= quantity
        return self.items[sku]

    def quantity(self, sku: str) -> int:
        return self.counts[sku]

    def value(self) -> float:
        """What everything on the shelf is worth."""
        return sum(self.items[sku].unit_price * n for sku, n in self.counts.items())
''',
    "inventory/pricing.py": '''\
"""Prices with quantity discounts and tax."""

from __future__ import annotations

TAX_RATE = 0.2
DISCOUNTS = [(100, 0.15), (50, 0.10), (10, 0.05)]  # (minimum quantity, discount)


def discount_for(quantity: int) -> float:
    """The discount rate for buying quantity at once."""
    for minimum, rate in DISCOUNTS:
        if quantity >= minimum:
            return rate
    return 0.0


def price(unit_price: float, quantity: int, *, with_tax: bool = True) -> float:
    """What quantity items cost, rounded to cents."""
    if quantity < 0:
        raise ValueError("quantity cannot be negative")
    net = unit_price * quantity * (1 - discount_for(quantity))
    total = net * (1 + TAX_RATE) if with_tax else net
    return round(total, 2)
''',
    "inventory/report.py": '''\
"""A plain-text stock report."""

from __future__ import annotations

from .stock import Stock


def rows(stock: Stock) -> list[tuple[str, str, int, float]]:
    """(sku, name, quantity, value) for every item, by sku."""
    out = []
    for sku in sorted(stock.items):
        item = stock.items[sku]
        n = stock.quantity(sku)
        out.append((sku, item.name, n, round(item.unit_price * n, 2)))
    return out


def render(stock: Stock) -> str:
    """The report as aligned text with a total line."""
    lines = [f"{'SKU':<8} {'NAME':<20} {'QTY':>5} {'VALUE':>10}"]
    for sku, name, n, value in rows(stock):
        lines.append(f"{sku:<8} {name:<20} {n:>5} {value:>10.2f}")
    lines.append(f"{'TOTAL':<35} {stock.value():>10.2f}")
    return "\\n".join(lines)
''',
    "tests/__init__.py": "",
    "tests/test_stock.py": '''\
import unittest

from inventory import Item, Stock
from inventory.stock import OutOfStock


def make_stock():
    stock = Stock()
    stock.add(Item("A1", "bolt", 0.5), 10)
    stock.add(Item("B2", "nut", 0.2), 3)
    return stock


class StockTest(unittest.TestCase):
    def test_take_reduces_quantity(self):
        stock = make_stock()
        stock.take("A1", 4)
        self.assertEqual(stock.quantity("A1"), 6)

    def test_take_too_many(self):
        with self.assertRaises(OutOfStock):
            make_stock().take("B2", 5)

    def test_value(self):
        self.assertAlmostEqual(make_stock().value(), 5.6)
''',
    "tests/test_pricing.py": '''\
import unittest

from inventory.pricing import discount_for, price


class PricingTest(unittest.TestCase):
    def test_no_discount_below_ten(self):
        self.assertEqual(discount_for(9), 0.0)

    def test_price_with_discount_and_tax(self):
        self.assertEqual(price(1.0, 10), 11.4)
''',
}

# One task per demo scenario. Scopes match what app.demo_agent's scenarios edit.
_TASKS = """\
# paneboard demo: every agent here is the scripted demo agent (no AI, no network).
# Each task picks a scenario through PANEBOARD_DEMO_SCENARIO; see app/demo_agent.py.
defaults:
  agent: demo
  base: main
  silence: 20
  quiet_retry: 20     # rename-sku retries under its spinner: a `retrying` trigger
  check: {check}      # the repository's tests: `t`, and the gate before every merge

tasks:
  - name: low-stock
    agent: demo
    prompt: Add a low_stock_alerts() function to inventory/stock.py and test it.
    scope: [inventory/stock.py, tests/test_stock.py]
    env: {PANEBOARD_DEMO_SCENARIO: worker}

  - name: pricing
    agent: demo
    prompt: Pricing rebuilds the tax table on every call; make it cheaper and keep the tests green.
    scope: [inventory/pricing.py, tests/test_pricing.py]
    env: {PANEBOARD_DEMO_SCENARIO: asker}

  - name: csv-report
    agent: demo
    prompt: Add a to_csv() export next to render() in inventory/report.py.
    scope: [inventory/report.py, tests/test_report.py]
    env: {PANEBOARD_DEMO_SCENARIO: stuck}

  - name: warehouse-sync
    agent: demo
    prompt: Write inventory/sync.py to pull stock levels from the warehouse database on port 5433.
    scope: [inventory/sync.py, tests/test_sync.py]
    env: {PANEBOARD_DEMO_SCENARIO: flaky}

  - name: rename-sku
    agent: demo
    prompt: Rename Item.sku to Item.code in inventory/models.py. Touch nothing else.
    scope: [inventory/models.py]
    env: {PANEBOARD_DEMO_SCENARIO: rogue}

  - name: fix-tests
    agent: demo
    prompt: Move the shared test setup into tests/helpers.py.
    scope: [tests/helpers.py]
    env: {PANEBOARD_DEMO_SCENARIO: crasher}

  - name: docs
    agent: demo
    prompt: Write docs/inventory.md describing the public API, and link it from the README.
    scope: ["docs/**", README.md]
    env: {PANEBOARD_DEMO_SCENARIO: limiter}

  - name: stock-report
    agent: demo
    prompt: Put the low-stock alerts into the inventory report.
    scope: [inventory/report.py]
    after: [low-stock]     # queued until low-stock is merged (select low-stock, press M)
    env: {PANEBOARD_DEMO_SCENARIO: follower}
"""

_IDENTITY = {
    "GIT_AUTHOR_NAME": "paneboard demo",
    "GIT_AUTHOR_EMAIL": "demo@paneboard.invalid",
    "GIT_COMMITTER_NAME": "paneboard demo",
    "GIT_COMMITTER_EMAIL": "demo@paneboard.invalid",
}


def _git(repo: Path, *args: str) -> str:
    # An identity of its own and no user/system config, so it works on a machine with none
    # (or with hooks, signing or templates that would get in the way).
    env = {**os.environ, **_IDENTITY, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
           "GIT_TERMINAL_PROMPT": "0"}
    argv = ["git", "-c", "user.name=paneboard demo", "-c", "user.email=demo@paneboard.invalid",
            "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null", *args]
    try:
        done = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise GitError("git is not installed; install git and try again") from None
    if done.returncode != 0:
        raise GitError(f"git {args[0]} failed in {repo}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def create_demo_repo(path: Path) -> Path:
    """Create a throwaway git repository at path with a small committed Python package on `main`."""
    path = Path(path)
    if path.exists() and any(path.iterdir()):
        raise GitError(f"{path} is not empty; pick an empty or new directory for the demo")
    path.mkdir(parents=True, exist_ok=True)
    _git(path, "init", "--quiet", "--initial-branch=main")
    for rel, text in DEMO_FILES.items():
        target = path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    _git(path, "add", "--all")
    _git(path, "commit", "--quiet", "--no-verify", "-m", "inventory: items, stock, pricing and a report")
    return path.resolve()


def demo_task_file_text() -> str:
    """The paneboard.yaml for the demo repository: one task per demo-agent scenario, its tests as the check."""
    # The Python that runs paneboard (and the demo agents) runs the tests: `python` may not be on PATH.
    check = json.dumps(shlex.join([sys.executable, "-m", "unittest"]))
    return _TASKS.replace("{check}", check)


# What a teammate lands on main while the agents work: it appends to inventory/models.py, where
# rename-sku appends too, so that agent's merge is predicted to conflict with the base.
TEAMMATE_EDIT = ("inventory/models.py", '''

    def is_free(self) -> bool:
        """True for give-aways."""
        return self.unit_price == 0
''')


def land_teammate_commit(repo: Path) -> str:
    """Commit a teammate's change on main (the demo's base moves under its agents); the new commit id."""
    rel, text = TEAMMATE_EDIT
    with open(Path(repo) / rel, "a", encoding="utf-8") as f:
        f.write(text)
    _git(repo, "add", "--", rel)
    _git(repo, "commit", "--quiet", "--no-verify", "-m", "models: Item.is_free() (a teammate's change)", "--", rel)
    return _git(repo, "rev-parse", "HEAD").strip()


def start(root: Path, socket_name: str):
    """Create the demo repository under root and start its agents on their own tmux socket: (fleet, started)."""
    from . import config
    from .fleet import Fleet
    repo = create_demo_repo(Path(root) / "shop")
    _git(repo, "config", MARK, "true")
    (repo / config.DEFAULT_FILE).write_text(demo_task_file_text(), encoding="utf-8")
    fleet = Fleet.open(repo, socket_name=socket_name)
    started, _, _ = fleet.up(config.load(repo / config.DEFAULT_FILE))
    land_teammate_commit(repo)
    return fleet, started


def _demo_repos(socket_name: str) -> set[Path]:
    """The repositories whose agents run on this tmux socket; PaneboardError if one is not a demo's."""
    from .tmux import Tmux
    repos = {Path(p.options.get("repo", "")) for p in Tmux(socket_name).list_agent_panes()}
    for repo in sorted(repos):
        if repo.is_dir() and not is_demo_repo(repo):
            raise PaneboardError(f"tmux socket {socket_name!r} runs agents of {repo}, which is not a paneboard demo; "
                                 f"nothing was changed (pick another --socket)")
    return repos


def running(socket_name: str) -> Path | None:
    """The repository of the demo whose agents run on this tmux socket, or None if none run there."""
    repos = _demo_repos(socket_name)
    if not repos:
        return None
    if len(repos) > 1 or not next(iter(repos)).is_dir():
        raise PaneboardError(f"the demo on tmux socket {socket_name!r} cannot be reopened (its repository is gone, "
                             f"or there are several); stop it with `paneboard demo --stop`")
    return repos.pop()


def stop(socket_name: str) -> list[Path]:
    """Stop every demo agent on this socket as `kill` does (recorded, so none looks crashed), then the
    server if nothing else runs on it; the demo repositories."""
    from .fleet import Fleet
    from .tmux import Tmux
    repos = sorted(_demo_repos(socket_name))
    tmux = Tmux(socket_name)
    for repo in repos:
        if repo.is_dir():
            fleet = Fleet.open(repo, socket_name=socket_name)
            for agent in fleet.agents(stats=False):
                if agent.pane is not None:
                    fleet.kill(agent.name)
        else:   # its repository was deleted: nothing to record, only its windows to close
            for pane in tmux.list_agent_panes():
                if pane.options.get("repo") == str(repo):
                    tmux.kill_window(pane.pane_id)
    # Panes that are no demo agent's are someone else's: their server stays.
    if tmux.alive() and not tmux.run("list-panes", "-a", "-F", "#{pane_id}", check=False):
        tmux.kill_server()
    if not tmux.alive():
        # tmux 3.3 leaves its socket file behind when the server exits.
        path = Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}" / socket_name
        if path.is_socket():
            path.unlink(missing_ok=True)
    return repos


def is_demo_repo(path: Path) -> bool:
    """True for a repository `paneboard demo` created (marked in its git config)."""
    if not path.is_dir():
        return False
    done = subprocess.run(["git", "config", "--get", MARK], cwd=path, capture_output=True, text=True)
    return done.stdout.strip() == "true"
