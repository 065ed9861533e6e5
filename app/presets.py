"""Agent presets: how to start each agent CLI in a worktree and how its prompt reaches it."""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import MutableMapping
from dataclasses import dataclass, field, replace

PLACEHOLDER = "{prompt}"
"""In a custom command, where the prompt goes (as one argv element, or inside one)."""


@dataclass(frozen=True)
class Preset:
    """How to run one kind of agent.

    `prompt` is how the task's prompt is delivered: "arg" appends it to argv (after
    `prompt_flag` if set), "placeholder" puts it where `{prompt}` stands in argv (a custom
    command's own choice), "paste" pastes it into the running agent with bracketed
    paste and Enter once the screen matches `ready` (or has settled), "none" drops it.
    `rules` names the family of status rules used to read its screen (the agent's own name: each
    preset comes from its file in app/agents/ or the user's agents directory, see app/agent_files.py).
    `hooks` names the event channel the agent offers (a module of app/events/: "claude", "codex",
    "gemini", "opencode", "aider"; the agent file's `events:`), None when it offers none: custom
    commands never get any. `continue_text` is typed (then Enter) to carry on once a usage limit
    lifted, with `on_limit: resume`. `submit` are the keys that submit text once it shows in the
    input box (app/fleet/deliver.py pastes it first).

    Restarting a stopped agent resumes its conversation: `resume` are the arguments that reopen
    a session by id ("{id}" stands for it), `resume_latest` those that continue the latest session
    when no id is known, and `session_hint` finds the id in the hint the CLI prints as it exits.
    A preset without them (and every custom command) starts again as it was first started.
    """

    name: str
    argv: tuple[str, ...]
    prompt: str = "arg"
    prompt_flag: str | None = None
    ready: str | None = None
    rules: str = "generic"
    description: str = ""
    env: dict[str, str] = field(default_factory=dict)
    # What "approve" / "reject" press at a question: named keys (Enter, Escape) or literal text.
    approve: tuple[str, ...] = ("y", "Enter")
    deny: tuple[str, ...] = ("n", "Enter")
    hooks: str | None = None
    # What to type to carry on after a usage limit lifted (`on_limit: resume`).
    continue_text: str = "continue"
    resume: tuple[str, ...] = ()
    resume_latest: tuple[str, ...] = ()
    session_hint: str | None = None
    # What submits pasted text once it shows in the input box: named keys (Enter, C-s…) or literal
    # text (the agent file's `submit:`, one key or a list).
    submit: tuple[str, ...] = ("Enter",)

    @property
    def events(self) -> str | None:
        """The agent's event channel (the agent file's `events:`), None when it offers none."""
        return self.hooks

    @property
    def binary(self) -> str:
        """The executable that must be on PATH."""
        return self.argv[0]

    def command(self, prompt: str | None, channel: tuple[str, ...] | list[str] = ()) -> list[str]:
        """The argv that starts this agent with its event channel's arguments and its prompt (if an argument)."""
        argv = list(self.argv)
        if self.hooks:      # a custom command never gets a channel (its hooks is None)
            argv += list(channel)
        if self.prompt == "placeholder":
            # Inside one element, so the prompt stays one argument whatever it holds.
            return [a.replace(PLACEHOLDER, prompt or "") for a in argv]
        if prompt and self.prompt == "arg":
            if self.prompt_flag:
                argv.append(self.prompt_flag)
            argv.append(prompt)
        return argv

    def resuming(self, session_id: str | None) -> "Preset | None":
        """This preset continuing its conversation (by id, else the latest) and taking no prompt; None if it cannot."""
        if session_id and self.resume and valid_session_id(session_id):
            extra = tuple(session_id if a == "{id}" else a for a in self.resume)
        elif self.resume_latest:
            extra = self.resume_latest
        else:
            return None
        return replace(self, argv=self.argv + extra, prompt="none")

    def session_from_screen(self, text: str) -> str | None:
        """The session id in the resume hint this CLI printed on its way out (the last one), if any."""
        if not self.session_hint or not text:
            return None
        # A hint can wrap inside a box (gemini): drop the box's sides and read across lines.
        flat = " ".join(text.translate(_BOX_SIDES).split())
        found = re.findall(self.session_hint, flat)
        return found[-1] if found and valid_session_id(found[-1]) else None

    def missing_binary(self) -> str | None:
        """The executable name if it is not on PATH, else None."""
        return None if shutil.which(self.binary) else self.binary


_SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{5,127}")
_BOX_SIDES = str.maketrans({c: " " for c in "│┃║|"})


def valid_session_id(value: object) -> bool:
    """True for something that can only be a session id (never an option, a path or shell text)."""
    return isinstance(value, str) and bool(_SESSION_ID.fullmatch(value))


def _preset(d) -> Preset:
    """A preset from an agent file's definition (app/agent_files.py)."""
    f = d.fields
    kw = {k: tuple(f[k]) for k in ("approve", "deny", "resume", "resume_latest") if k in f}
    return Preset(d.name, tuple(f.get("command", ())), prompt=f.get("prompt", "arg"), prompt_flag=f.get("prompt_flag"),
                  ready=f.get("ready"), rules=d.name, description=f.get("description", ""), env=dict(f.get("env", {})),
                  hooks=f.get("events"), continue_text=f.get("continue", "continue"),
                  session_hint=f.get("session_hint"), submit=tuple(f.get("submit", ("Enter",))), **kw)


class _Presets(MutableMapping):
    """Every agent preset by name, built from the agent files on first use (a test may add one)."""

    def __init__(self):
        self._loaded: dict[str, Preset] | None = None

    def _all(self) -> dict[str, Preset]:
        if self._loaded is None:
            from .agent_files import registry
            self._loaded = {name: _preset(d) for name, d in registry().agents.items() if name != "generic"}
        return self._loaded

    def reload(self) -> None:
        """Build the presets again from the agent files (after `agent_files.reload()`)."""
        self._loaded = None

    def __getitem__(self, name: str) -> Preset:
        return self._all()[name]

    def __setitem__(self, name: str, preset: Preset) -> None:
        self._all()[name] = preset

    def __delitem__(self, name: str) -> None:
        del self._all()[name]

    def __iter__(self):
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


PRESETS: MutableMapping[str, Preset] = _Presets()


def problem(name: str) -> str | None:
    """The one-line problem of the agent file named `name`, if it is broken."""
    from .agent_files import registry
    return registry().problems.get(name)


def resolve(spec: str) -> Preset:
    """A preset by name, or a custom preset for a full command line (split like a shell would, never run by one).

    Raises AgentFileError (one line: file, line, field) when the agent's own file is broken.
    """
    broken = problem(spec)
    if broken is not None:
        from .agent_files import AgentFileError
        raise AgentFileError(broken)
    if spec in PRESETS:
        return PRESETS[spec]
    argv = shlex.split(spec)
    if not argv:
        raise ValueError("empty agent command")
    # `{prompt}` says where the prompt goes; without it the prompt is pasted once the screen
    # settles, which works for any REPL (but a script's first `read` would take it).
    delivery = "placeholder" if any(PLACEHOLDER in a for a in argv) else "paste"
    return Preset(name="custom", argv=tuple(argv), prompt=delivery, rules="generic",
                  description=f"custom command: {spec}")


def is_known(spec: str) -> bool:
    """True if spec is a preset name (a broken agent file's too) or looks like a command (has an argument or a path)."""
    if spec in PRESETS or problem(spec) is not None:
        return True
    try:
        argv = shlex.split(spec)
    except ValueError:
        return False
    if not argv:
        return False
    return len(argv) > 1 or "/" in argv[0] or shutil.which(argv[0]) is not None


NAMED_KEYS = frozenset({"Enter", "Escape", "Tab", "BSpace", "Up", "Down", "Left", "Right", "Space", "C-c", "C-d"})
