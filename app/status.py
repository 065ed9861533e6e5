"""Read an agent's visible screen: what it is doing, why we think so, and any usage-limit message.

`classify(screen, rules) -> Reading` is a pure function of the VISIBLE screen (a
``capture-pane -p`` of the pane, with or without colour escapes) and a rule family name
(`Preset.rules`: claude, codex, gemini, aider, opencode, demo, generic; unknown names use generic).
Scrollback is never given, and each rule only looks at a region near the bottom, so an old
question or error higher up does not fire.

The rules are data: each agent's file in app/agents/ (or the user's, see app/agent_files.py) holds
them, and `FAMILIES[name].rules` is the table of `Rule(kind, pattern, region, why, unless, requires)`
read from it. Regions:

- ``last``      the last non-blank line;
- ``tail:N``    the last N non-blank lines;
- ``turn`` / ``turn:N``  the agent's latest turn: the lines between the last user message
  (`Family.user`) and the input box (`Family.box`, the last line matching it), at most N
  non-blank lines; without a box on screen it is the last N (default 6) lines;
- ``screen``    every visible line.

A line counts as blank if it holds only spaces and box borders (│ ┃). Patterns are searched in
each line with its surrounding spaces and borders stripped (so ``^❯ 1\\.`` matches
``" │ ❯ 1. Yes │"``). Lines matching `Family.ignore` (e.g. tmux's focus-events notice) are dropped.

Precedence, highest first: EXITED (the agent's exit text or a shell prompt under it), NEEDS_INPUT,
WORKING, ERROR (the latest turn ended on an error), IDLE. Within a kind the first rule in
table order names the reason. `Reading.kind` is None when no rule fires (unknown: the monitor
decides by output and silence; `Reading.blank` says the screen is still (nearly) empty). A stale spinner still reads WORKING; the monitor handles silence.

`Reading.limit` is one of the agent's own limit notices (its file's `limits:`, anchored to the CLI's
notice format, so prose and the user's prompt never match) if one is in the last lines since the
user's latest message and the agent wrote no answer below it (`Family.reply`), whatever the kind (with the next line when it wrapped what says when the
limit lifts: app/limits.py parses that). `error_signature(line)` recognises an error line and normalises it (numbers,
paths, hex ids, timestamps, quoted values) so repeats of one error compare equal.
`strip_ansi(text)` removes terminal escapes and control characters (keeps \\n, \\r, \\t).

Markers come from real screens of Claude Code 2.1, Codex 0.169, Gemini CLI 0.61, opencode 1.18
and aider 0.86 (tests/fixtures/screens/README.md), from public peers, and from app/demo_agent.py.
Plain Python: no Textual or Rich here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from .model import Kind

# -- the reading ---------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """What the screen says: kind (None = unknown), the rule that fired, the lines it matched, a limit message."""

    kind: Kind | None
    why: str = ""
    evidence: str = ""
    limit: str | None = None
    blank: bool = False     # nothing (or next to nothing) on screen: a CLI still drawing its first screen


# -- text helpers -------------------------------------------------------------------------

_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"            # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"     # DCS, SOS, PM, APC
    r"|\x1b[ -/]*[0-~]"                    # other escapes (charset selection, keypad…)
    r"|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"   # control characters but \t \n \r
)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def strip_ansi(text: str) -> str:
    """Text without terminal escape sequences and control characters (\\n, \\r and \\t are kept)."""
    if not _CONTROL.search(text):  # the common case, in C: nothing to strip
        return text
    return _ANSI.sub("", text)


_BORDERS = " \t│┃|"


def _content(line: str) -> str:
    return line.strip(_BORDERS)


# -- rules -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One status rule: if `pattern` is found in a line of `region`, the screen reads `kind` because `why`.

    `unless`: the rule does not fire when a line of the region matches it (a turn that has its end
    marker); `requires`: it fires only when a line of the screen also matches this (a box's border,
    the footer of the CLI version the rule is for).
    """

    kind: Kind
    pattern: str
    region: str
    why: str
    unless: str | None = None
    requires: str | None = None


