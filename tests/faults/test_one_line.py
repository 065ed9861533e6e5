"""Fault cases of issue 10 that must end in one line, never a traceback, with nothing half-done or lost.

Hostile names and prompts (items 8, 9), a full disk (item 10, on a real 6 MB tmpfs where root can
mount one), a deleted current directory and a closed pipe (item 14), a dashboard killed during a
check (item 15), and a dashboard action that fails. Real tmux, real git, real file systems.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.config import Settings, Task, TaskFile
from app.errors import PaneboardError
from app.fleet import Fleet
from tests.helpers import (
    ROOT,
    demo_command,
    demo_script,
    git,
    kill_tmux,
    make_repo,
    paneboard,
    retry_until,
    unique_socket,
)

DISK_FULL = re.compile(r"^paneboard: no space left on device while writing (/\S+): "
                       r"free some space and run the command again$")


# -- what must stay as it was ---------------------------------------------------------------


def picture(repo: Path, socket_name: str) -> dict:
    """Everything a refused or failed command must leave as it was: refs, worktrees, windows, files, state."""
    state_dir = repo / ".git" / "paneboard"
    windows = subprocess.run(["tmux", "-L", socket_name, "list-windows", "-a", "-F", "#{window_id} #{pane_dead}"],
                             capture_output=True, text=True).stdout
    files = {}
    for top in (repo, repo.parent / f"{repo.name}.paneboard"):      # the checkout and the agents' worktrees
        for p in sorted(top.rglob("*")):
            if p.is_file() and ".git" not in p.parts:
                files[str(p.relative_to(repo.parent))] = p.read_bytes()
    return {
        "refs": git(repo, "for-each-ref", "--format=%(refname) %(objectname)"),
        "worktrees": git(repo, "worktree", "list", "--porcelain"),
        "windows": windows,
        "files": files,
        "state": (state_dir / "state.json").read_bytes() if (state_dir / "state.json").exists() else None,
        "paneboard": sorted(str(p.relative_to(state_dir)) for p in state_dir.rglob("*")
                            if p.is_file() and "logs" not in p.parts and p.suffix != ".lock")
        if state_dir.exists() else [],
    }


def one_line(result: subprocess.CompletedProcess, code: int) -> str:
    """The single line a failed command printed on stderr (after any `… step` progress lines)."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if not ln.startswith("… ")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("paneboard: "), lines[0]
    return lines[0]


def idle_task(tmp_path: Path, name: str, **kw) -> Task:
    script = demo_script(tmp_path, [{"do": "say", "text": f"{name} ready"},
                                    {"do": "idle", "reply_work": 0.1}])
    return Task(name=name, agent=demo_command(script), **kw)


def idle_command(tmp_path: Path) -> str:
    return demo_command(demo_script(tmp_path, [{"do": "idle", "reply_work": 0.1}]))


# -- item 8: names with control characters -------------------------------------------------


@pytest.mark.parametrize("name, said", [
    ("bad\nname", "a newline (U+000A) at position 4"),
    ("tab\there", "a tab (U+0009) at position 4"),
    ("esc\x1b[31m", "an escape character (U+001B) at position 4"),
    ("cr\r", "a carriage return (U+000D) at position 3"),
    ("del\x7f", "a delete character (U+007F) at position 4"),
    ("sep\u2028x", "a line separator (U+2028) at position 4"),
])
def test_spawn_refuses_a_name_with_a_control_character(repo: Path, tmux_socket: str, tmp_path: Path,
                                                       name: str, said: str):
    before = picture(repo, tmux_socket)
    line = one_line(paneboard("spawn", name, "--agent", idle_command(tmp_path), cwd=repo,
                              socket_name=tmux_socket), 2)
    assert line == (f"paneboard: agent name {name!r} holds {said}: a name is one line of printable text "
                    f"(letters, digits, spaces, '-', '_', '.')")
    assert picture(repo, tmux_socket) == before


def test_up_refuses_a_task_name_with_a_newline_naming_file_and_line(repo: Path, tmux_socket: str, tmp_path: Path):
    (repo / "paneboard.yaml").write_text(
        "tasks:\n"
        f"  - name: good\n    agent: {json.dumps(idle_command(tmp_path))}\n"
        f"  - name: \"two\\nlines\"\n    agent: {json.dumps(idle_command(tmp_path))}\n", encoding="utf-8")
    git(repo, "add", "paneboard.yaml")
    git(repo, "commit", "-qm", "tasks")
    before = picture(repo, tmux_socket)
    line = one_line(paneboard("up", cwd=repo, socket_name=tmux_socket), 2)
    assert line.startswith(f"paneboard: {repo / 'paneboard.yaml'}:4: tasks[1].name: agent name 'two\\nlines' "
                           f"holds a newline (U+000A) at position 4"), line
    assert picture(repo, tmux_socket) == before


