"""A live view of an agent's tmux pane, with its colours."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static


class PanePreview(Static):
    """Shows the visible screen of the selected agent's pane (ANSI colours kept).

    The screen text is pushed in by the dashboard; this widget never talks to tmux.
    """

    DEFAULT_CSS = """
    PanePreview {
        background: $surface;
        color: $foreground;
        overflow: hidden;
        padding: 0 1;
    }
    """

    screen_text: reactive[str] = reactive("", layout=False)

    def watch_screen_text(self, text: str) -> None:
        rendered = Text.from_ansi(text, no_wrap=True, end="")
        rendered.no_wrap = True
        self.update(rendered)
