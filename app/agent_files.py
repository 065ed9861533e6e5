"""Agent definitions as data: one YAML file per agent CLI, shipped in app/agents/, fixable by the user.

A file holds everything about one agent: how it starts (`command`, `prompt`, `prompt_flag`, `ready`,
`env`), how text reaches it (`submit`, `approve`, `deny`, `continue`), how a stopped one resumes
(`resume`, `resume_latest`, `session_hint`), its event channel (`events`), the status rules that
read its screen (`status`) and its own limit notices (`limits`). The agent's name is the file's
name. A user adds or overrides one in `$XDG_CONFIG_HOME/paneboard/agents/NAME.yaml` (default
`~/.config/paneboard/agents/`); `extends: OTHER` starts from another agent's definition and changes
only the keys it gives (inside `status`, each key replaces the one it names).

Every file is read once per process (`registry()`), never per classification. A problem in a file
is one line naming file, line and field (`qwen.yaml:7: status.working[2]: bad regular expression:
…`); it is kept against that agent's name only, so a broken user file never breaks another agent.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .model import Kind
from .status import PRECEDENCE, Family, Rule, parse_region

BUILTIN_DIR = Path(__file__).resolve().parent / "agents"
PROMPT_DELIVERY = ("arg", "paste", "placeholder", "none")
STATUS_KINDS = {"exited": Kind.EXITED, "needs_input": Kind.NEEDS_INPUT, "working": Kind.WORKING,
                "error": Kind.ERROR, "idle": Kind.IDLE}
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
# Stand-ins a file may use in `command` and `env`: this Python and the directory paneboard is in.
_STAND_INS = {"{python}": sys.executable, "{paneboard}": str(Path(__file__).resolve().parent.parent)}


class AgentFileError(ConfigError):
    """An agent file is wrong: the message names file, line and field."""


@dataclass(frozen=True)
class AgentDef:
    """One agent's definition, merged with what it extends and checked."""

    name: str
    path: Path
    fields: dict[str, Any]
    family: Family


@dataclass
class Registry:
    """Every agent paneboard knows: the usable definitions, the problems by agent name, the files read."""

    agents: dict[str, AgentDef] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)