async def test_the_spawn_form_refuses_a_name_with_a_control_character(fleet: Fleet, tmp_path: Path):
    from app.dashboard import Dashboard
    from app.screens.spawn import SpawnScreen
    from tests.ui.test_dashboard import wait_for
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(140, 50)) as pilot:
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, SpawnScreen)
        form.query_one("#name").value = "evil\x1bname"
        form.query_one("#command").value = idle_command(tmp_path)
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        assert app.screen is form          # still asking: nothing was started
        shown = str(form.query_one("#error").render())
        assert "holds an escape character (U+001B) at position 5" in shown, shown
        form.query_one("#name").value = "fine name"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "fine name" in app.agents)
    assert [a.name for a in fleet.agents(stats=False)] == ["fine name"]
    branches = git(fleet.repo.root, "for-each-ref", "--format=%(refname:short)", "refs/heads/paneboard/").split()
    assert len(branches) == 1 and branches[0].startswith("paneboard/fine-name-"), branches


# -- item 9: prompts too long for a command line, NUL bytes, control characters -------------


FAKE_CLAUDE = """\
import json, os, sys, tty
# A stand-in for the claude CLI: records its argv, shows a prompt, and records what is typed or pasted.
json.dump(sys.argv[1:], open(os.environ["FAKE_CLAUDE_ARGV"], "w"))
tty.setraw(0)
sys.stdout.write("> ready\\r\\n")
sys.stdout.flush()
got = b""
while b"END-OF-PROMPT" not in got:
    chunk = os.read(0, 65536)
    if not chunk:
        break
    got += chunk
open(os.environ["FAKE_CLAUDE_GOT"], "wb").write(got)
sys.stdout.write("got it\\r\\n")
sys.stdout.flush()
import time; time.sleep(600)
"""


