"""Faults around restart: the tmux server killed under the fleet, agents on a second socket, a forgotten record.

Each test sets up real repositories and tmux servers, breaks one thing, and checks the exact
outcome: exit codes, the one line said, refs, worktrees, panes and the argv the agent got.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import Settings, Task
from app.fleet import Fleet
from app.git.worktrees import find_repo
from tests.helpers import ROOT, git, kill_tmux, retry_until, unique_socket

pytestmark = pytest.mark.slow

# A stand-in for Claude Code: records its argv, runs the SessionStart hook command from its
# --settings file (through sh, as Claude does) with a session id, then waits like an idle Claude.
FAKE_CLAUDE = r'''#!{python}
import json, os, subprocess, sys, time
argv = sys.argv[1:]
name = os.environ["PANEBOARD_AGENT"]
with open(os.path.join(os.environ["ARGV_DIR"], name + ".jsonl"), "a") as fh:
    fh.write(json.dumps(argv) + "\n")
settings = json.load(open(argv[argv.index("--settings") + 1]))
event = {"hook_event_name": "SessionStart", "session_id": "sess-" + name, "source": "startup", "cwd": os.getcwd()}
for group in settings["hooks"]["SessionStart"]:
    for hook in group["hooks"]:
        subprocess.run(["sh", "-c", hook["command"]], input=json.dumps(event).encode(), check=True)
print("? for shortcuts", flush=True)
time.sleep(600)
'''


def run(*args: str, cwd: Path, socket: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """The real CLI; without `socket`, with no PANEBOARD_TMUX_SOCKET either (it must find agents by their record)."""
    e = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE", "PANEBOARD_TMUX_SOCKET")}
    e["PYTHONPATH"] = str(ROOT)
    if socket is not None:
        e["PANEBOARD_TMUX_SOCKET"] = socket
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env=e, timeout=60)


def one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


def panes(socket: str) -> dict[str, bool]:
    """Window name -> pane alive, on one tmux server."""
    out = subprocess.run(["tmux", "-L", socket, "list-panes", "-a", "-F", "#{window_name} #{pane_dead}"],
                         capture_output=True, text=True).stdout
    return {line.split()[0]: line.split()[1] == "0" for line in out.splitlines() if line.strip()}


@pytest.fixture
def second_socket():
    name = unique_socket()
    yield name
    kill_tmux(name)


def sleeper(tmp_path: Path) -> str:
    return shlex.join([sys.executable, "-c", "import time; print('up', flush=True); time.sleep(600)"])


def test_kill_server_then_restart_all_resumes_every_claude_session(repo: Path, tmux_socket: str, tmp_path: Path):
    bin_dir, argv_dir = tmp_path / "bin", tmp_path / "argv"
    bin_dir.mkdir()
    argv_dir.mkdir()
    (bin_dir / "claude").write_text(FAKE_CLAUDE.replace("{python}", sys.executable), encoding="utf-8")
    (bin_dir / "claude").chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "ARGV_DIR": str(argv_dir)}
    for name in ("api", "web"):
        result = run("spawn", name, "--agent", "claude", "--prompt", f"build {name}", cwd=repo, socket=tmux_socket,
                     env=env)
        assert result.returncode == 0, result.stderr
    for name in ("api", "web"):
        retry_until(lambda: (argv_dir / f"{name}.jsonl").exists())
    first = {n: json.loads((argv_dir / f"{n}.jsonl").read_text().splitlines()[0]) for n in ("api", "web")}
    assert first["api"][-1] == "build api"
    # The hook recorder took the session id from the SessionStart event.
    rows = retry_until(lambda: (r := json.loads(run("ls", "--json", cwd=repo).stdout))
                       and all(x["session_id"] for x in r) and r)
    assert {r["name"]: r["session_id"] for r in rows} == {"api": "sess-api", "web": "sess-web"}

    kill_tmux(tmux_socket)                       # a reboot, as far as the agents know
    rows = json.loads(run("ls", "--json", cwd=repo).stdout)
    assert {r["name"]: r["status"] for r in rows} == {"api": "exited", "web": "exited"}

    result = run("restart", "--all", cwd=repo, env=env)    # no --socket, no variable: the record says where
    assert result.returncode == 0, result.stderr
    assert sorted(line.split()[1] for line in result.stdout.splitlines()) == ["api", "web"]
    assert "resuming session sess-api" in result.stdout
    for name in ("api", "web"):
        argvs = retry_until(lambda: len(lines := (argv_dir / f"{name}.jsonl").read_text().splitlines()) == 2
                            and [json.loads(x) for x in lines])
        # The conversation is resumed by id, with the hooks again; the prompt is not sent again.
        assert argvs[1][:2] == ["--resume", f"sess-{name}"] and "--settings" in argvs[1]
        assert f"build {name}" not in argvs[1]
    assert panes(tmux_socket) == {"api": True, "web": True}
    rows = json.loads(run("ls", "--json", cwd=repo).stdout)
    assert all(r["pane_alive"] and r["socket"] == tmux_socket for r in rows)
    # Nothing stopped now: a second --all has nothing to do.
    result = run("restart", "--all", cwd=repo, env=env)
    assert result.returncode == 0 and "nothing to restart" in result.stdout


def test_agents_on_a_second_socket_are_found_and_never_acted_on_through_another(
        repo: Path, tmux_socket: str, second_socket: str, tmp_path: Path):
    info = find_repo(repo)
    here = Fleet(info, Settings(agent="demo", tmux_socket=tmux_socket))
    here.spawn(Task(name="home", agent=sleeper(tmp_path)))
    there = Fleet(info, Settings(agent="demo", tmux_socket=second_socket))
    away = there.spawn(Task(name="away", agent=sleeper(tmp_path)))
    # Without --socket or the variable, ls looks for each agent on the socket it lives on.
    rows = {r["name"]: r for r in json.loads(run("ls", "--json", cwd=repo).stdout)}
    assert rows["away"]["pane_alive"] and rows["away"]["socket"] == second_socket
    assert rows["home"]["pane_alive"] and rows["home"]["socket"] == tmux_socket
    assert "vanished" not in run("ls", cwd=repo).stdout

    # A --socket that disagrees: one line naming both, nothing removed or stopped.
    for argv in (("discard", "away", "--yes"), ("kill", "away"), ("merge", "away"), ("restart", "away")):
        one_line_error(run(*argv, "--socket", tmux_socket, cwd=repo), repr(tmux_socket), repr(second_socket))
    assert Path(away.worktree).is_dir() and panes(second_socket) == {"away": True}

    # Every command finds it where it lives.
    assert run("send", "away", "hello", cwd=repo, socket=tmux_socket).returncode == 0
    retry_until(lambda: "hello" in there.tmux.capture(away.pane))
    assert run("kill", "away", cwd=repo, socket=tmux_socket).returncode == 0
    assert panes(second_socket) == {} and panes(tmux_socket) == {"home": True}
    result = run("restart", "away", cwd=repo, socket=tmux_socket)
    assert result.returncode == 0, result.stderr
    assert panes(second_socket) == {"away": True} and panes(tmux_socket) == {"home": True}


def test_an_agent_whose_pane_cannot_be_seen_is_not_stopped_or_removed_unasked(
        repo: Path, tmux_socket: str, second_socket: str, tmp_path: Path):
    info = find_repo(repo)
    there = Fleet(info, Settings(agent="demo", tmux_socket=second_socket))
    away = there.spawn(Task(name="away", agent=sleeper(tmp_path)))
    (Path(away.worktree) / "work.txt").write_text("precious\n")
    with there.state.edit() as data:       # a record from before sockets were recorded
        del data["agents"]["away"]["socket"]
    state = (info.state_dir / "state.json").read_text()
    for argv, flag in ((("kill", "away"), "--force"), (("discard", "away", "--yes"), "--force"),
                       (("merge", "away"), "--force"), (("restart", "away"), "--force"), (("prune",), "--force")):
        result = run(*argv, cwd=repo, socket=tmux_socket)
        if argv == ("prune",):
            assert result.returncode == 0       # its worktree is not merged: prune would not touch it
            continue
        one_line_error(result, "away", flag, "another tmux server")
    assert (info.state_dir / "state.json").read_text() == state
    assert (Path(away.worktree) / "work.txt").read_text() == "precious\n" and panes(second_socket) == {"away": True}
    # Pointed at the right server, it is seen again, and stopping it is an ordinary stop.
    assert run("kill", "away", "--socket", second_socket, cwd=repo).returncode == 0
    assert panes(second_socket) == {}


def test_a_forgotten_branch_is_adopted_by_restart_and_spawn_says_so(repo: Path, tmux_socket: str, tmp_path: Path):
    cmd = sleeper(tmp_path)
    assert run("spawn", "lost", "--agent", cmd, cwd=repo, socket=tmux_socket).returncode == 0
    wt = Path(Fleet(find_repo(repo), Settings(tmux_socket=tmux_socket)).get("lost", stats=False).worktree)
    (wt / "draft.txt").write_text("half done\n")
    git(wt, "commit", "-q", "--allow-empty", "-m", "wip")
    assert run("kill", "lost", "--forget", cwd=repo, socket=tmux_socket).returncode == 0
    head = git(wt, "rev-parse", "HEAD")

    result = run("spawn", "lost", "--agent", cmd, cwd=repo, socket=tmux_socket)
    one_line_error(result, "paneboard restart lost")
    assert "git branch -d" not in result.stderr
    assert "lost" not in json.loads((repo / ".git" / "paneboard" / "state.json").read_text())["agents"]

    result = run("restart", "lost", "--agent", cmd, cwd=repo, socket=tmux_socket)
    assert result.returncode == 0, result.stderr
    assert panes(tmux_socket) == {"lost": True}
    assert git(wt, "rev-parse", "HEAD") == head and (wt / "draft.txt").read_text() == "half done\n"
    [row] = json.loads(run("ls", "--json", cwd=repo).stdout)
    assert row["name"] == "lost" and row["pane_alive"] and row["worktree"] == str(wt)


def test_a_forgotten_branch_without_its_worktree_gets_one_back(repo: Path, tmux_socket: str, tmp_path: Path):
    cmd = sleeper(tmp_path)
    assert run("spawn", "bare", "--agent", cmd, cwd=repo, socket=tmux_socket).returncode == 0
    wt = Path(Fleet(find_repo(repo), Settings(tmux_socket=tmux_socket)).get("bare", stats=False).worktree)
    (wt / "kept.txt").write_text("committed\n")
    git(wt, "add", "kept.txt")
    git(wt, "commit", "-q", "-m", "kept")
    assert run("kill", "bare", "--forget", cwd=repo, socket=tmux_socket).returncode == 0
    git(repo, "worktree", "remove", str(wt))
    result = run("restart", "bare", "--agent", cmd, cwd=repo, socket=tmux_socket)
    assert result.returncode == 0, result.stderr
    assert (wt / "kept.txt").read_text() == "committed\n" and panes(tmux_socket) == {"bare": True}


def test_prune_keeps_the_worktree_of_an_agent_it_cannot_see(repo: Path, tmux_socket: str, second_socket: str,
                                                             tmp_path: Path):
    info = find_repo(repo)
    there = Fleet(info, Settings(agent="demo", tmux_socket=second_socket))
    away = there.spawn(Task(name="fresh", agent=sleeper(tmp_path)))    # clean and "merged": prunable
    with there.state.edit() as data:
        del data["agents"]["fresh"]["socket"]
    kept = run("prune", cwd=repo, socket=tmux_socket)     # kept and named, never removed unasked
    assert kept.returncode == 0 and "Traceback" not in kept.stderr
    assert "kept paneboard/fresh" in kept.stdout and "another tmux server" in kept.stdout and "--force" in kept.stdout
    assert Path(away.worktree).is_dir() and panes(second_socket) == {"fresh": True}
    result = run("prune", "--force", cwd=repo, socket=tmux_socket)
    assert result.returncode == 0 and "removed paneboard/fresh" in result.stdout
