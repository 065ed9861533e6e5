"""A side-by-side / unified diff on Textual's line API: only the visible rows are rendered."""

from __future__ import annotations

from typing import ClassVar, Iterator

from pygments.lexer import Lexer
from pygments.lexers import get_lexer_for_filename
from pygments.util import ClassNotFound
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

from app.diff import Row, hunk_starts, side_by_side, split_lines, unified_rows

# Control characters would move the terminal's cursor; tabs become spaces.
_DISPLAY = {code: "\ufffd" for code in (*range(0x00, 0x20), 0x7F)}
_DISPLAY[ord("\t")] = "    "

_HIGHLIGHT_LIMIT = 4_000_000
"""Texts longer than this (in characters) are shown without syntax highlighting."""


def _display(text: str) -> str:
    return text.translate(_DISPLAY)


class _Highlighter:
    """Lexes one text once, lazily: lines are tokenised only as far as they are asked for."""

    def __init__(self, text: str, lexer: Lexer | None, theme: SyntaxTheme) -> None:
        self._plain = split_lines(text)
        self._lines: list[list[tuple[str, Style | None]]] = []
        self._current: list[tuple[str, Style | None]] = []
        self._theme = theme
        self._styles: dict[object, Style | None] = {}
        self._tokens: Iterator[tuple[object, str]] | None = None
        if lexer is not None and text and len(text) <= _HIGHLIGHT_LIMIT:
            self._tokens = lexer.get_tokens(text)

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

    def line(self, index: int) -> list[tuple[str, Style | None]]:
        """Return the (text, style) pieces of line `index` (0-based)."""
        while self._tokens is not None and len(self._lines) <= index:
            try:
                token_type, value = next(self._tokens)
            except StopIteration:
                self._tokens = None
                if self._current:
                    self._lines.append(self._current)
                    self._current = []
                break
            style = self._style(token_type)
            first, *rest = value.split("\n")
            if first:
                self._current.append((_display(first), style))
            for piece in rest:
                self._lines.append(self._current)
                self._current = [(_display(piece), style)] if piece else []
        if index < len(self._lines):
            return self._lines[index]
        if index < len(self._plain):
            return [(_display(self._plain[index]), None)]
        return []

    def text(self, index: int) -> str:
        """Return the plain display text of line `index`."""
        return _display(self._plain[index]) if 0 <= index < len(self._plain) else ""