def user_dir() -> Path:
    """Where a user's agent files live: $XDG_CONFIG_HOME/paneboard/agents (default ~/.config/...)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "paneboard" / "agents"


def shown(path: Path) -> str:
    """A path as a user reads it in a message: under the home directory it starts with ~."""
    home = os.path.expanduser("~")
    text = str(path)
    return "~" + text[len(home):] if home not in ("", "/") and text.startswith(home + os.sep) else text


# -- one file: YAML nodes -> checked values, every problem with its line ------------------------------


class _File:
    def __init__(self, path: Path):
        self.path = path

    def fail(self, node: yaml.Node | None, where: str, msg: str) -> AgentFileError:
        line = node.start_mark.line + 1 if node is not None else 1
        return AgentFileError(f"{shown(self.path)}:{line}: {where + ': ' if where else ''}{msg}")

    def mapping(self, node: yaml.Node, where: str):
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, where, "expected a mapping of key: value")
        seen: dict[str, int] = {}
        for key, val in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else "?"
            here = f"{where}.{name}" if where else name
            if not isinstance(key, yaml.ScalarNode):
                raise self.fail(key, where, "keys must be plain names")
            if name in seen:
                raise self.fail(key, here, f"duplicate key (first on line {seen[name]})")
            seen[name] = key.start_mark.line + 1
            yield name, here, key, val

    def unknown(self, key: yaml.Node, here: str, allowed) -> AgentFileError:
        near = difflib.get_close_matches(key.value, list(allowed), n=1)
        hint = f"did you mean {near[0]!r}?" if near else f"allowed: {', '.join(sorted(allowed))}"
        return self.fail(key, here, f"unknown key ({hint})")

    def value(self, node: yaml.Node, where: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, where, "expected a single value, not a list or mapping")
        return _CONSTRUCTOR.construct_object(node, deep=True)

    def text(self, node, where) -> str:
        value = self.value(node, where)
        if value is None or isinstance(value, bool):
            raise self.fail(node, where, f"expected text, got {'nothing' if value is None else 'true/false'}")
        return str(value)

    def optional_text(self, node, where) -> str | None:
        return None if isinstance(node, yaml.ScalarNode) and self.value(node, where) is None else self.text(node, where)

    def texts(self, node, where) -> tuple[str, ...]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, where, "expected a list of text, e.g. [claude, --verbose]")
        return tuple(self.text(item, f"{where}[{i}]") for i, item in enumerate(node.value))

    def keys(self, node, where) -> tuple[str, ...]:
        """One key (`Enter`) or a list of keys (`[Escape, Enter]`)."""
        return self.texts(node, where) if isinstance(node, yaml.SequenceNode) else (self.text(node, where),)

    def regex(self, node, where, groups: int = 0) -> str | None:
        text = self.optional_text(node, where)
        if text is None:
            return None
        try:
            compiled = re.compile(text)
        except re.error as exc:
            raise self.fail(node, where, f"bad regular expression: {exc}") from None
        if compiled.groups < groups:
            raise self.fail(node, where, "needs a group ( ) around the part to take, e.g. 'resume (\\S+)'")
        return text

    def regexes(self, node, where) -> tuple[str, ...]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, where, "expected a list of regular expressions")
        return tuple(self.regex(item, f"{where}[{i}]") or "" for i, item in enumerate(node.value))

    def choice(self, node, where, allowed) -> str:
        value = self.text(node, where)
        if value not in allowed:
            raise self.fail(node, where, f"must be one of {', '.join(allowed)}, got {value!r}")
        return value

    def env(self, node, where) -> dict[str, str]:
        out = {}
        for name, here, key, val in self.mapping(node, where):
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise self.fail(key, here, "is not a valid environment variable name")
            out[name] = self.text(val, here)
        return out


def _command(f: _File, node, where) -> tuple[str, ...]:
    argv = f.texts(node, where)
    if argv and not argv[0].strip():
        raise f.fail(node, where, "the first item must name the program")
    return argv


_FIELDS: dict[str, Callable[[_File, yaml.Node, str], Any]] = {
    "description": _File.text, "command": _command,
    "prompt": lambda f, n, w: f.choice(n, w, PROMPT_DELIVERY),
    "prompt_flag": _File.optional_text, "ready": _File.regex, "submit": _File.keys,
    "approve": _File.texts, "deny": _File.texts, "continue": _File.text,
    "resume": _File.texts, "resume_latest": _File.texts,
    "session_hint": lambda f, n, w: f.regex(n, w, groups=1),
    "events": _File.optional_text, "env": _File.env, "limits": _File.regexes, "extends": _File.text,
}
_STATUS_PATTERNS = ("box", "user", "reply", "ignore")
_RULE_KEYS = ("pattern", "limits", "region", "why", "unless", "requires")


def _rule(f: _File, node: yaml.Node, where: str, kind: Kind) -> dict:
    rule: dict[str, Any] = {"kind": kind}
    for name, here, key, val in f.mapping(node, where):
        if name not in _RULE_KEYS:
            raise f.unknown(key, here, _RULE_KEYS)
        if name == "limits":
            if f.value(val, here) is not True:
                raise f.fail(val, here, "write `limits: true` to match this agent's limit notices")
            rule["limits"] = True
        elif name == "region":
            rule["region"] = f.text(val, here)
            try:
                parse_region(rule["region"])
            except ValueError:
                raise f.fail(val, here, "must be last, tail:N, turn, turn:N or screen") from None
        elif name == "why":
            rule["why"] = f.text(val, here)
        else:
            rule[name] = f.regex(val, here)
    if ("pattern" in rule) == ("limits" in rule):
        raise f.fail(node, where, "a rule needs either `pattern:` or `limits: true`")
    rule.setdefault("region", "tail:6")
    rule.setdefault("why", f"{kind.value}: {rule.get('pattern') or 'a limit notice'}")
    return rule


def _status(f: _File, node: yaml.Node, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, here, key, val in f.mapping(node, where):
        if name in _STATUS_PATTERNS:
            out[name] = f.regex(val, here)
        elif name in STATUS_KINDS:
            if not isinstance(val, yaml.SequenceNode):
                raise f.fail(val, here, "expected a list of rules (pattern, region, why)")
            out[name] = [_rule(f, item, f"{here}[{i}]", STATUS_KINDS[name]) for i, item in enumerate(val.value)]
        else:
            raise f.unknown(key, here, (*_STATUS_PATTERNS, *STATUS_KINDS))
    return out


def read_file(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """One agent file's checked keys and the line of each; raises AgentFileError (one line) on a problem."""
    f = _File(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise f.fail(None, "", "is a directory, not an agent file") from None
    except OSError as exc:
        raise f.fail(None, "", f"cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise AgentFileError(f"{shown(path)}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}): "
                             f"save it as UTF-8") from None
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise AgentFileError(f"{shown(path)}:{mark.line + 1 if mark else 1}: malformed YAML: {problem}") from None
    if root is None:
        return {}, {}
    values: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for name, here, key, val in f.mapping(root, ""):
        lines[name] = key.start_mark.line + 1
        if name == "status":
            values[name] = _status(f, val, "status")
        elif name in _FIELDS:
            values[name] = _FIELDS[name](f, val, here)
        else:
            raise f.unknown(key, here, (*_FIELDS, "status"))
    return values, lines


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CONSTRUCTOR = yaml.constructor.SafeConstructor()


# -- merging, building, the registry ------------------------------------------------------------------


