"""A spawn killed at each of its steps (its crash hook, PANEBOARD_SPAWN_CRASH_AT, SIGKILLs it there): the next
command finishes it or undoes it, says so in one line, and never throws away anything but what the spawn
itself put there; a spawn still under way is left alone."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from app.fleet import Fleet
from app.fleet.spawning import CRASH_ENV, CRASH_STEPS
from tests.faults.helpers import cli_argv, cli_env, ls_json, no_traceback
from tests.helpers import git, make_repo, paneboard, retry_until


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A repository with one commit, a .gitignore, and an ignored file of the user's (debug.log)."""
    repo = make_repo(tmp_path / "project", {"README.md": "# demo\n", ".gitignore": "*.log\nnode_modules/\n"})
    (repo / "debug.log").write_text("ignored, but the user's\n")
    return repo


def defaults(repo: Path, *lines: str) -> None:
    """A task file with these `defaults:` lines and no tasks."""
    (repo / "paneboard.yaml").write_text("defaults:\n" + "".join(f"  {line}\n" for line in lines) + "tasks: []\n")


def crashed_spawn(repo: Path, socket_name: str, step: str, *extra: str) -> subprocess.CompletedProcess:
    """`paneboard spawn half` that kills itself (SIGKILL) at this step."""
    proc = subprocess.run(cli_argv("spawn", "half", "--agent", "sleep 300", *extra), cwd=repo, capture_output=True,
                          text=True, env={**cli_env(socket_name), CRASH_ENV: step}, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    return proc


def worktree_path(repo: Path, name: str = "half") -> Path:
    return repo.parent / f"{repo.name}.paneboard" / name


def leftovers(repo: Path) -> dict[str, bool]:
    registered = git(repo, "worktree", "list", "--porcelain").count("worktree ") > 1
    return {"branch": bool(git(repo, "branch", "--list", "paneboard/half").strip()),
            "worktree": worktree_path(repo).exists(), "registered": registered}


def under_way(repo: Path) -> dict:
    return json.loads((repo / ".git" / "paneboard" / "state.json").read_text())["spawning"]


def ls_lines(repo: Path, socket_name: str) -> tuple[dict, list[str]]:
    """`paneboard ls --json`: rows by name, and what it said on stderr."""
    result = paneboard("ls", "--json", cwd=repo, socket_name=socket_name)
    no_traceback(result)
    assert result.returncode == 0, result.stderr
    return {a["name"]: a for a in json.loads(result.stdout)}, result.stderr.strip().splitlines()


@pytest.mark.parametrize("step", CRASH_STEPS)
def test_a_spawn_killed_at_any_step_is_finished_or_undone_by_the_next_command(project, tmux_socket, step):
    crashed_spawn(project, tmux_socket, step)
    rows, said = ls_lines(project, tmux_socket)
    if step in ("window-opened", "recorded"):
        # Its agent runs: it is listed, as a spawn that returned would have left it.
        assert list(rows) == ["half"] and rows["half"]["status"] in ("starting", "working"), rows
        assert leftovers(project) == {"branch": True, "worktree": True, "registered": True}
        if step == "window-opened":
            assert len(said) == 1 and "a spawn of 'half' was interrupted" in said[0] and "recorded now" in said[0], said
        else:
            assert said == []
        again = paneboard("spawn", "half", "--agent", "sleep 300", cwd=project, socket_name=tmux_socket)
        assert again.returncode != 0 and "already exists" in again.stderr, again.stderr
    else:
        assert rows == {} and not any(leftovers(project).values()), leftovers(project)
        assert len(said) == 1 and "a spawn of 'half' was interrupted" in said[0], said
        assert ("created nothing" if step == "intent-recorded" else "held nothing and were removed") in said[0]
        again = paneboard("spawn", "half", "--agent", "sleep 300", cwd=project, socket_name=tmux_socket)
        no_traceback(again)
        assert again.returncode == 0, again.stderr
        assert list(ls_json(project, tmux_socket)) == ["half"]
    assert under_way(project) == {}
    # Said once: the next command has nothing left to settle.
    assert ls_lines(project, tmux_socket)[1] == []


def test_a_killed_spawn_whose_worktree_holds_work_is_kept_as_a_stopped_agent(project, tmux_socket):
    # setup: wrote a file of its own before the spawn died: work nobody can tell from the user's.
    defaults(project, f"setup: [{sys.executable!r}, -c, \"open('made-by-setup.txt', 'w').write('x')\"]")
    crashed_spawn(project, tmux_socket, "ready")
    made = worktree_path(project) / "made-by-setup.txt"
    assert made.exists()
    rows, said = ls_lines(project, tmux_socket)
    assert list(rows) == ["half"] and rows["half"]["status"] == "exited", rows
    assert len(said) == 1 and "kept as stopped agent 'half'" in said[0], said
    assert made.read_text() == "x" and leftovers(project) == {"branch": True, "worktree": True, "registered": True}
    assert under_way(project) == {}
    # Pruning keeps it (it is not merged), and discard archives it like any agent's work.
    assert worktree_path(project).exists()
    discard = paneboard("discard", "half", "--yes", cwd=project, socket_name=tmux_socket)
    assert discard.returncode == 0, discard.stderr
    assert not worktree_path(project).exists()


def test_a_killed_spawn_whose_worktree_holds_only_copies_and_disposable_files_is_undone(project, tmux_socket):
    defaults(project, "copy: ['*.log']",
             f"setup: [{sys.executable!r}, -c, \"import os; os.makedirs('node_modules/x'); open('node_modules/x/y', 'w')\"]")
    crashed_spawn(project, tmux_socket, "ready")
    assert (worktree_path(project) / "debug.log").read_text() == "ignored, but the user's\n"
    rows, said = ls_lines(project, tmux_socket)
    assert rows == {} and not any(leftovers(project).values()), leftovers(project)
    assert len(said) == 1 and "held nothing and were removed" in said[0], said
    assert (project / "debug.log").read_text() == "ignored, but the user's\n"


def test_a_copied_file_changed_since_counts_as_work(project, tmux_socket):
    defaults(project, "copy: ['*.log']")
    crashed_spawn(project, tmux_socket, "ready")
    (worktree_path(project) / "debug.log").write_text("someone wrote here\n")
    rows, said = ls_lines(project, tmux_socket)
    assert list(rows) == ["half"] and "kept as stopped agent" in said[0], said
    assert (worktree_path(project) / "debug.log").read_text() == "someone wrote here\n"


def test_a_killed_spawn_that_committed_is_kept(project, tmux_socket):
    crashed_spawn(project, tmux_socket, "worktree-added")
    wt = worktree_path(project)
    (wt / "README.md").write_text("changed\n")
    git(wt, "commit", "-qam", "work")
    rows, said = ls_lines(project, tmux_socket)
    assert list(rows) == ["half"] and "kept as stopped agent" in said[0], said
    assert git(wt, "log", "-1", "--format=%s").strip() == "work"


def test_a_spawn_still_under_way_is_left_alone(project, tmux_socket, tmp_path):
    go = tmp_path / "go"
    waiting = tmp_path / "waiting"
    defaults(project, f"setup: [{sys.executable!r}, -c, \"import os, time\\nopen({str(waiting)!r}, 'w')\\n"
                      f"while not os.path.exists({str(go)!r}): time.sleep(0.05)\"]")
    proc = subprocess.Popen(cli_argv("spawn", "half", "--agent", "sleep 300"), cwd=project,
                            env=cli_env(tmux_socket), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        retry_until(waiting.exists, timeout=30)
        rows, said = ls_lines(project, tmux_socket)
        assert rows == {} and said == [], said
        assert leftovers(project)["worktree"] and list(under_way(project)) == ["half"]
        prune = paneboard("prune", cwd=project, socket_name=tmux_socket)
        assert prune.returncode == 0 and "interrupted" not in prune.stderr, prune.stderr
        assert worktree_path(project).exists()
        second = paneboard("spawn", "half", "--agent", "sleep 300", cwd=project, socket_name=tmux_socket)
        assert second.returncode != 0 and "under way" in second.stderr, second.stderr
        go.touch()
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert list(ls_json(project, tmux_socket)) == ["half"] and under_way(project) == {}


def test_prune_and_a_running_fleets_listing_settle_a_dead_spawn(project, tmux_socket):
    fleet = Fleet.open(project, socket_name=tmux_socket)      # a dashboard's fleet, opened before the kill
    crashed_spawn(project, tmux_socket, "worktree-added")
    assert leftovers(project)["branch"]
    assert [a.name for a in fleet.agents(stats=False)] == []
    assert not any(leftovers(project).values())
    notes = fleet.take_notices()
    assert len(notes) == 1 and "held nothing and were removed" in notes[0], notes
    crashed_spawn(project, tmux_socket, "ready")
    prune = paneboard("prune", cwd=project, socket_name=tmux_socket)
    assert prune.returncode == 0, prune.stderr
    assert "a spawn of 'half' was interrupted" in prune.stderr and not any(leftovers(project).values())
