"""Painting one row of the diff view: gutters (numbers, comment dots, the cursor), highlighted text
with within-line changes marked, and `›` where a long line is cut."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from app.git.diff import Row, changed_spans

if TYPE_CHECKING:
    from widgets.diff_view import _Highlighter


# Control characters would move the terminal's cursor; tabs become spaces.
_DISPLAY = {code: "\ufffd" for code in (*range(0x00, 0x20), 0x7F)}
_DISPLAY[ord("\t")] = "    "

def _display(text: str) -> str:
    return text.translate(_DISPLAY)


@lru_cache(maxsize=4096)
def _spans(old: str, new: str) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
    """Within-line changes of a replaced line, on the displayed text (tabs expanded), cached."""
    return changed_spans(_display(old), _display(new))


def _emphasize(segments: list[Segment], spans: tuple[tuple[int, int], ...], style: Style) -> list[Segment]:
    """Lay `style` over the characters in `spans` (offsets into the segments' joined text)."""
    out: list[Segment] = []
    at = 0
    spans_left = list(spans)
    for seg in segments:
        text, seg_style = seg.text, seg.style
        end = at + len(text)
        cut = at
        while spans_left and spans_left[0][0] < end:
            start, stop = spans_left[0]
            start = max(start, cut)
            if start > cut:
                out.append(Segment(text[cut - at:start - at], seg_style))
            inner_end = min(stop, end)
            out.append(Segment(text[start - at:inner_end - at], (seg_style or Style()) + style))
            cut = inner_end
            if stop <= end:
                spans_left.pop(0)
            else:
                break
        if cut < end:
            out.append(Segment(text[cut - at:], seg_style))
        at = end
    return out


class RowPainter:
    """Mixed into `DiffView`, which owns the rows, the highlighters, the styles and the marks."""

    if TYPE_CHECKING:
        _number_width: int
        _commented: frozenset[tuple[str, int]]
        _pending: bool

    def _side_styles(self, side: str) -> tuple[Style, Style]:
        """Return (text style, number style) for a side: 'added', 'removed' or 'equal'."""
        base = self.rich_style
        number = self.get_component_rich_style("diff-view--line-number")
        if side == "equal":
            return base, base + Style(color=number.color)
        row_style = self.get_component_rich_style(f"diff-view--{side}")
        return row_style, row_style + Style(color=number.color)

    def _text_segments(self, highlighter: _Highlighter, line_no: int, text_style: Style,
                       scroll_x: int, text_width: int, changed: tuple[tuple[int, int], ...] = (),
                       side: str = "added") -> list[Segment]:
        pieces = highlighter.line(line_no - 1)
        if pieces is None:
            self._pending = True
            pieces = highlighter.plain(line_no - 1)
        segments = [Segment(text, text_style + style if style else text_style) for text, style in pieces]
        if changed:
            segments = _emphasize(segments, changed, self.get_component_rich_style(f"diff-view--{side}-word"))
        line = Strip(segments)
        shown = line.crop_extend(scroll_x, scroll_x + text_width, text_style)
        if line.cell_length > scroll_x + text_width and text_width > 1:
            # Never cut silently: `›` says the line goes on (the footer names the keys that scroll there).
            more = text_style + Style(color=self.get_component_rich_style("diff-view--line-number").color)
            shown = Strip([*shown.crop(0, text_width - 1), Segment("›", more)], text_width)
        return list(shown)

    def _gutter(self, numbers: str, mark: str, commented: bool, cursor: bool, style: Style) -> list[Segment]:
        """Line number(s), a dot for a draft comment, the +/- mark; in the cursor's colours when it is here."""
        dot = Segment("●" if commented else " ", style + self.get_component_rich_style("diff-view--commented")
                      if commented else style)
        segments = [Segment(numbers, style), dot, Segment(f"{mark} ", style)]
        if cursor:
            cursor_style = self.get_component_rich_style("diff-view--cursor")
            segments = [Segment(seg.text, (seg.style or Style()) + cursor_style) for seg in segments]
        return segments

    def _render_split(self, row: Row, scroll_x: int, width: int,
                      old: _Highlighter, new: _Highlighter, cursor_side: str | None = None) -> Strip:
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
            side = "old" if column == 0 else "new"
            segments += self._gutter(f"{line_no:>{number_width}}", mark, (side, line_no) in self._commented,
                                     cursor_side == side, number_style)
            spans: tuple[tuple[int, int], ...] = ()
            if row.kind == "replace" and row.left_text is not None and row.right_text is not None:
                spans = _spans(row.left_text, row.right_text)[column]
            segments.extend(self._text_segments(highlighter, line_no, text_style, scroll_x, text_width,
                                                spans, changed))
        return Strip(segments).crop_extend(0, width, self.rich_style)

    def _render_unified(self, row: Row, scroll_x: int, width: int,
                        old: _Highlighter, new: _Highlighter, cursor: bool = False) -> Strip:
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
        assert line_no is not None
        commented = ("old" if row.kind == "delete" else "new", line_no) in self._commented
        segments = self._gutter(f"{left:>{number_width}} {right:>{number_width}}", mark, commented, cursor,
                                number_style)
        spans: tuple[tuple[int, int], ...] = ()
        if row.partner is not None and row.kind == "delete" and row.left_text is not None:
            spans = _spans(row.left_text, row.partner)[0]
        elif row.partner is not None and row.kind == "insert" and row.right_text is not None:
            spans = _spans(row.partner, row.right_text)[1]
        segments.extend(self._text_segments(highlighter, line_no, text_style, scroll_x, text_width,
                                            spans, kind))
        return Strip(segments).crop_extend(0, width, self.rich_style)