def _merged(own: dict[str, Any], parent: dict[str, Any] | None) -> dict[str, Any]:
    if parent is None:
        return dict(own)
    out = {**parent, **own}
    out["status"] = {**parent.get("status", {}), **own.get("status", {})}
    return out


def _family(name: str, values: dict[str, Any]) -> Family:
    status = values.get("status", {})
    limits = tuple(values.get("limits", ()))
    notice = "|".join(f"(?:{p})" for p in limits) or r"(?!)"
    rules = []
    for key, kind in STATUS_KINDS.items():
        for r in status.get(key, ()):
            rules.append(Rule(kind, notice if r.get("limits") else r["pattern"], r["region"], r["why"],
                              unless=r.get("unless"), requires=r.get("requires")))
    rules.sort(key=lambda r: PRECEDENCE.index(r.kind))
    return Family(name, tuple(rules), box=status.get("box"), user=status.get("user"), ignore=status.get("ignore"),
                  reply=status.get("reply"), limits=limits)


def _stand_ins(values: dict[str, Any]) -> dict[str, Any]:
    def sub(text: str) -> str:
        for key, real in _STAND_INS.items():
            text = text.replace(key, real)
        return text
    out = dict(values)
    out["command"] = tuple(sub(a) for a in values.get("command", ()))
    out["env"] = {k: sub(v) for k, v in values.get("env", {}).items()}
    return out


def _build(name: str, path: Path, raw: dict[str, tuple[Path, dict, dict]], builtin: dict[str, dict],
           trail: tuple[str, ...] = ()) -> dict[str, Any]:
    """The merged values of agent `name` from its file, following `extends` (a user file extending its own
    name extends the shipped one)."""
    _, own, lines = raw[name] if name in raw else (path, builtin.get(name, {}), {})
    parent_name = own.get("extends")
    if parent_name is None:
        return own
    where = f"{shown(path)}:{lines.get('extends', 1)}: extends"
    if parent_name in (*trail, name) and parent_name != name:
        raise AgentFileError(f"{where}: {' -> '.join((*trail, name, parent_name))} is a cycle")
    if parent_name == name or parent_name not in raw:
        if parent_name not in builtin:
            raise AgentFileError(f"{where}: no agent named {parent_name!r} to extend")
        parent = builtin[parent_name]
    else:
        parent = _build(parent_name, raw[parent_name][0], raw, builtin, (*trail, name))
    return _merged({k: v for k, v in own.items() if k != "extends"}, parent)


def _definition(name: str, path: Path, values: dict[str, Any], lines: dict[str, int]) -> AgentDef:
    if not values.get("command") and name != "generic":
        raise AgentFileError(f"{shown(path)}:{lines.get('command', 1)}: command: every agent needs a command, "
                             f"e.g. command: [{name}]")
    return AgentDef(name, path, _stand_ins(values), _family(name, values))


def _files(directory: Path) -> list[Path]:
    try:
        return sorted(p for p in directory.iterdir() if p.name.endswith((".yaml", ".yml")))
    except OSError:
        return []


def load(user: Path | None = None) -> Registry:
    """Read the shipped agent files and the user's (from `user`, default `user_dir()`) into a registry."""
    reg = Registry()
    builtin: dict[str, dict] = {}
    for path in _files(BUILTIN_DIR):
        values, lines = read_file(path)   # a broken shipped file is a bug: let it show
        builtin[path.stem] = values
        reg.files.append(path)
    for name, values in builtin.items():
        reg.agents[name] = _definition(name, BUILTIN_DIR / f"{name}.yaml", _build(name, BUILTIN_DIR, {}, builtin), {})
    raw: dict[str, tuple[Path, dict, dict]] = {}
    for path in _files(user or user_dir()):
        reg.files.append(path)
        name = path.name.rsplit(".", 1)[0]
        if not _NAME.fullmatch(name):
            reg.problems[name] = (f"{shown(path)}:1: the file name must be the agent's name "
                                  f"(lower-case letters, digits, - _ .), e.g. qwen.yaml")
            continue
        try:
            values, lines = read_file(path)
            raw[name] = (path, values, lines)
        except AgentFileError as exc:
            reg.problems[name] = str(exc)
    for name, (path, _values, lines) in raw.items():
        try:
            reg.agents[name] = _definition(name, path, _build(name, path, raw, builtin), lines)
        except AgentFileError as exc:
            reg.problems[name] = str(exc)
    return reg


@lru_cache(maxsize=1)
def registry() -> Registry:
    """Every agent definition, read once per process."""
    return load()


def reload() -> Registry:
    """Read the agent files again (after a user changed them; tests)."""
    registry.cache_clear()
    from . import presets, status
    status.forget_compiled()
    presets.PRESETS.reload()
    return registry()


def check(user: Path | None = None) -> tuple[list[Path], list[str]]:
    """For `paneboard doctor`: every agent file found and the one-line problem of each broken one."""
    reg = load(user)
    return reg.files, sorted(reg.problems.values())
