"""A task's `allow:` and `deny:` rules: `TOOL` or `TOOL(PATTERN)`, handed to each CLI's own permission settings.

Tools are named as Claude Code names them (`Bash`, `Edit`, `Write`, `Read`, `WebFetch`, or any tool
name the CLI knows); a Bash pattern is a command with `*` wildcards (`Bash(npm test*)`), an
Edit/Read/Write pattern a path glob (`Edit(src/**)`). Each CLI gets what it can express; a rule it
cannot take is left out (the agent then asks as before: nothing is ever answered by guessing).
"""

from __future__ import annotations

import re

_RULE = re.compile(r"([A-Za-z][A-Za-z0-9_.:-]*)(?:\((.+)\))?")


def rule_problem(text: str) -> str | None:
    """Why text is not an allow/deny rule (None when it is one)."""
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        return f"{text!r} holds a control character"
    m = _RULE.fullmatch(text.strip())
    if not m:
        return f"{text!r} is not a rule: give TOOL or TOOL(PATTERN), e.g. Bash(npm test*) or Edit(src/**)"
    if m.group(2) is not None and not m.group(2).strip():
        return f"{text!r} has an empty pattern"
    return None


def split(text: str) -> tuple[str, str | None]:
    """(tool, pattern or None) of a valid rule."""
    m = _RULE.fullmatch(text.strip())
    if not m:
        raise ValueError(text)
    return m.group(1), (m.group(2).strip() if m.group(2) is not None else None)


_GEMINI_TOOLS = {"Bash": ("run_shell_command",), "Edit": ("replace",), "Write": ("write_file",),
                 "Read": ("read_file", "read_many_files"), "WebFetch": ("web_fetch",)}
_OPENCODE_TOOLS = {"Bash": "bash", "Edit": "edit", "Write": "edit", "Read": "read", "WebFetch": "webfetch"}


def gemini(rules: tuple[str, ...]) -> list[str]:
    """Gemini CLI tool names (`tools.allowed` / `tools.exclude`) for rules; a path pattern it cannot express is left out."""
    out: list[str] = []
    for text in rules:
        tool, pattern = split(text)
        names = _GEMINI_TOOLS.get(tool, (tool,))
        if pattern is None:
            out += names
        elif tool == "Bash":
            # Gemini matches a shell command by its prefix: "npm test*" -> run_shell_command(npm test).
            out.append(f"run_shell_command({pattern.rstrip('*').strip()})")
    return out


def opencode(allow: tuple[str, ...], deny: tuple[str, ...]) -> dict:
    """OpenCode's `permission` setting: per tool, a pattern -> allow/deny map (deny written last: it wins)."""
    out: dict = {}
    for action, rules in (("allow", allow), ("deny", deny)):
        for text in rules:
            tool, pattern = split(text)
            key = _OPENCODE_TOOLS.get(tool, tool.lower())
            current = out.get(key)
            if pattern is None:
                out[key] = action if not isinstance(current, dict) or action == "deny" else {**current, "*": action}
                continue
            if not isinstance(current, dict):
                current = {} if current is None else {"*": current}
            current[pattern] = action
            out[key] = current
    return out
