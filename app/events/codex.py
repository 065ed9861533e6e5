"""Codex CLI 0.171: its hooks and its `notify` program, given as `-c` overrides on the command line.

Hooks given with `-c` form Codex's session-flags layer; Codex runs a non-managed hook only when a
`hooks.state` entry keyed `/<session-flags>/config.toml:EVENT:GROUP:HANDLER` holds its trust hash
(sha256 of the hook's normalised identity as compact JSON with sorted keys), and it reads such
entries from the session flags too. So paneboard hands Codex the hash of each of its own hooks,
also with `-c`: they run, the user's own hooks stay exactly as trusted or untrusted as they were,
and nothing in the user's config.toml changes (checked with the real 0.171 binary: without an
entry Codex stops at "Hooks need review"; with it SessionStart and UserPromptSubmit land).
`notify` needs no trust: Codex runs it with one JSON argument when a turn completes
(`{"type": "agent-turn-complete", "thread-id", …}`).
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
# Codex's own names of the events in its trust keys and hashes.
_KEYS = {"SessionStart": "session_start", "UserPromptSubmit": "user_prompt_submit", "PreToolUse": "pre_tool_use",
         "PermissionRequest": "permission_request", "PostToolUse": "post_tool_use", "Stop": "stop"}
SESSION_FLAGS = "/<session-flags>/config.toml"      # where Codex says `-c` hooks come from


def toml_string(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's, but for astral characters written as they are)."""
    import json
    return json.dumps(text, ensure_ascii=False)


def trust_hash(event: str, command: str, timeout: int = HOOK_TIMEOUT) -> str:
    """The hash Codex trusts a one-command hook group (no matcher) by: its normalised identity, hashed."""
    import hashlib
    import json
    identity = {"event_name": _KEYS[event],
                "hooks": [{"type": "command", "command": command, "timeout": timeout, "async": False}]}
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def overrides(events_file) -> list[str]:
    """The `-c` arguments that make Codex record its hooks and finished turns into events_file, trusted."""
    import shlex
    from . import recorder
    command = shlex.join(recorder(events_file, "codex"))
    argv: list[str] = []
    trust = []
    for name in EVENTS:
        argv += ["-c", f"hooks.{name}=[{{hooks=[{{type=\"command\",command={toml_string(command)},"
                       f"timeout={HOOK_TIMEOUT}}}]}}]"]
        key = toml_string(f"{SESSION_FLAGS}:{_KEYS[name]}:0:0")
        trust.append(f"{key}={{trusted_hash={toml_string(trust_hash(name, command))}}}")
    # One inline table: Codex splits a `-c` key at every dot, and the trust keys hold "config.toml".
    argv += ["-c", f"hooks.state={{{','.join(trust)}}}"]
    notify = ",".join(toml_string(part) for part in recorder(events_file, "codex", mode="notify"))
    argv += ["-c", f"notify=[{notify}]"]
    return argv


def install(common_dir, name: str, allow=(), deny=()):
    """Command-line overrides only: nothing is written but the fresh events file."""
    from . import Channel
    from .. import hooks
    return Channel(argv=tuple(overrides(hooks.events_path(common_dir, name))))


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
