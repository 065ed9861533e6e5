"""Codex CLI 0.171: its hooks and its `notify` program, given as `-c` overrides on the command line.

Hooks given with `-c` form Codex's session-flags layer; Codex runs a non-managed hook only once it
is trusted by hash in the user's config.toml, and ignores trust entries given with `-c`, so the
agent starts with `--dangerously-bypass-hook-trust` (for this invocation only; it also runs the
user's own enabled hooks that were never reviewed). `notify` needs no trust: Codex runs it with
one JSON argument when a turn completes (`{"type": "agent-turn-complete", "thread-id", …}`).
Codex 0.171 has no per-command allow/deny setting reachable from the command line (its exec
policy rules live in `$CODEX_HOME/rules/`): a task's `allow:`/`deny:` rules are not handed to it.
"""

from __future__ import annotations

try:
    from ._shape import asks, event
except ImportError:          # loaded by path inside the recorder
    from _shape import asks, event

EVENTS = ("SessionStart", "UserPromptSubmit", "PreToolUse", "PermissionRequest", "PostToolUse", "Stop")
HOOK_TIMEOUT = 10


def toml_string(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's, but for astral characters written as they are)."""
    import json
    return json.dumps(text, ensure_ascii=False)


def overrides(events_file) -> list[str]:
    """The `-c` arguments that make Codex record its hooks and finished turns into events_file."""
    import shlex
    from . import recorder
    command = toml_string(shlex.join(recorder(events_file, "codex")))
    argv: list[str] = []
    for name in EVENTS:
        argv += ["-c", f"hooks.{name}=[{{hooks=[{{type=\"command\",command={command},timeout={HOOK_TIMEOUT}}}]}}]"]
    notify = ",".join(toml_string(part) for part in recorder(events_file, "codex", mode="notify"))
    argv += ["-c", f"notify=[{notify}]"]
    return argv


def install(common_dir, name: str, allow=(), deny=()):
    """Command-line overrides only: nothing is written but the fresh events file."""
    from . import Channel
    from .. import hooks
    return Channel(argv=("--dangerously-bypass-hook-trust", *overrides(hooks.events_path(common_dir, name))))


def parse(data: dict) -> dict | None:
    """A Codex hook input, or its notify payload -> an events line."""
    if data.get("type") == "agent-turn-complete":
        return event("Stop", "codex", data.get("thread-id"), turn_id=data.get("turn-id"),
                     last_assistant_message=data.get("last-assistant-message"))
    name = data.get("hook_event_name")
    if not isinstance(name, str) or not name:
        return None
    return event(name, "codex", data.get("session_id"), tool_name=data.get("tool_name"),
                 asks=asks(data.get("tool_input")), source=data.get("source"),
                 last_assistant_message=data.get("last_assistant_message"))
