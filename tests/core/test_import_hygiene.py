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
    code = ("import sys, app.cli, app.fleet, app.monitor, app.merge, app.archive, app.diff, app.status; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
