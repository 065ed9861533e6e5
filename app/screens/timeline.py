"""One agent's timeline, live: what happened to it and what was done to it, oldest first."""

from __future__ import annotations

import time

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import RichLog, Static

from app.timeline import Event, Timeline, with_gaps

# Kinds that a human did, and kinds that need a human: shown in the theme's colours for them.
_ACTED = {"reply", "key", "approve", "reject", "answer", "comment", "acknowledged", "snoozed", "merge", "discard",
          "restore", "restart", "combine", "reviewed", "stopped"}


class TimelineScreen(ModalScreen[None]):
    """The selected agent's timeline (the same as `paneboard log NAME`), re-read when it grows.

    | Key | Description |
    | :- | :- |
    | escape / q | Close. |
    """

    DEFAULT_CSS = """
    TimelineScreen { align: center middle; }
    TimelineScreen > Static { width: 90%; height: 1; background: $primary; color: $background; padding: 0 1; }
    TimelineScreen > RichLog { width: 90%; height: 85%; border: thick $primary; background: $surface; }
    """

    BINDINGS = [Binding("escape,q", "close", "Close", id="timeline.close", tooltip="Close the timeline")]

    POLL_SECONDS = 1.0
    """How often the screen looks whether the timeline grew (a stat of one file)."""

    class Read(Message):
        """The timeline was read (with the stretches nobody watched)."""

        def __init__(self, events: list[Event]) -> None:
            super().__init__()
            self.events = events

    def __init__(self, timeline: Timeline, agent: str) -> None:
        super().__init__()
        self.timeline = timeline
        self.agent = agent
        self.events: list[Event] = []
        self._seen = -1.0

    def compose(self) -> ComposeResult:
        yield Static(Content(f"{self.agent}: timeline (paneboard log {self.agent})"))
        yield RichLog(wrap=True, markup=False, highlight=False)

    def on_mount(self) -> None:
        self.read()
        self.set_interval(self.POLL_SECONDS, self._poll)

    def _poll(self) -> None:
        if self.timeline.changed_at(self.agent) != self._seen:
            self.read()

    @work(thread=True, exclusive=True, group="timeline")
    def read(self) -> None:
        """Read the timeline in a thread and post it."""
        self._seen = self.timeline.changed_at(self.agent)
        events = with_gaps(self.timeline.events(self.agent), self.timeline.watched(), time.time())
        self.post_message(self.Read(events))

    def on_timeline_screen_read(self, message: Read) -> None:
        self.events = message.events
        log = self.query_one(RichLog)
        log.clear()
        colours = self.app.theme_variables
        for e in message.events:
            style = colours.get("warning", "") if e.kind in ("trigger", "not_watched") else \
                colours.get("accent", "") if e.kind in _ACTED else ""
            who = f"  ({e.source})" if e.source and e.source != "monitor" else ""
            log.write(Text.assemble((time.strftime("%Y-%m-%d %H:%M:%S  ", time.localtime(e.at)), "dim"),
                                    (f"{e.kind:<12}  ", style), e.text, (who, "dim")))
        if not message.events:
            log.write(Text("nothing recorded for this agent yet", style="dim"))
        log.scroll_end(animate=False)

    def action_close(self) -> None:
        self.dismiss(None)
