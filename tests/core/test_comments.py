"""Review comments: the message format, places, and drafts that survive restarts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.comments import Comment, Drafts, comment_on_file, message, parse_place
from app.errors import PaneboardError


def test_message_lists_each_comment_with_place_side_code_and_text_in_file_order():
    comments = [
        Comment("src/z.py", 3, "old", "\tx = 1\x1b[31m", "Why was this removed?\nIt is used in b.py."),
        Comment("src/calc.py", 12, "new", "        return a + b", "Use math.fsum here: the inputs are floats."),
    ]
    assert message(comments) == (
        "Review comments on your changes:\n"
        "src/calc.py:12 (new)   `return a + b`\n"
        "  Use math.fsum here: the inputs are floats.\n"
        "src/z.py:3 (old)   `x = 1 [31m`\n"
        "  Why was this removed?\n"
        "  It is used in b.py.")


def test_a_long_code_line_is_cut_and_an_empty_one_is_left_out():
    long = Comment("a.py", 1, "new", "x" * 500, "too long")
    assert long.header().endswith("…`") and len(long.header()) < 200
    assert Comment("a.py", 2, "new", "   ", "blank line").header() == "a.py:2 (new)"


def test_parse_place():
    assert parse_place("src/a:b.py:12") == ("src/a:b.py", 12)
    for bad in ("src/a.py", "src/a.py:0", "src/a.py:x", ":3"):
        with pytest.raises(PaneboardError):
            parse_place(bad)


def test_comment_on_file_quotes_the_current_line_and_refuses_what_is_not_there(tmp_path: Path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "calc.py").write_text("a = 1\r\nb = 2\r\n")
    (tmp_path / "blob.bin").write_bytes(b"\0\1")
    c = comment_on_file(tmp_path, "src/calc.py", 2, "  why 2?  ")
    assert (c.path, c.line, c.side, c.code, c.text) == ("src/calc.py", 2, "new", "b = 2", "why 2?")
    for path, line, says in (("src/calc.py", 3, r"has 2 line\(s\)"), ("nope.py", 1, "no such file"),
                             ("blob.bin", 1, "binary"), ("../x.py", 1, "not a file"), (".git/config", 1, "not a file"),
                             ("src", 1, "directory")):
        with pytest.raises(PaneboardError, match=says):
            comment_on_file(tmp_path, path, line, "text")
    with pytest.raises(PaneboardError, match="needs some text"):
        comment_on_file(tmp_path, "src/calc.py", 1, "   ")


def test_drafts_persist_edit_delete_and_clear_only_what_was_sent(tmp_path: Path):
    drafts = Drafts(tmp_path, "fix/login ü")
    one = drafts.add(Comment("a.py", 1, "new", "x", "first"))
    two = drafts.add(Comment("a.py", 2, "old", "y", "second"))
    again = Drafts(tmp_path, "fix/login ü")          # a restarted dashboard
    assert [c.text for c in again.items] == ["first", "second"]
    again.edit(one.id, "first, edited")
    again.delete(two.id)
    assert [(c.id, c.text) for c in Drafts(tmp_path, "fix/login ü").items] == [(one.id, "first, edited")]
    three = again.add(Comment("b.py", 9, "new", "z", "added while sending"))
    again.clear([again.items[0]])
    assert [c.id for c in Drafts(tmp_path, "fix/login ü").items] == [three.id]
    again.clear([three])
    assert not again.path.exists()
    assert Drafts(tmp_path, "other").items == []


def test_a_garbage_drafts_file_reads_as_none_and_is_rewritten(tmp_path: Path):
    drafts = Drafts(tmp_path, "a")
    drafts.path.parent.mkdir(parents=True)
    for garbage in ("{not json", json.dumps({"agent": "a", "comments": [{"path": 1}]}), "[]", "\0\0"):
        drafts.path.write_text(garbage)
        assert Drafts(tmp_path, "a").items == []
    fresh = Drafts(tmp_path, "a")
    fresh.add(Comment("a.py", 1, "new", "x", "kept"))
    assert [c.text for c in Drafts(tmp_path, "a").items] == ["kept"]


def test_drafts_that_cannot_be_saved_raise_and_stay_in_memory(tmp_path: Path):
    (tmp_path / "comments").write_text("a file where the directory should be")
    drafts = Drafts(tmp_path, "a")
    with pytest.raises(OSError):
        drafts.add(Comment("a.py", 1, "new", "x", "kept in memory"))
    assert [c.text for c in drafts.items] == ["kept in memory"]
