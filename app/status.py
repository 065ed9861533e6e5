"""Read an agent's visible screen: what it is doing, why we think so, and any usage-limit message.

`classify(screen, rules) -> Reading` is a pure function of the VISIBLE screen (a
``capture-pane -p`` of the pane, with or without colour escapes) and a rule family name
(`Preset.rules`: claude, codex, gemini, aider, opencode, demo, generic; unknown names use generic).
Scrollback is never given, and each rule only looks at a region near the bottom, so an old
question or error higher up does not fire.

The rules are data: `FAMILIES[name].rules` is a table of `Rule(kind, pattern, region, why)`.
Regions:

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
decides by output and silence). A stale spinner still reads WORKING; the monitor handles silence.

`Reading.limit` is a usage/rate-limit/context-exhausted line if one is in the last lines since the
user's latest message, whatever the kind (with the next line when it wrapped what says when the
limit lifts: app/limits.py parses that). `error_signature(line)` recognises an error line and normalises it (numbers,
paths, hex ids, timestamps, quoted values) so repeats of one error compare equal.
`strip_ansi(text)` removes terminal escapes and control characters (keeps \\n, \\r, \\t).

Markers come from real screens of Claude Code 2.1, Codex 0.169, Gemini CLI 0.61, opencode 1.18
and aider 0.86 (tests/fixtures/screens/README.md), from public peers, and from app/demo_agent.py.
Plain Python: no Textual or Rich here.
"""

from __future__ import annotations

import re
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
    """One status rule: if `pattern` is found in a line of `region`, the screen reads `kind` because `why`."""

    kind: Kind
    pattern: str
    region: str
    why: str


@dataclass(frozen=True)
class Family:
    """The rules for one family of agents, and how to find its input box and the user's last message."""

    name: str
    rules: tuple[Rule, ...]
    box: str | None = None        # the input box line (the turn ends above the last match)
    user: str | None = None       # a user's message line (the turn starts below the last match)
    ignore: str | None = None     # lines that are noise anywhere


R = Rule
NI, WK, IDL, ERR, EX = Kind.NEEDS_INPUT, Kind.WORKING, Kind.IDLE, Kind.ERROR, Kind.EXITED

PRECEDENCE = (EX, NI, WK, ERR, IDL)

# "$", "#", "%" alone, "user@host:~/dir$", "[user@host dir]$": a shell waiting after the agent left.
_SHELL_PROMPT = r"^(?:[\w.-]+@[\w.-]+(?:[: ][^\s$#%]*)?\s?|\[[^\]]+\]\s?)?[$#%]$"
_LIMIT = (r"usage limit|limit reached|rate[ -]limit|quota (?:exceeded|exhausted)|exceeded your (?:current )?quota"
          r"|hit your (?:\w+ )?limit|exhausted your (?:capacity|\w+ quota)"
          r"|RESOURCE_EXHAUSTED|context (?:window|length) (?:exceeded|is full)|context_length_exceeded"
          r"|prompt is too long|maximum context length|credit balance is too low|insufficient[_ ]quota"
          r"|out of (?:credits|tokens)|too many requests|Context left until auto-compact: 0%")
# Markers peers (claude-squad, ccmanager, …) use for an agent waiting on a human.
_PEER_QUESTIONS = (r"Do you want to proceed\?|Yes, allow once|allow command\?|\(Y\)es/\(N\)o|\[y/n\]|\(y/n\)"
                   r"|\[Y/n\]|\[y/N\]|press enter to confirm or esc to cancel|Apply this change\?"
                   r"|Allow execution|Waiting for (?:your )?(?:approval|confirmation)")

FAMILIES: dict[str, Family] = {}


def _family(name: str, rules: list[Rule], **kw) -> None:
    FAMILIES[name] = Family(name, tuple(rules), **kw)


