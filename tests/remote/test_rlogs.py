"""A remote agent's output log (written on its host, read over ssh) and its commits in the timeline.

The host is this machine through a real sshd, with its own clone and tmux socket: the log is
looked at where the host keeps it, and read the way a user reads it (`paneboard logs`, the
monitor, the fleet), with the host up, gone and back.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from pathlib import Path

import pytest

from app.monitor import Monitor
from tests.helpers import paneboard, retry_until, until
from tests.remote.conftest import remote_task

pytestmark = pytest.mark.slow


def host_log(host_repo: Path, name: str) -> Path:
    """Where the host keeps the agent's log (its clone's common dir)."""
    return host_repo / ".git" / "paneboard" / "logs" / f"{name}.log"


def write_task_file(fleet, sshd, host_repo: Path, remote_socket: str) -> None:
    """The task file the CLI reads: host `box` through the test's sshd."""
    ssh = ", ".join(f'"{a}"' for a in sshd.ssh_args())
    (fleet.repo.root / "paneboard.yaml").write_text(
        f"hosts:\n  box: {{ssh: [{ssh}], repo: \"{host_repo}\", tmux_socket: {remote_socket}}}\n")


def cli_logs(fleet, tmux_socket: str, name: str) -> subprocess.CompletedProcess:
    return paneboard("logs", name, cwd=fleet.repo.root, socket_name=tmux_socket)


def pane_pid(remote_socket: str, pane: str) -> int:
    out = subprocess.run(["tmux", "-L", remote_socket, "display-message", "-p", "-t", pane, "#{pane_pid}"],
                         capture_output=True, text=True).stdout
    return int(out.strip())


def pipe_of(remote_socket: str, pane: str) -> str:
    """tmux's `#{pane_pipe}` of a pane on the host: "1" when its output goes to a pipe."""
    return subprocess.run(["tmux", "-L", remote_socket, "display-message", "-p", "-t", pane, "#{pane_pipe}"],
                          capture_output=True, text=True).stdout.strip()


@contextlib.asynccontextmanager
async def watching(fleet):
    """A live monitor on the fleet for the block, stopped after it."""
    monitor = Monitor(fleet, write_status=False)
    run = asyncio.create_task(monitor.run())
    try:
        yield monitor
    finally:
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await run


def test_paneboard_logs_shows_a_remote_agents_output_from_its_log_on_the_host(box, tmp_path, sshd, host_repo,
                                                                           remote_socket, tmux_socket):
    box.spawn(remote_task(tmp_path, "there", [{"do": "say", "text": "REMOTE-LOG-WORDS"},
                                              {"do": "error", "text": "Error: disk on fire"}, {"do": "idle"}]))
    log = host_log(host_repo, "there")
    retry_until(lambda: b"REMOTE-LOG-WORDS" in log.read_bytes() if log.exists() else False)
    assert not (box.repo.common_dir / "paneboard" / "logs" / "there.log").exists()     # on the host only
    write_task_file(box, sshd, host_repo, remote_socket)
    out = retry_until(lambda: (p := cli_logs(box, tmux_socket, "there")).returncode == 0
                      and "Error: disk on fire" in p.stdout and p)
    assert "REMOTE-LOG-WORDS" in out.stdout and "\x1b" not in out.stdout      # escapes stripped as here
    assert out.stderr == ""
    # The fleet reads it the same way (the dashboard's `o` and a new dashboard's history use this).
    read = box.output_log("there")
    assert "REMOTE-LOG-WORDS" in read.text and read.where == f"box:{log.resolve()}"
    assert abs(read.written_at - log.stat().st_mtime) < 1.0


def test_a_remote_agent_killed_with_sigkill_keeps_its_log_and_a_host_away_is_one_line(box, tmp_path, sshd, host_repo,
                                                                                   remote_socket, tmux_socket):
    a = box.spawn(remote_task(tmp_path, "there", [{"do": "say", "text": "BEFORE-THE-KILL"}, {"do": "idle"}]))
    log = host_log(host_repo, "there")
    retry_until(lambda: b"BEFORE-THE-KILL" in log.read_bytes() if log.exists() else False)
    os.kill(pane_pid(remote_socket, a.pane), signal.SIGKILL)
    retry_until(lambda: not next(x for x in box.agents(stats=False) if x.name == "there").pane_alive)
    write_task_file(box, sshd, host_repo, remote_socket)
    out = cli_logs(box, tmux_socket, "there")
    assert out.returncode == 0 and "BEFORE-THE-KILL" in out.stdout
    sshd.stop()
    out = cli_logs(box, tmux_socket, "there")
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and "host 'box' is unreachable" in out.stderr
    assert "Traceback" not in out.stderr
    assert b"BEFORE-THE-KILL" in log.read_bytes()                  # nothing lost on the host
    sshd.start()
    assert "BEFORE-THE-KILL" in cli_logs(box, tmux_socket, "there").stdout


def test_a_restarted_remote_agent_writes_on_into_the_same_log(box, tmp_path, host_repo, remote_socket):
    box.spawn(remote_task(tmp_path, "there", [{"do": "say", "text": "FIRST-RUN"}, {"do": "exit", "code": 3}]))
    log = host_log(host_repo, "there")
    retry_until(lambda: not next(x for x in box.agents(stats=False) if x.name == "there").pane_alive)
    # The demo agent runs its script again: a second run prints FIRST-RUN a second time, after the first.
    again = box.restart("there")
    retry_until(lambda: log.read_bytes().count(b"FIRST-RUN") == 2)
    assert again.pane and box.output_log("there").text.count("FIRST-RUN") == 2


