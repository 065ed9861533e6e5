"""Helpers for delivery tests: the scripted fake CLI (tests/fake_cli.py) as a command, or as `aider` on PATH."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

FAKE = Path(__file__).resolve().parent / "fake_cli.py"


def fake_command(out: Path, *options: str) -> str:
    """A custom agent command line that runs the fake CLI, writing what it received to out."""
    return shlex.join([sys.executable, str(FAKE), "--out", str(out), *options])


def fake_aider(bin_dir: Path) -> Path:
    """An `aider` executable in bin_dir that runs the fake CLI with the options in $FAKE_CLI_ARGS (JSON)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / "aider"
    path.write_text(f"#!{sys.executable}\n"
                    "import json, os, runpy, sys\n"
                    "sys.argv = ['fake_cli.py', *json.loads(os.environ['FAKE_CLI_ARGS'])]\n"
                    f"runpy.run_path({str(FAKE)!r}, run_name='__main__')\n", encoding="utf-8")
    path.chmod(0o755)
    return path


def fake_env(out: Path, *options: str) -> dict[str, str]:
    """The task env that tells the fake `aider` where to write and how to behave."""
    return {"FAKE_CLI_ARGS": json.dumps(["--out", str(out), *options])}


def received(out: Path) -> list[dict]:
    """What the fake CLI recorded, oldest first ([] before anything)."""
    try:
        text = out.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def submitted(out: Path) -> list[str]:
    """The texts the fake CLI took as submitted prompts."""
    return [e["submitted"] for e in received(out) if "submitted" in e]
