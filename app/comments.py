"""Review comments: one per diff line, kept as drafts per agent, sent to the agent as one message.

Plain Python (no Textual): the dashboard's review and `paneboard comment` share the format
and the drafts. Drafts live in `<git-common-dir>/paneboard/comments/<slug>.json`, rewritten
atomically on every change, so they survive closing the review and restarting the dashboard.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .errors import PaneboardError
from .names import slugify
from .state import write_atomic

HEADER = "Review comments on your changes:"
CODE_LIMIT = 160
"""Quoted code longer than this is cut (with an ellipsis): the path and line say where the rest is."""

# Control characters would reach the agent's terminal as keys; tabs and newlines are kept where they mean something.
_CONTROL = {code: " " for code in (*range(0x20), 0x7F) if code not in (0x09, 0x0A)}


@dataclass(frozen=True)
class Comment:
    """A reviewer's remark on one line of an agent's diff."""

    path: str
    line: int
    side: str
    """'new' (the agent's version) or 'old' (the base's)."""
    code: str
    """The line of code commented on, as it reads on that side."""
    text: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    created: float = field(default_factory=time.time)

    def header(self) -> str:
        """`path:line (side)   `code``: the line that says what is commented on."""
        code = self.code.translate(_CONTROL).replace("\t", "    ").strip()
        if len(code) > CODE_LIMIT:
            code = code[:CODE_LIMIT - 1] + "…"
        where = f"{self.path}:{self.line} ({self.side})"
        return f"{where}   `{code}`" if code else where


def message(comments: list[Comment]) -> str:
    """The one message that carries every comment, in file and line order."""
    lines = [HEADER]
    for c in sorted(comments, key=lambda c: (c.path, c.line, c.side != "new", c.created)):
        lines.append(c.header())
        body = c.text.translate(_CONTROL).replace("\t", "    ").strip().splitlines() or ["(no text)"]
        lines += [f"  {part}".rstrip() for part in body]
    return "\n".join(lines)


def _check_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise PaneboardError("a comment needs some text")
    return text


def comment_on_file(worktree: Path, path: str, line: int, text: str) -> Comment:
    """A comment on line `line` of the agent's current version of `path` (one-line errors when there is none)."""
    root = Path(worktree).resolve()
    target = (root / path).resolve()
    if root not in target.parents or ".git" in target.relative_to(root).parts:
        raise PaneboardError(f"{path}: not a file of the agent's worktree")
    try:
        data = target.read_bytes()
    except IsADirectoryError:
        raise PaneboardError(f"{path} is a directory in the agent's worktree; name a file") from None
    except FileNotFoundError:
        raise PaneboardError(f"{path}: no such file in the agent's worktree ({root})") from None
    except OSError as exc:
        raise PaneboardError(f"{path}: cannot read it ({exc.strerror})") from None
    if b"\0" in data[:8000]:
        raise PaneboardError(f"{path} is a binary file: comment on a text file")
    from .git.diff import split_lines
    lines = split_lines(data.decode("utf-8", "replace"))
    if not 1 <= line <= len(lines):
        raise PaneboardError(f"{path} has {len(lines)} line(s); line {line} is out of range")
    return Comment(path=target.relative_to(root).as_posix(), line=line, side="new", code=lines[line - 1],
                   text=_check_text(text))


def parse_place(place: str) -> tuple[str, int]:
    """`PATH:LINE` -> (path, line); a one-line error for anything else."""
    path, sep, number = place.rpartition(":")
    if not sep or not path or not number.isdigit() or int(number) < 1:
        raise PaneboardError(f"{place!r}: give the place as PATH:LINE (e.g. src/calc.py:12)")
    return path, int(number)


class Drafts:
    """The unsent comments on one agent's work, persisted on every change."""

    def __init__(self, state_dir: Path, agent: str):
        self.agent = agent
        self.path = Path(state_dir) / "comments" / f"{slugify(agent)}.json"
        self.items: list[Comment] = self._load()

    def _load(self) -> list[Comment]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("agent") != self.agent:
                return []
            return [Comment(path=str(c["path"]), line=int(c["line"]), side=str(c["side"]), code=str(c["code"]),
                            text=str(c["text"]), id=str(c["id"]), created=float(c["created"]))
                    for c in data.get("comments", [])]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return []   # none yet, or a garbage file: an empty list, and the next change rewrites it

    def save(self) -> None:
        """Write the drafts (the file goes when none are left)."""
        if not self.items:
            self.path.unlink(missing_ok=True)
            return
        doc = {"version": 1, "agent": self.agent, "comments": [asdict(c) for c in self.items]}
        write_atomic(self.path, json.dumps(doc, indent=1, ensure_ascii=False) + "\n")

    def add(self, comment: Comment) -> Comment:
        """Keep a new comment (its text checked) and save."""
        comment = replace(comment, text=_check_text(comment.text))
        self.items.append(comment)
        self.save()
        return comment

    def edit(self, comment_id: str, text: str) -> None:
        """Change a comment's text and save."""
        text = _check_text(text)
        self.items = [replace(c, text=text) if c.id == comment_id else c for c in self.items]
        self.save()

    def delete(self, comment_id: str) -> None:
        """Drop a comment and save."""
        self.items = [c for c in self.items if c.id != comment_id]
        self.save()

    def clear(self, sent: list[Comment]) -> None:
        """Drop the comments that were sent (ones added meanwhile stay) and save."""
        ids = {c.id for c in sent}
        self.items = [c for c in self.items if c.id not in ids]
        self.save()
