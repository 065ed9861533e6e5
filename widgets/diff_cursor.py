"""The diff view's line cursor: one row, and side by side one side of it; what it points at."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.geometry import Region

from app.git.diff import Row

if TYPE_CHECKING:
    from textual.reactive import reactive


@dataclass(frozen=True)
class CursorLine:
    """The line under the diff's cursor: which side, its number there and its text."""

    side: str
    """'old' (the left side, what was there before) or 'new'."""
    line: int
    code: str


class LineCursor:
    """Mixed into `DiffView` (which owns the `cursor_row` and `cursor_side` reactives and the rows):
    moving the cursor over hunk headers, keeping it in view, following its line across layouts,
    and the line it points at. Moving it repaints two lines, never the whole view."""

    if TYPE_CHECKING:
        cursor_row: reactive[int]
        cursor_side: reactive[str]
        split: reactive[bool]
        rows: list[Row]
        _message: str | None

    def cursor_line(self) -> CursorLine | None:
        """The line under the cursor (None on a hunk header, or when no diff is shown)."""
        rows = self.rows
        if self._message is not None or not 0 <= self.cursor_row < len(rows):
            return None
        row = rows[self.cursor_row]
        if row.kind == "hunk":
            return None
        side = self._effective_side(row)
        if side == "old":
            assert row.left_no is not None
            return CursorLine("old", row.left_no, row.left_text or "")
        assert row.right_no is not None
        return CursorLine("new", row.right_no, row.right_text or "")

    def hunk_at_cursor(self) -> str | None:
        """The header (`@@ -a,b +c,d @@`) of the hunk the cursor is in, None when there is none."""
        rows = self.rows
        for index in range(min(self.cursor_row, len(rows) - 1), -1, -1):
            if rows[index].kind == "hunk":
                return rows[index].left_text
        return None

    def _effective_side(self, row: Row) -> str:
        """The side a row's cursor stands on: the chosen one, unless the row has no line there."""
        if not self.split:
            return "old" if row.kind == "delete" else "new"
        if self.cursor_side == "old":
            return "old" if row.left_no is not None else "new"
        return "new" if row.right_no is not None else "old"

    def action_cursor_down(self) -> None:
        """Move the cursor to the next line (over hunk headers)."""
        self._move_cursor(1)

    def action_cursor_up(self) -> None:
        """Move the cursor to the previous line (over hunk headers)."""
        self._move_cursor(-1)

    def action_side(self, side: str) -> None:
        """Side by side: put the cursor on the old or the new side."""
        if side in ("old", "new"):
            self.cursor_side = side

    def _move_cursor(self, step: int) -> None:
        rows = self.rows
        top, height = round(self.scroll_y), self.scrollable_content_region.height
        index = self.cursor_row + step
        if height and not top <= self.cursor_row < top + height:
            index = top if step > 0 else min(top + height, len(rows)) - 1   # scrolled away: start from the view

        while 0 <= index < len(rows) and rows[index].kind == "hunk":
            index += step
        if 0 <= index < len(rows):
            self.cursor_row = index
        elif step < 0 and self.cursor_row > 0:
            self.scroll_to(y=0, animate=False, immediate=True)   # the first hunk's header comes into view

    def _follow(self, at: Row, side: str) -> None:
        """After a layout switch, put the cursor on the row that shows the same line on the same side."""
        number = at.left_no if side == "old" else at.right_no
        for index, row in enumerate(self.rows):
            if row.kind != "hunk" and (row.left_no if side == "old" else row.right_no) == number:
                self.set_reactive(type(self).cursor_row, index)
                if self.split:
                    self.set_reactive(type(self).cursor_side, side)
                self._keep_cursor_visible()
                return

    def watch_cursor_row(self, old: int, new: int) -> None:
        self._refresh_rows(old, new)
        self._keep_cursor_visible()

    def watch_cursor_side(self) -> None:
        self._refresh_rows(self.cursor_row)

    def _refresh_rows(self, *indexes: int) -> None:
        top, width = round(self.scroll_y), self.size.width
        for index in indexes:
            if 0 <= index - top < self.size.height:
                self.refresh(Region(0, index - top, width, 1))

    def _keep_cursor_visible(self) -> None:
        height = self.scrollable_content_region.height
        top = round(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif height and self.cursor_row >= top + height:
            self.scroll_to(y=self.cursor_row - height + 1, animate=False, immediate=True)

    def on_focus(self) -> None:
        self._refresh_rows(self.cursor_row)

    def on_blur(self) -> None:
        self._refresh_rows(self.cursor_row)
