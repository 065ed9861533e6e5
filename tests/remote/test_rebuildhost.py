"""A state.json rebuilt after corruption keeps the agents on other hosts and their archives: each host is asked
for its agents, a discarded remote agent is restored on its host, a host that does not answer comes in later."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from app.config import Task
from tests.helpers import demo_command, demo_script, git, paneboard, retry_until
from tests.remote.conftest import remote_git, remote_task

pytestmark = pytest.mark.slow

GARBAGE = b"\x00{not json at all\xff"


def write_task_file(fleet) -> None:
    """The task file the CLI reads: host `box` through the test's sshd."""
    host = fleet.settings.hosts[0]
    ssh = ", ".join(f'"{a}"' for a in host.ssh)
    (fleet.repo.root / "paneboard.yaml").write_text(
        f"hosts:\n  box: {{ssh: [{ssh}], repo: \"{host.repo}\", tmux_socket: {host.tmux_socket}}}\n")


def spoil_state(fleet) -> None:
    fleet.state.path.write_bytes(GARBAGE)


def ls_json(fleet, tmux_socket: str) -> tuple[dict, list[str]]:
    out = paneboard("ls", "--json", cwd=fleet.repo.root, socket_name=tmux_socket)
    assert out.returncode == 0, out.stderr
    return {a["name"]: a for a in json.loads(out.stdout)}, [ln for ln in out.stderr.splitlines() if ln]


def cli(fleet, tmux_socket: str, *args: str) -> subprocess.CompletedProcess:
    out = paneboard(*args, cwd=fleet.repo.root, socket_name=tmux_socket)
    assert out.returncode == 0, out.stdout + out.stderr
    return out


def test_a_rebuilt_state_lists_the_remote_agent_with_its_host_and_every_verb_still_reaches_it(
        box, tmp_path, tmux_socket, remote_socket, host_repo):
    a = box.spawn(remote_task(tmp_path, "api", [{"do": "edit", "path": "src/app.py", "text": "print('remote')\n"},
                                                {"do": "idle"}]))
    box.spawn(Task(name="loc", agent=demo_command(demo_script(tmp_path, [{"do": "idle"}]))))
    before = box.state.read()["agents"]["api"]
    wt = Path(a.worktree)
    retry_until(lambda: "remote" in (wt / "src/app.py").read_text())
    write_task_file(box)
    spoil_state(box)

    agents, said = ls_json(box, tmux_socket)
    assert len(said) == 1 and "moved aside" in said[0] and "2 agent(s)" in said[0], said
    assert set(agents) == {"api", "loc"}
    assert agents["api"]["host"] == "box" and agents["api"]["pane_alive"] and not agents.get("loc", {}).get("host")
    rec = box.state.read()["agents"]["api"]
    for key in ("host", "host_repo", "host_ssh", "host_port", "base_ref", "socket", "pane", "branch", "worktree",
                "hooks"):
        assert rec[key] == before[key], key
    assert "pending_hosts" not in box.state.read()

    # diff: the work is fetched from the host through the rebuilt record.
    diff = cli(box, tmux_socket, "diff", "api")
    assert "print('remote')" in diff.stdout
    cli(box, tmux_socket, "send", "api", "hello from here")
    retry_until(lambda: "hello from here" in box.tmux_on(remote_socket, "box").capture(a.pane))
    cli(box, tmux_socket, "discard", "api", "--yes")
    assert not wt.exists() and git(box.repo.root, "branch", "--list", "paneboard/api") == ""
    cli(box, tmux_socket, "restore", "api")
    assert "print('remote')" in (wt / "src/app.py").read_text()
    assert remote_git(host_repo, "branch", "--list", "paneboard/api").strip()
    assert git(box.repo.root, "branch", "--list", "paneboard/api") == ""       # nothing made here


def test_a_discarded_remote_agent_in_a_rebuilt_state_is_restored_on_its_host(box, tmp_path, tmux_socket, host_repo):
    a = box.spawn(remote_task(tmp_path, "api", [{"do": "edit", "path": "notes.md", "text": "kept\n"},
                                                {"do": "idle"}]))
    wt = Path(a.worktree)
    retry_until(lambda: (wt / "notes.md").exists())
    box.discard("api")
    assert not wt.exists()
    write_task_file(box)
    spoil_state(box)

    agents, said = ls_json(box, tmux_socket)
    assert "api" not in agents and "1 discarded" in said[0], said
    rec = box.state.read()["discarded"]["api"]
    assert rec["host"] == "box" and rec["host_repo"] == str(host_repo) and rec["base_ref"] == "refs/paneboard/base/api"
    out = cli(box, tmux_socket, "restore", "api")
    assert "restored api" in out.stdout
    # Back on the host, from its archive; not in this repository.
    assert (wt / "notes.md").read_text() == "kept\n"
    assert remote_git(host_repo, "branch", "--list", "paneboard/api").strip()
    assert git(box.repo.root, "branch", "--list", "paneboard/api") == ""
    assert box.state.read()["agents"]["api"]["host"] == "box"
    # Its stats are read on the host against the base ref the spawn pushed there.
    assert box.get("api").files == ("notes.md",)


def test_a_host_down_during_the_rebuild_is_one_line_and_its_agents_come_back_with_the_next_command(
        box, tmp_path, tmux_socket, sshd):
    box.spawn(remote_task(tmp_path, "api", [{"do": "idle"}]))
    write_task_file(box)
    for r in box.__dict__.get("_remotes", {}).values():
        r.close()           # no shared connection left to reach the host through
    sshd.stop()
    spoil_state(box)

    agents, said = ls_json(box, tmux_socket)
    assert len(said) == 1 and "moved aside" in said[0], said
    assert "host(s) 'box' (" in said[0] and "did not answer" in said[0] and "next command" in said[0]
    assert "api" not in agents
    assert "box" in box.state.read()["pending_hosts"]
    agents, said = ls_json(box, tmux_socket)        # still down: nothing said again, nothing lost
    assert said == [] and "box" in box.state.read()["pending_hosts"]

    sshd.start()
    agents, said = ls_json(box, tmux_socket)
    assert agents["api"]["host"] == "box" and agents["api"]["pane_alive"]
    assert len(said) == 1 and "answered again" in said[0] and "(api)" in said[0], said
    assert "pending_hosts" not in box.state.read()
    assert box.state.read()["agents"]["api"]["base_ref"] == "refs/paneboard/base/api"
    _, said = ls_json(box, tmux_socket)
    assert said == []


def test_a_stopped_remote_agent_whose_window_is_gone_is_rebuilt_from_its_worktree_on_the_host(
        box, tmp_path, tmux_socket):
    a = box.spawn(remote_task(tmp_path, "api", [{"do": "idle"}]))
    box.kill("api")
    write_task_file(box)
    spoil_state(box)

    agents, _ = ls_json(box, tmux_socket)
    assert agents["api"]["host"] == "box" and not agents["api"]["pane_alive"]
    rec = box.state.read()["agents"]["api"]
    assert rec["worktree"] == a.worktree and rec["branch"] == "paneboard/api" and rec["killed_at"]