@pytest.fixture
def fake_claude(tmp_path: Path, monkeypatch) -> Path:
    """A `claude` on PATH (a small real program) that records its argv and its input under tmp_path."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "claude"
    exe.write_text(f"#!{sys.executable}\n{FAKE_CLAUDE}", encoding="utf-8")
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_CLAUDE_ARGV", str(tmp_path / "argv.json"))
    monkeypatch.setenv("FAKE_CLAUDE_GOT", str(tmp_path / "got.txt"))
    return tmp_path


def test_a_200_kb_prompt_to_claude_is_pasted_not_put_on_its_command_line(repo: Path, tmux_socket: str,
                                                                        fake_claude: Path):
    prompt = "BEGIN " + "x" * 200_000 + " END-OF-PROMPT"
    (repo / "paneboard.yaml").write_text(yaml_task("big", "claude", prompt), encoding="utf-8")
    result = paneboard("up", cwd=repo, socket_name=tmux_socket, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    argv = json.loads((fake_claude / "argv.json").read_text())
    settings = repo / ".git" / "paneboard" / "hooks" / "big.settings.json"
    assert argv == ["--settings", str(settings)]       # started without the prompt ...
    got = retry_until(lambda: (fake_claude / "got.txt").exists() and (fake_claude / "got.txt").read_bytes())
    assert prompt.encode() in got                       # ... which reached it whole, pasted


def test_a_failed_claude_spawn_leaves_no_hook_settings_branch_worktree_or_window(repo: Path, tmux_socket: str,
                                                                                 fake_claude: Path):
    # An environment value too big for a tmux command: the window cannot be made.
    (repo / "paneboard.yaml").write_text(yaml_task("toolong", "claude", "hello", env={"BIG": "y" * 20_000}),
                                         encoding="utf-8")
    git(repo, "add", "paneboard.yaml")
    git(repo, "commit", "-qm", "tasks")
    before = picture(repo, tmux_socket)
    line = one_line(paneboard("up", cwd=repo, socket_name=tmux_socket), 2)
    assert line == ("paneboard: spawn failed at step 'tmux window': tmux new-session failed: command too long "
                    "(rolled back; nothing was left behind)")
    assert picture(repo, tmux_socket) == before
    assert not list((repo / ".git" / "paneboard" / "hooks").glob("*.settings.json"))


def yaml_task(name: str, agent: str, prompt: str, env: dict | None = None, extra: str = "") -> str:
    text = f"  - name: {json.dumps(name)}\n    agent: {json.dumps(agent)}\n    prompt: {json.dumps(prompt)}\n"
    if env:
        text += "    env:\n" + "".join(f"      {k}: {json.dumps(v)}\n" for k, v in env.items())
    return "tasks:\n" + extra + text


def test_up_refuses_a_prompt_with_a_nul_byte_before_starting_any_task(repo: Path, tmux_socket: str, tmp_path: Path):
    first = f"  - name: first\n    agent: {json.dumps(idle_command(tmp_path))}\n    prompt: hello\n"
    (repo / "paneboard.yaml").write_text(yaml_task("second", idle_command(tmp_path), "line one\nbad\0byte",
                                                   extra=first), encoding="utf-8")
    git(repo, "add", "paneboard.yaml")
    git(repo, "commit", "-qm", "tasks")
    before = picture(repo, tmux_socket)
    line = one_line(paneboard("up", cwd=repo, socket_name=tmux_socket), 2)
    assert line == (f"paneboard: {repo / 'paneboard.yaml'}:7: tasks[1] (second).prompt: the prompt holds a NUL byte "
                    f"(U+0000) at line 2, column 4: remove it (a prompt is plain text)")
    assert picture(repo, tmux_socket) == before


@pytest.mark.parametrize("bad, said", [
    ({"name": "second", "prompt": "a\0b"}, "task 'second': the prompt holds a NUL byte (U+0000) at line 1, column 2"),
    ({"name": "second", "prompt": "paste \x1b[201~ then keys"},
     "task 'second': the prompt holds an escape character (U+001B) at line 1, column 7"),
    ({"name": "second", "prompt": "z" * (1024 * 1024 + 1)}, "task 'second': the prompt is 1.0 MB; paneboard delivers"),
    ({"name": "sec\nond"}, "agent name 'sec\\nond' holds a newline (U+000A) at position 4"),
])
def test_up_validates_every_task_before_starting_any(fleet: Fleet, tmp_path: Path, tmux_socket: str,
                                                     bad: dict, said: str):
    # A task file built in code (not parsed): Fleet.up itself checks every task first.
    tasks = (idle_task(tmp_path, "first", prompt="hello"), idle_task(tmp_path, "queued", after=("first",)),
             idle_task(tmp_path, **bad))
    before = picture(fleet.repo.root, tmux_socket)
    with pytest.raises(PaneboardError) as caught:
        fleet.up(TaskFile(None, fleet.settings, tasks))
    assert str(caught.value).startswith(said), str(caught.value)
    assert str(caught.value).endswith("; nothing was started")
    assert picture(fleet.repo.root, tmux_socket) == before
    assert fleet.queued() == []


def test_spawn_refuses_a_prompt_with_an_escape_character(repo: Path, tmux_socket: str, tmp_path: Path):
    before = picture(repo, tmux_socket)
    line = one_line(paneboard("spawn", "p1", "--agent", idle_command(tmp_path), "--prompt", "ok\n\x1b[201~rm -rf",
                              cwd=repo, socket_name=tmux_socket), 2)
    assert line == ("paneboard: task 'p1': the prompt holds an escape character (U+001B) at line 2, column 1: "
                    "remove it (a prompt is plain text)")
    assert picture(repo, tmux_socket) == before


# -- item 10: a full disk --------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path):
    """A real 6 MB tmpfs mounted under tmp_path (root only), unmounted at the end."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    for _ in range(50):  # the tmux server's panes (cwd on it) are killed by the tmux_socket fixture
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode == 0:
            return
        time.sleep(0.1)
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(mount: Path) -> None:
    """Write a file until the disk refuses more."""
    with open(mount / "filler", "wb") as fh:
        while True:
            try:
                fh.write(b"\0" * 65536)
                fh.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
    assert os.statvfs(mount).f_bavail == 0


@pytest.fixture
def full_disk(small_disk: Path, tmux_socket: str, tmp_path: Path):
    """A repository on a full 6 MB disk with two agents: `keep` (clean, running) and `work` (an edit, a new file)."""
    repo = make_repo(small_disk / "project")
    for name in ("keep", "work"):
        assert paneboard("spawn", name, "--agent", idle_command(tmp_path), cwd=repo,
                         socket_name=tmux_socket).returncode == 0
    work = small_disk / "project.paneboard" / "work"
    (work / "README.md").write_text("# changed by work\n", encoding="utf-8")
    (work / "new.txt").write_text("new work\n", encoding="utf-8")
    fill(small_disk)
    return repo


