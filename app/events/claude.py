"""Claude Code: hooks and permissions in a settings file given with `--settings FILE`.

Claude Code 2.1 reports no request a `permissions` rule answers: an allowed call shows only as
PreToolUse then PostToolUse (as does a call that needs no permission), and a denied one as a
PreToolUse with nothing after it; no hook input names a rule. It runs `PermissionDenied` only when
its auto mode's classifier refused a call (checked in its binary): that is recorded, with the reason.
"""

from __future__ import annotations

try:
    from ._shape import asks, event
except ImportError:          # loaded by path inside the recorder
    from _shape import asks, event

# The events Claude Code 2.1 offers that move an agent's status (checked in its binary).
EVENTS = ("SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PostToolUseFailure",
          "PermissionRequest", "PermissionDenied", "Notification", "Stop", "StopFailure", "SubagentStop", "PreCompact",
          "SessionEnd")
# Notification types that move the status; one matcher group each, so a new type says nothing by accident.
NOTIFICATIONS = ("permission_prompt", "idle_prompt", "elicitation_dialog")
HOOK_TIMEOUT = 10            # seconds Claude waits for one hook


def settings(events_file, allow: tuple[str, ...] = (), deny: tuple[str, ...] = ()) -> dict:
    """Claude Code settings that record every status-moving event into events_file, and the task's rules."""
    import shlex
    from . import recorder
    entry = {"type": "command", "command": shlex.join(recorder(events_file, "claude")), "timeout": HOOK_TIMEOUT}
    # No "matcher": a group without one runs for every tool and session source.
    hooks = {name: [{"hooks": [dict(entry)]}] for name in EVENTS if name != "Notification"}
    hooks["Notification"] = [{"matcher": kind, "hooks": [dict(entry)]} for kind in NOTIFICATIONS]
    out: dict = {"hooks": hooks}
    if allow or deny:
        # Claude checks deny before allow: a command both match is refused.
        out["permissions"] = {"allow": list(allow), "deny": list(deny)}
    return out


def install(common_dir, name: str, allow=(), deny=()):
    """The settings file beside the events file, passed with `--settings`."""
    import json
    from . import Channel, write_private
    from .. import hooks
    path = hooks.hooks_dir(common_dir) / f"{hooks.slug(name)}.settings.json"
    write_private(path, json.dumps(settings(hooks.events_path(common_dir, name), allow, deny), indent=1) + "\n")
    return Channel(argv=("--settings", str(path)), files=(path,))


def parse(data: dict) -> dict | None:
    """A Claude Code hook input -> an events line."""
    name = data.get("hook_event_name")
    if not isinstance(name, str) or not name:
        return None
    return event(name, "claude", data.get("session_id"), tool_name=data.get("tool_name"),
                 asks=asks(data.get("tool_input")), message=data.get("message"), title=data.get("title"),
                 notification_type=data.get("notification_type"), error=data.get("error"),
                 source=data.get("source"), reason=data.get("reason"),
                 last_assistant_message=data.get("last_assistant_message"), trigger=data.get("trigger"))
