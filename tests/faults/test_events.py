"""Faults in an agent's events: garbage, a huge event, an events file that is a directory, a missing
events folder. The agent is never blocked: the recorder exits 0 at once, and the reader skips what it cannot use."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from app import hooks

ROOT = Path(__file__).resolve().parents[2]


def recorder(events: Path, cli: str = "claude", mode: str = "record") -> list[str]:
    return [sys.executable, "-I", "-S", str(ROOT / "app" / "hooks.py"), mode, str(events), cli]


def run(argv, stdin: bytes = b"") -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.monotonic()
    proc = subprocess.run(argv, input=stdin, capture_output=True, timeout=30)
    return proc, time.monotonic() - t0


def test_garbage_lines_are_skipped_and_the_next_event_still_counts(tmp_path):
    ev = tmp_path / "a.jsonl"
    ev.write_bytes(b'\xff\xfe\x00garbage\n{"event":\n[1,2]\n"text"\n{"at": "x", "event": "Stop"}\n')
    follow = hooks.EventsFile(ev)
    follow.poll()
    assert follow.hint is None
    hooks.record(ev, {"type": "agent-turn-complete", "thread-id": "thread-abc123"}, at=50.0, cli="codex")
    assert follow.poll() is True
    assert follow.hint.why == "event Stop (codex): the turn ended; waiting for a prompt"
    assert follow.session_id == "thread-abc123"


def test_a_huge_event_is_recorded_by_its_name_and_fast(tmp_path):
    ev = tmp_path / "a.jsonl"
    huge = json.dumps({"hook_event_name": "PreToolUse", "tool_name": "Write",
                       "tool_input": {"content": "x" * (hooks.MAX_INPUT + 10)}}).encode()
    proc, took = run(recorder(ev), huge)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")
    [line] = [json.loads(x) for x in ev.read_text().splitlines()]
    assert line["event"] == "PreToolUse" and ev.stat().st_size < 1000
    print(f"huge event recorded in {took * 1000:.0f} ms")


def test_an_events_file_that_is_a_directory_blocks_nothing(tmp_path):
    ev = tmp_path / "a.jsonl"
    ev.mkdir()
    proc, _ = run(recorder(ev), b'{"hook_event_name": "Stop", "session_id": "abcdef1"}')
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")
    follow = hooks.EventsFile(ev)
    assert follow.poll() is False and follow.hint is None
    assert hooks.last_session_id(ev) is None


def test_a_missing_events_dir_is_not_created_and_the_hook_exits_0(tmp_path):
    ev = tmp_path / "gone" / "a.jsonl"
    for argv, stdin in ((recorder(ev), b'{"hook_event_name": "Stop"}'),
                        (recorder(ev, "codex", "notify") + ['{"type": "agent-turn-complete"}'], b""),
                        (recorder(ev, "aider", "notify"), b"")):
        proc, took = run(argv, stdin)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b""), argv
        assert took < 10
    assert not ev.parent.exists()


def test_an_unknown_cli_or_mode_records_nothing(tmp_path):
    ev = tmp_path / "a.jsonl"
    for argv in (recorder(ev, "../../etc/passwd"), recorder(ev, "claude", "exec")):
        proc, _ = run(argv, b'{"hook_event_name": "Stop"}')
        assert proc.returncode == 0
    assert not ev.exists()