@dataclass(frozen=True)
class Family:
    """The rules for one family of agents, and how to find its input box and the user's last message.

    `reply` marks a line the agent writes (a new answer after a limit notice makes the notice old);
    `limits` are the agent's own limit notices (its error lines' formats), never prose.
    """

    name: str
    rules: tuple[Rule, ...]
    box: str | None = None        # the input box line (the turn ends above the last match)
    user: str | None = None       # a user's message line (the turn starts below the last match)
    ignore: str | None = None     # lines that are noise anywhere
    reply: str | None = None      # a line of the agent's own answer
    limits: tuple[str, ...] = ()  # the agent's limit notices


NI, WK, IDL, ERR, EX = Kind.NEEDS_INPUT, Kind.WORKING, Kind.IDLE, Kind.ERROR, Kind.EXITED

PRECEDENCE = (EX, NI, WK, ERR, IDL)


class _Families(Mapping):
    """Every agent's rule family by name, from the agent files (app/agent_files.py), read on first use."""

    def _all(self) -> dict[str, Family]:
        from .agent_files import registry
        return {name: d.family for name, d in registry().agents.items()}

    def __getitem__(self, name: str) -> Family:
        return self._all()[name]

    def __iter__(self):
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


FAMILIES: Mapping[str, Family] = _Families()


# -- the classifier ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Compiled:
    rules: tuple[tuple[Rule, re.Pattern, str, int, re.Pattern | None, re.Pattern | None], ...]
    box: re.Pattern | None
    user: re.Pattern | None
    ignore: re.Pattern | None
    reply: re.Pattern | None
    limit: re.Pattern | None


def parse_region(region: str) -> tuple[str, int]:
    """A rule's region as (name, n): "tail:4" -> ("tail", 4); raises ValueError for an unknown one."""
    name, _, n = region.partition(":")
    if name not in ("last", "tail", "turn", "screen") or (n and not n.isdigit()) or (n and name in ("last", "screen")):
        raise ValueError(f"unknown rule region {region!r}")
    default = {"last": 1, "tail": 6, "turn": 6, "screen": 0}[name]
    return name, int(n) if n else default


def _re(pattern: str | None) -> re.Pattern | None:
    return re.compile(pattern) if pattern else None


@lru_cache(maxsize=None)
def _compiled(name: str) -> _Compiled:
    family = FAMILIES.get(name) or FAMILIES["generic"]
    rules = []
    for kind in PRECEDENCE:
        for rule in family.rules:
            if rule.kind == kind:
                region, n = parse_region(rule.region)
                rules.append((rule, re.compile(rule.pattern), region, n, _re(rule.unless), _re(rule.requires)))
    limit = "|".join(f"(?:{p})" for p in family.limits)
    return _Compiled(tuple(rules), _re(family.box), _re(family.user), _re(family.ignore), _re(family.reply),
                     _re(limit))


def forget_compiled() -> None:
    """Drop the compiled rules (the agent files were read again)."""
    _compiled.cache_clear()


def _lines(screen: str, ignore: re.Pattern | None) -> list[str]:
    """The non-blank content lines of the screen, borders and surrounding spaces stripped."""
    out = []
    for raw in strip_ansi(screen).split("\n"):
        text = _content(raw.replace("\r", "").replace("\xa0", " "))
        if text and not (ignore and ignore.search(text)):
            out.append(text)
    return out


def _turn(lines: list[str], comp: _Compiled, n: int) -> list[str]:
    end = len(lines)
    if comp.box is not None:
        for i in range(len(lines) - 1, -1, -1):
            if comp.box.search(lines[i]):
                end = i
                break
    start = 0
    if comp.user is not None:
        for i in range(end - 1, -1, -1):
            if comp.user.search(lines[i]):
                start = i + 1
                break
    return lines[max(start, end - n):end]


