"""Spawn, discover, send, kill and restart with a real tmux server, real git and the real demo agent."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.config import Settings, Task
from app.errors import SpawnError
from app.fleet import Fleet
from app.model import Kind
from app.git.worktrees import find_repo, list_worktrees
from tests.helpers import demo_command, demo_script, git, paneboard, retry_until


def branches(repo: Path) -> set[str]:
    return set(git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads").split())


def windows(socket_name: str) -> list[str]:
    out = subprocess.run(["tmux", "-L", socket_name, "list-windows", "-a", "-F", "#{window_name}"],
                         capture_output=True, text=True)
    return out.stdout.split()


def screen(fleet: Fleet, name: str) -> str:
    return fleet.tmux.capture(fleet.get(name, stats=False).pane)


def test_spawn_shows_in_ls_json_then_send_and_kill(fleet: Fleet, repo: Path, tmux_socket: str, tmp_path: Path):
    script = demo_script(tmp_path, [{"do": "say", "text": "ready"}, {"do": "idle", "reply_work": 0.2,
                                                                     "reply_edit": "notes/reply.md"}])
    agent = fleet.spawn(Task(name="fix login", agent=demo_command(script), prompt="", scope=("notes/**",)))
    assert agent.branch.startswith("paneboard/fix-login")
    assert Path(agent.worktree).is_dir() and not Path(agent.worktree).is_relative_to(repo)
    assert list_worktrees(fleet.repo)[Path(agent.worktree)] == agent.branch

    result = paneboard("ls", "--json", cwd=repo, socket_name=tmux_socket)
    assert result.returncode == 0, result.stderr
    [row] = json.loads(result.stdout)
    for key in ("name", "branch", "worktree", "pane", "agent", "status", "triggers", "files_changed",
                "added", "removed", "started_at", "last_activity_at"):
        assert key in row
    assert row["name"] == "fix login" and row["pane"] == agent.pane
    assert row["status"] in ("starting", "working", "idle") and row["status_why"]
    assert row["port"] == agent.port

    retry_until(lambda: "? for shortcuts" in screen(fleet, "fix login"))
    row = json.loads(paneboard("ls", "--json", cwd=repo, socket_name=tmux_socket).stdout)[0]
    assert row["status"] == "idle" and "? for shortcuts" in row["status_evidence"] + row["status_why"]
    result = paneboard("send", "fix login", "please add a note", cwd=repo, socket_name=tmux_socket)
    assert result.returncode == 0, result.stderr
    reply = Path(agent.worktree) / "notes" / "reply.md"
    retry_until(lambda: reply.exists() and "please add a note" in reply.read_text())
    retry_until(lambda: fleet.get("fix login").files_changed == 1)

    result = paneboard("kill", "fix login", cwd=repo, socket_name=tmux_socket)
    assert result.returncode == 0, result.stderr
    after = fleet.get("fix login")
    assert after.pane is None and after.status.kind is Kind.EXITED
    # Stopping never deletes work: branch, worktree and the file the agent wrote remain.
    assert agent.branch in branches(repo) and reply.exists()


def test_each_agent_gets_its_own_port_and_identity(fleet: Fleet, tmp_path: Path):
    cmd = "sh -c 'echo PORT=$PORT AGENT=$PANEBOARD_AGENT TASK=$PANEBOARD_TASK; sleep 60'"
    a = fleet.spawn(Task(name="one", agent=cmd))
    b = fleet.spawn(Task(name="two", agent=cmd))
    assert a.port != b.port
    retry_until(lambda: f"PORT={a.port} AGENT=one TASK=one" in screen(fleet, "one"))
    retry_until(lambda: f"PORT={b.port} AGENT=two TASK=two" in screen(fleet, "two"))


def test_best_of_n_expands_to_numbered_agents(fleet: Fleet, tmp_path: Path):
    script = demo_script(tmp_path, [{"do": "idle"}])
    for t in fleet.expand(Task(name="parser", agent=demo_command(script), count=3)):
        fleet.spawn(t)
    agents = fleet.agents(stats=False)
    assert [a.name for a in agents] == ["parser-1", "parser-2", "parser-3"]
    assert {a.task for a in agents} == {"parser"}


HOSTILE = "say \"hi\" and 'bye'; $(touch {p}/PWN1) `touch {p}/PWN2` #(touch {p}/PWN3) && touch {p}/PWN4\nline two ünïcødé ✓;"


def test_prompt_and_name_injection_run_nothing(fleet: Fleet, tmp_path: Path, tmux_socket: str):
    marker_dir = tmp_path / "marks"
    marker_dir.mkdir()
    prompt = HOSTILE.format(p=marker_dir)
    name = f"x; touch {marker_dir}/PWN5 $(touch {marker_dir}/PWN6) #(touch {marker_dir}/PWN7);"
    agent = fleet.spawn(Task(name=name, agent="demo", prompt=prompt,
                             env={"PANEBOARD_DEMO_SCENARIO": "worker", "PANEBOARD_DEMO_SPEED": "0.05"}))
    retry_until(lambda: "ünïcødé ✓;" in screen(fleet, name))
    text = screen(fleet, name)
    assert "$(touch" in text and "`touch" in text and "#(touch" in text
    # Text sent later is typed literally too.
    fleet.send(name, f"$(touch {marker_dir}/PWN8);")
    time.sleep(0.5)
    assert sorted(p.name for p in marker_dir.iterdir()) == []
    assert agent.name == name and fleet.get(name).name == name


def test_paste_preset_delivers_multiline_prompt_literally(fleet: Fleet, tmp_path: Path):
    # A custom command gets its prompt pasted (bracketed paste) once its screen settles.
    out = tmp_path / "received.txt"
    reader = f"import sys; open({str(out)!r}, 'w').write(sys.stdin.readline()); print('got it')"
    agent = fleet.spawn(Task(name="paste", agent=shlex.join([sys.executable, "-c", reader]),
                             prompt="it's $(not run) `x` ; done"))
    fleet.wait_for_prompts(timeout=30)
    retry_until(lambda: out.exists() and out.read_text())
    assert out.read_text().strip() == "it's $(not run) `x` ; done"
    assert agent.port


def test_rollback_when_tmux_step_fails(repo: Path, tmux_socket: str):
    fleet = Fleet(find_repo(repo), Settings(agent="demo", tmux_socket=tmux_socket, session="bad:name"))
    before = branches(repo)
    with pytest.raises(SpawnError) as err:
        fleet.spawn(Task(name="doomed", agent="demo"))
    assert "tmux window" in str(err.value)
    assert branches(repo) == before
    assert list(list_worktrees(fleet.repo)) == [repo.resolve()]
    assert fleet.state.read()["agents"] == {}
    assert not (repo.parent / "project.paneboard" / "doomed").exists()


def test_vanished_pane_and_worktree_are_shown_not_dropped(fleet: Fleet, tmp_path: Path, tmux_socket: str):
    script = demo_script(tmp_path, [{"do": "idle"}])
    a = fleet.spawn(Task(name="gone", agent=demo_command(script)))
    b = fleet.spawn(Task(name="moved", agent=demo_command(script)))
    subprocess.run(["tmux", "-L", tmux_socket, "kill-window", "-t", a.pane], check=True)
    import shutil
    shutil.rmtree(b.worktree)
    agents = {x.name: x for x in fleet.agents()}
    assert agents["gone"].status.kind is Kind.EXITED and "vanished" in agents["gone"].status.why
    assert not agents["moved"].worktree_exists and "missing" in agents["moved"].status.why


def test_exit_code_is_kept(fleet: Fleet, tmp_path: Path):
    script = demo_script(tmp_path, [{"do": "say", "text": "bye"}, {"do": "exit", "code": 3}])
    fleet.spawn(Task(name="crash", agent=demo_command(script)))
    agent = retry_until(lambda: (a := fleet.get("crash")).exit_code is not None and a)
    assert agent.exit_code == 3 and agent.status.kind is Kind.EXITED and "3" in agent.status.why
    # Its output was logged from the first byte, and the log outlives the pane.
    from app.tmux import logs
    log = logs.log_path(fleet.repo.common_dir, "crash")
    retry_until(lambda: "bye" in logs.tail(log))
    fleet.kill("crash")
    assert "bye" in logs.tail(log)


def test_up_starts_ready_tasks_and_queues_dependents(repo: Path, tmux_socket: str):
    (repo / "paneboard.yaml").write_text(
        "defaults: {agent: demo}\n"
        "tasks:\n"
        "  - {name: api, prompt: build it, env: {PANEBOARD_DEMO_SCENARIO: worker}}\n"
        "  - {name: ui, prompt: use it, after: [api]}\n", encoding="utf-8")
    result = paneboard("up", cwd=repo, socket_name=tmux_socket)
    assert result.returncode == 0, result.stderr
    assert "started api" in result.stdout and "queued  ui" in result.stdout
    assert windows(tmux_socket) == ["api"]


def test_restart_after_sigkill_rediscovers_agents(repo: Path, tmux_socket: str, tmp_path: Path):
    script = demo_script(tmp_path, [{"do": "idle"}])
    assert paneboard("spawn", "alpha", "--agent", demo_command(script), cwd=repo,
                     socket_name=tmux_socket).returncode == 0
    # Run the real dashboard in a terminal (a pane of another private server), then SIGKILL it.
    term = f"{tmux_socket}-term"
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    env.update(PANEBOARD_TMUX_SOCKET=tmux_socket, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    try:
        pid = int(subprocess.run(
            ["tmux", "-L", term, "new-session", "-d", "-x", "120", "-y", "40", "-P", "-F", "#{pane_pid}",
             "-c", str(repo), "--", "env", *[f"{k}={v}" for k, v in env.items() if k.startswith(("PANEBOARD", "PYTHON", "PATH", "HOME"))],
             sys.executable, "-m", "app.cli"], capture_output=True, text=True, check=True).stdout.strip())
        retry_until(lambda: "alpha" in subprocess.run(["tmux", "-L", term, "capture-pane", "-p"],
                                                      capture_output=True, text=True).stdout, timeout=20)
        os.kill(pid, signal.SIGKILL)
    finally:
        subprocess.run(["tmux", "-L", term, "kill-server"], capture_output=True)
    # The agent kept running, and a new process finds it with everything it knew.
    result = paneboard("ls", "--json", cwd=repo, socket_name=tmux_socket)
    [row] = json.loads(result.stdout)
    assert row["name"] == "alpha" and row["pane_alive"] and row["status"] != "exited"
