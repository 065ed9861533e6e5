"""The form that starts a new agent."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, TextArea

from app.config import prompt_problem
from app.names import name_problem


@dataclass(frozen=True)
class SpawnRequest:
    name: str
    agent: str
    prompt: str
    scope: tuple[str, ...]
    count: int


class SpawnScreen(ModalScreen[SpawnRequest | None]):
    """Name, agent (preset or command), prompt, scope globs, count.

    | Key | Description |
    | :- | :- |
    | ctrl+s | Start the agent. |
    | escape | Cancel. |
    """

    DEFAULT_CSS = """
    SpawnScreen { align: center middle; }
    SpawnScreen > Vertical {
        width: 90; height: auto; max-height: 90%; padding: 1 2;
        border: thick $primary; background: $surface;
    }
    SpawnScreen TextArea { height: 6; }
    SpawnScreen #error { color: $error; height: auto; }
    SpawnScreen Horizontal { height: auto; align-horizontal: right; }
    """

    BINDINGS = [
        Binding("ctrl+s", "submit", "Start", id="spawn.submit", tooltip="Start the agent"),
        Binding("escape", "cancel", "Cancel", id="spawn.cancel", tooltip="Close without starting anything"),
    ]

    def __init__(self, presets: list[str], default_agent: str) -> None:
        super().__init__()
        self.presets = presets
        self.default_agent = default_agent

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Name")
            yield Input(placeholder="fix-login", id="name")
            yield Label("Agent: a preset, or type a full command below")
            yield Select([(p, p) for p in self.presets], value=self.default_agent
                         if self.default_agent in self.presets else self.presets[0], id="preset",
                         allow_blank=False)
            yield Input(placeholder="custom command (overrides the preset), e.g. my-agent --fast", id="command")
            yield Label("Prompt (delivered literally)")
            yield TextArea(id="prompt")
            yield Label("Scope: comma-separated globs the agent may touch (empty = anything)")
            yield Input(placeholder="src/auth/**, tests/test_auth.py", id="scope")
            yield Label("Count (best-of-N)")
            yield Input(value="1", id="count", type="integer")
            yield Label("", id="error")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Start (ctrl+s)", variant="primary", id="start")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self.action_submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        name = self.query_one("#name", Input).value.strip()
        command = self.query_one("#command", Input).value.strip()
        agent = command or str(self.query_one("#preset", Select).value)
        count_text = self.query_one("#count", Input).value.strip() or "1"
        error = self.query_one("#error", Label)
        if not name:
            error.update("A name is required.")
            return
        prompt = self.query_one("#prompt", TextArea).text
        problem = name_problem(name) or prompt_problem(prompt)
        if problem:
            error.update(Content(problem[0].upper() + problem[1:] + "."))   # Content: a name's brackets are text
            return
        if not count_text.isdigit() or int(count_text) < 1:
            error.update("Count must be a whole number of at least 1.")
            return
        scope = tuple(s.strip() for s in self.query_one("#scope", Input).value.split(",") if s.strip())
        self.dismiss(SpawnRequest(name=name, agent=agent, prompt=prompt, scope=scope, count=int(count_text)))
