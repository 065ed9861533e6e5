"""Turning user-chosen names into safe slugs for branches, paths and tmux windows."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_UNSAFE = re.compile(r"[^a-z0-9._-]+")


def slugify(name: str, max_len: int = 48) -> str:
    """A lowercase ASCII slug safe in a branch name, a path component and a tmux target.

    Different names that fold to the same text (or to nothing) get a short hash so
    they stay distinct and never empty.
    """
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    slug = _UNSAFE.sub("-", folded)
    slug = re.sub(r"[-.]{2,}", "-", slug).strip("-.")
    # git refuses components ending in ".lock"; tmux treats ':' and '.' in targets specially.
    slug = slug.replace(".", "-")
    slug = slug[:max_len].strip("-")
    if slug != name:
        digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:6]
        slug = f"{slug}-{digest}" if slug else f"agent-{digest}"
    return slug


_CONTROL_NAMES = {"\n": "a newline", "\r": "a carriage return", "\t": "a tab", "\x00": "a NUL byte",
                  "\x1b": "an escape character", "\x7f": "a delete character",
                  "\u2028": "a line separator", "\u2029": "a paragraph separator"}


def control_character(text: str, allowed: str = "") -> tuple[int, str] | None:
    """The first control character (or line break) in text that is not in `allowed`: (index, description)."""
    for i, ch in enumerate(text):
        if ch in allowed:
            continue
        if unicodedata.category(ch) == "Cc" or ch in "\u2028\u2029":
            return i, f"{_CONTROL_NAMES.get(ch, 'a control character')} (U+{ord(ch):04X})"
    return None


def name_problem(name: str) -> str | None:
    """Why `name` cannot name an agent (empty, or holds a control character), or None when it can."""
    if not name.strip():
        return "an agent needs a name (got an empty one)"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"agent name {name!r} holds a byte that is not UTF-8 at position {exc.start + 1}"
    found = control_character(name)
    if found is not None:
        at, what = found
        # tmux lists panes one per line and git refuses control characters: such a name would be half-accepted.
        return (f"agent name {name!r} holds {what} at position {at + 1}: a name is one line of "
                f"printable text (letters, digits, spaces, '-', '_', '.')")
    return None
