"""aider 0.86: `--notifications --notifications-command CMD`, run when it waits for input after a reply.

aider runs the command through a shell with no payload, for a finished reply and for a question
alike: the event says "waiting", and the screen says which (`Waiting` never overrules a screen
that a rule reads). The recorder reads nothing from stdin here: the command shares aider's terminal.
aider has no permission settings: `allow:`/`deny:` rules are not handed to it.
"""

from __future__ import annotations

try:
    from ._shape import event
except ImportError:          # loaded by path inside the recorder
    from _shape import event


def install(common_dir, name: str, allow=(), deny=()):
    """Two options on aider's command line."""
    import shlex
    from . import Channel, recorder
    from .. import hooks
    command = shlex.join(recorder(hooks.events_path(common_dir, name), "aider", mode="notify"))
    return Channel(argv=("--notifications", "--notifications-command", command))


def parse(data: dict) -> dict | None:
    """aider's notification (no payload) -> an events line."""
    return event("Waiting", "aider", message="aider waits for input")
