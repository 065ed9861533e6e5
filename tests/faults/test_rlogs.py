"""Faults in a remote agent's output log: garbage in the file, the file removed on the host, the writer's
folder removed. (A full disk on the host is not simulated: no tiny tmpfs can be mounted here.)"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import threading
from pathlib import Path

import pytest

from app.model import Kind
from app.monitor import Monitor
from app.tmux import logs
from tests.helpers import paneboard, retry_until, until
from tests.remote.conftest import box, host_repo, remote_socket, remote_task, sshd  # noqa: F401  (real sshd)

pytestmark = pytest.mark.slow

GARBAGE = (random.Random(14).randbytes(32768)
           + b"\x00\x01\xff\xfe\x1b[31mred\x1b[0m \x1b]0;title\x07 \x1bP+q\x1b\\ \xc3\x28 \x9b2J \xc2\x9b2J\r\n" * 200
           + b"\nLAST-LINE\n")
CONTROLS = {chr(c) for c in [*range(0x00, 0x20), *range(0x7f, 0xa0)]} - {"\n", "\t"}


def host_log(host_repo: Path, name: str) -> Path:
    return host_repo / ".git" / "paneboard" / "logs" / f"{name}.log"


def write_task_file(fleet, sshd, host_repo: Path, remote_socket: str) -> None:
    ssh = ", ".join(f'"{a}"' for a in sshd.ssh_args())
    (fleet.repo.root / "paneboard.yaml").write_text(
        f"hosts:\n  box: {{ssh: [{ssh}], repo: \"{host_repo}\", tmux_socket: {remote_socket}}}\n")


def spawned(box, tmp_path, host_repo, text: str) -> tuple:
    a = box.spawn(remote_task(tmp_path, "there", [{"do": "say", "text": text}, {"do": "idle", "reply_work": 0.3}]))
    log = host_log(host_repo, "there")
    retry_until(lambda: log.exists() and text.encode() in log.read_bytes())
    return a, log


async def test_a_log_full_of_garbage_reads_as_plain_text_in_the_cli_and_a_new_dashboard(
        box, tmp_path, sshd, host_repo, remote_socket, tmux_socket):
    _, log = spawned(box, tmp_path, host_repo, "HELLO")
    with open(log, "ab") as fh:
        fh.write(GARBAGE)
    write_task_file(box, sshd, host_repo, remote_socket)
    out = paneboard("logs", "there", cwd=box.repo.root, socket_name=tmux_socket)
    assert out.returncode == 0 and out.stderr == ""
    assert "LAST-LINE" in out.stdout and "red" in out.stdout
    assert not CONTROLS & set(out.stdout), sorted(CONTROLS & set(out.stdout))
    monitor = Monitor(box, write_status=False)
    run = asyncio.create_task(monitor.run())
    try:
        await until(lambda: (a := next((x for x in monitor.agents() if x.name == "there"), None)) is not None
                    and a.status.kind == Kind.IDLE, timeout=20)
        # Its history was read from the garbage before its first status (the log's time is its last output).
        assert monitor._facts["there"].last_output_at >= log.stat().st_mtime - 1
    finally:
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await run


def test_a_log_removed_on_the_host_is_one_line_and_the_next_output_starts_a_new_one(
        box, tmp_path, sshd, host_repo, remote_socket, tmux_socket):
    _, log = spawned(box, tmp_path, host_repo, "HELLO")
    log.unlink()
    write_task_file(box, sshd, host_repo, remote_socket)
    out = paneboard("logs", "there", cwd=box.repo.root, socket_name=tmux_socket)
    assert out.returncode == 0 and out.stderr == ""
    assert out.stdout == f"no output recorded for there yet (box:{log.resolve()})\n"
    box.send("there", "AFTER-THE-REMOVAL")
    retry_until(lambda: log.exists() and b"AFTER-THE-REMOVAL" in log.read_bytes())
    assert "AFTER-THE-REMOVAL" in box.output_log("there").text


def test_the_writers_folder_removed_on_the_host_comes_back_with_the_next_restart(box, tmp_path, host_repo):
    _, log = spawned(box, tmp_path, host_repo, "HELLO")
    shutil.rmtree(host_repo / ".git" / "paneboard" / "runtime")
    box.kill("there")
    box.restart("there")
    retry_until(lambda: log.read_bytes().count(b"HELLO") == 2)


def test_the_writer_starts_a_new_log_when_its_file_is_removed_but_never_makes_a_removed_folder_again(tmp_path):
    path = tmp_path / "repo" / "logs" / "agent.log"
    read_fd, write_fd = os.pipe()
    writer = threading.Thread(target=logs.write_stream, args=(read_fd, path))
    writer.start()
    try:
        os.write(write_fd, b"first\n")
        retry_until(lambda: path.exists() and path.read_bytes() == b"first\n")
        path.unlink()
        os.write(write_fd, b"second\n")
        retry_until(lambda: path.exists() and path.read_bytes() == b"second\n")
        # The whole repository deleted on purpose: its output goes nowhere, no folder comes back.
        shutil.rmtree(tmp_path / "repo")
        os.write(write_fd, b"third\n")
        os.write(write_fd, b"fourth\n")
        os.close(write_fd)
        write_fd = None
        writer.join(5)
        assert not (tmp_path / "repo").exists()
    finally:
        if write_fd is not None:
            os.close(write_fd)
        writer.join(5)
        os.close(read_fd)
    assert not writer.is_alive()


def test_logs_of_a_local_agent_read_its_log_here_and_bad_input_is_one_line_exit_2(fleet, tmp_path, tmux_socket):
    from app.config import Task
    from tests.helpers import demo_command, demo_script
    fleet.spawn(Task(name="here", agent=demo_command(demo_script(tmp_path, [
        {"do": "say", "text": "LOCAL-\x1b[1mBOLD\x1b[0m-WORDS"}, {"do": "idle"}]))))
    log = logs.log_path(fleet.repo.common_dir, "here")
    retry_until(lambda: log.exists() and b"LOCAL-" in log.read_bytes())
    out = paneboard("logs", "here", cwd=fleet.repo.root, socket_name=tmux_socket)
    assert out.returncode == 0 and "LOCAL-BOLD-WORDS" in out.stdout and "\x1b" not in out.stdout
    for args, words in ((("nobody",), "no agent named 'nobody'"), (("here", "--bytes", "0"), "--bytes")):
        out = paneboard("logs", *args, cwd=fleet.repo.root, socket_name=tmux_socket)
        assert out.returncode == 2 and out.stdout == "" and out.stderr.count("\n") == 1
        assert words in out.stderr and "Traceback" not in out.stderr
