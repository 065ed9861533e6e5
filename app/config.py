"""paneboard.yaml -> typed, validated Settings and Tasks; every error names file, line and field."""

from __future__ import annotations

import difflib
import re
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, Callable

import yaml

from . import presets
from .errors import ConfigError
from .names import control_character, name_problem

DEFAULT_FILE = "paneboard.yaml"
# The largest prompt paneboard delivers (pasted when it is too long for a command line).
PROMPT_MAX_BYTES = 1024 * 1024
MERGE_STRATEGIES = ("merge", "squash", "rebase")
# Ignored files that can be made again (dependencies, virtualenvs, caches, build output): prune and
# discard throw these away; every other ignored file (a `.env`, notes) is kept or archived.
DEFAULT_DISPOSABLE = (
    "node_modules/", ".venv/", "venv/", "__pycache__/", ".pytest_cache/", ".mypy_cache/", ".ruff_cache/",
    ".tox/", "dist/", "build/", "target/", ".next/", ".cache/", "*.pyc",
)


@dataclass(frozen=True)
class HostConfig:
    """A host agents can run on over SSH (`hosts:` in the task file)."""

    name: str
    ssh: tuple[str, ...]                 # ssh arguments ending with (or being) the destination
    repo: str                            # the clone on the host (created when missing)
    port: int | None = None
    worktree_root: str | None = None     # None: <repo>.paneboard on the host
    tmux_socket: str = "paneboard"       # the `tmux -L` server the host's agents run on
    line: int = 0

    def worktree_path(self, slug: str) -> str:
        """Where the agent named slug works on this host."""
        root = (self.worktree_root or f"{self.repo.rstrip('/')}.paneboard").rstrip("/")
        return f"{root}/{slug}"


@dataclass(frozen=True)
class Settings:
    """Defaults for every task plus global behaviour."""

    agent: str = "claude"
    base: str | None = None              # None: the branch checked out in the main checkout
    worktree_root: str | None = None     # None: <repo-parent>/<repo-name>.paneboard/
    silence: float = 600.0               # seconds without output or file change
    quiet_retry: float = 120.0           # seconds working with only spinner/timer redraws: a `retrying` trigger
    port_base: int = 4100
    check: str | None = None
    merge_strategy: str = "merge"
    tmux_socket: str | None = None
    session: str | None = None
    on_trigger: tuple[str, ...] = ()
    status_file: str | None = None
    error_count: int = 3
    error_window: float = 300.0
    bell: bool = True
    theme: str = "paneboard-dark"
    check_timeout: float = 900.0
    close_on_merge: bool = True          # close the agent's tmux window after its merge
    remove_on_merge: bool = True         # remove its (clean, merged) worktree after its merge
    hooks: bool = True                   # Claude Code: status from its hooks (--settings), the screen as fallback
    on_limit: str = "off"                # "resume": send the preset's continue message once a usage limit lifts
    limit_margin: float = 30.0           # ... this long after the reset time the agent printed
    disposable: tuple[str, ...] = DEFAULT_DISPOSABLE   # ignored files prune and discard may throw away (globs)
    copy: tuple[str, ...] = ()           # globs of ignored files copied from the main checkout into each new worktree
    copy_where: str = ""                 # "file:line: field" of `copy`, for errors found when copying
    setup: tuple[str, ...] = ()          # argv run in each new worktree before its agent starts
    hosts: tuple[HostConfig, ...] = ()   # other machines agents can run on, over SSH

    def host(self, name: str) -> HostConfig | None:
        """The host of this name from `hosts:`, or None."""
        return next((h for h in self.hosts if h.name == name), None)


@dataclass(frozen=True)
class Task:
    """One job for one agent (or N agents with count)."""

    name: str
    agent: str
    prompt: str = ""
    scope: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    silence: float | None = None
    check: str | None = None
    count: int = 1
    hooks: bool | None = None            # this task's own `hooks` setting (None: the global one)
    on_limit: str | None = None          # this task's own `on_limit` (None: the global one)
    line: int = 0
    group: str = ""                      # the task a best-of-N candidate belongs to
    copy: tuple[str, ...] | None = None  # this task's own `copy` globs (None: the global ones)
    copy_where: str = ""
    setup: tuple[str, ...] | None = None # this task's own `setup` argv (None: the global one; (): none)
    allow: tuple[str, ...] = ()          # permission rules handed to the CLI: asked never (TOOL or TOOL(PATTERN))
    deny: tuple[str, ...] = ()           # ... refused always (deny wins over allow)
    host: str | None = None              # the `hosts:` entry it runs on (None: this machine)


