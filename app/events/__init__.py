"""Each agent CLI's own event channel, installed per agent without touching its worktree.

A channel is what the agent's command line and environment gain (`Channel`): Claude Code gets a
`--settings FILE`, Codex `-c hooks…`/`-c notify=…` overrides, Gemini CLI its own home
(`GEMINI_CLI_HOME`: the user's `~/.gemini` with the user's settings plus paneboard's hooks), OpenCode
a local plugin in the config of `OPENCODE_CONFIG_CONTENT` (the user's own `OPENCODE_CONFIG` kept),
aider `--notifications-command`. Every file lives under `<git-common-dir>/paneboard/hooks/`, and every channel appends to the agent's one events file
(`hooks.events_path`) in one shape: `{"at", "event", "cli", "session_id", "tool_name", "asks", …}`,
with the event names Claude Code uses (SessionStart, UserPromptSubmit, PreToolUse, PostToolUse,
PermissionRequest, Notification, Stop, StopFailure, SessionEnd) plus `Busy` (working, no detail)
and `Waiting` (waits for input; the screen says whether it is a question).

Each CLI's module has `install(common_dir, name, rules) -> Channel` and `parse(payload) -> dict|None`;
`parse` runs inside the recorder (`app/hooks.py`), so those modules import only the stdlib at
module level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

CLIS = ("claude", "codex", "gemini", "opencode", "aider")


@dataclass(frozen=True)
class Channel:
    """What an agent's start gains for its event channel: arguments, environment, files written."""

    argv: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    files: tuple[Path, ...] = ()
    notices: tuple[str, ...] = ()       # one line each for the user (their own settings file cannot be used)

    def remove(self) -> None:
        """Take the channel's files away again (a start that failed); a directory's links are removed, never followed."""
        import shutil
        for path in self.files:
            try:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            except OSError:
                pass


def install(cli: str, common_dir: Path, name: str, allow: tuple[str, ...] = (), deny: tuple[str, ...] = (),
            env: dict[str, str] | None = None) -> Channel:
    """Write the agent's channel files (a fresh events file) and say how its command line changes."""
    from .. import hooks
    if cli not in CLIS:
        return Channel()
    hooks.fresh_events(common_dir, name)
    module = _module(cli)
    if cli in ("gemini", "opencode"):     # their channels carry the user's own settings: the agent's environment
        return module.install(Path(common_dir), name, allow, deny, env)
    return module.install(Path(common_dir), name, allow, deny)


def _module(cli: str):
    import importlib
    return importlib.import_module(f"{__name__}.{cli}")


def recorder(events_file: Path, cli: str, mode: str = "record") -> list[str]:
    """The argv of paneboard's recorder for one CLI: python, app/hooks.py, the mode, the events file."""
    import sys
    hooks_py = Path(__file__).resolve().parent.parent / "hooks.py"
    # -I -S: no site-packages, no PYTHON* variables; the recorder needs the stdlib only.
    return [sys.executable, "-I", "-S", str(hooks_py), mode, str(events_file), cli]


def write_private(path: Path, text: str) -> Path:
    """Write a channel file atomically (never half-written for a CLI that starts at once)."""
    import os
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def channel_files(common_dir: Path, name: str) -> Channel:
    """Every channel file an agent of this name may have (to take them away after a failed start)."""
    from .. import hooks
    base = hooks.hooks_dir(common_dir) / hooks.slug(name)
    return Channel(files=tuple(base.with_name(base.name + suffix) for suffix in
                               (".settings.json", ".gemini-home", ".opencode.js", ".opencode.json")))
