"""Agent presets: how to start each agent CLI in a worktree and how its prompt reaches it."""

from __future__ import annotations

import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path


PLACEHOLDER = "{prompt}"
"""In a custom command, where the prompt goes (as one argv element, or inside one)."""


@dataclass(frozen=True)
class Preset:
    """How to run one kind of agent.

    `prompt` is how the task's prompt is delivered: "arg" appends it to argv (after
    `prompt_flag` if set), "placeholder" puts it where `{prompt}` stands in argv (a custom
    command's own choice), "paste" pastes it into the running agent with bracketed
    paste and Enter once the screen matches `ready` (or has settled), "none" drops it.
    `rules` names the family of status rules used to read its screen. `hooks` names the hook
    mechanism the agent offers ("claude": Claude Code hooks, given as `--settings FILE`; see
    app/hooks.py), None when it offers none: custom commands never get any.
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

    @property
    def binary(self) -> str:
        """The executable that must be on PATH."""
        return self.argv[0]

    def command(self, prompt: str | None, hooks_file: Path | None = None) -> list[str]:
        """The argv that starts this agent with its prompt (if delivered as an argument) and its hook settings."""
        argv = list(self.argv)
        if hooks_file is not None and self.hooks == "claude":
            argv += ["--settings", str(hooks_file)]
        if self.prompt == "placeholder":
            # Inside one element, so the prompt stays one argument whatever it holds.
            return [a.replace(PLACEHOLDER, prompt or "") for a in argv]
        if prompt and self.prompt == "arg":
            if self.prompt_flag:
                argv.append(self.prompt_flag)
            argv.append(prompt)
        return argv

    def missing_binary(self) -> str | None:
        """The executable name if it is not on PATH, else None."""
        return None if shutil.which(self.binary) else self.binary


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset("claude", ("claude",), prompt="arg", rules="claude", approve=("1",), deny=("Escape",),
               hooks="claude", description="Claude Code (Anthropic)"),
        Preset("codex", ("codex",), prompt="arg", rules="codex", approve=("y",), deny=("Escape",), description="Codex CLI (OpenAI)"),
        Preset("gemini", ("gemini",), prompt="arg", prompt_flag="--prompt-interactive",
               rules="gemini", approve=("Enter",), deny=("Escape",), description="Gemini CLI (Google)"),
        Preset("aider", ("aider",), prompt="paste", ready=r"(?m)^(\w+ )?> ?$", rules="aider",
               description="Aider"),
        Preset("opencode", ("opencode",), prompt="arg", prompt_flag="--prompt", rules="opencode",
               approve=("Enter",), deny=("Escape",),
               description="OpenCode"),
        Preset("demo", (sys.executable, "-m", "app.demo_agent"), prompt="arg", rules="demo",
               approve=("1", "Enter"), deny=("2", "Enter"),
               description="paneboard's scripted demo agent (no AI, no network)",
               # The agent runs in another repository's worktree: point Python at this package.
               env={"PYTHONPATH": str(Path(__file__).resolve().parent.parent)}),
    ]
}


def resolve(spec: str) -> Preset:
    """A preset by name, or a custom preset for a full command line (split like a shell would, never run by one)."""
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
    """True if spec is a preset name or looks like a command (has an argument or a path)."""
    if spec in PRESETS:
        return True
    try:
        argv = shlex.split(spec)
    except ValueError:
        return False
    if not argv:
        return False
    return len(argv) > 1 or "/" in argv[0] or shutil.which(argv[0]) is not None


NAMED_KEYS = frozenset({"Enter", "Escape", "Tab", "BSpace", "Up", "Down", "Left", "Right", "Space", "C-c", "C-d"})