@pytest.mark.parametrize("argv", [["kill", "keep"], ["discard", "work", "--yes"], ["spawn", "third"],
                                  ["merge", "work"]], ids=["kill", "discard", "spawn", "merge"])
def test_a_full_disk_is_one_line_and_nothing_is_half_done(full_disk: Path, tmux_socket: str, tmp_path: Path,
                                                          argv: list[str]):
    repo = full_disk
    if argv[0] == "spawn":
        argv = argv + ["--agent", idle_command(tmp_path)]
    before = picture(repo, tmux_socket)
    line = one_line(paneboard(*argv, cwd=repo, socket_name=tmux_socket), 1)
    m = DISK_FULL.match(line)
    assert m, line
    assert Path(m.group(1)).is_relative_to(repo.parent), line
    if argv[0] in ("kill", "discard"):
        assert m.group(1) == str(repo / ".git" / "paneboard" / "state.json")
    assert picture(repo, tmux_socket) == before      # state file, refs, worktrees, windows, files: as they were
    assert [a for a in ls_json(repo, tmux_socket) if a["status"] in ("exited", "stopped")] == []
    # Space again: the same command now works.
    (repo.parent / "filler").unlink()
    assert paneboard(*argv, cwd=repo, socket_name=tmux_socket).returncode == 0


def ls_json(repo: Path, socket_name: str) -> list[dict]:
    result = paneboard("ls", "--json", cwd=repo, socket_name=socket_name)
    assert result.returncode == 0, result.stderr
    return [{"name": a["name"], "status": a["status"]} for a in json.loads(result.stdout)]


async def test_stop_on_a_full_disk_is_a_notification_and_a_log_line_and_the_dashboard_goes_on(
        full_disk: Path, tmux_socket: str):
    from app.dashboard import Dashboard
    from app.screens.confirm import ConfirmScreen
    from tests.ui.test_dashboard import wait_for
    repo = full_disk
    fleet = Fleet.open(repo, settings=Settings(tmux_socket=tmux_socket))
    before = picture(repo, tmux_socket)
    app = Dashboard(fleet, refresh_seconds=0.2)
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_for(pilot, lambda: app.main_screen.selected == "keep")
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        state = repo / ".git" / "paneboard" / "state.json"
        said = (f"no space left on device while writing {state}: free some space and run the command again")
        await wait_for(pilot, lambda: any(n.message == said for n in app._notifications))
        note = next(n for n in app._notifications if n.message == said)
        assert note.title == "stop keep" and note.severity == "error"
        log = app.main_screen.trigger_log
        squeezed = lambda text: "".join(text.split())  # the log wraps long lines anywhere
        await wait_for(pilot, lambda: squeezed(f"stop keep: {said}") in squeezed("".join(ln.text for ln in log.lines)))
        # The dashboard goes on: it still answers keys and shows the agents.
        await pilot.press("j")
        await wait_for(pilot, lambda: app.main_screen.selected == "work")
        assert app.is_running
    assert picture(repo, tmux_socket) == before
    assert fleet.get("keep", stats=False).pane_alive


# -- item 14: the current directory removed, a closed pipe --------------------------------


def test_merge_from_inside_the_agents_worktree_then_the_next_command_says_cd(repo: Path, tmux_socket: str,
                                                                             tmp_path: Path):
    assert paneboard("spawn", "inside", "--agent", idle_command(tmp_path), cwd=repo,
                     socket_name=tmux_socket).returncode == 0
    worktree = repo.parent / "project.paneboard" / "inside"
    (worktree / "inside.txt").write_text("made inside\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    env.update(PANEBOARD_TMUX_SOCKET=tmux_socket, PYTHONPATH=str(ROOT))
    cli = shlex.join([sys.executable, "-m", "app.cli"])
    # One shell stays in the worktree: merge removes it, then `ls` runs from the deleted directory.
    script = f'cd "$1" && {cli} merge inside; echo "merge=$?"; {cli} ls; echo "ls=$?"'
    done = subprocess.run(["sh", "-c", script, "sh", str(worktree)], capture_output=True, text=True, env=env,
                          timeout=120)
    assert "merge=0" in done.stdout and "ls=2" in done.stdout, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    errors = [ln for ln in done.stderr.splitlines() if not ln.startswith("… ")]
    assert errors == ["paneboard: the current directory no longer exists: cd to your repository"]
    assert not worktree.exists()
    assert git(repo, "show", "main:inside.txt") == "made inside\n"     # merged into main


def test_ls_into_a_closed_pipe_exits_quietly(repo: Path, tmux_socket: str, tmp_path: Path):
    for i in range(3):
        assert paneboard("spawn", f"a{i}", "--agent", idle_command(tmp_path), cwd=repo,
                         socket_name=tmux_socket).returncode == 0
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    env.update(PANEBOARD_TMUX_SOCKET=tmux_socket, PYTHONPATH=str(ROOT))
    # Like `paneboard ls | head -0`: the reader is gone before ls writes a line.
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "ls"], cwd=repo, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert err == b""
    assert proc.returncode == 141


