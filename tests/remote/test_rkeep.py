"""Discard and restore of an agent on another host keep everything (issue 14 item 1): ignored files that are not
disposable travel in the archive, submodules' git dirs (unpushed commits included) wait in the host clone's keep
area, and restore brings it all back, also when the host's clone lost the archive. A real sshd on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from app.errors import PaneboardError, UnsafeOperation
from app.monitor import assess_once
from tests.faults.test_safe_discard import ALLOW_FILE, picture, write
from tests.helpers import git, make_repo, retry_until
from tests.remote.conftest import remote_git, remote_task


@pytest.fixture
def sub_repo(repo: Path, tmp_path: Path) -> Path:
    """The test repository with a real submodule `sub` (from a local path the host reaches too) and a .gitignore."""
    lib = make_repo(tmp_path / "lib", {"s.txt": "s\n", ".gitignore": "*.log\n"})
    write(repo / ".gitignore", ".env\nnode_modules/\ndata/\n")
    git(repo, *ALLOW_FILE, "submodule", "add", "-q", str(lib), "sub")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-qm", "add sub")
    return repo


def agent_with_everything(box, tmp_path: Path) -> tuple[Path, str]:
    """A remote agent whose worktree holds an ignored .env, data files (executable, symlink, a newline in a
    name), a disposable node_modules/, and an initialised submodule with an unpushed commit, unstaged,
    staged, untracked and ignored work; (worktree, the submodule's unpushed commit)."""
    a = box.spawn(remote_task(tmp_path, "api", [{"do": "idle"}]))
    wt = Path(a.worktree)
    git(wt, *ALLOW_FILE, "submodule", "update", "--init", "-q")
    sub = wt / "sub"
    write(sub / "committed.txt", "committed in the submodule\n")
    git(sub, "add", "committed.txt")
    git(sub, "commit", "-qm", "unpushed commit in sub")
    write(sub / "s.txt", "changed\n")                       # unstaged
    write(sub / "staged.txt", "staged\n")
    git(sub, "add", "staged.txt")                           # staged
    write(sub / "new.txt", "new\n")                         # untracked
    write(sub / "notes.log", "ignored in the submodule\n")  # ignored, not disposable
    write(wt / ".env", "SECRET=1\r\n")                      # ignored, not disposable (CRLF kept as is)
    write(wt / "data" / "run.sh", "#!/bin/sh\necho run\n", executable=True)
    os.symlink("run.sh", wt / "data" / "latest")
    write(wt / "data" / "odd\nname.txt", "a newline in my name\n")
    write(wt / "data" / "blob.bin", bytes(range(256)) * 64)
    write(wt / "node_modules" / "dep" / "index.js", "disposable\n")
    write(wt / "top.txt", "untracked in the worktree\n")
    return wt, git(sub, "rev-parse", "HEAD").strip()


def keep_area(host_repo: Path) -> Path:
    return host_repo / ".git" / "paneboard" / "archive" / "modules"


def test_discard_keeps_ignored_files_and_submodule_work_on_the_host_and_restore_brings_it_all_back(
        box, tmp_path, sub_repo, host_repo):
    wt, unpushed = agent_with_everything(box, tmp_path)
    before = picture(wt, leave_out=("node_modules",))
    holdings = box.discard_holdings("api")
    assert sorted(p for p, _ in holdings.all_ignored()) == [".env", "data/blob.bin", "data/latest",
                                                             "data/odd\nname.txt", "data/run.sh", "sub/notes.log"]
    assert [s.path for s in holdings.submodules] == ["sub"]

    saved = box.discard("api")
    assert saved.ignored == 5 and saved.submodules == 1
    assert not wt.exists() and remote_git(host_repo, "branch", "--list", "paneboard/api") == ""
    # The ignored files' commit came here with the archive (a parent of it), bytes as they were.
    ignored = next(line.split(": ")[1] for line in git(box.repo.root, "log", "-1", "--format=%B", saved.ref)
                   .splitlines() if line.startswith("Paneboard-Ignored: "))
    assert git(box.repo.root, "rev-list", "--parents", "-n", "1", saved.ref).split()[-1] == ignored
    assert subprocess.run(["git", "show", f"{ignored}:.env"], cwd=box.repo.root, capture_output=True).stdout \
        == b"SECRET=1\r\n"
    assert "node_modules" not in git(box.repo.root, "ls-tree", "-r", "--name-only", ignored)
    # The submodule's git dir, with its unpushed commit, waits in the host clone's keep area.
    kept = list(keep_area(host_repo).glob("api-*/0"))
    assert len(kept) == 1
    assert git(tmp_path, "--git-dir", str(kept[0]), "--work-tree", str(tmp_path), "cat-file", "-t", unpushed) \
        == "commit\n"

    notes: list[str] = []
    box.restore("api", notes)
    assert notes == []
    assert picture(wt, leave_out=("node_modules",)) == before
    assert not (wt / "node_modules").exists()       # disposable: not archived
    assert git(wt / "sub", "rev-parse", "HEAD").strip() == unpushed
    assert git(wt / "sub", "status", "--porcelain", "--untracked-files=all") == " M s.txt\nA  staged.txt\n?? new.txt\n"
    assert os.access(wt / "data" / "run.sh", os.X_OK) and os.readlink(wt / "data" / "latest") == "run.sh"
    assert not list(keep_area(host_repo).glob("api-*/0"))      # moved back, not copied
    assert box.state.read()["agents"]["api"]["host"] == "box"


def test_restore_pushes_the_archive_with_its_ignored_files_when_the_hosts_clone_lost_it(box, tmp_path, repo,
                                                                                       host_repo):
    write(repo / ".gitignore", ".env\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-qm", "ignore .env")
    a = box.spawn(remote_task(tmp_path, "api", [{"do": "idle"}]))
    wt = Path(a.worktree)
    write(wt / ".env", "KEY=kept\n")
    write(wt / "notes.txt", "untracked\n")
    saved = box.discard("api")
    # The host's clone loses the archive: its refs, and every object they alone held.
    remote_git(host_repo, "update-ref", "-d", saved.ref)
    for ref in remote_git(host_repo, "for-each-ref", "--format=%(refname)", "refs/paneboard/").split():
        remote_git(host_repo, "update-ref", "-d", ref)
    remote_git(host_repo, "reflog", "expire", "--expire=now", "--all")
    remote_git(host_repo, "gc", "-q", "--prune=now")
    assert subprocess.run(["git", "-C", str(host_repo), "cat-file", "-e", saved.commit]).returncode != 0

    box.restore("api")
    assert (wt / ".env").read_text() == "KEY=kept\n" and (wt / "notes.txt").read_text() == "untracked\n"
    assert remote_git(wt, "status", "--porcelain", "--ignored") == "?? notes.txt\n!! .env\n"


def test_restore_says_plainly_in_its_one_line_when_a_submodules_git_dir_is_gone_from_the_host(
        box, tmp_path, sub_repo, host_repo):
    import shutil

    from tests.helpers import paneboard
    wt, _ = agent_with_everything(box, tmp_path)
    box.discard("api")
    shutil.rmtree(keep_area(host_repo))
    # The CLI reads the task file for the host: write one naming the test's sshd.
    host = box.settings.hosts[0]
    (sub_repo / "paneboard.yaml").write_text(
        f"hosts:\n  box: {{ssh: {list(host.ssh)}, repo: {host.repo}, tmux_socket: {host.tmux_socket}}}\n"
        f"tasks: []\n")
    out = paneboard("restore", "api", cwd=sub_repo, socket_name=box.settings.tmux_socket)
    assert out.returncode == 0 and out.stdout.count("\n") == 1, out.stdout + out.stderr
    assert out.stdout.startswith(f"restored api: paneboard/api in {wt}; the work of submodule sub is gone: its "
                                 f"git dir ")
    assert "is no longer on host 'box' (its folder is left empty)" in out.stdout
    assert (wt / ".env").read_bytes() == b"SECRET=1\r\n" and (wt / "data" / "odd\nname.txt").exists()
    assert (wt / "sub").is_dir() and not any((wt / "sub").iterdir())


def test_discard_refuses_in_one_line_and_changes_nothing_what_it_cannot_keep_or_reach(box, tmp_path, repo,
                                                                                     host_repo, sshd):
    a = box.spawn(remote_task(tmp_path, "api", [{"do": "idle"}]))
    wt = Path(a.worktree)
    make_repo(wt / "vendor" / "lib", {"l.txt": "nested\n"})
    before = picture(wt)
    with pytest.raises(UnsafeOperation) as err:
        box.discard("api")
    assert str(err.value) == ("discard refused: it cannot keep vendor/lib/ (a git repository that is not a "
                              "submodule; move it out); nothing was changed")
    assert picture(wt) == before and "api" in box.state.read()["agents"]
    assert retry_until(lambda: next(x for x in assess_once(box) if x.name == "api")).pane_alive
    sshd.stop()
    with pytest.raises(PaneboardError) as err:
        box.discard("api")
    assert "unreachable" in str(err.value) and "\n" not in str(err.value)
    assert picture(wt) == before and "api" in box.state.read()["agents"]
    assert git(repo, "for-each-ref", "refs/paneboard/archive/") == ""


def test_ignored_files_over_the_bound_are_refused_unless_forced_as_locally(box, tmp_path, repo):
    write(repo / ".gitignore", "*.bin\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-qm", "ignore")
    a = box.spawn(remote_task(tmp_path, "big", [{"do": "idle"}]))
    wt = Path(a.worktree)
    write(wt / "big.bin", bytes(range(256)) * (51 * 4096))     # 51 MB, over the 50 MB bound
    write(wt / "small.bin", b"small\n")
    with pytest.raises(UnsafeOperation) as err:
        box.discard("big")
    assert "its ignored files that are not disposable come to 51.0 MB, over the 50.0 MB" in str(err.value)
    assert "biggest: big.bin (51.0 MB), small.bin (0.0 MB)" in str(err.value)
    assert (wt / "big.bin").exists() and "big" in box.state.read()["agents"]
    box.discard("big", force=True)
    assert not wt.exists()
    box.restore("big")
    assert (wt / "big.bin").stat().st_size == 51 * 4096 * 256 and (wt / "small.bin").read_bytes() == b"small\n"


def test_a_worktree_gone_from_the_host_is_discarded_from_its_branch_and_restored(box, tmp_path, host_repo):
    import shutil
    a = box.spawn(remote_task(tmp_path, "api", [{"do": "idle"}]))
    wt = Path(a.worktree)
    write(wt / "work.txt", "committed\n")
    git(wt, "add", "work.txt")
    git(wt, "commit", "-qm", "agent work")
    tip = git(wt, "rev-parse", "HEAD").strip()
    shutil.rmtree(wt)
    saved = box.discard("api")
    assert git(box.repo.root, "rev-parse", f"{saved.ref}^1").strip() == tip
    assert remote_git(host_repo, "branch", "--list", "paneboard/api") == ""
    box.restore("api")
    assert (wt / "work.txt").read_text() == "committed\n" and git(wt, "rev-parse", "HEAD").strip() == tip
