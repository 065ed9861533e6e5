"""Gemini CLI 0.61: `hooks` and tool rules in the agent's own user settings, by `GEMINI_CLI_HOME`.

Gemini reads a system-defaults file (`GEMINI_CLI_SYSTEM_DEFAULTS_PATH`) only when root owns it and every
directory above it, so for any other user, or a repository under /tmp, it would ignore paneboard's channel.
Its user settings it reads from anyone: each agent gets a `GEMINI_CLI_HOME` whose `.gemini/settings.json`
is the user's own settings plus paneboard's hooks (added to the user's hook lists), and whose other
entries link into the user's real `~/.gemini`, so logins, chats and `gemini --resume` are shared
(app/events/gemini_home.py). A task's `allow:` rules are added to `tools.allowed` (asks no confirmation)
and its `deny:` rules to `tools.exclude` (deny always holds); a path pattern Gemini cannot express is left out.
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


def install(common_dir, name: str, allow=(), deny=(), env=None):
    """The agent's own Gemini home beside the events file (the user's settings with paneboard's hooks), by its env."""
    import os
    from . import Channel
    from .. import hooks
    from .gemini_home import build
    home = hooks.hooks_dir(common_dir) / f"{hooks.slug(name)}.gemini-home"
    agent_env, notices = build(home, dict(os.environ) if env is None else env,
                               settings(hooks.events_path(common_dir, name), allow, deny), name)
    return Channel(env=agent_env, files=(home,), notices=tuple(notices))


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