@dataclass(frozen=True)
class TaskFile:
    path: Path | None
    settings: Settings
    tasks: tuple[Task, ...]


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")


class _Ctx:
    def __init__(self, path: str):
        self.path = path

    def fail(self, node: yaml.Node | None, where: str, msg: str) -> ConfigError:
        line = node.start_mark.line + 1 if node is not None else 1
        field_part = f" {where}:" if where else ""
        return ConfigError(f"{self.path}:{line}:{field_part} {msg}")


def _scalar(ctx: _Ctx, node: yaml.Node, where: str) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise ctx.fail(node, where, "expected a single value, not a list or mapping")
    return _construct(node)


def _construct(node: yaml.ScalarNode) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def _str(ctx, node, where) -> str:
    value = _scalar(ctx, node, where)
    if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
        raise ctx.fail(node, where, f"expected text, got {_kind(value)}")
    return str(value)


def _int(ctx, node, where, minimum: int = 0) -> int:
    value = _scalar(ctx, node, where)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ctx.fail(node, where, f"expected a whole number, got {_kind(value)}")
    if value < minimum:
        raise ctx.fail(node, where, f"must be at least {minimum}")
    return value


def _bool(ctx, node, where) -> bool:
    value = _scalar(ctx, node, where)
    if not isinstance(value, bool):
        raise ctx.fail(node, where, f"expected true or false, got {_kind(value)}")
    return value


def _duration(ctx, node, where) -> float:
    value = _scalar(ctx, node, where)
    if isinstance(value, bool):
        raise ctx.fail(node, where, "expected a duration such as 90, 30s, 10m or 1h")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ctx.fail(node, where, f"expected a duration such as 90, 30s, 10m or 1h, got {value!r}")
        seconds = float(m.group(1)) * {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[m.group(2)]
    if seconds <= 0:
        raise ctx.fail(node, where, "must be more than zero")
    return seconds


def _str_list(ctx, node, where) -> tuple[str, ...]:
    if isinstance(node, yaml.ScalarNode):
        return (_str(ctx, node, where),)
    if not isinstance(node, yaml.SequenceNode):
        raise ctx.fail(node, where, "expected a list of text")
    return tuple(_str(ctx, item, f"{where}[{i}]") for i, item in enumerate(node.value))


def _globs(ctx, node, where) -> tuple[str, ...]:
    globs = _str_list(ctx, node, where)
    for i, glob in enumerate(globs):
        if not glob.strip() or glob.strip() in ("!", "/"):
            item = node.value[i] if isinstance(node, yaml.SequenceNode) else node
            raise ctx.fail(item, f"{where}[{i}]", f"{glob!r} is not a glob (e.g. node_modules/ or *.pyc)")
    return globs


def _str_map(ctx, node, where) -> dict[str, str]:
    out = {}
    for key, val in _mapping(ctx, node, where):
        k = key.value
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k):
            raise ctx.fail(key, f"{where}.{k}", "is not a valid environment variable name")
        out[k] = _str(ctx, val, f"{where}.{k}")
    return out


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {bool: "true/false", int: "a number", float: "a number", str: "text",
            list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)


def _mapping(ctx: _Ctx, node: yaml.Node, where: str):
    if not isinstance(node, yaml.MappingNode):
        raise ctx.fail(node, where, "expected a mapping of key: value")
    seen: dict[str, yaml.Node] = {}
    for key, val in node.value:
        if not isinstance(key, yaml.ScalarNode):
            raise ctx.fail(key, where, "keys must be plain names")
        if key.value in seen:
            raise ctx.fail(key, f"{where}.{key.value}" if where else key.value,
                           f"duplicate key (first on line {seen[key.value].start_mark.line + 1})")
        seen[key.value] = key
        yield key, val


ON_LIMIT = ("off", "resume")


