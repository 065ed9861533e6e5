"""Gemini CLI's own home for one agent (`GEMINI_CLI_HOME`): the user's `~/.gemini`, with paneboard's hooks added.

Gemini CLI 0.61 reads `$GEMINI_CLI_HOME/.gemini/settings.json` as the user's settings, from anyone and
anywhere (only its system files must belong to root). So each agent gets a home under
`<git-common-dir>/paneboard/hooks/NAME.gemini-home/` whose `.gemini/settings.json` is the user's own
settings merged with paneboard's hooks and tool rules, and whose every other entry links into the user's
real `~/.gemini` (or `$GEMINI_CLI_HOME/.gemini`): logins, installation id, chats, checkpoints, commands,
extensions, GEMINI.md. Files Gemini writes in place (a first login's `oauth_creds.json`) get a link before
they exist, so they land in the user's directory; `tmp/` and `history/` are made there first; trusted
folders go to the user's file by `GEMINI_CLI_TRUSTED_FOLDERS_PATH`. The user's settings file is only read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

# Files Gemini writes in place (fs.writeFile follows a link, even one whose target does not exist yet).
WRITTEN_IN_PLACE = ("oauth_creds.json", "google_accounts.json", "installation_id", "gemini-credentials.json",
                    "mcp-oauth-tokens.json", "a2a-oauth-tokens.json", "state.json")
# Directories Gemini keeps sessions in (chats, logs, shell history, checkpoints): made in the user's dir first.
SESSION_DIRS = ("tmp", "history")
SETTINGS = "settings.json"


def user_home(env: dict) -> Path:
    """The home whose `.gemini` the user's Gemini CLI uses: its own GEMINI_CLI_HOME, else HOME."""
    return Path(env.get("GEMINI_CLI_HOME") or env.get("HOME") or os.path.expanduser("~"))


def build(home: Path, env: dict, ours: dict, agent: str) -> tuple[dict, list[str]]:
    """Make the agent's Gemini home; (the environment it needs, one-line notices for the user)."""
    real = user_home(env) / ".gemini"
    notices: list[str] = []
    user, problem = read_settings(real / SETTINGS)
    if problem:
        notices.append(f"Gemini settings {real / SETTINGS} {problem}: agent {agent} starts with paneboard's hooks "
                       f"and without your settings (the file is left as it is)")
    gemini_dir = home / ".gemini"
    gemini_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write_secret(gemini_dir / SETTINGS, json.dumps(merge(user, ours), indent=1) + "\n")
    try:
        _link_user_dir(gemini_dir, real)
        _link(home / ".agents", user_home(env) / ".agents", only_if_there=True)
    except OSError as exc:
        notices.append(f"cannot share {real} with agent {agent} ({exc.strerror}): its Gemini logins and sessions "
                       f"stay in {gemini_dir}")
    out = {"GEMINI_CLI_HOME": str(home)}
    if "GEMINI_CLI_TRUSTED_FOLDERS_PATH" not in env:
        out["GEMINI_CLI_TRUSTED_FOLDERS_PATH"] = str(real / "trustedFolders.json")   # written by rename: no link
    return out, notices


def read_settings(path: Path) -> tuple[dict, str | None]:
    """The user's Gemini settings ({} when there are none) and, if they cannot be used, why not."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, None
    except (OSError, UnicodeDecodeError) as exc:
        return {}, f"cannot be read ({getattr(exc, 'strerror', None) or exc})"
    try:
        doc = json.loads(strip_comments(text)) if text.strip() else {}
    except json.JSONDecodeError as exc:
        return {}, f"are not valid JSON (line {exc.lineno}: {exc.msg})"
    if not isinstance(doc, dict):
        return {}, "are not a JSON object"
    return doc, None


def strip_comments(text: str) -> str:
    """JSON without the // and /* */ comments Gemini allows in its settings (strings left whole)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def merge(user: dict, ours: dict) -> dict:
    """The user's settings with paneboard's hooks added to theirs and the task's tool rules added to theirs."""
    out = dict(user)
    hooks = dict(user["hooks"]) if isinstance(user.get("hooks"), dict) else {}
    for name, groups in ours.get("hooks", {}).items():
        theirs = hooks.get(name)
        hooks[name] = (theirs if isinstance(theirs, list) else []) + groups
    out["hooks"] = hooks
    if ours.get("tools"):
        tools = dict(user["tools"]) if isinstance(user.get("tools"), dict) else {}
        for key, names in ours["tools"].items():
            theirs = tools.get(key) if isinstance(tools.get(key), list) else []
            tools[key] = theirs + [n for n in names if n not in theirs]
        out["tools"] = tools
    return out


def _link_user_dir(gemini_dir: Path, real: Path) -> None:
    """Every entry of the user's Gemini dir (settings aside) as a link; a previous start's links renewed."""
    real.mkdir(exist_ok=True, mode=0o700)   # as Gemini makes it; a missing home is not made
    for name in SESSION_DIRS:
        (real / name).mkdir(exist_ok=True)
    for entry in gemini_dir.iterdir():
        if entry.is_symlink():
            entry.unlink()
    # What Gemini itself made here in an earlier start (a file it replaced by renaming) is kept, never shadowed.
    names = {e.name for e in real.iterdir()} | set(WRITTEN_IN_PLACE)
    for name in sorted(names - {SETTINGS}):
        _link(gemini_dir / name, real / name)


def _link(at: Path, target: Path, only_if_there: bool = False) -> None:
    if only_if_there and not target.exists():
        return
    if at.is_symlink():
        at.unlink()
    if not at.exists():
        os.symlink(target, at)


def _write_secret(path: Path, text: str) -> None:
    """Write atomically, readable by the user only (settings can hold keys)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
