"""app.git.checks: pass, fail, timeout, missing commands, and hostile text that must never reach a shell."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import pytest

from app.git.checks import run_check, run_check_async

PY = shlex.quote(sys.executable)


@pytest.fixture(params=["sync", "async"])
def check(request):
    """run_check, or run_check_async driven to completion, behind one signature."""
    if request.param == "sync":
        return run_check
    import asyncio

    def run(*args, **kwargs):
        return asyncio.run(run_check_async(*args, **kwargs))
    return run


def test_pass_runs_in_the_worktree_and_logs(tmp_path: Path, check):
    (tmp_path / "marker.txt").write_text("here\n")
    log = tmp_path / "logs" / "check.log"
    result = check(tmp_path, f"{PY} -c \"import os; print(open('marker.txt').read().strip()); print('3 passed')\"",
                   log, timeout=30)
    assert result.passed and result.exit_code == 0 and result.log_path == log
    assert result.summary_line == "3 passed" and result.duration < 30
    assert "here" in log.read_text()


def test_fail_reports_exit_code_and_last_line(tmp_path: Path, check):
    result = check(tmp_path, f"{PY} -c \"import sys; print('1 failed, 2 passed', file=sys.stderr); sys.exit(3)\"",
                   tmp_path / "c.log", timeout=30)
    assert not result.passed and result.exit_code == 3 and result.summary_line == "1 failed, 2 passed"


def test_timeout_kills_the_whole_process_group(tmp_path: Path, check):
    pidfile = tmp_path / "child.pid"
    code = ("import subprocess, sys, time; "
            f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
            f"open({str(pidfile)!r}, 'w').write(str(p.pid)); print('started', flush=True); time.sleep(60)")
    started = time.monotonic()
    result = check(tmp_path, shlex.join([sys.executable, "-c", code]), tmp_path / "t.log", timeout=1.0)
    assert time.monotonic() - started < 10
    assert not result.passed and result.exit_code is None and "timed out after 1s" == result.summary_line
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while Path(f"/proc/{child}").exists() and "zombie" not in _state(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{child}").exists() or "zombie" in _state(child)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return "zombie"


@pytest.mark.parametrize("hostile", [
    "echo hi; touch pwned",
    "echo hi && touch pwned",
    "echo $(touch pwned)",
    "echo `touch pwned`",
    "echo hi | touch pwned",
    "echo hi > pwned",
])
def test_hostile_text_is_arguments_not_shell(tmp_path: Path, check, hostile: str):
    result = check(tmp_path, hostile, tmp_path / "h.log", timeout=30)
    assert result.passed
    assert not (tmp_path / "pwned").exists()
    # echo received the metacharacters as plain arguments and printed them back.
    assert result.summary_line == " ".join(shlex.split(hostile)[1:])


def test_missing_command_and_empty_command(tmp_path: Path, check):
    missing = check(tmp_path, "no-such-command-paneboard --flag", tmp_path / "m.log", timeout=5)
    assert not missing.passed and missing.exit_code == 127
    assert missing.summary_line == "command not found: no-such-command-paneboard"
    empty = check(tmp_path, "   ", tmp_path / "e.log", timeout=5)
    assert not empty.passed and empty.summary_line == "empty check command"


def test_unbalanced_quotes_are_an_error(tmp_path: Path):
    with pytest.raises(ValueError, match="cannot be split"):
        run_check(tmp_path, "echo 'unterminated", tmp_path / "q.log", timeout=5)


async def test_async_variant_does_not_block_the_loop(tmp_path: Path):
    import asyncio
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    result = await run_check_async(tmp_path, f"{PY} -c \"import time; time.sleep(0.5); print('ok')\"",
                                   tmp_path / "a.log", timeout=10)
    task.cancel()
    assert result.passed and result.summary_line == "ok" and ticks > 10
