"""A live view of an agent's tmux pane, with its colours."""

from __future__ import annotations

from rich.style import Style
from rich.text import Span, Text
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
        text-wrap: nowrap;
        text-overflow: clip;
        padding: 0 1;
    }
    """

    screen_text: reactive[str] = reactive("", layout=False)
    _lines = -1

    def watch_screen_text(self, text: str) -> None:
        rendered = Text.from_ansi(text, no_wrap=True, end="")
        # "default" colours mean the terminal's own: here that is this widget's theme colours.
        rendered.spans = [Span(s.start, s.end, _without_defaults(s.style)) for s in rendered.spans]
        # A pane prints at its own height: the layout (every widget's place) changes only when the number
        # of lines does, and reflowing the screen four times a second for a printing agent costs much.
        lines = text.count("\n")
        self.update(rendered, layout=lines != self._lines)
        self._lines = lines


def _without_defaults(style: Style | str) -> Style | str:
    if not isinstance(style, Style):
        return style
    bg = None if style.bgcolor is None or style.bgcolor.is_default else style.bgcolor
    fg = None if style.color is None or style.color.is_default else style.color
    return style.copy() if (bg, fg) == (style.bgcolor, style.color) else \
        Style(color=fg, bgcolor=bg, bold=style.bold, dim=style.dim, italic=style.italic,
              underline=style.underline, reverse=style.reverse, strike=style.strike)
