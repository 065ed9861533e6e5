"""The pinned agent CLIs the live tests drive: the one place their versions are written."""

from __future__ import annotations

import os
from pathlib import Path

NPM = {
    "claude": ("@anthropic-ai/claude-code", "2.1.332"),
    "codex": ("@openai/codex", "0.171.0"),
    "gemini": ("@google/gemini-cli", "0.61.0"),
    "opencode": ("opencode-ai", "1.18.33"),
}
PYPI = {
    "aider": ("aider-chat", "0.86.2"),
}


def cache_dir() -> Path:
    """Where the CLIs are installed: $PANEBOARD_AGENT_CLIS, else ~/.cache/paneboard/agent-clis."""
    given = os.environ.get("PANEBOARD_AGENT_CLIS")
    return Path(given) if given else Path.home() / ".cache" / "paneboard" / "agent-clis"


def bin_dir(cli: str) -> Path:
    """The directory that holds a CLI's executable (put first on PATH to run it)."""
    if cli in PYPI:
        return cache_dir() / cli / "bin"
    return cache_dir() / "npm" / "node_modules" / ".bin"


def version(cli: str) -> str:
    """The pinned version of a CLI."""
    return {**NPM, **PYPI}[cli][1]