def _region(lines: list[str], comp: _Compiled, region: str, n: int) -> list[str]:
    if region == "screen":
        return lines
    if region == "turn":
        return _turn(lines, comp, n)
    return lines[-n:]


def _fires(pattern: re.Pattern, part: list[str], unless: re.Pattern | None,
           requires: re.Pattern | None, lines: list[str]) -> str | None:
    """The first line of `part` the rule matches, if it fires there (its `unless`/`requires` agree)."""
    line = next((ln for ln in part if pattern.search(ln)), None)
    if line is None:
        return None
    if unless is not None and any(unless.search(ln) for ln in part):
        return None
    if requires is not None and not any(requires.search(ln) for ln in lines):
        return None
    return line


def _family_name(rules: str) -> str:
    return rules if rules in FAMILIES else "generic"


def classify(screen: str, rules: str) -> Reading:
    """Read a visible screen with the rule family `rules` (a preset's `rules`; unknown names use generic)."""
    comp = _compiled(_family_name(rules))
    lines = _lines(screen, comp.ignore)
    limit = _find_limit(lines, comp)
    if not lines:
        return Reading(None, "the screen is blank", "", None, blank=True)
    regions: dict[tuple[str, int], list[str]] = {}
    winner: Rule | None = None
    evidence: list[str] = []
    for rule, pattern, region, n, unless, requires in comp.rules:
        if winner is not None and rule.kind != winner.kind:
            break
        part = regions.get((region, n))
        if part is None:
            part = regions[(region, n)] = _region(lines, comp, region, n)
        line = _fires(pattern, part, unless, requires, lines)
        if line is not None:
            winner = winner or rule
            if line not in evidence:
                evidence.append(line)
    if winner is None:
        if len(lines) <= _NEARLY_BLANK:
            return Reading(None, "the screen is nearly blank", "", limit, blank=True)
        return Reading(None, "no status rule matched the screen", "", limit)
    return Reading(winner.kind, winner.why, _trim("\n".join(evidence[:3])), limit)


# A screen with this few lines and no rule that reads it is a CLI still drawing its first screen
# (the shell's echo of the command, a banner line).
_NEARLY_BLANK = 1


def explain(screen: str, rules: str) -> dict:
    """How `classify` read this screen: every rule with the lines it matched, each region's lines, the limit."""
    name = _family_name(rules)
    comp = _compiled(name)
    lines = _lines(screen, comp.ignore)
    reading = classify(screen, rules)
    regions: dict[str, list[str]] = {}
    checked = []
    for rule, pattern, region, n, unless, requires in comp.rules:
        label = rule.region
        part = _region(lines, comp, region, n)
        regions.setdefault(label, part)
        fired = _fires(pattern, part, unless, requires, lines) is not None
        checked.append({"kind": rule.kind.value, "why": rule.why, "pattern": rule.pattern, "region": label,
                        "unless": rule.unless, "requires": rule.requires, "fired": fired,
                        "matched": [ln for ln in part if pattern.search(ln)]})
    return {"family": name, "asked": rules, "kind": reading.kind.value if reading.kind else None,
            "why": reading.why, "evidence": reading.evidence, "limit": reading.limit,
            "limit_patterns": list(FAMILIES[name].limits), "regions": regions, "rules": checked}


# Words that say when a limit lifts ("resets 1am", "try again in 2 hours"): app/limits.py reads them.
_WHEN = re.compile(r"\breset|\btry again\b|\bretry\b|\bavailable again\b", re.IGNORECASE)