class DiffView(ScrollView, can_focus=True):
    """A diff of one file, side by side or unified, with syntax highlighting.

    Both sides live in one widget so they scroll together; rows are rendered only when
    visible and highlighted lines are cached, so a 10,000-line diff opens at once.
    Toggle the layout with [bindings][widgets.diff_view.DiffView.BINDINGS].
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("vertical_line", "toggle_split", "Split/unified", id="diff.toggle_split",
                tooltip="Switch between side-by-side and unified diff"),
        Binding("n,right_square_bracket", "next_hunk", "Next hunk", id="diff.next_hunk",
                tooltip="Scroll to the next hunk"),
        Binding("p,left_square_bracket", "previous_hunk", "Previous hunk", id="diff.previous_hunk",
                tooltip="Scroll to the previous hunk"),
        Binding("j", "scroll_down", "Down", show=False, id="diff.scroll_down",
                tooltip="Scroll the diff down one line"),
        Binding("k", "scroll_up", "Up", show=False, id="diff.scroll_up",
                tooltip="Scroll the diff up one line"),
    ]
    """
    | Key(s) | Description |
    | :- | :- |
    | \\| | Switch between side-by-side and unified diff. |
    | n, ] | Scroll to the next hunk. |
    | p, [ | Scroll to the previous hunk. |
    | j | Scroll down one line. |
    | k | Scroll up one line. |
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "diff-view--added",
        "diff-view--removed",
        "diff-view--hunk",
        "diff-view--line-number",
        "diff-view--filler",
        "diff-view--message",
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
    """

    DEFAULT_CSS = """
    DiffView {
        background: $surface;
        color: $foreground;
        & > .diff-view--added { background: $success-muted; }
        & > .diff-view--removed { background: $error-muted; }
        & > .diff-view--hunk { background: $primary-muted; color: $text-primary; text-style: italic; }
        & > .diff-view--line-number { color: $text-muted; }
        & > .diff-view--filler { background: $panel; }
        & > .diff-view--message { color: $text-muted; text-style: italic; }
        &:focus { background-tint: $foreground 3%; }
    }
    """

    SYNTAX_THEMES: ClassVar[tuple[str, str]] = ("ansi_dark", "ansi_light")
    """Rich syntax themes for dark and light app themes; their backgrounds are ignored."""

    split: reactive[bool] = reactive(True)
    """True for side by side, False for unified."""

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
        self.set_reactive(DiffView.split, split)

    # --- public API ----------------------------------------------------------------------

    def show(self, old_text: str | None, new_text: str | None, path: str = "") -> None:
        """Diff two texts and show them; None for either side means a binary file."""
        if old_text is None or new_text is None:
            self.show_binary(path)
            return
        self.show_rows(side_by_side(old_text, new_text), path, old_text, new_text)

    def show_rows(self, rows: list[Row], path: str, old_text: str, new_text: str) -> None:
        """Show rows already computed by `app.diff.side_by_side` (e.g. in a worker)."""
        self.path, self.binary = path, False
        self._old_text, self._new_text = old_text, new_text
        self._split_rows, self._unified_rows = rows, None
        self._old = self._new = None
        self._message = None if rows else "no changes"
        numbers = [row.left_no or 0 for row in rows[-50:]] + [row.right_no or 0 for row in rows[-50:]]
        self._number_width = max(3, len(str(max(numbers, default=0))))
        self._max_text = max((len(_display(text)) for row in rows if row.kind != "hunk"
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

    # --- actions -------------------------------------------------------------------------

    def action_toggle_split(self) -> None:
        """Switch between side-by-side and unified."""
        self.split = not self.split

    def action_next_hunk(self) -> None:
        """Scroll so the next hunk header is at the top."""
        top = round(self.scroll_y)
        following = [index for index in self.hunks if index > top]
        if following:
            self.scroll_to(y=following[0], animate=False, immediate=True)

    def action_previous_hunk(self) -> None:
        """Scroll so the previous hunk header is at the top."""
        top = round(self.scroll_y)
        preceding = [index for index in self.hunks if index < top]
        if preceding:
            self.scroll_to(y=preceding[-1], animate=False, immediate=True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("next_hunk", "previous_hunk", "toggle_split"):
            return bool(self._split_rows)
        return True

    # --- reactives and events ------------------------------------------------------------

    def watch_split(self, split: bool) -> None:
        # Keep the same place in the file: find the row showing the old top line.
        rows_before = self._unified_rows if split else self._split_rows
        top = round(self.scroll_y)
        anchor = rows_before[top] if rows_before and top < len(rows_before) else None
        self._row_cache.clear()
        self._update_virtual_size()
        if anchor is not None:
            for index, row in enumerate(self.rows):
                if (row.kind == "hunk") == (anchor.kind == "hunk") and (
                        (anchor.left_no is not None and row.left_no == anchor.left_no)
                        or (anchor.right_no is not None and row.right_no == anchor.right_no)):
                    self.scroll_to(y=index, animate=False, immediate=True)
                    break
        self.refresh()
        self.refresh_bindings()
        self.post_message(self.SplitChanged(self, split))

    def on_resize(self) -> None:
        self._update_virtual_size()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._row_cache.clear()
        self._old = self._new = None  # the syntax theme follows the app theme's darkness

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
        if self._old is None or self._new is None:
            try:
                lexer = get_lexer_for_filename(self.path, stripnl=False, stripall=False)
            except ClassNotFound:
                lexer = None
            dark = self.app.current_theme.dark if self.is_attached else True
            theme = Syntax.get_theme(self.SYNTAX_THEMES[0 if dark else 1])
            self._old = _Highlighter(self._old_text, lexer, theme)
            self._new = _Highlighter(self._new_text, lexer, theme)
        return self._old, self._new

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        index = scroll_y + y
        key = (index, scroll_x, width, self.split)
        cached = self._row_cache.get(key)
        if cached is not None:
            return cached
        strip = self._render_row(index, scroll_x, width)
        self._row_cache[key] = strip
        return strip

    def _render_row(self, index: int, scroll_x: int, width: int) -> Strip:
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
            return Strip([Segment(f" {row.left_text}", style)]).crop_extend(0, width, style)
        old, new = self._highlighters()
        if self.split:
            return self._render_split(row, scroll_x, width, old, new)
        return self._render_unified(row, scroll_x, width, old, new)

    def _side_styles(self, side: str) -> tuple[Style, Style]:
        """Return (text style, number style) for a side: 'added', 'removed' or 'equal'."""
        base = self.rich_style
        number = self.get_component_rich_style("diff-view--line-number")
        if side == "equal":
            return base, base + Style(color=number.color)
        row_style = self.get_component_rich_style(f"diff-view--{side}")
        return row_style, row_style + Style(color=number.color)

    def _text_segments(self, highlighter: _Highlighter, line_no: int, text_style: Style,
                       scroll_x: int, text_width: int) -> list[Segment]:
        pieces = highlighter.line(line_no - 1)
        segments = [Segment(text, text_style + style if style else text_style) for text, style in pieces]
        return list(Strip(segments).crop_extend(scroll_x, scroll_x + text_width, text_style))

    def _render_split(self, row: Row, scroll_x: int, width: int,
                      old: _Highlighter, new: _Highlighter) -> Strip:
        number_width = self._number_width
        text_width = self._text_width(width)
        segments: list[Segment] = []
        sides = (
            (row.left_no, old, "removed", "-"),
            (row.right_no, new, "added", "+"),
        )
        for column, (line_no, highlighter, changed, sign) in enumerate(sides):
            if column:
                separator = self.get_component_rich_style("diff-view--line-number")
                segments.append(Segment("│", separator))
            if line_no is None:
                filler = self.get_component_rich_style("diff-view--filler")
                segments.append(Segment(" " * (number_width + 3 + text_width), filler))
                continue
            kind = "equal" if row.kind == "equal" else changed
            text_style, number_style = self._side_styles(kind)
            mark = " " if kind == "equal" else sign
            segments.append(Segment(f"{line_no:>{number_width}} {mark} ", number_style))
            segments.extend(self._text_segments(highlighter, line_no, text_style, scroll_x, text_width))
        return Strip(segments).crop_extend(0, width, self.rich_style)

    def _render_unified(self, row: Row, scroll_x: int, width: int,
                        old: _Highlighter, new: _Highlighter) -> Strip:
        number_width = self._number_width
        text_width = self._text_width(width)
        if row.kind == "equal":
            kind, mark, highlighter, line_no = "equal", " ", new, row.right_no
        elif row.kind == "delete":
            kind, mark, highlighter, line_no = "removed", "-", old, row.left_no
        else:
            kind, mark, highlighter, line_no = "added", "+", new, row.right_no
        text_style, number_style = self._side_styles(kind)
        left = "" if row.left_no is None else str(row.left_no)
        right = "" if row.right_no is None else str(row.right_no)
        segments = [Segment(f"{left:>{number_width}} {right:>{number_width}} {mark} ", number_style)]
        assert line_no is not None
        segments.extend(self._text_segments(highlighter, line_no, text_style, scroll_x, text_width))
        return Strip(segments).crop_extend(0, width, self.rich_style)
