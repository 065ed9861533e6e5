"""Faults in the discard and restore of an agent on another host: ssh dies halfway through (sshd stopped at a
named step), and nothing is lost; the next discard or restore finishes the job. A real sshd on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import HostUnreachable, PaneboardError
from tests.faults.test_safe_discard import picture
from tests.helpers import git
from tests.remote.conftest import box, host_repo, remote_socket, sshd  # noqa: F401  (the real sshd fixtures)
from tests.remote.test_rkeep import agent_with_everything, keep_area, sub_repo  # noqa: F401


def stop_at(sshd, wanted: str, seen: list[str]):
    """An on_step that stops the host's sshd (every connection dropped) when the step `wanted` comes."""
    def on_step(step: str) -> None:
        seen.append(step)
        if step == wanted:
            sshd.stop()
    return on_step


def archive_ref(box) -> str:
    return git(box.repo.root, "for-each-ref", "--format=%(objectname)", "refs/paneboard/archive/api").strip()


def test_ssh_dead_after_the_archive_leaves_the_worktree_whole_and_the_next_discard_finishes(
        box, tmp_path, sub_repo, sshd, host_repo):
    wt, unpushed = agent_with_everything(box, tmp_path)
    before = picture(wt, leave_out=("node_modules",))
    seen: list[str] = []
    with pytest.raises(HostUnreachable) as err:
        box.discard("api", on_step=stop_at(sshd, "move", seen))
    assert seen == ["archive", "move"] and "\n" not in str(err.value)
    # Nothing removed on the host; the archive is here, and the record says so.
    assert picture(wt, leave_out=("node_modules",)) == before
    commit = archive_ref(box)
    assert commit and box.state.read()["agents"]["api"]["discarding"] == commit
    with pytest.raises(PaneboardError) as err:      # the host still away: one line, nothing changed
        box.discard("api")
    assert "unreachable" in str(err.value) and "the next discard finishes" in str(err.value)
    assert picture(wt, leave_out=("node_modules",)) == before and archive_ref(box) == commit
    sshd.start()
    saved = box.discard("api")
    assert saved.commit == commit                       # finished, not archived again
    assert not wt.exists() and "api" in box.state.read()["discarded"]
    box.restore("api")
    assert picture(wt, leave_out=("node_modules",)) == before
    assert git(wt / "sub", "rev-parse", "HEAD").strip() == unpushed


def test_ssh_dead_between_moving_submodule_git_dirs_and_removing_the_worktree_restore_recovers(
        box, tmp_path, sub_repo, sshd, host_repo):
    wt, unpushed = agent_with_everything(box, tmp_path)
    before = picture(wt, leave_out=("node_modules",))
    with pytest.raises(HostUnreachable):
        box.discard("api", on_step=stop_at(sshd, "remove", []))
    # Halfway: the worktree is still there, its submodule's git dir (with the unpushed commit) in the keep area.
    kept = list(keep_area(host_repo).glob("api-*/0"))
    assert wt.is_dir() and len(kept) == 1
    assert git(tmp_path, "--git-dir", str(kept[0]), "--work-tree", str(tmp_path), "cat-file", "-t", unpushed) \
        == "commit\n"
    sshd.start()
    box.restore("api")                          # finishes the discard, then restores
    assert picture(wt, leave_out=("node_modules",)) == before
    assert not list(keep_area(host_repo).glob("api-*/0"))
    data = box.state.read()
    assert "api" in data["agents"] and "api" not in data.get("discarded", {})
    assert "discarding" not in data["agents"]["api"]


def test_ssh_dead_while_restoring_submodules_leaves_the_archive_whole_and_the_next_restore_works(
        box, tmp_path, sub_repo, sshd, host_repo):
    wt, unpushed = agent_with_everything(box, tmp_path)
    before = picture(wt, leave_out=("node_modules",))
    box.discard("api")
    seen: list[str] = []
    with pytest.raises(HostUnreachable) as err:
        box.restore("api", on_step=stop_at(sshd, "submodules", seen))
    assert seen == ["restore", "submodules"] and "\n" not in str(err.value)
    # Halfway: the submodule's git dir is in the half-restored worktree's, the record still says discarded.
    assert wt.is_dir() and not list(keep_area(host_repo).glob("api-*/0"))
    assert "restoring" in box.state.read()["discarded"]["api"]
    sshd.start()
    box.restore("api")                          # takes the half-restore back, then restores
    assert picture(wt, leave_out=("node_modules",)) == before
    assert git(wt / "sub", "rev-parse", "HEAD").strip() == unpushed
    assert "restoring" not in box.state.read()["agents"]["api"]


def test_a_restore_refused_for_a_path_in_the_way_leaves_that_path_alone_the_next_time_too(
        box, tmp_path, sub_repo, host_repo):
    from app.errors import UnsafeOperation
    wt, _ = agent_with_everything(box, tmp_path)
    box.discard("api")
    (wt / "mine.txt").parent.mkdir(parents=True)
    (wt / "mine.txt").write_text("the user's own\n")
    for _ in range(2):
        with pytest.raises(UnsafeOperation, match="already exists on host 'box'"):
            box.restore("api")
        assert (wt / "mine.txt").read_text() == "the user's own\n" and sorted(p.name for p in wt.iterdir()) == \
            ["mine.txt"]
    assert len(list(keep_area(host_repo).glob("api-*/0"))) == 1
    assert "restoring" not in box.state.read()["discarded"]["api"]


def test_a_name_with_a_newline_and_quotes_is_one_word_all_the_way(box, tmp_path, sub_repo, host_repo):
    from tests.faults.test_safe_discard import write
    wt, _ = agent_with_everything(box, tmp_path)
    write(wt / "data" / "it's $(touch pwned)\n`touch pwned`;.txt", "tricky\n")      # ignored (data/)
    write(wt / "$(touch pwned) x\ny.txt", "untracked\n")
    before = picture(wt, leave_out=("node_modules",))
    box.discard("api")
    box.restore("api")
    assert picture(wt, leave_out=("node_modules",)) == before
    assert not (Path.home() / "pwned").exists() and not (wt / "pwned").exists()