_family("claude", [
    R(EX, r"^Resume this session with:|^claude --resume \S+", "tail:4", "Claude printed its resume hint: it has exited"),
    R(EX, r"Unable to connect to Anthropic services", "tail:8", "Claude could not reach Anthropic at start and exits"),
    R(EX, _SHELL_PROMPT, "last", "a shell prompt under Claude's last screen: it has exited"),
    R(NI, r"^Do you want to (?:proceed|make this edit|use this API key|create|allow|run)\b.*\?", "tail:12",
      "approval question on screen"),
    R(NI, r"^Quick safety check:|trust this folder", "tail:12", "folder trust question on screen"),
    R(NI, r"^❯ \d+\. ", "tail:10", "numbered choice with the cursor on an option"),
    R(NI, r"Esc to cancel(?: ·|$)", "tail:2", "question dialog footer 'Esc to cancel'"),
    R(WK, r"^esc to interrupt\b|· esc to interrupt", "tail:4", "busy footer 'esc to interrupt'"),
    R(WK, r"^[·✢✳✶✻✽*] \S.*…", "tail:6", "spinner line"),
    R(WK, r"Retrying in \d+s · attempt \d+", "tail:6", "retrying the API"),
    R(ERR, r"^● API Error\b|^⎿\s+Not logged in|Please run /login|Invalid API key|OAuth token (?:has )?expired",
      "turn:12", "the last turn ended on an API error"),
    R(ERR, _LIMIT, "turn:12", "the last turn ended on a usage-limit message"),
    R(IDL, r"\? for shortcuts", "tail:3", "idle prompt with '? for shortcuts'"),
    R(IDL, r"^❯(?: |$)", "tail:3", "prompt box waiting for input"),
], box=r"^❯(?: |$)", user=r"^❯ \S", ignore=r"tmux focus-events off")

_family("codex", [
    R(EX, r"^Disconnected from this task\.|^codex resume \S+|^To continue this session, run codex resume", "tail:6",
      "Codex printed its resume hint: it has exited"),
    R(EX, _SHELL_PROMPT, "last", "a shell prompt under Codex's last screen: it has exited"),
    R(NI, r"^(?:Allow command\?|Would you like to run the following command\?|Would you like to make the following edits\?)",
      "tail:14", "approval question on screen"),
    R(NI, r"press enter to confirm or esc to cancel|Yes, allow once|Yes, proceed", "tail:6", "approval choices on screen"),
    R(NI, r"^Trust this folder\?|^Do you trust the contents of this directory\?", "tail:10", "folder trust question on screen"),
    R(NI, r"^Choose how you want to use Codex|^Press enter to continue$|^Sign in with ChatGPT", "tail:10",
      "sign-in choice on screen"),
    R(NI, r"^[›>] \d+\. ", "tail:10", "numbered choice with the cursor on an option"),
    R(NI, r"enter continue · esc back|Press enter to continue", "tail:3", "choice footer 'enter continue'"),
    R(WK, r"esc to interrupt", "tail:6", "busy line '(… esc to interrupt)'"),
    R(ERR, r"^■ (?!Conversation interrupted)", "turn:8", "the last turn ended on an error notice '■ …'"),
    R(ERR, r"^(?:error|stream error):", "turn:8", "the last turn ended on an error"),
    R(ERR, _LIMIT, "turn:8", "the last turn ended on a usage-limit message"),
    R(IDL, r"\? for shortcuts", "tail:3", "idle composer with '? for shortcuts'"),
    R(IDL, r"^› ", "tail:4", "composer waiting for input"),
], box=r"^› ", user=r"^› ")

_family("gemini", [
    R(EX, r"To resume this session: gemini --resume|^gemini --resume \S+", "tail:6",
      "Gemini printed its resume hint: it has exited"),
    R(EX, r"^Agent powering down\. Goodbye!", "tail:20", "Gemini said goodbye: it has exited"),
    R(EX, _SHELL_PROMPT, "last", "a shell prompt under Gemini's last screen: it has exited"),
    R(NI, r"^Apply this change\?|^Allow execution|^Do you want to proceed\?|Waiting for user confirmation",
      "tail:16", "approval question on screen"),
    R(NI, r"^Do you trust the files in this folder\?", "tail:16", "folder trust question on screen"),
    R(NI, r"^How would you like to authenticate|^Enter Gemini API Key|^Get started$", "tail:20",
      "sign-in question on screen"),
    R(NI, r"^● \d+\. ", "tail:12", "numbered choice with the cursor on an option"),
    R(NI, r"\(Use Enter to select\)|\(Press Enter to submit", "tail:10", "choice hint 'Use Enter to select'"),
    R(WK, r"\(esc to cancel, \d+[smh]", "tail:10", "busy line '(esc to cancel, Ns)'"),
    R(WK, r"^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] \S", "tail:10", "spinner line"),
    R(ERR, r"^✕ |\[API Error|^(?:API )?Error:", "turn:10", "the last turn ended on an error"),
    R(ERR, _LIMIT, "turn:10", "the last turn ended on a usage-limit message"),
    R(IDL, r"Type your message or @path", "tail:6", "input box with its placeholder"),
    R(IDL, r"\? for shortcuts", "tail:10", "idle prompt with '? for shortcuts'"),
    R(IDL, r"^> ", "tail:6", "input box waiting for input"),
], box=r"^>\s", user=r"^> \S")