def _on_limit(ctx, node, where) -> str:
    value = _scalar(ctx, node, where)
    if value is False:                   # YAML reads a bare `off` as false
        return "off"
    if not isinstance(value, str) or value not in ON_LIMIT:
        raise ctx.fail(node, where, f"must be one of {', '.join(ON_LIMIT)}, got {value!r}")
    return value


def _agent(ctx, node, where) -> str:
    spec = _str(ctx, node, where)
    if not presets.is_known(spec):
        names = ", ".join(presets.PRESETS)
        raise ctx.fail(node, where, f"unknown preset {spec!r} (presets: {names}; or give a full command)")
    return spec


def copy_glob_problem(glob: str) -> str | None:
    """Why a `copy:` glob could reach outside the repository or into git's own files (None if it cannot)."""
    parts = PurePosixPath(glob).parts
    if not glob.strip():
        return "is empty"
    if glob.startswith(("/", "~", "\\")) or re.match(r"^[A-Za-z]:", glob):
        return f"{glob!r} must be a path inside the repository, relative to its root"
    if ".." in parts or any(part == ".." for part in glob.split("\\")):
        return f"{glob!r} must stay inside the repository (no '..')"
    if ".git" in parts:
        return f"{glob!r} reaches into git's own files"
    if glob.startswith(":") or any(ord(c) < 32 for c in glob):
        return f"{glob!r} is not a plain glob (no leading ':' or control characters)"
    return None


def _copy(ctx, node, where) -> tuple[str, ...]:
    globs = _str_list(ctx, node, where)
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    for i, (glob, item) in enumerate(zip(globs, items)):
        problem = copy_glob_problem(glob)
        if problem:
            raise ctx.fail(item, f"{where}[{i}]" if isinstance(node, yaml.SequenceNode) else where, problem)
    return globs


def _setup(ctx, node, where) -> tuple[str, ...]:
    if isinstance(node, yaml.SequenceNode):
        return _str_list(ctx, node, where)
    text = _str(ctx, node, where)
    try:
        return tuple(shlex.split(text))
    except ValueError as exc:
        raise ctx.fail(node, where, f"cannot be split into arguments: {exc} (or give a list)") from None


def _rules(ctx, node, where) -> tuple[str, ...]:
    from .events.rules import rule_problem
    rules = _str_list(ctx, node, where)
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    for i, (rule, item) in enumerate(zip(rules, items)):
        if problem := rule_problem(rule):
            raise ctx.fail(item, f"{where}[{i}]" if isinstance(node, yaml.SequenceNode) else where, problem)
    return tuple(r.strip() for r in rules)


def _where(ctx: _Ctx, node: yaml.Node, where: str) -> str:
    """"file:line: field" of a value, for an error found later (when it is used)."""
    return f"{ctx.path}:{node.start_mark.line + 1}: {where}"


