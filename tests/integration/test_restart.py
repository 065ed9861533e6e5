"""Restart: every way an agent stops, then `paneboard restart`; resume ids; `up` on stopped agents; bad input.

Real tmux (a private server per test), real git, real processes: a small agent script that
notes each start (its argv, PORT, env and directory) in a file outside the worktree.
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

from app.config import Settings, Task
from app.fleet import Fleet
from app.git.worktrees import find_repo
from tests.helpers import demo_command, demo_script, git, paneboard, retry_until

pytestmark = pytest.mark.slow

# An agent that notes each start, then lives on (or exits with $EXIT_WITH).
AGENT = r'''
import json, os, sys, time
with open(os.environ["STARTS"], "a") as fh:
    fh.write(json.dumps({"argv": sys.argv[1:], "port": os.environ.get("PORT"), "flavour": os.environ.get("FLAVOUR"),
                         "cwd": os.getcwd()}) + "\n")
print("agent up", flush=True)
if os.environ.get("EXIT_WITH"):
    time.sleep(float(os.environ.get("LINGER", "0")))
    sys.exit(int(os.environ["EXIT_WITH"]))
time.sleep(600)
'''


def starts(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def fleet_on(repo: Path, socket: str) -> Fleet:
    return Fleet(find_repo(repo), Settings(agent="demo", tmux_socket=socket, silence=3600.0))


def spawn_agent(fleet: Fleet, tmp_path: Path, name: str, exit_with: str = "", prompt: str = "do it",
                linger: float = 0.0) -> Path:
    script = tmp_path / "agent.py"
    script.write_text(AGENT, encoding="utf-8")
    log = tmp_path / f"starts-{name}.jsonl"
    env = {"STARTS": str(log), "FLAVOUR": "mint"}
    if exit_with:
        env["EXIT_WITH"], env["LINGER"] = exit_with, str(linger)
    fleet.spawn(Task(name=name, agent=shlex.join([sys.executable, str(script)]), prompt=prompt, env=env))
    retry_until(lambda: len(starts(log)) == 1)
    assert fleet.wait_for_prompts(timeout=30)   # its prompt is pasted by a process of its own, which records it
    return log


def worktree_state(path: Path) -> tuple[str, str, str]:
    return (git(path, "rev-parse", "HEAD"), git(path, "status", "--porcelain", "--untracked-files=all"),
            (path / "notes.txt").read_text())


def everything(repo: Path, socket: str) -> tuple:
    """What a refused command must leave as it was: state file, branches, worktrees, tmux windows."""
    state = (repo / ".git" / "paneboard" / "state.json").read_text()
    windows = subprocess.run(["tmux", "-L", socket, "list-panes", "-a", "-F", "#{pane_id} #{pane_dead}"],
                             capture_output=True, text=True).stdout
    return (state, git(repo, "for-each-ref", "refs/heads"), git(repo, "worktree", "list", "--porcelain"), windows)


def _stop_exit0(fleet, name, socket):
    pass                    # the agent exits by itself (EXIT_WITH=0)


def _stop_crash(fleet, name, socket):
    pass                    # ... with 3


def _stop_kill(fleet, name, socket):
    assert paneboard("kill", name, cwd=fleet.repo.root, socket_name=socket).returncode == 0


def _stop_pane_killed(fleet, name, socket):
    subprocess.run(["tmux", "-L", socket, "kill-window", "-t", fleet.get(name, stats=False).pane], check=True)


def _stop_restore(fleet, name, socket):
    assert paneboard("discard", name, "--yes", cwd=fleet.repo.root, socket_name=socket).returncode == 0
    assert paneboard("restore", name, cwd=fleet.repo.root, socket_name=socket).returncode == 0


STOPS = {"exit0": ("0", _stop_exit0), "crash": ("3", _stop_crash), "kill": ("", _stop_kill),
         "pane-killed": ("", _stop_pane_killed), "restore": ("", _stop_restore)}


@pytest.mark.parametrize("how", list(STOPS))
def test_restart_after_every_way_of_stopping(repo: Path, tmux_socket: str, tmp_path: Path, how: str):
    exit_with, stop = STOPS[how]
    fleet = fleet_on(repo, tmux_socket)
    log = spawn_agent(fleet, tmp_path, "worker", exit_with=exit_with)
    agent = fleet.get("worker", stats=False)
    wt = Path(agent.worktree)
    (wt / "notes.txt").write_text("uncommitted work\n")
    git(wt, "add", "notes.txt")
    if exit_with:
        retry_until(lambda: not fleet.get("worker", stats=False).pane_alive)
    stop(fleet, "worker", tmux_socket)
    before = worktree_state(wt)
    assert not fleet.get("worker", stats=False).pane_alive

    result = paneboard("restart", "worker", cwd=repo, socket_name=tmux_socket)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("restarted worker  paneboard/worker") and "started as before" in result.stdout
    runs = retry_until(lambda: len(starts(log)) == 2 and starts(log))
    # The same agent again: its worktree, its PORT, its env, its prompt (a custom command starts as it was).
    assert runs[1] == runs[0] and runs[1]["cwd"] == str(wt) and runs[1]["flavour"] == "mint"
    assert runs[1]["port"] == str(agent.port)
    assert worktree_state(wt) == before
    after = fleet.get("worker", stats=False)
    assert after.branch == agent.branch and after.worktree == agent.worktree and after.pane is not None
    restarts = [e for e in fleet.timeline.events("worker") if e.kind == "restart"]
    assert [(e.text, e.source) for e in restarts] == [("started again as it was first started", "cli")]
    if not exit_with:
        assert after.pane_alive
        row = json.loads(paneboard("ls", "--json", cwd=repo, socket_name=tmux_socket).stdout)[0]
        assert row["status"] != "exited" and row["pane_alive"] and not row["triggers"]


def test_restart_refuses_bad_input_and_changes_nothing(repo: Path, tmux_socket: str, tmp_path: Path):
    fleet = fleet_on(repo, tmux_socket)
    spawn_agent(fleet, tmp_path, "running")
    spawn_agent(fleet, tmp_path, "done")
    wt = Path(fleet.get("done", stats=False).worktree)
    (wt / "feature.txt").write_text("new\n")
    fleet.merge("done")
    spawn_agent(fleet, tmp_path, "thrown")
    assert paneboard("discard", "thrown", "--yes", cwd=repo, socket_name=tmux_socket).returncode == 0
    before = everything(repo, tmux_socket)
    cases = {("restart", "running"): "already running", ("restart", "done"): "merged",
             ("restart", "thrown"): "discarded", ("restart", "nobody"): "no agent named 'nobody'",
             ("restart",): "NAME or --all", ("restart", "running", "--all"): "NAME or --all",
             ("restart", "bad\nname"): "no agent named"}
    for argv, words in cases.items():
        result = paneboard(*argv, cwd=repo, socket_name=tmux_socket)
        assert result.returncode == 2, (argv, result)
        assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1, (argv, result.stderr)
        assert words in result.stderr and "Traceback" not in result.stderr
        assert everything(repo, tmux_socket) == before, argv


def test_merged_agent_keeps_what_was_merged_in_ls(repo: Path, tmux_socket: str, tmp_path: Path):
    fleet = fleet_on(repo, tmux_socket)
    spawn_agent(fleet, tmp_path, "feature")
    wt = Path(fleet.get("feature", stats=False).worktree)
    (wt / "a.txt").write_text("one\ntwo\n")
    (wt / "README.md").write_text("# changed\n")
    fleet.merge("feature")
    [row] = json.loads(paneboard("ls", "--json", cwd=repo, socket_name=tmux_socket).stdout)
    assert row["merged"] and sorted(row["files"]) == ["README.md", "a.txt"]
    assert (row["files_changed"], row["added"], row["removed"]) == (2, 3, 1)
    line = paneboard("ls", cwd=repo, socket_name=tmux_socket).stdout.splitlines()[1]
    assert " 2 " in line and "+3/-1" in line


def test_up_leaves_running_alone_names_stopped_and_restarts_them_when_asked(repo: Path, tmux_socket: str,
                                                                            tmp_path: Path):
    script = demo_script(tmp_path, [{"do": "idle"}])
    cmd = demo_command(script)
    (repo / "paneboard.yaml").write_text(
        f"defaults: {{agent: {json.dumps(cmd)}}}\ntasks:\n  - {{name: api}}\n  - {{name: web}}\n", encoding="utf-8")
    assert paneboard("up", cwd=repo, socket_name=tmux_socket).returncode == 0
    assert paneboard("kill", "web", cwd=repo, socket_name=tmux_socket).returncode == 0
    with (repo / "paneboard.yaml").open("a") as fh:
        fh.write("  - {name: docs}\n")
    result = paneboard("up", cwd=repo, socket_name=tmux_socket)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(x.startswith("started docs ") for x in lines)
    assert "skipped api  (running)" in lines
    assert any(x.startswith("stopped web ") and "paneboard restart web" in x for x in lines)
    assert not fleet_on(repo, tmux_socket).get("web", stats=False).pane_alive
    result = paneboard("up", "--restart", cwd=repo, socket_name=tmux_socket)
    assert result.returncode == 0, result.stderr
    assert any(x.startswith("restarted web ") for x in result.stdout.splitlines())
    assert "skipped docs  (running)" in result.stdout.splitlines()
    assert all(a.pane_alive for a in fleet_on(repo, tmux_socket).agents(stats=False))


FAKE_CODEX = r'''#!{python}
import json, os, sys
with open(os.environ["STARTS"], "a") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\n")
print("Disconnected from this task. Any running work continues.")
print("To reconnect, run:")
print("  codex resume 01a20e67-3cfe-7d33-bf1a-a1a0e18a701f")
'''


def without_channel(argv: list[str]) -> list[str]:
    """A codex argv without the options of its event channel (app/events/codex.py)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "-c":
            skip = True
        else:
            out.append(a)
    return out


