"""Type a line (or press one key) in an agent's pane without attaching."""

from __future__ import annotations

from rich.markup import escape

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


@dataclass(frozen=True)
class Reply:
    """What to send: literal text followed by Enter, or one named key."""

    text: str = ""
    key: str | None = None


class ReplyScreen(ModalScreen[Reply | None]):
    """A one-line input; Enter sends it to the agent. An empty line sends just Enter.

    | Key | Description |
    | :- | :- |
    | enter | Send the line (an empty line presses Enter). |
    | ctrl+e | Send Escape to the agent. |
    | escape | Cancel. |
    """

    DEFAULT_CSS = """
    ReplyScreen { align: center middle; }
    ReplyScreen > Vertical {
        width: 80; height: auto; padding: 1 2;
        border: thick $primary; background: $surface;
    }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="reply.cancel", tooltip="Close without sending"),
        Binding("ctrl+e", "send_escape", "Send Esc", id="reply.escape", tooltip="Press Escape in the agent's pane"),
    ]

    def __init__(self, agent_name: str, context: str = "") -> None:
        super().__init__()
        self.agent_name = agent_name
        self.context = context

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Reply to [b]{escape(self.agent_name)}[/b]" + (f"\n[dim]{escape(self.context)}[/dim]" if self.context else ""),
                         markup=True)
            yield Input(placeholder="text to type, then Enter (empty = just Enter)", id="reply-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(Reply(text=event.value) if event.value else Reply(key="Enter"))

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_send_escape(self) -> None:
        self.dismiss(Reply(key="Escape"))
