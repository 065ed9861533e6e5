"""A side-by-side / unified diff on Textual's line API: only the visible rows are rendered."""

from __future__ import annotations

import asyncio
from typing import ClassVar, Iterator

from pygments.lexer import Lexer
from pygments.lexers import get_lexer_for_filename
from pygments.util import ClassNotFound
from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.syntax import Syntax, SyntaxTheme
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from app.git.diff import Row, hunk_starts, side_by_side, split_lines, unified_rows
from widgets.diff_cursor import CursorLine, LineCursor
from widgets.diff_paint import RowPainter, _display

__all__ = ["CursorLine", "DiffView", "lexer_for"]

_HIGHLIGHT_LIMIT = 4_000_000
"""Texts longer than this (in characters) are shown without syntax highlighting."""


def lexer_for(path: str) -> Lexer | None:
    """The Pygments lexer for a file name, None if there is none (safe to call in a thread:
    a worker can call it first so the lexer module is imported off the UI thread)."""
    try:
        return get_lexer_for_filename(path, stripnl=False, stripall=False)
    except ClassNotFound:
        return None


class _Highlighter:
    """Lexes one text once, front to back, and keeps each line's (text, style) pieces.

    Lines near what is already lexed are lexed on demand (opening a file shows its top at
    once); the widget lexes the rest in small steps between events, and until it gets there,
    far lines (a jump to the end) are shown plain. All on the UI thread: a lexing thread
    would hold the GIL and make every keypress wait.
    """

    AHEAD = 300
    """How many lines past the lexed part the UI thread lexes itself rather than wait."""

    def __init__(self, text: str, lexer: Lexer | None, theme: SyntaxTheme) -> None:
        self._plain = split_lines(text)
        self._lines: list[list[tuple[str, Style | None]]] = []
        self._current: list[tuple[str, Style | None]] = []
        self._theme = theme
        self._styles: dict[object, Style | None] = {}
        self._tokens: Iterator[tuple[object, str]] | None = None
        if lexer is not None and text and len(text) <= _HIGHLIGHT_LIMIT:
            self._tokens = lexer.get_tokens(text)

    @property
    def done(self) -> bool:
        """True when every line is lexed (or there is nothing to lex)."""
        return self._tokens is None

    def _style(self, token_type: object) -> Style | None:
        try:
            return self._styles[token_type]
        except KeyError:
            full = self._theme.get_style_for_token(token_type)  # type: ignore[arg-type]
            # Only foreground and emphasis: the row's background says added / removed.
            style = Style(color=full.color, bold=full.bold, italic=full.italic,
                          underline=full.underline) if full else None
            self._styles[token_type] = style = style or None
            return style

    def _advance(self, index: int) -> None:
        """Lex until line `index` is complete or the text ends."""
        tokens = self._tokens
        lines, current, style_for = self._lines, self._current, self._style
        while tokens is not None and len(lines) <= index:
            try:
                token_type, value = next(tokens)
            except StopIteration:
                tokens = self._tokens = None
                if current:
                    lines.append(current)
                    current = []
                break
            style = style_for(token_type)
            first, *rest = value.split("\n")
            if first:
                current.append((_display(first), style))
            for piece in rest:
                lines.append(current)
                current = [(_display(piece), style)] if piece else []
        self._current = current

    def lex_more(self, lines: int) -> None:
        """Lex about `lines` more lines."""
        self._advance(len(self._lines) + lines)

    def line(self, index: int) -> list[tuple[str, Style | None]] | None:
        """Return the (text, style) pieces of line `index` (0-based); None if not lexed yet."""
        lines = self._lines
        if index < len(lines):
            return lines[index]
        if self._tokens is not None and index < len(lines) + self.AHEAD:
            self._advance(index)
            if index < len(lines):
                return lines[index]
        if self._tokens is not None:
            return None
        if index < len(self._plain):
            return [(_display(self._plain[index]), None)]
        return []

    def plain(self, index: int) -> list[tuple[str, Style | None]]:
        """Return line `index` (0-based) without highlighting."""
        return [(_display(self._plain[index]), None)] if 0 <= index < len(self._plain) else []