_family("opencode", [
    R(EX, r"^Continue\s+opencode -s \S+", "tail:4", "opencode printed its continue hint: it has exited"),
    R(EX, _SHELL_PROMPT, "last", "a shell prompt under opencode's last screen: it has exited"),
    R(NI, r"Permission required|^△ |Allow once|Allow always", "tail:12", "permission request on screen"),
    R(WK, r"esc interrupt", "tail:3", "busy footer 'esc interrupt'"),
    R(WK, r"\[?retrying in \d+s", "tail:3", "retrying the API"),
    R(WK, r"[■⬝]{4,}", "tail:2", "progress bar"),
    R(ERR, r"Cannot connect to API|^Error:|API ?error|Unauthorized|ProviderModelNotFound|^Error ", "tail:14",
      "an error is the last thing in the transcript"),
    R(ERR, _LIMIT, "tail:14", "a usage-limit message is the last thing in the transcript"),
    R(IDL, r"tab agents\s+ctrl\+p commands", "tail:3", "idle footer 'tab agents  ctrl+p commands'"),
    R(IDL, r"^Ask anything", "tail:10", "input box with its placeholder"),
])

_family("aider", [
    R(EX, _SHELL_PROMPT, "last", "a shell prompt under aider's last screen: it has exited"),
    R(NI, r"\(Y\)es/\(N\)o.*\]:?\s*\S?$", "last", "yes/no question '(Y)es/(N)o'"),
    R(NI, r"\[y/n\]\s*$|\(y/n\)\s*$|\[Y/n\]\s*$|\[y/N\]\s*$", "last", "yes/no question '[y/n]'"),
    R(WK, r"Waiting for \S+$|Updating repo map|^[░█▒]{1,3}\s{2,}\S", "last", "aider spinner"),
    R(WK, r"^Retrying in [\d.]+ seconds", "tail:2", "retrying the API"),
    R(ERR, r"Error\b|Exception\b|servers are down or overloaded|^Traceback|Unable to|not found|API key",
      "turn:3", "the last thing before the prompt is an error"),
    R(ERR, _LIMIT, "turn:3", "the last thing before the prompt is a usage-limit message"),
    R(IDL, r"^(?:\w+ )?>\s*$", "last", "aider prompt '>'"),
    R(IDL, r"^(?:\w+ )?> ", "last", "aider prompt '>' with typed text"),
], box=r"^─{10,}", user=r"^(?:\w+ )?> \S")

_family("demo", [
    R(NI, r"^Do you want to proceed\?", "tail:12", "approval question on screen"),
    R(NI, r"^❯ \d+\. ", "tail:8", "numbered choice with the cursor on an option"),
    R(NI, r"^esc to cancel$", "tail:2", "question footer 'esc to cancel'"),
    R(WK, r"esc to interrupt", "tail:3", "busy spinner line '(… esc to interrupt)'"),
    R(ERR, r"^Error:|^Traceback|^\w+(?:Error|Exception):", "turn:6", "the last turn ended on an error"),
    R(ERR, _LIMIT, "turn:6", "the last turn ended on a usage-limit message"),
    R(IDL, r"\? for shortcuts", "tail:3", "idle prompt with '? for shortcuts'"),
    R(IDL, r"^>(?: |$)", "tail:3", "prompt box waiting for input"),
], box=r"^>(?: |$)", user=r"^> \S")

