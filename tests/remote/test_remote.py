"""Agents on another host over a real sshd on 127.0.0.1: spawn, status, send, diff, check, merge, discard, restore."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from app.model import Kind, TriggerKind
from app.monitor import assess_once
from tests.helpers import git, retry_until
from tests.remote.conftest import remote_git, remote_task


def test_spawn_on_a_host_makes_its_clone_brings_the_base_and_runs_the_agent_there(box, tmp_path, host_repo,
                                                                                 remote_socket, tmux_socket):
    a = box.spawn(remote_task(tmp_path, "api", [{"do": "say", "text": "REMOTE-HELLO"}, {"do": "idle"}]))
    assert a.host == "box" and a.worktree == f"{host_repo}.paneboard/api"
    base = git(box.repo.root, "rev-parse", "main").strip()
    # The base arrived as a ref; nothing is checked out in the host's clone.
    assert remote_git(host_repo, "rev-parse", "refs/paneboard/base/api").strip() == base
    assert remote_git(Path(a.worktree), "rev-parse", "--abbrev-ref", "HEAD").strip() == "paneboard/api"
    # The agent runs on the host's tmux server, not on the local one.
    panes = subprocess.run(["tmux", "-L", remote_socket, "list-panes", "-a", "-F", "#{@paneboard_name}"],
                           capture_output=True, text=True).stdout.split()
    assert panes == ["api"]
    local = subprocess.run(["tmux", "-L", tmux_socket, "list-panes", "-a"], capture_output=True, text=True)
    assert local.stdout == ""
    got = retry_until(lambda: next(x for x in assess_once(box) if x.name == "api" and "REMOTE-HELLO" in
                                   box.tmux_on(remote_socket, "box").capture(x.pane) and x))
    assert got.pane_alive and got.to_json()["host"] == "box"


def test_send_types_text_literally_into_the_remote_pane(box, tmp_path, remote_socket):
    a = box.spawn(remote_task(tmp_path, "api", [{"do": "idle"}]))
    tricky = "it's $(touch /tmp/pwned-pb) ; `id` \"q\""
    retry_until(lambda: "›" in box.tmux_on(remote_socket, "box").capture(a.pane) or
                box.tmux_on(remote_socket, "box").capture(a.pane).strip())
    box.send("api", tricky)
    retry_until(lambda: tricky in box.tmux_on(remote_socket, "box").capture(a.pane))
    assert not Path("/tmp/pwned-pb").exists()


def test_names_and_prompts_with_quotes_and_newlines_reach_the_host_as_one_word(box, tmp_path, remote_socket):
    from app.hosts.remote import command_line
    for word in ["a'b", "$(id)", "x;y", "line1\nline2", "--", "-oProxyCommand=x"]:
        r = box.tmux_on(remote_socket, "box").remote
        assert r.run(["printf", "%s", word]).stdout == word
        assert command_line(["printf", "%s", word]).count("printf") == 1


def test_ls_json_names_the_host_and_reads_git_stats_on_it(box, tmp_path):
    box.spawn(remote_task(tmp_path, "api", [{"do": "edit", "path": "src/new.py", "text": "x = 1\n"},
                                            {"do": "idle"}]))
    got = retry_until(lambda: next(a for a in assess_once(box) if a.name == "api" and a.files))
    assert got.host == "box" and "src/new.py" in got.files and got.dirty


def test_a_host_that_goes_away_is_unreachable_and_comes_back(box, tmp_path, sshd):
    box.spawn(remote_task(tmp_path, "api", [{"do": "idle"}]))
    retry_until(lambda: assess_once(box)[0].status.kind in (Kind.IDLE, Kind.WORKING))
    sshd.stop()
    a = assess_once(box)[0]
    assert a.status.kind == Kind.UNREACHABLE and "Connection refused" in a.status.why
    assert [t.kind for t in a.triggers] == [TriggerKind.UNREACHABLE]
    assert box.state.read()["agents"]["api"]["worktree"]          # nothing forgotten
    sshd.start()
    retry_until(lambda: assess_once(box)[0].status.kind in (Kind.IDLE, Kind.WORKING))


def test_diff_fetches_the_agents_work_with_uncommitted_files_and_leaves_its_index_alone(box, tmp_path):
    a = box.spawn(remote_task(tmp_path, "api", [{"do": "edit", "path": "src/app.py", "text": "print('remote')\n"},
                                                {"do": "idle"}]))
    wt = Path(a.worktree)
    retry_until(lambda: "remote" in (wt / "src/app.py").read_text())
    (wt / "notes.txt").write_text("untracked\n")
    status_before = remote_git(wt, "status", "--porcelain")
    ref = box.fetch_remote("api")
    assert ref == "refs/paneboard/remote/box/paneboard/api"
    assert "print('remote')" in git(box.repo.root, "show", f"{ref}:src/app.py")
    assert git(box.repo.root, "show", f"{ref}:notes.txt") == "untracked\n"
    assert remote_git(wt, "status", "--porcelain") == status_before       # the agent's index is untouched
    assert git(box.repo.root, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"


def test_discard_archives_on_the_host_and_here_before_removing_and_restore_brings_it_back(box, tmp_path,
                                                                                         host_repo):
    a = box.spawn(remote_task(tmp_path, "api", [{"do": "edit", "path": "src/app.py", "text": "print('remote')\n"},
                                                {"do": "idle"}]))
    wt = Path(a.worktree)
    retry_until(lambda: "remote" in (wt / "src/app.py").read_text())
    remote_git(wt, "add", "src/app.py")                   # staged
    (wt / "notes.txt").write_text("untracked\n")          # untracked
    (wt / "README.md").write_text("unstaged\n")           # unstaged
    status = remote_git(wt, "status", "--porcelain")
    assert box.discard_preview("api")[0] == 3
    saved = box.discard("api")
    assert saved.ref == "refs/paneboard/archive/api"
    # The archive is here AND on the host, the same commit; only then did the worktree and branch go.
    assert git(box.repo.root, "rev-parse", saved.ref).strip() == saved.commit
    assert remote_git(host_repo, "rev-parse", saved.ref).strip() == saved.commit
    assert git(box.repo.root, "show", f"{saved.ref}:notes.txt") == "untracked\n"
    assert git(box.repo.root, "show", f"{saved.ref}:README.md") == "unstaged\n"
    assert not wt.exists() and remote_git(host_repo, "branch", "--list", "paneboard/api") == ""
    data = box.state.read()
    assert "api" not in data["agents"] and data["discarded"]["api"]["host"] == "box"
    box.restore("api")
    assert remote_git(wt, "status", "--porcelain") == status     # staged, unstaged and untracked as they were
    assert (wt / "notes.txt").read_text() == "untracked\n"
    assert box.state.read()["agents"]["api"]["host"] == "box"


def test_check_runs_on_the_host_in_the_worktree_and_is_recorded_as_locally(box, tmp_path):
    from dataclasses import replace
    a = box.spawn(remote_task(tmp_path, "api", [{"do": "edit", "path": "marker.txt", "text": "on host\n"},
                                                {"do": "idle"}]))
    retry_until(lambda: (Path(a.worktree) / "marker.txt").exists())
    # argv, no shell: the `;` and `$(...)` are words for cat, not code.
    box.settings = replace(box.settings, check="cat marker.txt ';' '$(touch /tmp/pwned-pb-check)'")
    result = box.check("api")
    assert not result.passed and "No such file or directory" in result.summary_line
    assert "on host" in result.log_path.read_text() and not Path("/tmp/pwned-pb-check").exists()
    box.settings = replace(box.settings, check="cat marker.txt")
    result = box.check("api")
    assert result.passed and result.exit_code == 0 and result.summary_line == "on host"
    last = box.state.read()["agents"]["api"]["last_check"]
    assert last["passed"] and last["command"] == "cat marker.txt"
    box.settings = replace(box.settings, check="sleep 30", check_timeout=1.0)
    result = box.check("api")
    assert not result.passed and result.exit_code is None and "timed out after 1s" in result.summary_line


def test_merge_brings_a_remote_agents_work_into_the_local_base_and_clears_up_the_host(box, tmp_path, host_repo):
    a = box.spawn(remote_task(tmp_path, "api", [{"do": "edit", "path": "src/remote.py", "text": "R = 1\n"},
                                                {"do": "idle"}]))
    wt = Path(a.worktree)
    retry_until(lambda: (wt / "src/remote.py").exists())
    (wt / "notes.txt").write_text("untracked too\n")
    preview = box.merge_preview("api")
    assert preview["prediction"].clean and not preview["nothing"]
    before = git(box.repo.root, "rev-parse", "main").strip()
    result = box.merge("api")
    assert result.changed and result.old == before
    assert git(box.repo.root, "show", "main:src/remote.py") == "R = 1\n"
    assert git(box.repo.root, "show", "main:notes.txt") == "untracked too\n"
    assert git(box.repo.root, "status", "--porcelain") == ""          # the checkout followed
    assert box.state.read()["agents"]["api"]["merged"]
    assert not wt.exists()                                            # removed on the host, as here
    assert "paneboard/api" in remote_git(host_repo, "branch", "--list", "paneboard/api")


def test_merge_of_a_remote_agent_that_conflicts_is_refused_and_changes_nothing(box, tmp_path):
    from app.errors import UnsafeOperation
    a = box.spawn(remote_task(tmp_path, "api", [{"do": "edit", "path": "README.md", "text": "remote\n"},
                                                {"do": "idle"}]))
    retry_until(lambda: "remote" in (Path(a.worktree) / "README.md").read_text())
    (box.repo.root / "README.md").write_text("local change\n")
    git(box.repo.root, "commit", "-qam", "local")
    before = git(box.repo.root, "rev-parse", "main").strip()
    assert not box.merge_preview("api")["prediction"].clean
    with pytest.raises(UnsafeOperation, match="conflicts with main in README.md"):
        box.merge("api")
    assert git(box.repo.root, "rev-parse", "main").strip() == before
    assert Path(a.worktree).is_dir() and not box.state.read()["agents"]["api"].get("merged")
    assert remote_git(Path(a.worktree), "status", "--porcelain").strip() == "M README.md"   # its work untouched


def test_restart_reopens_a_stopped_remote_agent_on_its_host_with_its_command_and_env(box, tmp_path, sshd,
                                                                                   remote_socket):
    from app.errors import PaneboardError
    box.spawn(remote_task(tmp_path, "api", [{"do": "say", "text": "RUN-MARK"}, {"do": "work", "seconds": 1},
                                            {"do": "exit", "code": 3}], speed=1.0))
    first = retry_until(lambda: next(a for a in assess_once(box) if not a.pane_alive and a.exit_code == 3))
    again = box.restart("api")
    assert again.host == "box" and again.pane != first.pane
    tmux = box.tmux_on(remote_socket, "box")
    # Its env came along (PYTHONPATH): the demo agent ran again and printed, then exited the same way.
    retry_until(lambda: "RUN-MARK" in tmux.capture(again.pane))
    retry_until(lambda: next(a for a in assess_once(box) if a.pane == again.pane and a.exit_code == 3))
    windows = subprocess.run(["tmux", "-L", remote_socket, "list-windows", "-a", "-F", "#{pane_id}"],
                             capture_output=True, text=True).stdout.split()
    assert windows == [again.pane]                 # the stopped window made room and closed
    rec = box.state.read()["agents"]["api"]
    assert rec["pane"] == again.pane and rec["host"] == "box" and rec["restarted_at"]
    sshd.stop()
    with pytest.raises(PaneboardError, match="not restarted: host 'box' is unreachable") as err:
        box.restart("api")
    assert "\n" not in str(err.value) and box.state.read()["agents"]["api"] == rec