def test_codex_exit_hint_is_recorded_and_restart_resumes_it(repo: Path, tmux_socket: str, tmp_path: Path,
                                                           monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "codex").write_text(FAKE_CODEX.replace("{python}", sys.executable), encoding="utf-8")
    (bin_dir / "codex").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    log = tmp_path / "codex-starts.jsonl"
    result = paneboard("spawn", "cx", "--agent", "codex", "--prompt", "fix it", "--env", f"STARTS={log}",
                       cwd=repo, socket_name=tmux_socket)
    assert result.returncode == 0, result.stderr
    retry_until(lambda: not fleet_on(repo, tmux_socket).get("cx", stats=False).pane_alive)
    [row] = json.loads(paneboard("ls", "--json", cwd=repo, socket_name=tmux_socket).stdout)
    assert row["session_id"] == "01a20e67-3cfe-7d33-bf1a-a1a0e18a701f"
    result = paneboard("restart", "cx", cwd=repo, socket_name=tmux_socket)
    assert result.returncode == 0, result.stderr
    assert "resuming session 01a20e67-3cfe-7d33-bf1a-a1a0e18a701f" in result.stdout
    runs = retry_until(lambda: len(log.read_text().splitlines()) == 2 and log.read_text().splitlines())
    # The conversation is resumed; the prompt is not sent again (both starts carry the event channel's options).
    assert without_channel(json.loads(runs[0])) == ["fix it"]
    assert without_channel(json.loads(runs[1])) == ["resume", "01a20e67-3cfe-7d33-bf1a-a1a0e18a701f"]
    assert "-c" in json.loads(runs[1]) and "--dangerously-bypass-hook-trust" not in json.loads(runs[1])
    rec = json.loads((repo / ".git" / "paneboard" / "state.json").read_text())["agents"]["cx"]
    assert rec["session_id"] == "01a20e67-3cfe-7d33-bf1a-a1a0e18a701f"


