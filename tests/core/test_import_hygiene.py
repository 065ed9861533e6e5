"""Only the UI layer (app/dashboard.py, app/screens/, widgets/) may import Textual or Rich."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UI = {ROOT / "app" / "dashboard.py"}
UI_DIRS = {ROOT / "app" / "screens"}
FORBIDDEN = ("textual", "rich")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_modules_do_not_import_textual_or_rich():
    offenders = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        if path in UI or any(d in path.parents for d in UI_DIRS):
            continue
        bad = imported_modules(path) & set(FORBIDDEN)
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, offenders


def test_cli_paths_without_the_dashboard_never_load_textual():
    code = ("import sys, app.cli, app.fleet, app.monitor, app.git.merge, app.git.archive, app.git.diff, app.status; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# Edges that must not exist: (importing package, imported package). ARCHITECTURE.md, "Invariants".
FORBIDDEN_EDGES = [
    ("app.tmux", "app.git"), ("app.tmux", "app.fleet"), ("app.tmux", "app.monitor"),
    ("app.git", "app.tmux"), ("app.git", "app.fleet"), ("app.git", "app.monitor"),
    ("app.fleet", "app.monitor"), ("app.monitor", "app.fleet"),
    ("app.hosts", "app.fleet"), ("app.hosts", "app.monitor"), ("app.monitor", "app.hosts"),
    ("widgets", "app.fleet"), ("widgets", "app.monitor"),
]
for layer in ("app.tmux", "app.git", "app.hosts", "app.fleet", "app.monitor", "app.model", "app.errors", "app.status",
              "app.triggers", "app.state", "app.config", "app.presets"):
    FORBIDDEN_EDGES += [(layer, "app.screens"), (layer, "app.dashboard"), (layer, "widgets"), (layer, "app.cli")]


def module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def internal_imports(path: Path) -> set[str]:
    """Every app/widgets module this file imports, at any depth in the file (lazy imports count too)."""
    mod = module_of(path)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found |= {f"{target}.{a.name}" for a in node.names}
    return {m for m in found if m.split(".")[0] in ("app", "widgets")}


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_layers_import_one_way():
    offenders = []
    for path in sorted([*(ROOT / "app").rglob("*.py"), *(ROOT / "widgets").rglob("*.py")]):
        mod = module_of(path)
        for target in internal_imports(path):
            for src, dst in FORBIDDEN_EDGES:
                if within(mod, src) and within(target, dst) and not within(mod, dst):
                    offenders.append(f"{path.relative_to(ROOT)} imports {target} ({src} must not import {dst})")
    assert not offenders, "\n".join(sorted(set(offenders)))
