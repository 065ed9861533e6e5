"""Fault suite, issue 10 items 1, 2, 3, 11 and 13: prune, discard and restore lose nothing; a worktree removed
from outside shows `missing`; a submodule bump merges cleanly.

Each test sets up a real repository (a real submodule where it matters), runs the real `paneboard` CLI
against a private tmux server, breaks one thing, and checks the exact outcome: exit code, the one line,
refs, and every file's bytes and executable bit, commits, staged, unstaged, untracked and ignored files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import git, kill_tmux, make_repo, paneboard, retry_until, unique_socket

ALLOW_FILE = ["-c", "protocol.file.allow=always"]


def pb(repo: Path, socket: str, *args: str) -> subprocess.CompletedProcess:
    return paneboard(*args, cwd=repo, socket_name=socket)


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def agent_json(repo: Path, socket: str, name: str) -> dict:
    return next(a for a in json.loads(ok(pb(repo, socket, "ls", "--json"))) if a["name"] == name)


def spawn(repo: Path, socket: str, name: str, command: str = "sleep 600") -> Path:
    ok(pb(repo, socket, "spawn", name, "--agent", command))
    return Path(agent_json(repo, socket, name)["worktree"])


def rev(cwd: Path, name: str) -> str | None:
    proc = subprocess.run(["git", "rev-parse", "--verify", "--quiet", name], cwd=cwd, capture_output=True, text=True)
    return proc.stdout.strip() or None


def write(path: Path, data: str | bytes, executable: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    if executable:
        path.chmod(0o755)


def picture(root: Path, leave_out: tuple[str, ...] = ()) -> dict:
    """Everything that must survive: each file's bytes (a symlink's target) and exec bit, and for the checkout
    and each initialised submodule its HEAD, branch, commits, status (untracked and ignored too), staged and
    unstaged diffs."""
    files = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for f in filenames:
            p = Path(dirpath) / f
            rel = p.relative_to(root).as_posix()
            if f == ".git" or rel.startswith(leave_out):
                continue
            if p.is_symlink():
                files[rel] = ("link", os.readlink(p))
            else:
                files[rel] = (hashlib.sha256(p.read_bytes()).hexdigest(), bool(p.stat().st_mode & 0o100))
    repos = {}
    for cwd in [root] + [p.parent for p in root.glob("*/.git")]:
        status = git(cwd, "status", "--porcelain=v1", "-uall", "--ignored=matching").splitlines()
        repos[cwd.relative_to(root).as_posix()] = {
            "head": rev(cwd, "HEAD"), "branch": git(cwd, "branch", "--show-current").strip(),
            "log": git(cwd, "log", "--format=%H %s").splitlines(),
            "status": sorted(s for s in status if not s[3:].startswith(leave_out)),
            "staged": git(cwd, "diff", "--cached", "--binary"), "unstaged": git(cwd, "diff", "--binary")}
    return {"files": files, "repos": repos}


@pytest.fixture
def sub_repo(tmp_path: Path) -> Path:
    """A repository with a real submodule `sub` (added from a local path) and a .gitignore."""
    lib = make_repo(tmp_path / "lib", {"s.txt": "s\n", ".gitignore": "*.log\n"})
    project = make_repo(tmp_path / "project", {"README.md": "# p\n", ".gitignore": ".env\nnode_modules/\ndata/\n"})
    git(project, *ALLOW_FILE, "submodule", "add", "-q", str(lib), "sub")
    git(project, "commit", "-qm", "add sub")
    return project


def init_sub(checkout: Path) -> Path:
    git(checkout, *ALLOW_FILE, "submodule", "update", "--init", "-q")
    return checkout / "sub"


# ---------------------------------------------------------------- item 1: a running agent's worktree

def test_prune_never_removes_a_running_agents_worktree(repo: Path, tmux_socket: str):
    wt = spawn(repo, tmux_socket, "p1", "bash")
    out = ok(pb(repo, tmux_socket, "prune"))
    assert f"kept paneboard/p1  {wt}: its agent p1 is running (pane %" in out and "removed" not in out
    assert wt.is_dir() and rev(repo, "refs/heads/paneboard/p1")

    # Run with another tmux server in the environment, prune still finds the pane on the server its record names.
    other = unique_socket()
    try:
        out = ok(pb(repo, other, "prune"))
    finally:
        kill_tmux(other)
    assert "kept paneboard/p1" in out and "its agent p1 is running" in out and wt.is_dir()

    # The agent goes on writing in its worktree.
    ok(pb(repo, tmux_socket, "send", "p1", "echo later > later.txt"))
    retry_until(lambda: (wt / "later.txt").read_text() == "later\n")
    (wt / "later.txt").unlink()

    ok(pb(repo, tmux_socket, "kill", "p1"))
    out = ok(pb(repo, tmux_socket, "prune"))
    assert out == f"removed paneboard/p1  {wt}\n"
    assert not wt.exists() and rev(repo, "refs/heads/paneboard/p1") is None
    assert json.loads(ok(pb(repo, tmux_socket, "ls", "--json"))) == []


# ---------------------------------------------------------------- item 2: ignored files prune cannot throw away

def test_prune_keeps_a_worktree_holding_an_ignored_env_and_names_it(repo: Path, tmux_socket: str):
    write(repo / ".gitignore", ".env\nnode_modules/\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-qm", "ignore")
    wt = spawn(repo, tmux_socket, "u5")
    write(wt / ".env", "SECRET=1\n")
    write(wt / "node_modules" / "left-pad" / "index.js", "module.exports = 1\n")
    ok(pb(repo, tmux_socket, "kill", "u5"))

    dry = ok(pb(repo, tmux_socket, "prune", "--dry-run"))
    assert dry == f"keeps paneboard/u5  {wt}: ignored files that are not disposable: .env\n"
    out = ok(pb(repo, tmux_socket, "prune"))
    assert out == f"kept paneboard/u5  {wt}: ignored files that are not disposable: .env\n"
    assert (wt / ".env").read_text() == "SECRET=1\n" and (wt / "node_modules" / "left-pad" / "index.js").exists()

    # Disposable ignored files alone keep nothing.
    (wt / ".env").unlink()
    assert ok(pb(repo, tmux_socket, "prune", "--dry-run")) == f"would remove paneboard/u5  {wt}\n"
    assert ok(pb(repo, tmux_socket, "prune")) == f"removed paneboard/u5  {wt}\n"
    assert not wt.exists()


def test_the_disposable_setting_is_validated_and_obeyed(repo: Path, tmux_socket: str):
    write(repo / ".gitignore", ".env\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-qm", "ignore")
    wt = spawn(repo, tmux_socket, "u6")
    write(wt / ".env", "SECRET=1\n")
    ok(pb(repo, tmux_socket, "kill", "u6"))
    config = repo / "paneboard.yaml"
    for text, where in (("defaults:\n  disposable:\n    - node_modules/\n    - {a: 1}\n", ":4: defaults.disposable[1]:"),
                        ("defaults:\n  disposable: {a: 1}\n", ":2: defaults.disposable: expected a list"),
                        ("defaults:\n  disposable: ['/']\n", ":2: defaults.disposable[0]: '/' is not a glob")):
        write(config, text)
        bad = pb(repo, tmux_socket, "prune")
        assert bad.returncode == 2 and bad.stdout == "" and "Traceback" not in bad.stderr
        assert bad.stderr.startswith(f"paneboard: {config}{where}") and bad.stderr.count("\n") == 1
        assert (wt / ".env").read_text() == "SECRET=1\n"
    write(config, "defaults:\n  disposable: [.env]\n")
    assert ok(pb(repo, tmux_socket, "prune")) == f"removed paneboard/u6  {wt}\n"


# ---------------------------------------------------------------- item 3: discard and restore keep it all

def test_discard_and_restore_bring_back_submodule_and_ignored_work(sub_repo: Path, tmux_socket: str):
    repo = sub_repo
    wt = spawn(repo, tmux_socket, "sm1")
    sub = init_sub(wt)
    write(sub / "committed.txt", "committed in the submodule\n")
    git(sub, "add", "committed.txt")
    git(sub, "commit", "-qm", "agent commit in sub")
    sub_commit = rev(sub, "HEAD")
    write(sub / "s.txt", "changed\n")                       # unstaged
    write(sub / "staged.txt", "staged\n")
    git(sub, "add", "staged.txt")                           # staged
    write(sub / "staged.txt", "staged, then edited\n")      # staged and unstaged
    write(sub / "new.txt", "new\n")                         # untracked
    write(sub / "notes.log", "ignored in the submodule\n")  # ignored, not disposable
    write(wt / ".env", "SECRET=1\n")                        # ignored, not disposable
    write(wt / "data" / "run.sh", "#!/bin/sh\necho run\n", executable=True)
    os.symlink("run.sh", wt / "data" / "latest")
    write(wt / "data" / "blob.bin", bytes(range(256)) * 64)
    write(wt / "node_modules" / "dep" / "index.js", "disposable\n")
    write(wt / "top.txt", "untracked in the worktree\n")
    before = picture(wt, leave_out=("node_modules",))

    preview = pb(repo, tmux_socket, "discard", "sm1")
    assert preview.returncode == 2 and "2 changed file(s), 0 commit(s), 5 ignored file(s)" in preview.stderr and "1 submodule(s)" in preview.stderr
    out = ok(pb(repo, tmux_socket, "discard", "sm1", "--yes"))
    assert out.startswith("discarded sm1; its work is archived at refs/paneboard/archive/sm1")
    assert not wt.exists() and rev(repo, "refs/heads/paneboard/sm1") is None

    assert ok(pb(repo, tmux_socket, "restore", "sm1")) == f"restored sm1: paneboard/sm1 in {wt}\n"
    assert picture(wt, leave_out=("node_modules",)) == before
    assert not (wt / "node_modules").exists()       # disposable: not archived
    assert rev(sub, "HEAD") == sub_commit and (sub / "notes.log").read_text() == "ignored in the submodule\n"
    assert git(sub, "status", "--porcelain", "--untracked-files=all") == \
        " M s.txt\nAM staged.txt\n?? new.txt\n"


def test_discard_refuses_ignored_files_over_the_bound_unless_forced(repo: Path, tmux_socket: str):
    write(repo / ".gitignore", "*.bin\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-qm", "ignore")
    wt = spawn(repo, tmux_socket, "big")
    write(wt / "big.bin", bytes(range(256)) * (51 * 4096))     # 51 MB, over the 50 MB bound
    write(wt / "small.bin", b"small\n")
    before = picture(wt)

    refused = pb(repo, tmux_socket, "discard", "big", "--yes")
    assert refused.returncode == 2 and refused.stdout == "" and refused.stderr.count("\n") == 1
    assert "discard refused: its ignored files that are not disposable come to 51.0 MB, over the 50.0 MB" \
        in refused.stderr and "biggest: big.bin (51.0 MB), small.bin (0.0 MB)" in refused.stderr
    assert picture(wt) == before and rev(repo, "refs/paneboard/archive/big") is None
    assert agent_json(repo, tmux_socket, "big")["pane_alive"]      # refused before it stopped the agent

    ok(pb(repo, tmux_socket, "discard", "big", "--yes", "--force"))
    assert not wt.exists()
    ok(pb(repo, tmux_socket, "restore", "big"))
    assert picture(wt) == before


def test_discard_refuses_a_git_repository_it_cannot_keep(repo: Path, tmux_socket: str):
    wt = spawn(repo, tmux_socket, "n1")
    nested = make_repo(wt / "vendor" / "lib", {"l.txt": "nested\n"})
    commit = rev(nested, "HEAD")
    before = picture(wt)
    refused = pb(repo, tmux_socket, "discard", "n1", "--yes")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert refused.stderr == ("paneboard: discard refused: it cannot keep vendor/lib/ (a git repository that is "
                              "not a submodule; move it out); nothing was changed\n")
    assert picture(wt) == before and rev(nested, "HEAD") == commit and rev(repo, "refs/paneboard/archive/n1") is None


# ---------------------------------------------------------------- item 11: a worktree removed outside paneboard

@pytest.mark.parametrize("removal", ["rm -rf", "git worktree remove --force"])
def test_a_worktree_removed_outside_shows_missing_and_its_commit_is_archived(repo: Path, tmux_socket: str,
                                                                           removal: str):
    wt = spawn(repo, tmux_socket, "m1")
    write(wt / "work.txt", "committed work\n")
    git(wt, "add", "work.txt")
    git(wt, "commit", "-qm", "agent work")
    tip = rev(wt, "HEAD")
    if removal == "rm -rf":
        shutil.rmtree(wt)
    else:
        git(repo, "worktree", "remove", "--force", str(wt))

    a = agent_json(repo, tmux_socket, "m1")
    assert a["status"] == "missing" and not a["worktree_exists"]
    assert a["status_why"].startswith(f"its worktree {wt} is gone (removed outside paneboard); "
                                      "its branch paneboard/m1 holds 1 commit(s) not in main")
    assert [(t["kind"], t["loud"]) for t in a["triggers"]] == [("missing", True)]
    row = [ln for ln in ok(pb(repo, tmux_socket, "ls")).splitlines() if ln.startswith("m1 ")]
    assert row and "  missing  missing!  " in row[0] and "its worktree" in row[0]

    preview = pb(repo, tmux_socket, "discard", "m1")
    assert preview.returncode == 2 and "removes 0 changed file(s), 1 commit(s) from" in preview.stderr
    ok(pb(repo, tmux_socket, "discard", "m1", "--yes"))
    archived = rev(repo, "refs/paneboard/archive/m1")
    assert rev(repo, f"{archived}^1") == tip and rev(repo, "refs/heads/paneboard/m1") is None
    ok(pb(repo, tmux_socket, "restore", "m1"))
    assert (wt / "work.txt").read_text() == "committed work\n" and rev(wt, "HEAD") == tip


def test_restore_brings_a_missing_worktree_back_from_its_branch(repo: Path, tmux_socket: str):
    wt = spawn(repo, tmux_socket, "m2")
    write(wt / "work.txt", "committed work\n")
    git(wt, "add", "work.txt")
    git(wt, "commit", "-qm", "agent work")
    shutil.rmtree(wt)
    assert ok(pb(repo, tmux_socket, "restore", "m2")) == f"restored m2: paneboard/m2 in {wt}\n"
    assert (wt / "work.txt").read_text() == "committed work\n"
    assert agent_json(repo, tmux_socket, "m2")["status"] != "missing"


# ---------------------------------------------------------------- item 13: a submodule bump merges cleanly

def bump(repo: Path, tmux_socket: str, name: str) -> tuple[Path, str]:
    # An agent that has finished: `merge` refuses a working one (issue 9), and this one's work is done.
    wt = spawn(repo, tmux_socket, name, "true")
    sub = init_sub(wt)
    write(sub / "bumped.txt", "bumped\n")
    git(sub, "add", "bumped.txt")
    git(sub, "commit", "-qm", "bump")
    return wt, rev(sub, "HEAD")


def test_merging_a_submodule_bump_leaves_the_main_checkout_clean(sub_repo: Path, tmux_socket: str):
    repo = sub_repo
    main_sub = init_sub(repo)
    _, bumped = bump(repo, tmux_socket, "b1")
    merged = pb(repo, tmux_socket, "merge", "b1")
    assert merged.returncode == 0 and "merged b1 into main" in merged.stdout and "submodule" not in merged.stderr
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    assert rev(main_sub, "HEAD") == bumped and (main_sub / "bumped.txt").read_text() == "bumped\n"
    assert git(repo, "ls-tree", "HEAD", "sub").split()[2] == bumped


def test_merge_leaves_a_changed_submodule_checkout_alone_and_says_so(sub_repo: Path, tmux_socket: str):
    repo = sub_repo
    main_sub = init_sub(repo)
    old = rev(main_sub, "HEAD")
    write(main_sub / "s.txt", "the user's edit\n")
    _, bumped = bump(repo, tmux_socket, "b2")
    merged = pb(repo, tmux_socket, "merge", "b2")
    assert merged.returncode == 0 and git(repo, "ls-tree", "HEAD", "sub").split()[2] == bumped
    assert f"paneboard: submodule sub in {repo} was left as it was (it has local changes or another commit); " \
           f"then run `git submodule update -- sub` in {repo}" in merged.stderr
    assert rev(main_sub, "HEAD") == old and (main_sub / "s.txt").read_text() == "the user's edit\n"


def test_prune_keeps_a_worktree_whose_submodule_commits_are_nowhere_else(sub_repo: Path, tmux_socket: str):
    repo = sub_repo
    git(repo, "submodule", "deinit", "-q", "-f", "sub")   # the main checkout's submodule is not initialised
    wt, bumped = bump(repo, tmux_socket, "b3")
    ok(pb(repo, tmux_socket, "merge", "b3"))
    assert wt.is_dir()
    out = ok(pb(repo, tmux_socket, "prune"))
    assert out == f"kept paneboard/b3  {wt}: submodule sub has 1 commit(s) found nowhere else (push them first)\n"
    assert rev(wt / "sub", "HEAD") == bumped


async def test_the_dashboards_monitor_shows_missing_with_a_trigger(repo: Path, tmux_socket: str):
    import asyncio

    from app.config import Settings
    from app.fleet import Fleet
    from app.git.worktrees import find_repo
    from app.model import Kind, TriggerKind
    from app.monitor import Monitor
    from tests.helpers import until

    wt = spawn(repo, tmux_socket, "m3")
    write(wt / "work.txt", "committed work\n")
    git(wt, "add", "work.txt")
    git(wt, "commit", "-qm", "agent work")
    fleet = Fleet(find_repo(repo), Settings(tmux_socket=tmux_socket))

    def missing(a):
        t = next((t for t in a.triggers if t.kind == TriggerKind.MISSING), None)
        return a.status.kind == Kind.MISSING and "holds 1 commit(s)" in a.status.why and t is not None and t.loud

    async def started():
        monitor = Monitor(fleet, rediscover_every=0.3)
        return monitor, asyncio.create_task(monitor.run())

    async def stop(task):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    def m3(monitor):
        return next(a for a in monitor.agents() if a.name == "m3")

    # A dashboard that sees the worktree go...
    monitor, task = await started()
    try:
        await until(lambda: m3(monitor).status.kind in (Kind.WORKING, Kind.STARTING))
        shutil.rmtree(wt)
        await until(lambda: missing(m3(monitor)))
    finally:
        await stop(task)
    # ...and one started after it went.
    monitor, task = await started()
    try:
        await until(lambda: missing(m3(monitor)))
    finally:
        await stop(task)
