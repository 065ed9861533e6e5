"""A scrollable read-only text: a check's output, an agent's log."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.content import Content
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import RichLog, Static


class TextScreen(ModalScreen[None]):
    """Shows text (ANSI colours kept), scrolled to the end.

    | Key | Description |
    | :- | :- |
    | escape / q | Close. |
    """

    DEFAULT_CSS = """
    TextScreen { align: center middle; }
    TextScreen > Static { width: 90%; height: 1; background: $primary; color: $background; padding: 0 1; }
    TextScreen > RichLog { width: 90%; height: 85%; border: thick $primary; background: $surface; }
    """

    BINDINGS = [Binding("escape,q", "close", "Close", id="text.close", tooltip="Close this view")]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.body = text

    def compose(self) -> ComposeResult:
        yield Static(Content(self.title_text))   # names and paths are not markup
        yield RichLog(wrap=False, markup=False, highlight=False)

    def on_mount(self) -> None:
        log = self.query_one(RichLog)
        log.write(Text.from_ansi(self.body or "(empty)"))
        log.scroll_end(animate=False)

    def action_close(self) -> None:
        self.dismiss(None)