# -- item 15: a dashboard killed during a check -----------------------------------------------


CHECK = """\
import os, subprocess, sys, time
child = subprocess.Popen(["sleep", "30"])
with open(sys.argv[1] + ".tmp", "w") as fh:
    fh.write(f"{os.getpid()} {child.pid}")
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(30)
"""


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting for a reaper."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def check_task(tmp_path: Path, fleet: Fleet) -> Path:
    """An agent whose check runs `sleep 30` (with a child `sleep 30` in its group); where it writes both pids."""
    script = tmp_path / "check.py"
    script.write_text(CHECK, encoding="utf-8")
    pids = tmp_path / "check.pids"
    fleet.spawn(idle_task(tmp_path, "chk", check=shlex.join([sys.executable, str(script), str(pids)])))
    return pids


def test_a_dashboard_killed_during_a_check_leaves_no_check_running(fleet: Fleet, tmp_path: Path, tmux_socket: str):
    pids_file = check_task(tmp_path, fleet)
    ui = unique_socket()
    env = [f"PANEBOARD_TMUX_SOCKET={tmux_socket}", f"PYTHONPATH={ROOT}"]
    try:
        subprocess.run(["tmux", "-L", ui, "new-session", "-d", "-s", "ui", "-x", "160", "-y", "48",
                        *[arg for e in env for arg in ("-e", e)], "-c", str(fleet.repo.root), "--",
                        sys.executable, "-m", "app.cli", "dashboard"], check=True)
        screen = lambda: subprocess.run(["tmux", "-L", ui, "capture-pane", "-p", "-t", "ui"],
                                        capture_output=True, text=True).stdout
        retry_until(lambda: "chk" in screen() and "Check" in screen(), timeout=30)
        subprocess.run(["tmux", "-L", ui, "send-keys", "-t", "ui", "t"], check=True)
        check_pid, child_pid = map(int, retry_until(lambda: pids_file.exists() and pids_file.read_text().split(), timeout=30))
        assert alive(check_pid) and alive(child_pid)
        dashboard = int(subprocess.run(["tmux", "-L", ui, "display-message", "-p", "-t", "ui", "#{pane_pid}"],
                                       capture_output=True, text=True, check=True).stdout)
        os.kill(dashboard, signal.SIGKILL)
        retry_until(lambda: not alive(dashboard), timeout=10)
        retry_until(lambda: not alive(check_pid) and not alive(child_pid), timeout=10)
    finally:
        kill_tmux(ui)


def test_a_check_command_killed_with_sigkill_leaves_no_check_running(fleet: Fleet, tmp_path: Path, tmux_socket: str):
    pids_file = check_task(tmp_path, fleet)
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    env.update(PANEBOARD_TMUX_SOCKET=tmux_socket, PYTHONPATH=str(ROOT))
    cli = subprocess.Popen([sys.executable, "-m", "app.cli", "check", "chk"], cwd=fleet.repo.root, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        check_pid, child_pid = map(int, retry_until(lambda: pids_file.exists() and pids_file.read_text().split(), timeout=30))
        cli.send_signal(signal.SIGKILL)
        cli.wait()
        retry_until(lambda: not alive(check_pid) and not alive(child_pid), timeout=10)
    finally:
        if cli.poll() is None:
            cli.kill()


# -- the last resort: an unexpected error is one line and a report -----------------------


def test_an_unexpected_error_is_one_line_with_a_report_file(repo: Path, tmux_socket: str, monkeypatch, capsys):
    from app import cli

    def broken(fleet, args):
        raise RuntimeError("boom\nsecond line")
    monkeypatch.setitem(cli._COMMANDS, "ls", broken)
    monkeypatch.chdir(repo)
    assert cli.main(["ls"]) == 1
    err = capsys.readouterr().err
    m = re.fullmatch(r"paneboard: internal error: RuntimeError: boom second line "
                     r"\(a bug: please report it with (/\S+paneboard-crash-\S+\.txt)\)\n", err)
    assert m, err
    report = Path(m.group(1))
    try:
        assert "Traceback" in report.read_text() and "RuntimeError: boom" in report.read_text()
    finally:
        report.unlink()
