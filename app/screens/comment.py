"""Write (or edit) a review comment on one line of a diff."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class CommentScreen(ModalScreen[str | None]):
    """The line commented on, quoted, and a one-line input; Enter keeps the comment as a draft.

    | Key | Description |
    | :- | :- |
    | enter | Keep the comment (an empty one is not kept). |
    | escape | Cancel. |
    """

    DEFAULT_CSS = """
    CommentScreen { align: center middle; }
    CommentScreen > Vertical {
        width: 90; height: auto; padding: 1 2;
        border: thick $warning; background: $surface;
    }
    CommentScreen #comment-where { color: $text-muted; margin-bottom: 1; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="comment.cancel", tooltip="Close without keeping it")]

    def __init__(self, where: str, text: str = "") -> None:
        super().__init__()
        self.where = where
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content.assemble(("Comment on ", "bold"), self.where), id="comment-where")
            yield Input(value=self.text, select_on_focus=False,
                        placeholder="what the agent should know or change (Enter keeps it)",
                        id="comment-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
