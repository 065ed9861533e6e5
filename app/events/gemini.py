"""Gemini CLI 0.61: the `hooks` of a settings file named by `GEMINI_CLI_SYSTEM_DEFAULTS_PATH`.

System defaults are the lowest settings layer and Gemini concatenates hook lists across layers, so
the user's own settings and hooks stay as they are. A task's `allow:` rules become `tools.allowed`
(asks no confirmation; a user's own `tools.allowed` replaces it) and its `deny:` rules
`tools.exclude` (merged with the user's: deny always holds); a path pattern Gemini cannot express
is left out.
"""

from __future__ import annotations

try:
    from ._shape import asks, event
except ImportError:          # loaded by path inside the recorder
    from _shape import asks, event

EVENTS = ("SessionStart", "BeforeAgent", "BeforeTool", "AfterTool", "AfterAgent", "Notification", "SessionEnd")
HOOK_TIMEOUT_MS = 10_000
# Gemini's names -> the shared ones.
_NAMES = {"BeforeAgent": "UserPromptSubmit", "BeforeTool": "PreToolUse", "AfterTool": "PostToolUse",
          "AfterAgent": "Stop", "SessionStart": "SessionStart", "SessionEnd": "SessionEnd"}


def settings(events_file, allow: tuple[str, ...] = (), deny: tuple[str, ...] = ()) -> dict:
    """Gemini settings recording every status-moving hook into events_file, with the task's rules."""
    import shlex
    from . import recorder, rules
    entry = {"name": "paneboard", "type": "command", "command": shlex.join(recorder(events_file, "gemini")),
             "timeout": HOOK_TIMEOUT_MS}
    out: dict = {"hooks": {name: [{"hooks": [dict(entry)]}] for name in EVENTS}}
    tools = {}
    if allow:
        tools["allowed"] = rules.gemini(allow)
    if deny:
        tools["exclude"] = rules.gemini(deny)
    if tools:
        out["tools"] = tools
    return out


def install(common_dir, name: str, allow=(), deny=()):
    """The settings file beside the events file, named in the agent's environment."""
    import json
    from . import Channel, write_private
    from .. import hooks
    path = hooks.hooks_dir(common_dir) / f"{hooks.slug(name)}.gemini.json"
    write_private(path, json.dumps(settings(hooks.events_path(common_dir, name), allow, deny), indent=1) + "\n")
    return Channel(env={"GEMINI_CLI_SYSTEM_DEFAULTS_PATH": str(path)}, files=(path,))


def parse(data: dict) -> dict | None:
    """A Gemini CLI hook input -> an events line (a ToolPermission notification is a permission request)."""
    name = data.get("hook_event_name")
    sid = data.get("session_id")
    if name == "Notification":
        details = data.get("details") if isinstance(data.get("details"), dict) else {}
        if data.get("notification_type") == "ToolPermission":
            return event("PermissionRequest", "gemini", sid, tool_name=details.get("title") or details.get("type"),
                         asks=asks(details) or data.get("message"), message=data.get("message"))
        return event("Notification", "gemini", sid, message=data.get("message"),
                     notification_type=data.get("notification_type"))
    if name not in _NAMES:
        return None
    return event(_NAMES[name], "gemini", sid, tool_name=data.get("tool_name"),
                 asks=asks(data.get("tool_input")), source=data.get("source"), reason=data.get("reason"))