def test_ls_json_since_is_the_moment_the_condition_began_and_stays(repo: Path, tmux_socket: str, tmp_path: Path):
    fleet = fleet_on(repo, tmux_socket)
    ask = demo_script(tmp_path, [{"do": "ask", "title": "Bash command", "question": "rm -rf build"}])
    fleet.spawn(Task(name="asker", agent=demo_command(ask, speed=1.0), scope=("src/**",)))
    fleet.spawn(Task(name="other", agent=demo_command(demo_script(tmp_path, [{"do": "idle"}]), speed=1.0)))
    for name in ("asker", "other"):
        (Path(fleet.get(name, stats=False).worktree) / "shared.md").write_text(f"{name}\n")
    written = time.time()

    def triggers():
        rows = json.loads(paneboard("ls", "--json", cwd=repo, socket_name=tmux_socket).stdout)
        return {r["name"]: ({t["kind"]: t["since"] for t in r["triggers"]}, r["status"]) for r in rows}
    first = retry_until(lambda: (t := triggers())["asker"][1] == "needs_input" and t)
    assert set(first["asker"][0]) == {"needs_input", "out_of_scope", "overlap"}
    time.sleep(1.1)
    second = triggers()
    assert second == first
    # Out of scope and overlap began when the files were written, not when ls looked.
    assert abs(first["asker"][0]["out_of_scope"] - written) < 1.0
    assert abs(first["asker"][0]["overlap"] - written) < 1.0
    assert first["asker"][0]["needs_input"] <= written + 1.0


