"""Claude Code hooks: the settings paneboard installs, the recorder Claude runs, and what events mean.

The recorder is always run as a real process, the way Claude runs it: the command string from
the settings file through `sh -c`, the hook's JSON on stdin.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app import hooks
from app.events import claude
from app.config import Settings, parse
from app.errors import ConfigError
from app.model import Agent, Kind
from app.monitor.facts import HOOK_GRACE, Facts as _Facts, status_of as _status_of
from app.presets import PRESETS, resolve
from app.status import Reading
from app.triggers import ErrorCounter

ROOT = Path(__file__).resolve().parents[2]
# The hook events Claude Code 2.1.197 accepts in settings (its settings schema, read from the binary).
CLAUDE_EVENTS = {"PreToolUse", "PostToolUse", "PostToolUseFailure", "PermissionRequest", "PermissionDenied",
                 "Notification", "UserPromptSubmit", "UserPromptExpansion", "SessionStart", "SessionEnd",
                 "Stop", "StopFailure", "SubagentStart", "SubagentStop", "PreCompact", "PostCompact"}
NASTY = "we ird 'q\" $(touch PWNED) `touch PWNED2`; touch PWNED3 #"


def run_hook(command: str, payload: dict | bytes | str, cwd: Path) -> subprocess.CompletedProcess:
    """Run a hook command the way Claude Code does: through a shell, its input as JSON on stdin."""
    data = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    if isinstance(data, str):
        data = data.encode()
    return subprocess.run(["sh", "-c", command], input=data, cwd=cwd, capture_output=True, timeout=30)


def lines(path: Path) -> list[dict]:
    return [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


# -- the settings ------------------------------------------------------------------------


def test_settings_hook_every_status_event_with_one_command(tmp_path):
    events = tmp_path / "a.jsonl"
    doc = hooks.settings(events)
    assert set(doc) == {"hooks"}
    assert set(doc["hooks"]) == set(claude.EVENTS)
    assert set(claude.EVENTS) <= CLAUDE_EVENTS
    for event, groups in doc["hooks"].items():
        if event == "Notification":       # one group per notification type that moves the status
            assert [g["matcher"] for g in groups] == ["permission_prompt", "idle_prompt", "elicitation_dialog"]
        else:
            assert len(groups) == 1 and "matcher" not in groups[0], event     # no matcher: every tool, every source
        for group in groups:
            [entry] = group["hooks"]
            assert entry == {"type": "command", "command": hooks.hook_command(events), "timeout": hooks.HOOK_TIMEOUT}
    json.dumps(doc)


def test_install_writes_settings_beside_the_log_and_starts_fresh(tmp_path):
    common = tmp_path / "repo" / ".git"
    events = hooks.events_path(common, "api fix")
    events.parent.mkdir(parents=True)
    events.write_text('{"at": 1, "event": "Stop"}\n')
    path = hooks.install(common, "api fix")
    assert path == hooks.settings_path(common, "api fix")
    assert path.parent == common / "paneboard" / "hooks" == events.parent
    assert json.loads(path.read_text()) == hooks.settings(events)
    assert not events.exists()                 # a respawn of the name does not inherit old events
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_hook_command_quotes_every_path_and_runs_nothing_else(tmp_path):
    weird = tmp_path / NASTY
    weird.mkdir()
    events = weird / "ev $(id).jsonl"
    command = hooks.hook_command(events)
    assert shlex.split(command) == [sys.executable, "-I", "-S", str(ROOT / "app" / "hooks.py"), "record", str(events),
                                    "claude"]
    proc = run_hook(command, {"hook_event_name": "Stop", "session_id": "s1"}, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout == b"" and proc.stderr == b""
    assert [e["event"] for e in lines(events)] == ["Stop"]
    for root in (tmp_path, weird, Path.cwd()):
        assert not any((root / n).exists() for n in ("PWNED", "PWNED2", "PWNED3")), root


def test_claude_preset_gets_the_settings_file_and_custom_commands_never_do(tmp_path):
    f = ("--settings", str(tmp_path / "s.json"))
    assert PRESETS["claude"].hooks == "claude"
    assert PRESETS["claude"].command("fix it", f) == ["claude", *f, "fix it"]
    assert PRESETS["claude"].command("fix it") == ["claude", "fix it"]
    assert resolve("claude --model opus").command(None, f) == ["claude", "--model", "opus"]
    assert PRESETS["codex"].command(None, ("-c", "x=1")) == ["codex", "-c", "x=1"]


def test_hooks_setting_turns_them_off_and_is_validated():
    assert Settings().hooks is True
    assert parse("defaults:\n  hooks: false\n").settings.hooks is False
    with pytest.raises(ConfigError, match=r"paneboard.yaml:3: defaults.hooks: expected true or false"):
        parse("defaults:\n  agent: claude\n  hooks: maybe\n")
    tasks = parse("tasks:\n  - {name: a, agent: claude, hooks: false}\n  - {name: b, agent: claude}\n").tasks
    assert [t.hooks for t in tasks] == [False, None]
    with pytest.raises(ConfigError, match=r"paneboard.yaml:2: tasks\[0\].hooks: expected true or false"):
        parse("tasks:\n  - {name: a, agent: claude, hooks: 1}\n")


# -- the recorder ----------------------------------------------------------------------------


def test_record_as_a_module_keeps_the_fields_that_tell_the_status(tmp_path):
    events = tmp_path / "ev.jsonl"
    payload = {"hook_event_name": "Notification", "session_id": "s1", "message": "Claude needs your permission to use Bash",
               "notification_type": "permission_prompt", "transcript_path": "/x", "cwd": "/y"}
    before = time.time()
    proc = subprocess.run([sys.executable, "-m", "app.hooks", "record", str(events)], cwd=ROOT,
                          input=json.dumps(payload).encode(), capture_output=True, timeout=30)
    assert proc.returncode == 0 and proc.stdout == b""
    [line] = lines(events)
    assert before - 0.01 <= line.pop("at") <= time.time()
    assert line == {"event": "Notification", "cli": "claude", "session_id": "s1", "message": "Claude needs your permission to use Bash",
                    "notification_type": "permission_prompt"}


def test_record_leaves_tool_input_and_prompts_out_and_bounds_each_field(tmp_path):
    events = tmp_path / "ev.jsonl"
    payload = {"hook_event_name": "PreToolUse", "tool_name": "Write", "tool_input": {"content": "x" * 2_000_000},
               "prompt": "secret", "message": "m" * 5000}
    proc = run_hook(hooks.hook_command(events), payload, cwd=tmp_path)
    assert proc.returncode == 0
    [line] = lines(events)
    assert line["tool_name"] == "Write" and "tool_input" not in line and "prompt" not in line
    assert len(line["message"]) <= 400
    assert events.stat().st_size < 1000


@pytest.mark.parametrize("stdin", [b"", b"not json", b"[1, 2]", b"\xff\xfe garbage", b'{"hook_event_name": 3}'])
def test_record_never_fails_the_agent_on_bad_input(tmp_path, stdin):
    proc = run_hook(hooks.hook_command(tmp_path / "ev.jsonl"), stdin, cwd=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")


def test_record_never_fails_the_agent_when_it_cannot_write(tmp_path):
    for target in (tmp_path / "missing" / "dir" / "ev.jsonl", tmp_path):     # no directory; a directory
        proc = run_hook(hooks.hook_command(target), {"hook_event_name": "Stop"}, cwd=tmp_path)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")


def test_record_is_fast(tmp_path):
    command = hooks.hook_command(tmp_path / "ev.jsonl")
    start = time.perf_counter()
    for _ in range(5):
        run_hook(command, {"hook_event_name": "PreToolUse", "tool_name": "Bash"}, cwd=tmp_path)
    per_call = (time.perf_counter() - start) / 5
    # Loose bound for a loaded CI machine; measured about 25 ms (10 of them Python's start).
    assert per_call < 0.5, per_call
    assert len(lines(tmp_path / "ev.jsonl")) == 5


def test_concurrent_records_never_interleave(tmp_path):
    events = tmp_path / "ev.jsonl"
    command = hooks.hook_command(events)
    procs = [subprocess.Popen(["sh", "-c", command], stdin=subprocess.PIPE, cwd=tmp_path) for _ in range(12)]
    for i, p in enumerate(procs):
        p.communicate(json.dumps({"hook_event_name": "PostToolUse", "tool_name": f"T{i}", "message": "y" * 300}).encode())
    got = lines(events)                         # every line parses: no torn writes
    assert sorted(e["tool_name"] for e in got) == sorted(f"T{i}" for i in range(12))


def test_events_file_rotates_at_its_bound_and_keeps_the_latest(tmp_path):
    events = tmp_path / "ev.jsonl"
    for i in range(400):
        hooks.record(events, {"hook_event_name": "PreToolUse", "tool_name": f"T{i}"}, at=1000.0 + i, max_bytes=2000)
    hooks.record(events, {"hook_event_name": "Stop"}, at=2000.0, max_bytes=2000)
    older = events.with_name("ev.jsonl.1")
    assert events.stat().st_size <= 2000 + 200 and older.stat().st_size <= 2000 + 200
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ev.jsonl", "ev.jsonl.1"]
    assert hooks.latest(events).event == "Stop"


# -- reading: event -> status ------------------------------------------------------------------


@pytest.mark.parametrize("event, kind, why", [
    ({"event": "Notification", "notification_type": "permission_prompt",
      "message": "Claude needs your permission to use Bash"},
     Kind.NEEDS_INPUT, "event Notification: Claude needs your permission to use Bash"),
    ({"event": "Notification", "notification_type": "elicitation_dialog", "message": "Pick one"},
     Kind.NEEDS_INPUT, "event Notification: Pick one"),
    ({"event": "Notification", "message": "Claude needs your permission to use Edit"},   # before notification_type
     Kind.NEEDS_INPUT, "event Notification: Claude needs your permission to use Edit"),
    ({"event": "Notification", "notification_type": "idle_prompt", "message": "Claude is waiting for your input"},
     Kind.IDLE, "event Notification: Claude is waiting for your input"),
    ({"event": "PermissionRequest", "tool_name": "Bash"}, Kind.NEEDS_INPUT,
     "event PermissionRequest: asks permission: Bash"),
    ({"event": "Stop"}, Kind.IDLE, "event Stop: the turn ended; waiting for a prompt"),
    ({"event": "StopFailure", "error": "authentication_failed", "last_assistant_message": "Not logged in · Please run /login"},
     Kind.ERROR, "event StopFailure: authentication_failed: Not logged in · Please run /login"),
    ({"event": "UserPromptSubmit"}, Kind.WORKING, "event UserPromptSubmit: a prompt was submitted"),
    ({"event": "PreToolUse", "tool_name": "Bash"}, Kind.WORKING, "event PreToolUse: running Bash"),
    ({"event": "PostToolUse", "tool_name": "Bash"}, Kind.WORKING, "event PostToolUse: Bash finished"),
    ({"event": "SessionStart", "source": "startup"}, Kind.IDLE,
     "event SessionStart: session started (startup); waiting for a prompt"),
])
def test_event_maps_to_a_status_with_the_event_as_evidence(event, kind, why):
    h = hooks.hint({"at": 5.0, **event})
    assert (h.kind, h.why, h.at, h.event) == (kind, why, 5.0, event["event"])
    assert json.loads(h.evidence) == {"at": 5.0, **event}


@pytest.mark.parametrize("event", [
    {"event": "SessionEnd", "reason": "clear"},
    {"event": "Notification", "notification_type": "auth_success", "message": "Signed in"},
    {"event": "SomethingNew"},
    {"event": "Stop", "at": "soon"},
])
def test_events_without_a_status_are_skipped(tmp_path, event):
    assert hooks.hint({"at": 5.0, **event}) is None
    events = tmp_path / "ev.jsonl"
    hooks.record(events, {"hook_event_name": "Stop"}, at=4.0)
    with events.open("a") as fh:
        fh.write(json.dumps({"at": 5.0, **event}) + "\n")
    assert hooks.latest(events).event == "Stop"


def test_events_file_reads_only_what_was_appended(tmp_path):
    events = tmp_path / "ev.jsonl"
    follow = hooks.EventsFile(events)
    assert follow.poll() is False and follow.hint is None               # no file: no hooks
    hooks.record(events, {"hook_event_name": "UserPromptSubmit"}, at=1.0)
    assert follow.poll() is True and follow.hint.kind == Kind.WORKING
    assert follow.poll() is False                                        # unchanged: one stat
    with events.open("a") as fh:
        fh.write('{"at": 2.0, "event": "Stop"')                          # a line still being written
    assert follow.poll() is False and follow.hint.kind == Kind.WORKING
    with events.open("a") as fh:
        fh.write('}\n')
    assert follow.poll() is True and follow.hint.event == "Stop"
    hooks.record(events, {"hook_event_name": "SessionEnd"}, at=3.0)      # says nothing: Stop stays
    assert follow.poll() is False and follow.hint.event == "Stop"
    os.unlink(events)                                                    # a respawn starts afresh
    assert follow.poll() is True and follow.hint is None


def test_requests_answered_by_a_rule_are_handed_out_once_and_move_no_status(tmp_path):
    events = tmp_path / "ev.jsonl"
    follow = hooks.EventsFile(events)
    hooks.record(events, {"hook_event_name": "PreToolUse", "tool_name": "Bash"}, at=1.0)
    # Claude Code's PermissionDenied (its auto mode refused a call), through the recorder as Claude runs it.
    denied = {"hook_event_name": "PermissionDenied", "tool_name": "Bash", "tool_input": {"command": "rm -rf /"},
              "tool_use_id": "toolu_1", "reason": "deletes outside the project"}
    proc = run_hook(hooks.hook_command(events), denied, tmp_path)
    assert (proc.returncode, proc.stdout) == (0, b"")
    assert follow.poll() is True and follow.hint.event == "PreToolUse"      # still working: history only
    [got] = follow.take_answered()
    assert hooks.answered(got) == "denied by claude's auto mode: Bash: rm -rf / (deletes outside the project)"
    assert follow.take_answered() == [] and (follow.poll(), follow.take_answered()) == (False, [])


def test_events_file_follows_a_rotation(tmp_path):
    events = tmp_path / "ev.jsonl"
    follow = hooks.EventsFile(events)
    hooks.record(events, {"hook_event_name": "Stop"}, at=1.0, max_bytes=100)
    follow.poll()
    hooks.record(events, {"hook_event_name": "SessionEnd", "reason": "x" * 200}, at=2.0, max_bytes=100)
    hooks.record(events, {"hook_event_name": "SessionEnd"}, at=3.0, max_bytes=100)   # rotates
    assert events.with_name("ev.jsonl.1").exists()
    follow.poll()
    assert follow.hint.event == "Stop"
    hooks.record(events, {"hook_event_name": "PreToolUse", "tool_name": "Bash"}, at=4.0, max_bytes=100)
    assert follow.poll() is True and follow.hint.why == "event PreToolUse: running Bash"


def test_a_failed_turn_stays_failed_through_the_stops_that_close_it(tmp_path):
    # OpenCode 1.18 after its last retry of a 429: session.error, then session.status idle and session.idle.
    events = tmp_path / "ev.jsonl"
    follow = hooks.EventsFile(events)
    failed = {"at": 2.0, "event": "StopFailure", "cli": "opencode", "error": "Rate limit reached"}
    with events.open("a") as fh:
        for line in ({"at": 1.0, "event": "Busy", "cli": "opencode"}, failed, {"at": 2.0, "event": "Stop"}):
            fh.write(json.dumps(line) + "\n")
    assert follow.poll() is True and follow.hint.event == "StopFailure"
    assert follow.hint.why == "event StopFailure (opencode): Rate limit reached"
    hooks.record(events, {"hook_event_name": "Stop"}, at=2.5)            # a Stop read in a later poll
    assert follow.poll() is False and follow.hint.event == "StopFailure"
    assert hooks.latest(events).event == "StopFailure"
    hooks.record(events, {"hook_event_name": "UserPromptSubmit"}, at=3.0)
    hooks.record(events, {"hook_event_name": "Stop"}, at=4.0)             # the next turn ended well
    assert follow.poll() is True and follow.hint.event == "Stop"
    assert hooks.latest(events).event == "Stop"


def test_a_failed_turn_is_found_behind_a_rotation(tmp_path):
    events = tmp_path / "ev.jsonl"
    with events.open("a") as fh:
        fh.write(json.dumps({"at": 1.0, "event": "StopFailure", "error": "overloaded"}) + "\n")
    os.replace(events, events.with_name("ev.jsonl.1"))
    hooks.record(events, {"hook_event_name": "Stop"}, at=2.0)
    assert hooks.latest(events).event == "StopFailure"
    assert hooks.EventsFile(events).poll() is True


# -- precedence: hook or screen ---------------------------------------------------------------


def facts(tmp_path, event: dict | None, reading: Reading | None, output_at: float | None,
          started: float = 100.0, alive: bool = True) -> _Facts:
    agent = Agent(name="a", task="a", agent="claude", branch="b", worktree=str(tmp_path), base="main",
                  session="s", pane="%1", pane_alive=alive, started_at=started, rules="claude")
    f = _Facts(agent=agent, errors=ErrorCounter(3, 60.0))
    f.hook_events = hooks.EventsFile(tmp_path / "ev.jsonl")
    if event is not None:
        with (tmp_path / "ev.jsonl").open("a") as fh:
            fh.write(json.dumps(event) + "\n")
        f.hook_events.poll()
    f.reading, f.screen, f.captured = reading, "screen", reading is not None
    f.last_output_at = f.screen_output_at = output_at
    f.kind_since = started
    return f


ASK = {"at": 200.0, "event": "Notification", "notification_type": "permission_prompt",
       "message": "Claude needs your permission to use Bash"}
IDLE_SCREEN = Reading(Kind.IDLE, "prompt box waiting for input", "❯")
BUSY_SCREEN = Reading(Kind.WORKING, "spinner line", "✻ Working…")
UNKNOWN_SCREEN = Reading(None, "no status rule matched the screen")
SETTINGS = Settings(silence=3600.0)


def test_the_event_decides_over_an_older_screen(tmp_path):
    s = _status_of(facts(tmp_path, ASK, IDLE_SCREEN, output_at=199.0), 210.0, SETTINGS)
    assert (s.kind, s.why) == (Kind.NEEDS_INPUT, "event Notification: Claude needs your permission to use Bash")
    assert "permission_prompt" in s.evidence


def test_output_that_came_with_the_event_does_not_overrule_it(tmp_path):
    s = _status_of(facts(tmp_path, ASK, IDLE_SCREEN, output_at=200.0 + HOOK_GRACE / 2), 210.0, SETTINGS)
    assert s.kind == Kind.NEEDS_INPUT


def test_a_newer_screen_that_reads_otherwise_decides(tmp_path):
    s = _status_of(facts(tmp_path, ASK, BUSY_SCREEN, output_at=200.0 + HOOK_GRACE + 1), 210.0, SETTINGS)
    assert (s.kind, s.why) == (Kind.WORKING, "screen: spinner line")


ERROR_SCREEN = Reading(Kind.ERROR, "the last turn ended on a usage-limit message", "■ Quota exceeded.")
PROMPT = {"at": 200.0, "event": "UserPromptSubmit", "cli": "codex"}


def test_a_working_event_gives_way_at_once_to_an_error_drawn_after_it(tmp_path):
    # Codex 0.171 sends no event when a turn fails (quota, a 429 it gave up on): its notice comes 40 ms later.
    s = _status_of(facts(tmp_path, PROMPT, ERROR_SCREEN, output_at=200.04), 210.0, SETTINGS)
    assert (s.kind, s.why) == (Kind.ERROR, "screen: the last turn ended on a usage-limit message")


def test_an_error_drawn_before_the_working_event_does_not_overrule_it(tmp_path):
    s = _status_of(facts(tmp_path, PROMPT, ERROR_SCREEN, output_at=199.9), 210.0, SETTINGS)
    assert (s.kind, s.why) == (Kind.WORKING, "event UserPromptSubmit (codex): a prompt was submitted")
    (tmp_path / "i").mkdir()
    idle = _status_of(facts(tmp_path / "i", PROMPT, IDLE_SCREEN, output_at=200.04), 210.0, SETTINGS)
    assert idle.kind == Kind.WORKING        # an idle screen right after a prompt is a screen behind: the grace holds


def test_a_newer_screen_no_rule_reads_does_not_overrule_the_event(tmp_path):
    stop = {"at": 200.0, "event": "Stop"}
    s = _status_of(facts(tmp_path, stop, UNKNOWN_SCREEN, output_at=205.0), 210.0, SETTINGS)
    assert (s.kind, s.why) == (Kind.IDLE, "event Stop: the turn ended; waiting for a prompt")


def test_the_screen_decides_without_events_or_with_events_of_an_earlier_run(tmp_path):
    assert _status_of(facts(tmp_path, None, IDLE_SCREEN, output_at=150.0), 210.0, SETTINGS).why == \
        "screen: prompt box waiting for input"
    old = dict(ASK, at=50.0)      # before this run started at 100
    assert _status_of(facts(tmp_path, old, IDLE_SCREEN, output_at=150.0), 210.0, SETTINGS).kind == Kind.IDLE


def test_exited_always_wins(tmp_path):
    dead = facts(tmp_path, ASK, IDLE_SCREEN, output_at=199.0, alive=False)
    dead.agent.exit_code = 1
    assert (_status_of(dead, 210.0, SETTINGS).kind, _status_of(dead, 210.0, SETTINGS).why) == \
        (Kind.EXITED, "exit: process exited with code 1")
    shell = facts(tmp_path, dict(ASK, at=300.0), Reading(Kind.EXITED, "a shell prompt"), output_at=199.0)
    assert _status_of(shell, 310.0, SETTINGS).why == "screen: a shell prompt"


def test_a_working_event_still_goes_silent(tmp_path):
    f = facts(tmp_path, {"at": 200.0, "event": "PreToolUse", "tool_name": "Bash"}, UNKNOWN_SCREEN, output_at=199.0)
    f.agent.silence = 60.0
    s = _status_of(f, 200.0 + 100, Settings(silence=60.0))
    assert s.kind == Kind.SILENT and "event PreToolUse: running Bash" in s.why


def test_the_recorder_module_imports_only_the_standard_library_at_module_level():
    import ast
    tree = ast.parse((ROOT / "app" / "hooks.py").read_text(encoding="utf-8"))
    top = set()
    for node in tree.body:                       # module level only: functions may import lazily
        if isinstance(node, ast.Import):
            top |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "a relative import would fail when Claude runs the file directly"
            top.add(node.module.split(".")[0])
    assert top <= set(sys.stdlib_module_names) | {"__future__"}, top
