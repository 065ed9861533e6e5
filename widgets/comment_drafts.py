"""The draft comments of a review: one line each, to edit or delete before they are sent."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from app.comments import Comment


class DraftList(OptionList):
    """The unsent comments, in file and line order: `path:line (side)  text`.

    | Key(s) | Description |
    | :- | :- |
    | e, enter | Edit the comment under the cursor. |
    | x, delete | Delete the comment under the cursor. |
    | j, k | Next / previous comment. |
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e,enter", "edit", "Edit comment", id="drafts.edit", tooltip="Edit the draft comment under the cursor"),
        Binding("x,delete", "delete", "Delete comment", id="drafts.delete",
                tooltip="Delete the draft comment under the cursor"),
        Binding("j", "cursor_down", "Down", show=False, id="drafts.down", tooltip="The next draft comment"),
        Binding("k", "cursor_up", "Up", show=False, id="drafts.up", tooltip="The previous draft comment"),
    ]

    DEFAULT_CSS = """
    DraftList {
        height: auto;
        max-height: 8;
        border: round $panel;
        border-title-color: $warning;
        &:focus { border: round $warning; }
    }
    """

    class EditRequested(Message):
        """The reviewer wants to change a draft's text."""

        def __init__(self, comment: Comment) -> None:
            super().__init__()
            self.comment = comment

    class DeleteRequested(Message):
        """The reviewer wants a draft gone."""

        def __init__(self, comment: Comment) -> None:
            super().__init__()
            self.comment = comment

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.comments: list[Comment] = []

    def show(self, comments: list[Comment]) -> None:
        """Show these drafts (the cursor stays on the same place in the list)."""
        at = self.highlighted
        self.comments = sorted(comments, key=lambda c: (c.path, c.line, c.side != "new", c.created))
        self.set_options(Option(Content.assemble((f"{c.path}:{c.line} ({c.side})", "bold"), "  ",
                                                 " ".join(c.text.split())), id=c.id) for c in self.comments)
        if self.comments:
            self.highlighted = min(at or 0, len(self.comments) - 1)
        count = len(self.comments)
        self.border_title = f"{count} draft comment{'s' if count != 1 else ''} (S sends them all)"
        self.display = bool(self.comments)

    @property
    def current(self) -> Comment | None:
        """The draft under the cursor."""
        at = self.highlighted
        return self.comments[at] if at is not None and 0 <= at < len(self.comments) else None

    def action_edit(self) -> None:
        """Ask to edit the draft under the cursor."""
        if self.current is not None:
            self.post_message(self.EditRequested(self.current))

    def action_delete(self) -> None:
        """Ask to delete the draft under the cursor."""
        if self.current is not None:
            self.post_message(self.DeleteRequested(self.current))
