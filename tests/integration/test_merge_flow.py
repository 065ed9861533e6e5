"""Approve/merge, check gating, discard/restore, prune and `after:` through the real CLI and fleet."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.helpers import demo_command, demo_script, git, paneboard, retry_until


def ls(repo: Path, sock: str) -> dict:
    out = paneboard("ls", "--json", cwd=repo, socket_name=sock)
    assert out.returncode == 0, out.stderr
    return {a["name"]: a for a in json.loads(out.stdout)}


def idle_agent(repo: Path) -> str:
    """An agent command that shows its idle prompt at once and takes its prompt as an argument."""
    script = demo_script(repo.parent, [{"do": "idle"}])
    return demo_command(script) + " {prompt}"


def spawn_idle(repo: Path, sock: str, name: str, *extra: str) -> dict:
    # Idle, not working: `merge` refuses an agent that is working or waiting (without --force).
    result = paneboard("spawn", name, "--agent", idle_agent(repo), "--prompt", f"do {name}", *extra, cwd=repo,
                       socket_name=sock)
    assert result.returncode == 0, result.stderr
    return retry_until(lambda: (row := ls(repo, sock)[name])["status"] == "idle" and row)


def state_of(repo: Path) -> tuple:
    return (git(repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads"),
            git(repo, "status", "--porcelain"), (repo / "src" / "app.py").read_bytes())


def test_merge_commits_work_merges_and_cleans_up(repo: Path, tmux_socket: str):
    a = spawn_idle(repo, tmux_socket, "feature")
    wt = Path(a["worktree"])
    (wt / "src" / "app.py").write_text("print('feature')\n")
    (wt / "docs.md").write_text("new doc\n")  # untracked: still merged
    result = paneboard("merge", "feature", cwd=repo, socket_name=tmux_socket)
    assert result.returncode == 0, result.stderr
    assert "merged feature into main" in result.stdout
    # The main checkout (on main, clean) ends at the merged commit with no phantom changes.
    assert git(repo, "status", "--porcelain") == ""
    assert (repo / "src" / "app.py").read_text() == "print('feature')\n" and (repo / "docs.md").exists()
    row = ls(repo, tmux_socket)["feature"]
    assert row["merged"] and not row["pane_alive"] and not wt.exists()
    # The merge commit says what it merged; the agent's work is the commit under it.
    assert git(repo, "log", "-2", "--format=%s", "main").splitlines() == [
        "Merge paneboard/feature into main: feature: do feature", "feature: do feature"]
    assert "Paneboard-Agent: feature" in git(repo, "log", "-1", "--format=%b", "main")


def test_conflict_is_refused_and_changes_nothing(repo: Path, tmux_socket: str):
    a = spawn_idle(repo, tmux_socket, "left")
    b = spawn_idle(repo, tmux_socket, "right")
    (Path(a["worktree"]) / "src" / "app.py").write_text("print('left')\n")
    (Path(b["worktree"]) / "src" / "app.py").write_text("print('right')\n")
    assert paneboard("merge", "left", cwd=repo, socket_name=tmux_socket).returncode == 0
    before = state_of(repo)
    result = paneboard("merge", "right", cwd=repo, socket_name=tmux_socket)
    assert result.returncode == 2
    assert "conflicts with main in src/app.py" in result.stderr and "nothing was changed" in result.stderr
    assert state_of(repo) == before
    # The refused agent's work is untouched (still uncommitted in its worktree).
    assert (Path(b["worktree"]) / "src" / "app.py").read_text() == "print('right')\n"


def test_failing_check_refuses_unless_forced(repo: Path, tmux_socket: str):
    (repo / "paneboard.yaml").write_text("defaults:\n  check: sh -c 'test -f ok.txt || { echo missing ok.txt; exit 1; }'\n")
    git(repo, "add", "paneboard.yaml")
    git(repo, "commit", "-q", "-m", "task file")
    a = spawn_idle(repo, tmux_socket, "checked")
    (Path(a["worktree"]) / "src" / "app.py").write_text("print('checked')\n")
    check = paneboard("check", "checked", cwd=repo, socket_name=tmux_socket)
    assert check.returncode == 1 and "FAILED" in check.stdout and "missing ok.txt" in check.stdout
    before = state_of(repo)
    refused = paneboard("merge", "checked", cwd=repo, socket_name=tmux_socket)
    assert refused.returncode == 2 and "check" in refused.stderr and "--force" in refused.stderr
    assert state_of(repo)[0] == before[0]  # base ref untouched
    forced = paneboard("merge", "checked", "--force", cwd=repo, socket_name=tmux_socket)
    assert forced.returncode == 0, forced.stderr
    assert (repo / "src" / "app.py").read_text() == "print('checked')\n"


def test_squash_and_rebase_strategies(repo: Path, tmux_socket: str):
    for name, strategy in (("sq", "squash"), ("rb", "rebase")):
        a = spawn_idle(repo, tmux_socket, name)
        wt = Path(a["worktree"])
        (wt / f"{name}1.txt").write_text("one\n")
        git(wt, "add", "-A")
        git(wt, "commit", "-q", "-m", f"{name} one")
        (wt / f"{name}2.txt").write_text("two\n")
        git(wt, "add", "-A")
        git(wt, "commit", "-q", "-m", f"{name} two")
        before = git(repo, "rev-parse", "main").strip()
        result = paneboard("merge", name, "--strategy", strategy, cwd=repo, socket_name=tmux_socket)
        assert result.returncode == 0, result.stderr
        parents = git(repo, "rev-list", "--parents", "-n", "1", "main").split()
        assert len(parents) == 2  # one parent each: squash is one commit, rebase is linear
        if strategy == "squash":
            assert parents[1] == before
        else:
            assert git(repo, "log", "--format=%s", "-2", "main").split("\n")[:2] == [f"{name} two", f"{name} one"]
        assert (repo / f"{name}1.txt").exists() and (repo / f"{name}2.txt").exists()
        assert git(repo, "status", "--porcelain") == ""


def test_dependent_task_starts_after_merge(repo: Path, tmux_socket: str):
    (repo / "paneboard.yaml").write_text(
        f"defaults: {{agent: '{idle_agent(repo)}'}}\n"
        "tasks:\n  - {name: api, prompt: build}\n  - {name: ui, prompt: use, after: [api]}\n")
    git(repo, "add", "paneboard.yaml")
    git(repo, "commit", "-q", "-m", "tasks")
    assert paneboard("up", cwd=repo, socket_name=tmux_socket).returncode == 0
    listed = ls(repo, tmux_socket)
    assert set(listed) == {"api", "ui"}
    # The queued task is listed, says what it waits for, and has nothing created yet.
    ui = listed["ui"]
    assert ui["status"] == "queued" and ui["status_why"] == "waits for api to be merged"
    assert ui["pane"] is None and ui["after"] == ["api"] and not ui["worktree_exists"]
    assert "paneboard/ui" not in git(repo, "branch", "--list")
    text = paneboard("ls", cwd=repo, socket_name=tmux_socket).stdout
    assert any(line.startswith("ui ") and "queued" in line and "waits for api" in line for line in text.splitlines())
    (Path(listed["api"]["worktree"]) / "api.py").write_text("API = 1\n")
    retry_until(lambda: ls(repo, tmux_socket)["api"]["status"] == "idle")
    assert paneboard("merge", "api", cwd=repo, socket_name=tmux_socket).returncode == 0
    ui = ls(repo, tmux_socket)["ui"]
    assert ui["pane_alive"]
    # ui branched from the merged base, so it sees api's work.
    assert (Path(ui["worktree"]) / "api.py").read_text() == "API = 1\n"


def test_queued_task_can_be_dropped(repo: Path, tmux_socket: str):
    (repo / "paneboard.yaml").write_text(
        "defaults: {agent: 'sleep 300'}\n"
        "tasks:\n  - {name: api, prompt: build}\n  - {name: ui, prompt: use, after: [api]}\n")
    assert paneboard("up", cwd=repo, socket_name=tmux_socket).returncode == 0
    dropped = paneboard("kill", "ui", cwd=repo, socket_name=tmux_socket)
    assert dropped.returncode == 0 and "dropped queued task ui" in dropped.stdout
    assert set(ls(repo, tmux_socket)) == {"api"}
    assert ls(repo, tmux_socket)["api"]["pane_alive"]       # only the queued task went
    again = paneboard("kill", "ui", cwd=repo, socket_name=tmux_socket)
    assert again.returncode == 2 and "ui" in again.stderr


def test_discard_then_restore_brings_everything_back(repo: Path, tmux_socket: str):
    a = spawn_idle(repo, tmux_socket, "throwaway")
    wt = Path(a["worktree"])
    (wt / "committed.txt").write_text("c\n")
    git(wt, "add", "committed.txt")
    git(wt, "commit", "-q", "-m", "agent commit")
    (wt / "src" / "app.py").write_text("print('modified')\n")
    (wt / "untracked dir").mkdir()
    (wt / "untracked dir" / "ü.txt").write_text("u\n")
    refused = paneboard("discard", "throwaway", cwd=repo, socket_name=tmux_socket)
    assert refused.returncode == 2 and "--yes" in refused.stderr and wt.exists()
    result = paneboard("discard", "throwaway", "--yes", cwd=repo, socket_name=tmux_socket)
    assert result.returncode == 0, result.stderr
    assert not wt.exists() and "throwaway" not in ls(repo, tmux_socket)
    assert "paneboard/throwaway" not in git(repo, "branch", "--list")
    restored = paneboard("restore", "throwaway", cwd=repo, socket_name=tmux_socket)
    assert restored.returncode == 0, restored.stderr
    assert (wt / "committed.txt").read_text() == "c\n"
    assert (wt / "src" / "app.py").read_text() == "print('modified')\n"
    assert (wt / "untracked dir" / "ü.txt").read_text() == "u\n"
    assert "agent commit" in git(wt, "log", "-1", "--format=%s")
    assert " M src/app.py" in git(wt, "status", "--porcelain")
    assert ls(repo, tmux_socket)["throwaway"]["files_changed"] == 3


def test_prune_removes_only_merged_clean_worktrees(repo: Path, tmux_socket: str):
    kept = spawn_idle(repo, tmux_socket, "unmerged")
    (Path(kept["worktree"]) / "wip.txt").write_text("wip\n")
    done = spawn_idle(repo, tmux_socket, "done")
    git(Path(done["worktree"]), "merge", "-q", "main")  # nothing new: merged and clean
    result = paneboard("prune", cwd=repo, socket_name=tmux_socket)
    assert result.returncode == 0, result.stderr
    assert Path(done["worktree"]).exists() and "its agent done is running" in result.stdout   # never a live agent's
    assert paneboard("kill", "done", cwd=repo, socket_name=tmux_socket).returncode == 0
    result = paneboard("prune", cwd=repo, socket_name=tmux_socket)
    assert result.returncode == 0, result.stderr
    assert not Path(done["worktree"]).exists()
    assert (Path(kept["worktree"]) / "wip.txt").exists()


def test_best_of_n_from_the_cli(repo: Path, tmux_socket: str):
    result = paneboard("spawn", "parser", "--agent", "sleep 300", "--count", "3", cwd=repo, socket_name=tmux_socket)
    assert result.returncode == 0, result.stderr
    rows = ls(repo, tmux_socket)
    assert sorted(rows) == ["parser-1", "parser-2", "parser-3"]
    assert {r["task"] for r in rows.values()} == {"parser"}


def test_merge_killed_midway_is_settled_by_the_next_command(repo: Path, tmux_socket: str):
    import os
    import sys
    a = spawn_idle(repo, tmux_socket, "crashy")
    (Path(a["worktree"]) / "src" / "app.py").write_text("print('crashy')\n")
    env = {**os.environ, "PANEBOARD_TMUX_SOCKET": tmux_socket, "PANEBOARD_MERGE_CRASH_AT": "ref-updated",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    killed = subprocess.run([sys.executable, "-m", "app.cli", "merge", "crashy"], cwd=repo, env=env,
                            capture_output=True, text=True)
    assert killed.returncode == -9  # SIGKILL after the base ref moved, before the checkout followed
    assert (repo / ".git" / "paneboard" / "merge-journal.json").exists()
    result = paneboard("ls", cwd=repo, socket_name=tmux_socket)
    assert result.returncode == 0, result.stderr
    assert "interrupted merge into main was finished" in result.stderr
    assert not (repo / ".git" / "paneboard" / "merge-journal.json").exists()
    # Consistent: the main checkout is at the moved base with no phantom changes.
    assert git(repo, "status", "--porcelain") == ""
    assert (repo / "src" / "app.py").read_text() == "print('crashy')\n"


def test_dirty_main_checkout_refuses_before_touching_the_agent_branch(repo: Path, tmux_socket: str):
    a = spawn_idle(repo, tmux_socket, "blocked")
    (Path(a["worktree"]) / "src" / "app.py").write_text("print('blocked')\n")
    (repo / "README.md").write_text("my own edit, not committed\n")
    before = state_of(repo), git(repo, "rev-parse", "paneboard/blocked")
    result = paneboard("merge", "blocked", cwd=repo, socket_name=tmux_socket)
    assert result.returncode == 2 and "uncommitted" in result.stderr
    assert (state_of(repo), git(repo, "rev-parse", "paneboard/blocked")) == before
    assert (repo / "README.md").read_text() == "my own edit, not committed\n"


def test_check_picks_up_task_file_edits(repo: Path, tmux_socket: str, fleet):
    from app.config import Task as T
    fleet.spawn(T(name="late", agent="sleep 60"))
    import pytest
    from app.errors import PaneboardError
    with pytest.raises(PaneboardError, match="no check command"):
        fleet.check("late")
    (repo / "paneboard.yaml").write_text("defaults:\n  check: sh -c 'echo edited-check'\n")
    result = fleet.check("late")
    assert result.passed and "edited-check" in Path(result.log_path).read_text()