async def test_dashboard_says_agents_are_stopped_once_and_r_restarts_the_selected_one(
        repo: Path, tmux_socket: str, tmp_path: Path):
    import asyncio
    from app.dashboard import Dashboard
    from tests.helpers import kill_tmux
    fleet = fleet_on(repo, tmux_socket)
    log = spawn_agent(fleet, tmp_path, "worker")
    spawn_agent(fleet, tmp_path, "other")
    kill_tmux(tmux_socket)                      # a reboot: every window gone
    app = Dashboard(fleet, refresh_seconds=0.2)
    said = "2 agents are stopped: press R on one, or run `paneboard restart --all`"

    async def until(predicate, timeout=20.0):
        for _ in range(int(timeout / 0.05)):
            if predicate():
                return
            await asyncio.sleep(0.05)
        raise AssertionError("condition not met in time")
    async with app.run_test(size=(140, 44)) as pilot:
        await until(lambda: any(n.message == said for n in app._notifications))
        await until(lambda: app.main_screen.selected == "worker")
        assert app.main_screen.check_action("restart", ()) is True
        await pilot.press("R")
        await until(lambda: len(starts(log)) == 2)
        await until(lambda: app.agents["worker"].pane_alive)
        await pilot.pause(0.3)
        assert app.main_screen.check_action("restart", ()) is False    # running: nothing to restart
        assert not app.agents["other"].pane_alive
        assert [n.message for n in app._notifications].count(said) == 1


async def test_monitor_sees_a_restarted_agent_exit_anew(repo: Path, tmux_socket: str, tmp_path: Path):
    import asyncio
    from app.model import TriggerKind
    from app.monitor import Monitor
    fleet = fleet_on(repo, tmux_socket)
    log = spawn_agent(fleet, tmp_path, "quitter", exit_with="4", linger=1.5)
    monitor = Monitor(fleet, rediscover_every=0.5, tick=0.2, write_status=False)
    task = asyncio.create_task(monitor.run())

    async def exit_trigger():
        for _ in range(400):
            a = next((x for x in monitor.agents() if x.name == "quitter"), None)
            t = a and next((t for t in a.triggers if t.kind == TriggerKind.EXITED), None)
            if t and a.exit_code == 4:
                return t
            await asyncio.sleep(0.05)
        raise AssertionError("no exited trigger")
    try:
        first = await exit_trigger()
        await asyncio.sleep(1.2)
        await asyncio.to_thread(fleet.restart, "quitter")
        for _ in range(200):
            if len(starts(log)) == 2:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        monitor.refresh()
        second = await exit_trigger()
        for _ in range(100):
            if second.since > first.since:
                break
            await asyncio.sleep(0.1)
            second = await exit_trigger()
        # The second exit is its own occurrence, from when it happened, not the first one's.
        assert second.since > first.since + 1.0
    finally:
        task.cancel()
        with __import__("contextlib").suppress(asyncio.CancelledError):
            await task