_family("generic", [
    R(NI, _PEER_QUESTIONS, "tail:6", "approval question on screen"),
    R(NI, r"^[❯›>] \d+\. |esc to cancel$|Esc to cancel", "tail:6", "numbered choice with the cursor on an option"),
    R(NI, r"\?\s*$|^(?:Password|Passphrase|Enter [\w ]+):\s*$", "last", "a question on the last line"),
    R(WK, r"esc to interrupt|esc interrupt|\(esc to cancel, \d+s", "tail:6", "busy line 'esc to interrupt'"),
    R(WK, r"^[·✢✳✶✻✽⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏◐◓◑◒|/\\-] \S.*(?:…|\.\.\.)", "tail:3", "spinner line"),
    R(ERR, r"^(?:Error|ERROR|error)\b[:\[ ]|^Traceback \(most recent call last\)|^panic:|^fatal:|^FAILED\b"
           r"|^\w+(?:Error|Exception):|^✗ ", "tail:4", "an error line is the last output"),
    R(ERR, _LIMIT, "tail:4", "a usage-limit message is the last output"),
    R(IDL, r"\? for shortcuts", "tail:3", "idle prompt with '? for shortcuts'"),
    R(IDL, r"(?:^|[\w~/\])])[>$#❯›]$|^%$", "last", "a prompt on the last line"),
])


# -- the classifier ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Compiled:
    rules: tuple[tuple[Rule, re.Pattern, str, int], ...]
    box: re.Pattern | None
    user: re.Pattern | None
    ignore: re.Pattern | None
    limit: re.Pattern


def _parse_region(region: str) -> tuple[str, int]:
    name, _, n = region.partition(":")
    if name not in ("last", "tail", "turn", "screen"):
        raise ValueError(f"unknown rule region {region!r}")
    default = {"last": 1, "tail": 6, "turn": 6, "screen": 0}[name]
    return name, int(n) if n else default


@lru_cache(maxsize=None)
def _compiled(name: str) -> _Compiled:
    family = FAMILIES.get(name) or FAMILIES["generic"]
    rules = []
    for kind in PRECEDENCE:
        for rule in family.rules:
            if rule.kind == kind:
                region, n = _parse_region(rule.region)
                rules.append((rule, re.compile(rule.pattern), region, n))
    comp = lambda p: re.compile(p) if p else None  # noqa: E731
    return _Compiled(tuple(rules), comp(family.box), comp(family.user), comp(family.ignore),
                     re.compile(_LIMIT, re.IGNORECASE))


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


def classify(screen: str, rules: str) -> Reading:
    """Read a visible screen with the rule family `rules` (a preset's `rules`; unknown names use generic)."""
    comp = _compiled(rules if rules in FAMILIES else "generic")
    lines = _lines(screen, comp.ignore)
    limit = _find_limit(lines, comp)
    if not lines:
        return Reading(None, "the screen is blank", "", None)
    regions: dict[tuple[str, int], list[str]] = {}
    winner: Rule | None = None
    evidence: list[str] = []
    for rule, pattern, region, n in comp.rules:
        if winner is not None and rule.kind != winner.kind:
            break
        key = (region, n)
        part = regions.get(key)
        if part is None:
            if region == "screen":
                part = lines
            elif region == "turn":
                part = _turn(lines, comp, n)
            else:
                part = lines[-n:]
            regions[key] = part
        for line in part:
            if pattern.search(line):
                winner = winner or rule
                if line not in evidence:
                    evidence.append(line)
                break
    if winner is None:
        return Reading(None, "no status rule matched the screen", "", limit)
    return Reading(winner.kind, winner.why, _trim("\n".join(evidence[:3])), limit)


# Words that say when a limit lifts ("resets 1am", "try again in 2 hours"): app/limits.py reads them.
_WHEN = re.compile(r"\breset|\btry again\b|\bretry\b|\bavailable again\b", re.IGNORECASE)


def _find_limit(lines: list[str], comp: _Compiled) -> str | None:
    """The first limit notice among the last lines, since the user's latest message (one sent after the
    notice, such as "continue", leaves it behind), with the line that says when it lifts if it wrapped."""
    region = lines[-15:]
    hits = [i for i, line in enumerate(region) if comp.limit.search(line)]
    if not hits:
        return None
    start = _latest_message(lines, comp) - (len(lines) - len(region))
    hits = [i for i in hits if i >= start]
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
