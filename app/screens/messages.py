"""The main screen's messages: what the App's monitor worker and the screen's own workers found.

Workers post them to the main screen, whose handlers own the state. `AgentsRefreshed` and
`ActionFinished` bubble on to the App, which keeps its own part (the title, the queued tasks);
the others concern the main screen alone and stop there, so a message hook sees each of them once.
"""

from __future__ import annotations

from textual.message import Message

from app.model import Agent, Trigger


class AgentsRefreshed(Message):
    """A new picture of every agent arrived from the monitor, with the triggers raised and cleared."""

    def __init__(self, agents: list[Agent], raised: list[Trigger] | None = None,
                 cleared: list[Trigger] | None = None, found: list[Trigger] | None = None,
                 notes: list[str] | None = None) -> None:
        super().__init__()
        self.agents = agents
        self.raised = raised or []
        self.cleared = cleared or []
        self.found = found or []      # already true when the dashboard started: logged, not announced
        self.notes = notes or []      # what the monitor did on its own (resumed after a usage limit)


class ScreenCaptured(Message, bubble=False):
    """The selected agent's pane was captured."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__()
        self.name = name
        self.text = text


class ConflictsPredicted(Message, bubble=False):
    """Merge predictions: per agent against the base, and per pair of agents (conflicting files; () is clean)."""

    def __init__(self, base: str, vs_base: dict[str, tuple[str, ...]],
                 pairs: dict[tuple[str, str], tuple[str, ...]]) -> None:
        super().__init__()
        self.base = base
        self.vs_base = vs_base
        self.pairs = pairs


class ConfirmNeeded(Message, bubble=False):
    """A worker prepared a question for the user (what an action will do) and what to run on yes."""

    def __init__(self, question: str, label: str, on_yes) -> None:
        super().__init__()
        self.question = question
        self.label = label
        self.on_yes = on_yes


class TriggerRaised(Message, bubble=False):
    """A trigger fired (tests and scripts can watch for it)."""

    def __init__(self, trigger: Trigger) -> None:
        super().__init__()
        self.trigger = trigger


class MergeDone(Message, bubble=False):
    """An agent was merged into its base."""

    def __init__(self, name: str, result) -> None:
        super().__init__()
        self.name = name
        self.result = result


class ActionFinished(Message):
    """A fleet action ended; `error` is set when it failed."""

    def __init__(self, what: str, error: str | None = None) -> None:
        super().__init__()
        self.what = what
        self.error = error


class OutputRead(Message, bubble=False):
    """An agent's recorded output was read (here, or over ssh on its host)."""

    def __init__(self, name: str, where: str, text: str) -> None:
        super().__init__()
        self.name = name
        self.where = where
        self.text = text