def _find_limit(lines: list[str], comp: _Compiled) -> str | None:
    """The first of the agent's own limit notices among the last lines of its latest turn, with the line
    that says when it lifts if it wrapped. Not one above the user's latest message ("continue" leaves it
    behind), not the user's own words, and not one the agent answered past (a reply line below it)."""
    if comp.limit is None:
        return None
    region = lines[-15:]
    start = _latest_message(lines, comp) - (len(lines) - len(region))
    hits = [i for i, line in enumerate(region) if i >= start and comp.limit.search(line)
            and not (comp.user is not None and comp.user.search(line))]
    if comp.reply is not None:
        hits = [i for i in hits if not any(comp.reply.search(ln) for ln in region[i + 1:])]
    if not hits:
        return None
    i = hits[0]
    text = region[i]
    if not _WHEN.search(text):
        for j in range(i + 1, min(i + 3, len(region))):
            if _WHEN.search(region[j]):
                text = " ".join(region[i:j + 1])
                break
    return _trim(text)


def _latest_message(lines: list[str], comp: _Compiled) -> int:
    """The index just below the user's latest message above the input box (0 if none is on screen)."""
    if comp.user is None:
        return 0
    end = len(lines)
    if comp.box is not None:
        for i in range(len(lines) - 1, -1, -1):
            if comp.box.search(lines[i]):
                end = i
                break
    for i in range(end - 1, -1, -1):
        if comp.user.search(lines[i]):
            return i + 1
    return 0


def _trim(text: str, width: int = 240) -> str:
    text = re.sub(r"[ \t]{3,}", "  ", text.strip())
    return text if len(text) <= width else text[:width - 1] + "…"


# -- error lines ----------------------------------------------------------------------------------

_ERROR_LINE = re.compile(
    r"^\s*Traceback \(most recent call last\)"
    r"|\b(?:Error|ERROR|error)\b\s*(?:\[[\w-]+\]\s*)?:"
    r"|\b[A-Z]\w*(?:Error|Exception)\b"
    r"|\bFAILED\b|^\s*FAIL[: ]"
    r"|^\s*panic:|\bfatal:|\bFATAL\b"
    r"|\bnpm ERR!"
    r"|^\s*[✗✘×] "
    r"|^\s*E\s{3}\w"                    # pytest's "E   assert ..." lines
)
# Every _ERROR_LINE alternative contains one of these; checking them first skips the regex for most lines.
_ERROR_HINTS = ("rror", "RROR", "xception", "FAIL", "panic:", "atal", "FATAL", "Traceback", "ERR!",
                "✗", "✘", "×", "E   ")
_NOT_ERROR = re.compile(r"\b(?:0|no) (?:errors?|failures?)\b|\berrors?: 0\b|without errors", re.IGNORECASE)

_NORMALISE = [
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"), "<time>"),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b|\b\d{1,2}:\d{2}\s?(?:[ap]m|AM|PM)\b"), "<time>"),
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), "<id>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<hex>"),
    (re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{7,}\b"), "<hex>"),
    (re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|`[^`]*`|“[^”]*”|‘[^’]*’"), "<q>"),
    (re.compile(r"(?:[A-Za-z]:)?(?:~|\.{1,2})?(?:[/\\][\w.@+~-]+){2,}[/\\]?|(?:\.{1,2}|~)/[\w.@+~/-]+"), "<path>"),
    (re.compile(r"\b[\w-]+(?:\.[\w-]+)*\.(?:py|js|ts|tsx|go|rs|rb|java|c|h|cpp|json|yaml|yml|toml|md)\b(?::\d+)*"), "<file>"),
    (re.compile(r"\d+(?:\.\d+)*"), "N"),
    (re.compile(r"\s+"), " "),
    (re.compile(r"^[^\w(\[<'\"]+"), ""),   # spinner remnants and bullets in front (░, ●, ✗)
]


def error_signature(line: str) -> str | None:
    """A normalised signature if the line reports an error (numbers, paths, ids, times, quotes folded), else None."""
    if not any(hint in line for hint in _ERROR_HINTS):  # cheap reject for the flood of ordinary lines
        return None
    text = strip_ansi(line).strip()
    if not text or len(text) > 2000 or not _ERROR_LINE.search(text) or _NOT_ERROR.search(text):
        return None
    for pattern, repl in _NORMALISE:
        text = pattern.sub(repl, text)
    return text.strip()[:200]
