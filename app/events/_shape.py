"""The one shape of an events line, shared by every CLI's parser (stdlib only: the recorder loads it by path)."""

from __future__ import annotations

def clip(value: object, limit: int = 400) -> str:
    """Text of a field for an events line, cut to limit characters."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    return text if len(text) <= limit else text[:limit - 1] + "…"


def asks(tool_input: object) -> str:
    """What a permission request asks, in a line: the command, else the file, else the first text field."""
    if isinstance(tool_input, str):
        return clip(tool_input)
    if not isinstance(tool_input, dict):
        return ""
    for key in ("command", "cmd", "file_path", "filePath", "path", "url", "pattern", "description"):
        value = tool_input.get(key)
        if isinstance(value, list):
            value = " ".join(str(v) for v in value)
        if isinstance(value, str) and value.strip():
            return clip(value)
    return ""


def event(name: str, cli: str, session_id: object = None, **fields: object) -> dict:
    """A normalised events line (without its time): the event name, the CLI, and the non-empty fields."""
    line: dict = {"event": name, "cli": cli}
    if isinstance(session_id, str) and session_id:
        line["session_id"] = clip(session_id, 128)      # checked again where it is used (hooks.session_id)
    for key, value in fields.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            line[key] = value
        elif value not in (None, "") and not isinstance(value, (dict, list, bool)):
            line[key] = clip(value)
    return line