class DiffView(LineCursor, RowPainter, ScrollView, can_focus=True):
    """A diff of one file, side by side or unified, with syntax highlighting and a line cursor.

    Both sides live in one widget so they scroll together; rows are rendered only when
    visible and highlighted lines are cached, so a 10,000-line diff opens at once. The cursor
    is on one row and, side by side, on one side of it (`h`/`l` switch); lines with a draft
    comment carry a dot in the gutter. A line longer than the view shows `›` where it is cut,
    and the footer offers the keys that scroll sideways.
    Toggle the layout with [bindings][widgets.diff_view.DiffView.BINDINGS].
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("vertical_line", "toggle_split", "Split/unified", id="diff.toggle_split",
                tooltip="Switch between side-by-side and unified diff"),
        Binding("n,right_square_bracket", "next_hunk", "Next hunk", id="diff.next_hunk",
                tooltip="Scroll to the next hunk"),
        Binding("p,left_square_bracket", "previous_hunk", "Previous hunk", id="diff.previous_hunk",
                tooltip="Scroll to the previous hunk"),
        Binding("j,down", "cursor_down", "Down", show=False, id="diff.cursor_down",
                tooltip="Move the line cursor down"),
        Binding("k,up", "cursor_up", "Up", show=False, id="diff.cursor_up",
                tooltip="Move the line cursor up"),
        Binding("h", "side('old')", "Old side", show=False, id="diff.old_side",
                tooltip="Side by side: put the cursor on the old (left) side"),
        Binding("l", "side('new')", "New side", show=False, id="diff.new_side",
                tooltip="Side by side: put the cursor on the new (right) side"),
        Binding("left", "scroll_sideways(-8)", "Scroll left", id="diff.scroll_left",
                tooltip="Scroll long lines left (shown when a line is wider than the view)"),
        Binding("right", "scroll_sideways(8)", "Scroll right", id="diff.scroll_right",
                tooltip="Scroll long lines right, to the part cut off at `›`"),
    ]
    """
    | Key(s) | Description |
    | :- | :- |
    | \\| | Switch between side-by-side and unified diff. |
    | n, ] | Scroll to the next hunk. |
    | p, [ | Scroll to the previous hunk. |
    | j, down | Move the line cursor down. |
    | k, up | Move the line cursor up. |
    | h, l | Put the cursor on the old / new side (side by side). |
    | left, right | Scroll long lines sideways. |
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "diff-view--added",
        "diff-view--removed",
        "diff-view--hunk",
        "diff-view--line-number",
        "diff-view--filler",
        "diff-view--message",
        "diff-view--added-word",
        "diff-view--removed-word",
        "diff-view--cursor",
        "diff-view--commented",
    }
    """
    | Class | Description |
    | :- | :- |
    | `diff-view--added` | Lines only on the new side. |
    | `diff-view--removed` | Lines only on the old side. |
    | `diff-view--hunk` | The `@@ -a,b +c,d @@` row before each hunk. |
    | `diff-view--line-number` | The line-number gutters. |
    | `diff-view--filler` | The empty side of an added or removed line. |
    | `diff-view--message` | "binary file", "no changes" and similar notes. |
    | `diff-view--added-word` | What changed within a replaced line, new side. |
    | `diff-view--removed-word` | What changed within a replaced line, old side. |
    | `diff-view--cursor` | The gutter of the line under the cursor (while focused). |
    | `diff-view--commented` | The dot beside a line that has a draft comment. |
    """

    DEFAULT_CSS = """
    DiffView {
        background: $surface;
        color: $foreground;
        & > .diff-view--added { background: $success-muted; }
        & > .diff-view--removed { background: $error-muted; }
        & > .diff-view--added-word { background: $success 45%; text-style: bold; }
        & > .diff-view--removed-word { background: $error 45%; text-style: bold; }
        & > .diff-view--hunk { background: $primary-muted; color: $text-primary; text-style: italic; }
        & > .diff-view--line-number { color: $text-muted; }
        & > .diff-view--filler { background: $panel; }
        & > .diff-view--message { color: $text-muted; text-style: italic; }
        & > .diff-view--cursor { background: $block-cursor-background; color: $block-cursor-foreground;
                                 text-style: bold; }
        & > .diff-view--commented { color: $warning; text-style: bold; }
        &:focus { background-tint: $foreground 3%; }
    }
    """

    SYNTAX_THEMES: ClassVar[tuple[str, str]] = ("ansi_dark", "ansi_light")
    """Rich syntax themes for dark and light app themes; their backgrounds are ignored."""

    LEX_STEP: ClassVar[int] = 80
    """Lines lexed per step in the background (a few milliseconds of work)."""
    LEX_PAUSE: ClassVar[float] = 0.004
    """Seconds between background lexing steps, so keys and repaints come first."""

    split: reactive[bool] = reactive(True)
    """True for side by side, False for unified."""
    cursor_row: reactive[int] = reactive(0, init=False)
    """The row under the cursor, in the current layout's rows."""
    cursor_side: reactive[str] = reactive("new", init=False)
    """Side by side, the side the cursor is on: 'old' or 'new'."""

    class SplitChanged(Message):
        """Posted when the diff switched between side-by-side and unified."""

        def __init__(self, diff_view: DiffView, split: bool) -> None:
            super().__init__()
            self.diff_view = diff_view
            self.split = split

        @property
        def control(self) -> DiffView:
            return self.diff_view

    def __init__(self, *, split: bool = True, name: str | None = None, id: str | None = None,
                 classes: str | None = None, disabled: bool = False) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.path: str = ""
        """The path of the file on show."""
        self.binary = False
        self._message: str | None = "no file selected"
        self._split_rows: list[Row] = []
        self._unified_rows: list[Row] | None = None
        self._old: _Highlighter | None = None
        self._new: _Highlighter | None = None
        self._old_text = ""
        self._new_text = ""
        self._number_width = 3
        self._max_text = 0
        self._row_cache: LRUCache[tuple, Strip] = LRUCache(1024)
        self._syntax_theme = ""
        self._pending = False
        """True when a row was drawn plain because its line was not lexed yet."""
        self._commented: frozenset[tuple[str, int]] = frozenset()
        self._hunk_labels: dict[str, str] = {}
        self.set_reactive(DiffView.split, split)

    # --- public API ----------------------------------------------------------------------

    def show(self, old_text: str | None, new_text: str | None, path: str = "") -> None:
        """Diff two texts and show them; None for either side means a binary file."""
        if old_text is None or new_text is None:
            self.show_binary(path)
            return
        self.show_rows(side_by_side(old_text, new_text), path, old_text, new_text)

    def show_rows(self, rows: list[Row], path: str, old_text: str, new_text: str) -> None:
        """Show rows already computed by `app.git.diff.side_by_side` (e.g. in a worker)."""
        self.path, self.binary = path, False
        self._old_text, self._new_text = old_text, new_text
        self._split_rows, self._unified_rows = rows, None
        self._old = self._new = None
        self._message = None if rows else "no changes"
        numbers = [row.left_no or 0 for row in rows[-50:]] + [row.right_no or 0 for row in rows[-50:]]
        self._number_width = max(3, len(str(max(numbers, default=0))))
        self._max_text = max((cell_len(_display(text)) for row in rows if row.kind != "hunk"
                              for text in (row.left_text, row.right_text) if text), default=0)
        self._reset()

    def show_binary(self, path: str) -> None:
        """Show a note that the file is binary."""
        self._show_message(path, "binary file: not shown")
        self.binary = True

    def show_message(self, message: str, path: str = "") -> None:
        """Show a one-line note instead of a diff (loading, errors, nothing selected)."""
        self._show_message(path, message)

    @property
    def rows(self) -> list[Row]:
        """The rows of the current layout."""
        if self.split:
            return self._split_rows
        if self._unified_rows is None:
            self._unified_rows = unified_rows(self._split_rows)
        return self._unified_rows

    @property
    def hunks(self) -> list[int]:
        """Row indexes of the hunk headers in the current layout."""
        return hunk_starts(self.rows)

    def set_commented(self, lines: set[tuple[str, int]] | frozenset[tuple[str, int]]) -> None:
        """Mark these (side, line) pairs as having a draft comment (a dot in the gutter)."""
        lines = frozenset(lines)
        if lines != self._commented:
            self._commented = lines
            self._row_cache.clear()
            self.refresh()

    def set_hunk_labels(self, labels: dict[str, str]) -> None:
        """A note after each hunk header named here (e.g. which candidate's version is taken)."""
        if labels != self._hunk_labels:
            self._hunk_labels = dict(labels)
            self._row_cache.clear()
            self.refresh()

    # --- actions -------------------------------------------------------------------------

    def action_toggle_split(self) -> None:
        """Switch between side-by-side and unified."""
        self.split = not self.split

    def action_next_hunk(self) -> None:
        """Scroll so the next hunk header is at the top; the cursor goes to its first line."""
        following = [index for index in self.hunks if index > self.cursor_row]
        if following:
            self.scroll_to(y=following[0], animate=False, immediate=True)
            self.cursor_row = min(following[0] + 1, len(self.rows) - 1)

    def action_previous_hunk(self) -> None:
        """Scroll so the hunk before the cursor's is at the top; the cursor goes to its first line."""
        hunks = self.hunks
        current = max((index for index in hunks if index <= self.cursor_row), default=-1)
        preceding = [index for index in hunks if index < current]
        if preceding:
            self.scroll_to(y=preceding[-1], animate=False, immediate=True)
            self.cursor_row = preceding[-1] + 1

    def action_scroll_sideways(self, cells: int) -> None:
        """Scroll long lines sideways by `cells`."""
        self.scroll_to(x=max(0, min(self.max_scroll_x, self.scroll_x + cells)), animate=False, immediate=True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("next_hunk", "previous_hunk", "toggle_split", "cursor_down", "cursor_up"):
            return bool(self._split_rows)
        if action == "side":
            return bool(self._split_rows) and self.split
        if action == "scroll_sideways":
            return self.max_scroll_x > 0     # the footer offers the keys only when a line is cut
        return True

    # --- reactives and events ------------------------------------------------------------

    def watch_split(self, split: bool) -> None:
        # Keep the same place in the file: find the row showing the old top line.
        rows_before = self._unified_rows if split else self._split_rows
        top = round(self.scroll_y)
        anchor = rows_before[top] if rows_before and top < len(rows_before) else None
        at = rows_before[self.cursor_row] if rows_before and self.cursor_row < len(rows_before) else None
        if at is None or at.kind == "hunk":
            side = "new"
        elif split:   # from unified: a removed line is on the old side
            side = "old" if at.kind == "delete" else "new"
        else:
            side = "old" if (self.cursor_side == "old" and at.left_no is not None) or at.right_no is None else "new"
        self._row_cache.clear()
        self._update_virtual_size()
        if anchor is not None:
            for index, row in enumerate(self.rows):
                if (row.kind == "hunk") == (anchor.kind == "hunk") and (
                        (anchor.left_no is not None and row.left_no == anchor.left_no)
                        or (anchor.right_no is not None and row.right_no == anchor.right_no)):
                    self.scroll_to(y=index, animate=False, immediate=True)
                    break
        if at is not None and at.kind != "hunk":
            self._follow(at, side)
        self.refresh()
        self.refresh_bindings()
        self.post_message(self.SplitChanged(self, split))

    def on_resize(self) -> None:
        self._update_virtual_size()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._row_cache.clear()

    # --- rendering -----------------------------------------------------------------------

    def _show_message(self, path: str, message: str) -> None:
        self.path, self.binary = path, False
        self._split_rows, self._unified_rows = [], None
        self._old = self._new = None
        self._old_text = self._new_text = ""
        self._max_text = 0
        self._message = message
        self._reset()

    def _reset(self) -> None:
        self._pending = False
        rows = self._split_rows
        self.set_reactive(DiffView.cursor_row, 1 if rows and rows[0].kind == "hunk" and len(rows) > 1 else 0)
        self._row_cache.clear()
        self._update_virtual_size()
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()
        self.refresh_bindings()

    def _text_width(self, width: int) -> int:
        if self.split:
            return max(1, (width - 2 * (self._number_width + 3) - 1) // 2)
        return max(1, width - 2 * self._number_width - 4)

    def _update_virtual_size(self) -> None:
        width = self.scrollable_content_region.width
        overflow = max(0, self._max_text - self._text_width(width)) if width else 0
        height = len(self.rows) if not self._message else 1
        self.virtual_size = Size(width + overflow, height)

    def _highlighters(self) -> tuple[_Highlighter, _Highlighter]:
        dark = self.app.current_theme.dark if self.is_attached else True
        theme_name = self.SYNTAX_THEMES[0 if dark else 1]
        if self._old is None or self._new is None or theme_name != self._syntax_theme:
            lexer = lexer_for(self.path)
            theme = Syntax.get_theme(theme_name)
            self._syntax_theme = theme_name
            self._old = _Highlighter(self._old_text, lexer, theme)
            self._new = _Highlighter(self._new_text, lexer, theme)
            if not (self._old.done and self._new.done):
                self.run_worker(self._lex_in_background(self._old, self._new),
                                exclusive=True, group="diff-view-lex")
        return self._old, self._new

    async def _lex_in_background(self, *highlighters: _Highlighter) -> None:
        for highlighter in highlighters:
            while not highlighter.done:
                highlighter.lex_more(self.LEX_STEP)
                await asyncio.sleep(self.LEX_PAUSE)
        self._lexed(highlighters)

    def _lexed(self, highlighters: tuple[_Highlighter, ...]) -> None:
        """Redraw rows that were drawn plain while the lexer caught up."""
        if self._pending and highlighters == (self._old, self._new):
            self._pending = False
            self._row_cache.clear()
            self.refresh()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        index = scroll_y + y
        cursor = self.cursor_side if index == self.cursor_row and self.has_focus else None
        key = (index, scroll_x, width, self.split, cursor)
        cached = self._row_cache.get(key)
        if cached is not None:
            return cached
        strip = self._render_row(index, scroll_x, width, cursor is not None)
        self._row_cache[key] = strip
        return strip

    def _render_row(self, index: int, scroll_x: int, width: int, cursor: bool = False) -> Strip:
        base = self.rich_style
        if self._message is not None:
            if index != 0:
                return Strip.blank(width, base)
            style = self.get_component_rich_style("diff-view--message")
            return Strip([Segment(f" {self._message}", style)]).crop_extend(0, width, base)
        rows = self.rows
        if index >= len(rows):
            return Strip.blank(width, base)
        row = rows[index]
        if row.kind == "hunk":
            style = self.get_component_rich_style("diff-view--hunk")
            label = self._hunk_labels.get(row.left_text or "")
            segments = [Segment(f" {row.left_text}", style)]
            if label:
                segments.append(Segment(f"   {label}", style + self.get_component_rich_style("diff-view--commented")))
            return Strip(segments).crop_extend(0, width, style)
        old, new = self._highlighters()
        if self.split:
            return self._render_split(row, scroll_x, width, old, new, self._effective_side(row) if cursor else None)
        return self._render_unified(row, scroll_x, width, old, new, cursor)
