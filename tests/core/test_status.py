"""classify() on real agent screens and synthetic ones; error_signature and strip_ansi."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.model import Kind
from app.presets import PRESETS
from app.status import FAMILIES, Reading, classify, error_signature, strip_ansi

SCREENS = Path(__file__).resolve().parents[1] / "fixtures" / "screens"
EXPECTED: dict[str, str] = (json.loads((SCREENS / "expected.json").read_text(encoding="utf-8"))
                            if (SCREENS / "expected.json").exists() else {})


def family_of(fixture: str) -> str:
    return fixture.split("/")[0]


# -- real screens ------------------------------------------------------------------------------


@pytest.mark.skipif(not EXPECTED, reason="no screen fixtures")
@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_real_screen_classifies_as_expected(fixture):
    screen = (SCREENS / fixture).read_text(encoding="utf-8")
    reading = classify(screen, family_of(fixture))
    assert reading.kind == Kind(EXPECTED[fixture]), reading
    assert reading.why and reading.evidence


@pytest.mark.skipif(not EXPECTED, reason="no screen fixtures")
@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_real_screen_with_colours_reads_the_same(fixture):
    ansi = SCREENS / fixture.replace(".txt", ".ansi")
    if not ansi.exists():
        pytest.skip("no .ansi twin")
    plain = classify((SCREENS / fixture).read_text(encoding="utf-8"), family_of(fixture))
    colored = classify(ansi.read_text(encoding="utf-8"), family_of(fixture))
    assert (colored.kind, colored.why, colored.evidence) == (plain.kind, plain.why, plain.evidence)


def test_every_fixture_family_and_kind_is_covered():
    if not EXPECTED:
        pytest.skip("no screen fixtures")
    assert {family_of(f) for f in EXPECTED} <= set(FAMILIES)
    assert {"needs_input", "working", "idle", "error"} <= set(EXPECTED.values())


@pytest.mark.skipif(not EXPECTED, reason="no screen fixtures")
def test_limit_messages_on_real_screens():
    codex = classify((SCREENS / "codex/error-usage-limit-80x24.txt").read_text(encoding="utf-8"), "codex")
    assert codex.limit and "usage limit" in codex.limit
    claude = classify((SCREENS / "claude/error-rate-limit-120x40.txt").read_text(encoding="utf-8"), "claude")
    assert claude.limit and "rate limit" in claude.limit
    idle = classify((SCREENS / "claude/idle-80x24.txt").read_text(encoding="utf-8"), "claude")
    assert idle.limit is None


def test_every_preset_names_a_known_family():
    for preset in PRESETS.values():
        assert preset.rules in FAMILIES, preset.name


# -- synthetic screens per family and kind ------------------------------------------------------

RULE = "─" * 60


def screen(*lines: str, rows: int = 24) -> str:
    """A visible screen: the lines at the top, blank rows below (as inline agents leave it)."""
    body = list(lines)
    return "\n".join(body + [""] * max(0, rows - len(body)))


SYNTHETIC = [
    # claude
    ("claude", Kind.NEEDS_INPUT, screen("● Bash(rm -rf build)", RULE, " Bash command", "   rm -rf build",
                                         " Do you want to proceed?", " ❯ 1. Yes", "   2. No",
                                         " Esc to cancel · Tab to amend")),
    ("claude", Kind.WORKING, screen("❯ fix it", "✻ Pondering… (12s · esc to interrupt)", RULE, "❯ ", RULE,
                                     "  esc to interrupt · ← for agents")),
    ("claude", Kind.IDLE, screen("❯ fix it", "● Fixed.", "✻ Brewed for 3s", RULE, "❯ ", RULE,
                                  "  ? for shortcuts")),
    ("claude", Kind.ERROR, screen("❯ fix it", "● API Error: 500 Internal server error", RULE, "❯ ", RULE,
                                   "  ? for shortcuts")),
    ("claude", Kind.EXITED, screen("Resume this session with:", "claude --resume 1234", "$")),
    # codex
    ("codex", Kind.NEEDS_INPUT, screen("› run the tests", "Would you like to run the following command?",
                                        "  $ pytest -q", "› 1. Yes, proceed", "  2. No, and tell Codex what to do differently",
                                        "  Press enter to confirm or esc to cancel")),
    ("codex", Kind.WORKING, screen("› fix it", "• Working (3s • esc to interrupt)", "› Ask Codex to do anything",
                                    "  ? for shortcuts")),
    ("codex", Kind.IDLE, screen("› fix it", "• Done.", "› Ask Codex to do anything", "  ? for shortcuts")),
    ("codex", Kind.ERROR, screen("› fix it", "■ stream error: unexpected status 500", "› Ask Codex to do anything",
                                  "  ? for shortcuts")),
    # gemini
    ("gemini", Kind.NEEDS_INPUT, screen("╭────╮", "│ ? Edit calc.py │", "│ Apply this change? │",
                                         "│ ● 1. Allow once │", "│   2. Allow always │", "╰────╯")),
    ("gemini", Kind.WORKING, screen(" > fix it", " ⠙ Thinking... (esc to cancel, 2s)", RULE,
                                     " >   Type your message or @path/to/file")),
    ("gemini", Kind.IDLE, screen(" > fix it", "✦ Done.", RULE, " >   Type your message or @path/to/file")),
    ("gemini", Kind.ERROR, screen(" > fix it", "✕ [API Error: quota exceeded]", RULE,
                                   " >   Type your message or @path/to/file")),
    # opencode
    ("opencode", Kind.NEEDS_INPUT, screen("┃  fix it", "△ Permission required", "  $ rm -rf build",
                                           "  Allow once   Allow always   Reject", "  tab agents  ctrl+p commands")),
    ("opencode", Kind.WORKING, screen("┃  fix it", "   ■■■⬝⬝⬝⬝⬝  esc interrupt   tab agents  ctrl+p commands")),
    ("opencode", Kind.IDLE, screen("┃  Ask anything…", "   /repo:main        tab agents  ctrl+p commands")),
    ("opencode", Kind.ERROR, screen("┃  fix it", "┃  Error: model not found", "   /repo   tab agents  ctrl+p commands")),
    # aider
    ("aider", Kind.NEEDS_INPUT, screen("> fix it", "Create new file calc2.py? (Y)es/(N)o [Yes]:")),
    ("aider", Kind.WORKING, screen("> fix it", " █░     Waiting for gpt-4o")),
    ("aider", Kind.IDLE, screen("> fix it", "Applied edit to calc.py", RULE, "calc.py", ">")),
    ("aider", Kind.ERROR, screen("> fix it", "litellm.AuthenticationError: invalid key", RULE, ">")),
    # demo (the scripted agent's own markers)
    ("demo", Kind.NEEDS_INPUT, screen("● I want to run the tests.", RULE, "Bash command", "  pytest -q",
                                       "Do you want to proceed?", "❯ 1. Yes", "  2. No", "esc to cancel")),
    ("demo", Kind.WORKING, screen("● Reading the code.", "✻ Working… (3s · esc to interrupt)")),
    ("demo", Kind.IDLE, screen("● Done.", RULE, "> ", RULE, "  ? for shortcuts")),
    ("demo", Kind.ERROR, screen("● Syncing.", "Error: connection to 127.0.0.1:5433 refused (attempt 5) at 10:00:01",
                                 "● The database keeps refusing connections.", RULE, "> ", RULE, "  ? for shortcuts")),
    # generic
    ("generic", Kind.NEEDS_INPUT, screen("Deleting 3 files.", "Continue? [y/n]")),
    ("generic", Kind.WORKING, screen("⠹ Compiling… (esc to interrupt)")),
    ("generic", Kind.IDLE, screen("done", "user@host:~/repo$")),
    ("generic", Kind.ERROR, screen("running", "Traceback (most recent call last):", '  File "x.py", line 1',
                                    "ValueError: bad")),
]


@pytest.mark.parametrize("family,kind,text", SYNTHETIC, ids=[f"{f}-{k.value}" for f, k, _ in SYNTHETIC])
def test_synthetic_screen(family, kind, text):
    reading = classify(text, family)
    assert reading.kind == kind, reading
    assert reading.why and reading.evidence


def test_each_family_has_a_synthetic_screen_for_each_kind():
    covered = {(f, k) for f, k, _ in SYNTHETIC}
    for family in FAMILIES:
        for kind in (Kind.NEEDS_INPUT, Kind.WORKING, Kind.IDLE, Kind.ERROR):
            assert (family, kind) in covered, (family, kind)


def test_blank_or_unknown_screen_reads_unknown():
    assert classify("", "claude").kind is None
    assert classify("\n\n   \n", "codex").kind is None
    assert classify(screen("compiling module 3 of 9"), "claude").kind is None


def test_unknown_family_uses_generic():
    assert classify(screen("Proceed? [y/n]"), "no-such-family").kind == Kind.NEEDS_INPUT


# -- precedence and regions ----------------------------------------------------------------------


def test_question_outranks_busy_and_idle_markers():
    text = screen("✻ Working… (3s · esc to interrupt)", RULE, "Do you want to proceed?", "❯ 1. Yes",
                  "  2. No", "esc to cancel")
    assert classify(text, "demo").kind == Kind.NEEDS_INPUT


def test_busy_outranks_idle_markers():
    # Codex keeps its composer and "? for shortcuts" on screen while it works.
    text = screen("› fix", "• Working (9s • esc to interrupt)", "› Ask Codex to do anything", "  ? for shortcuts")
    assert classify(text, "codex").kind == Kind.WORKING


def test_scrollback_question_does_not_fire():
    # A question answered long ago, far above the bottom of the visible screen.
    old = ["Do you want to proceed?", "❯ 1. Yes", "  2. No", "esc to cancel", "✔ Approved"]
    work = [f"● step {i} done" for i in range(20)]
    text = screen(*old, *work, RULE, "> ", RULE, "  ? for shortcuts", rows=40)
    assert classify(text, "demo").kind == Kind.IDLE
    claude = screen(" Do you want to proceed?", " ❯ 1. Yes", *work, "✻ Working… (3s · esc to interrupt)",
                    RULE, "❯ ", RULE, "  esc to interrupt · ← for agents", rows=40)
    assert classify(claude, "claude").kind == Kind.WORKING


def test_error_in_an_earlier_turn_does_not_fire():
    text = screen("❯ first", "● API Error: overloaded", "❯ try again", "● Done, it worked.", "✻ Baked for 2s",
                  RULE, "❯ ", RULE, "  ? for shortcuts")
    reading = classify(text, "claude")
    assert reading.kind == Kind.IDLE, reading


def test_interrupted_turn_is_idle_not_error():
    text = screen("■ Conversation interrupted - use /feedback if something went wrong",
                  "› Ask Codex to do anything", "  ? for shortcuts")
    assert classify(text, "codex").kind == Kind.IDLE


def test_why_names_the_rule_and_evidence_is_the_matched_lines():
    text = screen(RULE, "Do you want to proceed?", "❯ 1. Yes", "  2. No", "esc to cancel")
    reading = classify(text, "demo")
    assert reading.why == "approval question on screen"
    assert reading.evidence.splitlines() == ["Do you want to proceed?", "❯ 1. Yes", "esc to cancel"]


def test_reading_is_frozen():
    reading = classify(screen("x"), "generic")
    assert isinstance(reading, Reading)
    with pytest.raises(AttributeError):
        reading.kind = Kind.IDLE  # type: ignore[misc]


def test_limit_is_reported_with_any_kind():
    text = screen("● Writing docs.", "5-hour limit reached ∙ resets 3pm", "  /upgrade to increase your usage limit.",
                  RULE, "> ", RULE, "  ? for shortcuts")
    reading = classify(text, "demo")
    assert reading.limit == "5-hour limit reached ∙ resets 3pm"
    assert reading.kind == Kind.ERROR
    assert "usage-limit" in reading.why
    busy = classify(screen("Context left until auto-compact: 0%", "✻ Working… (3s · esc to interrupt)"), "demo")
    assert busy.kind == Kind.WORKING and busy.limit


def test_colour_escapes_and_nbsp_do_not_matter():
    text = screen("\x1b[36m❯\x1b[0m\xa01. Yes", "\x1b[2mesc to cancel\x1b[0m")
    assert classify(text, "demo").kind == Kind.NEEDS_INPUT


# -- error_signature ------------------------------------------------------------------------------


@pytest.mark.parametrize("a,b", [
    ("Error: connection to 127.0.0.1:5433 refused (attempt 1) at 10:00:01",
     "Error: connection to 127.0.0.1:5433 refused (attempt 5) at 10:02:44"),
    ("FAILED tests/test_stock.py::test_low - AssertionError: assert 3 == 4",
     "FAILED tests/test_stock.py::test_low - AssertionError: assert 7 == 9"),
    ("Error: cannot open '/tmp/agent-1234-ab12cd/out.json'", "Error: cannot open '/tmp/agent-99-ffee00/out.json'"),
    ("panic: runtime error: index out of range [5] with length 3",
     "panic: runtime error: index out of range [12] with length 10"),
    ("fatal: unable to access 'https://example.com/a.git/': timeout after 30s",
     "fatal: unable to access 'https://example.com/b.git/': timeout after 31s"),
    ("2026-11-24T16:31:54Z ERROR: worker 0x7f3a2c crashed", "2026-11-25T01:02:03Z ERROR: worker 0x11aa crashed"),
    ("RuntimeError: request 3f2a9c1d-8e7b-4c6d-9a0b-1c2d3e4f5a6b failed",
     "RuntimeError: request 00000000-1111-2222-3333-444444444444 failed"),
    ("KeyError: 'user_17'", "KeyError: 'order_99'"),
    ("✗ 3 tests failed in /work/a/tests", "✗ 12 tests failed in /work/b/tests"),
    ("Error: commit deadbeef42 not found", "Error: commit 0badc0de17 not found"),
    ("\x1b[31mError: disk full (98%)\x1b[0m", "Error: disk full (99%)"),
])
def test_error_signature_folds_variable_parts(a, b):
    sa, sb = error_signature(a), error_signature(b)
    assert sa is not None and sa == sb


@pytest.mark.parametrize("a,b", [
    ("Error: connection refused", "Error: permission denied"),
    ("ValueError: bad input", "KeyError: bad input"),
])
def test_error_signature_keeps_different_errors_apart(a, b):
    assert error_signature(a) != error_signature(b)


@pytest.mark.parametrize("line", [
    "Traceback (most recent call last):",
    "Error: something",
    "error: could not compile `paneboard`",
    "error[E0308]: mismatched types",
    "RuntimeError: internal error: tool call stream closed unexpectedly",
    "FAILED tests/test_x.py::test_y",
    "panic: boom",
    "fatal: not a git repository",
    "java.lang.IllegalStateException: closed",
    "✗ build failed",
    "npm ERR! code ENOENT",
])
def test_error_signature_recognises_error_lines(line):
    assert error_signature(line)


@pytest.mark.parametrize("line", [
    "", "   ", "everything is fine", "5 passed in 0.3s", "0 errors, 2 warnings",
    "● I fixed the error handling in parser.py", "Found no errors.",
])
def test_error_signature_ignores_other_lines(line):
    assert error_signature(line) is None


def test_error_signature_is_short_and_plain():
    sig = error_signature("Error: " + "x" * 5000)
    assert sig is None or len(sig) <= 200
    sig = error_signature("Error: at /very/long/path/to/file.py:123:45 in 'quoted thing'")
    assert "123" not in sig and "quoted" not in sig and "/very" not in sig


# -- strip_ansi -------------------------------------------------------------------------------------


def test_strip_ansi():
    assert strip_ansi("plain\ttext\n") == "plain\ttext\n"
    assert strip_ansi("\x1b[1;31mred\x1b[0m \x1b[38;2;1;2;3mrgb\x1b[m") == "red rgb"
    assert strip_ansi("\x1b]0;title\x07after") == "after"
    assert strip_ansi("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\") == "link"
    assert strip_ansi("a\x1b(Bb\x1b=c\x07d\x08") == "abcd"
    assert strip_ansi("\x1b[?2004hprompt\x1b[2K\r") == "prompt\r"