async def test_a_remote_agent_commits_twice_and_its_timeline_has_both_subjects(box, tmp_path):
    # A small script as the agent: it commits in its worktree on the host, printing between commits.
    script = tmp_path / "committer.sh"
    script.write_text("set -e\nfor n in one two; do\n  sleep 1\n  echo \"$n\" > \"file-$n.txt\"\n"
                      "  git add \"file-$n.txt\"\n"
                      "  git -c user.name=agent -c user.email=agent@x commit -q -m \"Add file $n\"\n"
                      "  echo \"committed $n\"\ndone\nexec sleep 600\n")
    from app.config import Task
    box.spawn(Task(name="there", agent=f"sh {script}", host="box"))

    def subjects():
        return [e.text for e in box.timeline.events("there") if e.kind == "commit"]

    async with watching(box):
        await until(lambda: len(subjects()) >= 2, timeout=40)
    got = subjects()
    assert len(got) == 2
    assert got[0].endswith(" Add file one") and got[1].endswith(" Add file two")
    assert all(len(line.split(" ", 1)[0]) >= 7 for line in got)      # "<short id> <subject>"


async def test_a_new_dashboard_reads_a_remote_agents_history_from_its_log_and_reopens_a_closed_pipe(
        box, tmp_path, host_repo, remote_socket):
    a = box.spawn(remote_task(tmp_path, "there", [
        {"do": "error", "text": "Error: database is locked (attempt {n})", "times": 3, "every": 0.2},
        {"do": "idle", "reply_work": 0.5}]))
    log = host_log(host_repo, "there")
    retry_until(lambda: log.exists() and log.read_bytes().count(b"database is locked") >= 3)
    # The pipe is closed (as after a writer that died, or an agent started by an older paneboard).
    subprocess.run(["tmux", "-L", remote_socket, "pipe-pane", "-t", a.pane], check=True)
    assert pipe_of(remote_socket, a.pane) == "0"
    async with watching(box) as monitor:
        # Its history came from the log on the host: the last output time and the errors printed.
        await until(lambda: (f := monitor._facts.get("there")) is not None and sum(f.log_errors.values()) >= 3,
                    timeout=20)
        assert monitor._facts["there"].last_output_at >= log.stat().st_mtime - 1
        # The pane whose output went nowhere is piped into its log again.
        await until(lambda: pipe_of(remote_socket, a.pane) == "1", timeout=20)
        size = log.stat().st_size
        box.send("there", "AFTER-THE-REOPEN")
        await until(lambda: b"AFTER-THE-REOPEN" in log.read_bytes()[size:], timeout=20)


async def test_a_pipe_closed_while_the_host_was_away_is_reopened_when_it_comes_back(
        box, tmp_path, sshd, host_repo, remote_socket):
    from app.model import Kind
    a = box.spawn(remote_task(tmp_path, "there", [{"do": "idle", "reply_work": 0.5}]))
    log = host_log(host_repo, "there")
    async with watching(box) as monitor:
        await until(lambda: (x := next((g for g in monitor.agents() if g.name == "there"), None)) is not None
                    and x.status.kind == Kind.IDLE, timeout=20)
        sshd.stop()
        await until(lambda: next(g for g in monitor.agents() if g.name == "there").status.kind == Kind.UNREACHABLE,
                    timeout=20)
        subprocess.run(["tmux", "-L", remote_socket, "pipe-pane", "-t", a.pane], check=True)
        assert pipe_of(remote_socket, a.pane) == "0"
        sshd.start()
        await until(lambda: pipe_of(remote_socket, a.pane) == "1", timeout=40)
        size = log.stat().st_size
        box.send("there", "BACK-AGAIN")
        await until(lambda: b"BACK-AGAIN" in log.read_bytes()[size:], timeout=20)


async def test_the_dashboard_shows_a_remote_agents_pane_and_output_log_read_over_ssh(box, tmp_path, sshd):
    from app.config import Task
    from app.dashboard import Dashboard
    from app.screens.messages import ActionFinished
    from app.screens.text import TextScreen
    from tests.helpers import demo_command, demo_script
    from tests.ui.test_dashboard import wait_for
    from widgets.pane_preview import PanePreview
    here = box.spawn(Task(name="here", agent=demo_command(demo_script(
        tmp_path, [{"do": "say", "text": "LOCAL-WORDS"}, {"do": "idle"}]))))
    there = box.spawn(remote_task(tmp_path, "there", [{"do": "say", "text": "REMOTE-WORDS"}, {"do": "idle"}]))
    assert here.pane == there.pane, "the test needs the same pane id on both servers"
    failed: list[str] = []
    app = Dashboard(box, refresh_seconds=0.2)
    async with app.run_test(size=(140, 44), message_hook=lambda m: isinstance(m, ActionFinished) and m.error
                            and failed.append(m.error)) as pilot:
        await wait_for(pilot, lambda: set(app.agents) == {"here", "there"}, timeout=20)
        await wait_for(pilot, lambda: app.main_screen.selected == "here")
        await pilot.press("j")
        await wait_for(pilot, lambda: app.main_screen.selected == "there")
        # The preview is the host's pane, never this machine's pane that has the same id.
        await wait_for(pilot, lambda: "REMOTE-WORDS" in app.query_one(PanePreview).screen_text, timeout=20)
        assert "LOCAL-WORDS" not in app.query_one(PanePreview).screen_text
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, TextScreen), timeout=20)
        assert "REMOTE-WORDS" in app.screen.body and "box:" in app.screen.title_text
        await pilot.press("escape")
        sshd.stop()
        await pilot.press("o")
        await wait_for(pilot, lambda: failed, timeout=30)
        assert "host 'box' is unreachable" in failed[0] and "\n" not in failed[0]
        assert not isinstance(app.screen, TextScreen)