def _check_keys(ctx, key, where, allowed):
    if key.value not in allowed:
        near = difflib.get_close_matches(key.value, list(allowed), n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else f" (allowed: {', '.join(sorted(allowed))})"
        raise ctx.fail(key, f"{where}.{key.value}" if where else key.value, f"unknown key{hint}")


_SETTING_FIELDS: dict[str, Callable] = {
    "agent": _agent, "base": _str, "worktree_root": _str, "silence": _duration, "quiet_retry": _duration,
    "port_base": lambda c, n, w: _int(c, n, w, 1024), "check": _str,
    "merge_strategy": _str, "tmux_socket": _str, "session": _str,
    "on_trigger": _str_list, "status_file": _str,
    "error_count": lambda c, n, w: _int(c, n, w, 1), "error_window": _duration,
    "bell": _bool, "theme": _str, "check_timeout": _duration,
    "close_on_merge": _bool, "remove_on_merge": _bool, "hooks": _bool, "disposable": _globs,
    "on_limit": _on_limit, "limit_margin": _duration, "copy": _copy, "setup": _setup,
}
_TASK_FIELDS: dict[str, Callable] = {
    "name": _str, "agent": _agent, "prompt": _str, "scope": _str_list, "after": _str_list,
    "env": _str_map, "silence": _duration, "check": _str,
    "count": lambda c, n, w: _int(c, n, w, 1), "hooks": _bool, "on_limit": _on_limit, "copy": _copy, "setup": _setup,
    "allow": _rules, "deny": _rules,
    "host": _str,
}
_HOST_FIELDS = ("ssh", "port", "repo", "worktree_root", "tmux_socket")


def _plain_text(ctx, node, where) -> str:
    """Text with no newline, NUL or other control character (it becomes an ssh argument or a remote path)."""
    text = _str(ctx, node, where)
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ctx.fail(node, where, f"{text!r} holds a newline or control character")
    if not text:
        raise ctx.fail(node, where, "is empty")
    return text


def _host(ctx, name_node, node) -> HostConfig:
    name = name_node.value
    where = f"hosts.{name}"
    if problem := name_problem(name):
        raise ctx.fail(name_node, where, problem)
    kw: dict[str, Any] = {"name": name, "line": name_node.start_mark.line + 1}
    nodes: dict[str, yaml.Node] = {}
    for k, v in _mapping(ctx, node, where):
        _check_keys(ctx, k, where, _HOST_FIELDS)
        nodes[k.value] = v
        at = f"{where}.{k.value}"
        if k.value == "ssh":
            items = v.value if isinstance(v, yaml.SequenceNode) else [v]
            kw["ssh"] = tuple(_plain_text(ctx, item, at) for item in items)
            if isinstance(v, yaml.ScalarNode) and kw["ssh"][0].startswith("-"):
                raise ctx.fail(v, at, "a destination cannot start with '-' (give ssh options as a list)")
            if not kw["ssh"]:
                raise ctx.fail(v, at, "is empty")
        elif k.value == "port":
            kw["port"] = _int(ctx, v, at, 1)
            if kw["port"] > 65535:
                raise ctx.fail(v, at, "must be at most 65535")
        else:
            kw[k.value] = _plain_text(ctx, v, at)
            if k.value in ("repo", "worktree_root") and kw[k.value].startswith("~"):
                raise ctx.fail(v, at, "'~' is not expanded: give an absolute path, or one relative to the "
                                      "remote home directory")
    for needed in ("ssh", "repo"):
        if needed not in kw:
            raise ctx.fail(node, f"{where}.{needed}", f"every host needs `{needed}`")
    return HostConfig(**kw)


def _hosts(ctx, node) -> tuple[HostConfig, ...]:
    return tuple(_host(ctx, k, v) for k, v in _mapping(ctx, node, "hosts"))


def parse(text: str, path: str = DEFAULT_FILE) -> TaskFile:
    """Parse and validate task-file text; raise ConfigError naming file:line and field."""
    ctx = _Ctx(path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}:{line}: malformed YAML: {problem}") from None
    if root is None:
        return TaskFile(Path(path), Settings(), ())
    settings_kw: dict[str, Any] = {}
    task_nodes: list[yaml.Node] = []
    for key, val in _mapping(ctx, root, ""):
        _check_keys(ctx, key, "", {"defaults", "tasks", "hosts"})
        if key.value == "hosts":
            settings_kw["hosts"] = _hosts(ctx, val)
        elif key.value == "defaults":
            for k, v in _mapping(ctx, val, "defaults"):
                _check_keys(ctx, k, "defaults", _SETTING_FIELDS)
                settings_kw[k.value] = _SETTING_FIELDS[k.value](ctx, v, f"defaults.{k.value}")
                if k.value == "copy":
                    settings_kw["copy_where"] = _where(ctx, v, "defaults.copy")
                if k.value == "merge_strategy" and settings_kw[k.value] not in MERGE_STRATEGIES:
                    raise ctx.fail(v, "defaults.merge_strategy", f"must be one of {', '.join(MERGE_STRATEGIES)}")
        else:
            if not isinstance(val, yaml.SequenceNode):
                raise ctx.fail(val, "tasks", "expected a list of tasks")
            task_nodes = list(val.value)
    settings = Settings(**settings_kw)
    tasks: list[Task] = []
    names: dict[str, int] = {}
    for i, tnode in enumerate(task_nodes):
        where = f"tasks[{i}]"
        kw: dict[str, Any] = {"line": tnode.start_mark.line + 1}
        nodes: dict[str, yaml.Node] = {}
        for k, v in _mapping(ctx, tnode, where):
            _check_keys(ctx, k, where, _TASK_FIELDS)
            kw[k.value] = _TASK_FIELDS[k.value](ctx, v, f"{where}.{k.value}")
            nodes[k.value] = v
            if k.value == "copy":
                kw["copy_where"] = _where(ctx, v, f"{where}.copy")
        if "name" not in kw or not kw["name"].strip():
            raise ctx.fail(tnode, f"{where}.name", "every task needs a name")
        if problem := name_problem(kw["name"]):
            raise ctx.fail(nodes["name"], f"{where}.name", problem)
        where = f"tasks[{i}] ({kw['name']})"
        if problem := prompt_problem(kw.get("prompt", "")):
            raise ctx.fail(nodes["prompt"], f"{where}.prompt", problem)
        if kw["name"] in names:
            raise ctx.fail(nodes["name"], f"{where}.name",
                           f"duplicate task name {kw['name']!r} (first on line {names[kw['name']]})")
        names[kw["name"]] = kw["line"]
        kw.setdefault("agent", settings.agent)
        if "host" in kw and settings.host(kw["host"]) is None:
            known = ", ".join(h.name for h in settings.hosts) or "none: add a `hosts:` section"
            raise ctx.fail(nodes["host"], f"{where}.host", f"unknown host {kw['host']!r} (hosts: {known})")
        tasks.append(Task(**kw))
    _check_after(ctx, tasks, task_nodes)
    return TaskFile(Path(path), settings, tuple(tasks))


def not_utf8(text: str) -> int | None:
    """The index of the first character that cannot be written as UTF-8 (a stray byte from argv), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def prompt_problem(prompt: str) -> str | None:
    """Why a prompt cannot be delivered (a NUL byte, a terminal control character, not UTF-8, too big), or None."""
    bad = not_utf8(prompt)
    found = (bad, "a byte that is not UTF-8") if bad is not None else control_character(prompt, allowed="\t\n\r")
    if found is not None:
        at, what = found
        line = prompt.count("\n", 0, at) + 1
        column = at - (prompt.rfind("\n", 0, at) + 1) + 1
        # A pasted prompt carrying ESC could end the bracketed paste and type the rest as keys.
        return f"the prompt holds {what} at line {line}, column {column}: remove it (a prompt is plain text)"
    size = len(prompt.encode("utf-8"))
    if size > PROMPT_MAX_BYTES:
        return (f"the prompt is {size / 1024 / 1024:.1f} MB; paneboard delivers at most "
                f"{PROMPT_MAX_BYTES // 1024 // 1024} MB: put the text in a file and ask the agent to read it")
    return None


def _check_after(ctx: _Ctx, tasks: list[Task], nodes: list[yaml.Node]) -> None:
    by_name = {t.name: t for t in tasks}
    for t, node in zip(tasks, nodes):
        for dep in t.after:
            if dep not in by_name:
                raise ctx.fail(node, f"tasks ({t.name}).after", f"names unknown task {dep!r}")
            if dep == t.name:
                raise ctx.fail(node, f"tasks ({t.name}).after", "a task cannot wait for itself")
    # Depth-first search for a cycle; report it in order.
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for dep in by_name[name].after:
            if state.get(dep) == 1:
                cycle = trail[trail.index(dep):] + [dep] if dep in trail else [name, dep]
                raise ConfigError(f"{ctx.path}:{by_name[name].line}: tasks ({name}).after: "
                                  f"cycle {' -> '.join(cycle)}")
            if state.get(dep) is None:
                visit(dep, trail + [dep])
        state[name] = 2

    for t in tasks:
        if state.get(t.name) is None:
            visit(t.name, [t.name])


def load(path: Path) -> TaskFile:
    """Read and validate a task file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such task file (create one or pass -f FILE)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read task file: {exc}") from None
    return parse(text, str(path))


def load_settings(repo_root: Path, path: Path | None = None) -> Settings:
    """Settings from the repository's task file if it exists, else the defaults."""
    candidate = path or repo_root / DEFAULT_FILE
    if candidate.exists():
        return load(candidate).settings
    return Settings()


def with_overrides(settings: Settings, **changes: Any) -> Settings:
    """Settings with the given non-None fields replaced (CLI flags win over the file)."""
    return replace(settings, **{k: v for k, v in changes.items() if v is not None})
