"""Fault suite (issue 10, items 4, 5, 6, 7, 12): unreadable state and journal files, merges a crash
interrupted, merge refusals that must change nothing, and a base branch deleted under the agents.

Each test sets up a real repository (and a real tmux server on a private socket), breaks one
thing, and checks the exact outcome through the real CLI: exit code, one line on stderr, files,
refs, and that nothing was lost.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, git, paneboard

RUNNING = "sleep 300"
DONE = "true"          # an agent that has finished: its pane stays (remain-on-exit), nothing runs in it


# ---------------------------------------------------------------- helpers

def pb(repo: Path, sock: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The real CLI; with env, extra environment (a crash point)."""
    if env is None:
        return paneboard(*args, cwd=repo, socket_name=sock)
    full = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    full.update(PANEBOARD_TMUX_SOCKET=sock, PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=repo, capture_output=True, text=True,
                          env=full, timeout=60)


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result


def one_line_refusal(result: subprocess.CompletedProcess) -> str:
    """A refusal: exit 2, no traceback, one line on stderr (after the merge's step lines)."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if not ln.startswith("… ")]
    assert len(lines) == 1, lines
    return lines[0]


def ls(repo: Path, sock: str) -> dict:
    return {a["name"]: a for a in json.loads(ok(pb(repo, sock, "ls", "--json")).stdout)}


def spawn(repo: Path, sock: str, name: str, agent: str = RUNNING, *extra: str) -> Path:
    ok(pb(repo, sock, "spawn", name, "--agent", agent, "--prompt", f"do {name}", *extra))
    return Path(ls(repo, sock)[name]["worktree"])


def state_path(repo: Path) -> Path:
    return repo / ".git" / "paneboard" / "state.json"


def state(repo: Path) -> dict:
    return json.loads(state_path(repo).read_text())


def refs(repo: Path) -> str:
    return git(repo, "for-each-ref", "--format=%(refname) %(objectname)")


def files(tree: Path) -> dict[str, str]:
    """Every file under tree (but .git), with a hash of its content: untracked and ignored ones too."""
    out = {}
    for path in sorted(tree.rglob("*")):
        rel = path.relative_to(tree)
        if rel.parts[0] == ".git" or not path.is_file():
            continue
        out[str(rel)] = hashlib.sha1(path.read_bytes()).hexdigest()
    return out


def everything(repo: Path, *worktrees: Path) -> tuple:
    """What a refused merge must leave as it was: every ref, and each checkout's index and files."""
    seen: list = [refs(repo)]
    for tree in (repo, *worktrees):
        seen += [git(tree, "ls-files", "-s"), git(tree, "rev-parse", "HEAD"), files(tree)]
    return tuple(seen)


# ---------------------------------------------------------------- item 4: state.json unreadable

def three_agents(repo: Path, sock: str) -> dict[str, Path]:
    """k1 running, k2 stopped with `kill` (work kept), k3 discarded (work archived)."""
    wts = {n: spawn(repo, sock, n) for n in ("k1", "k2", "k3")}
    (wts["k2"] / "k2.txt").write_text("k2 work\n")
    ok(pb(repo, sock, "kill", "k2"))
    (wts["k3"] / "k3.txt").write_text("k3 work\n")
    ok(pb(repo, sock, "discard", "k3", "--yes"))
    assert not wts["k3"].exists()
    return wts


def test_random_bytes_in_state_are_moved_aside_and_every_agent_rebuilt(repo: Path, tmux_socket: str):
    wts = three_agents(repo, tmux_socket)
    garbage = os.urandom(100) + b"\xff"
    state_path(repo).write_bytes(garbage)

    result = ok(pb(repo, tmux_socket, "ls", "--json"))
    warning = [ln for ln in result.stderr.splitlines() if ln]
    assert len(warning) == 1 and "could not be read" in warning[0] and "moved aside" in warning[0], warning
    aside = [p for p in state_path(repo).parent.iterdir() if p.name.startswith("state.json.corrupt-")]
    assert len(aside) == 1 and aside[0].read_bytes() == garbage   # the unreadable file is kept, byte for byte
    agents = {a["name"]: a for a in json.loads(result.stdout)}
    # `sleep 300` shows a blank screen: a just-started agent whose screen is still blank is starting (issue 11).
    assert agents["k1"]["pane_alive"] and agents["k1"]["status"] == "starting"
    assert "k2" in agents and not agents["k2"]["pane_alive"] and agents["k2"]["files_changed"] == 1
    assert "k3" not in agents
    # Shown once: the next command has nothing to say about it.
    assert ok(pb(repo, tmux_socket, "ls")).stderr == ""

    restored = ok(pb(repo, tmux_socket, "restore", "k3"))
    assert "restored k3" in restored.stdout
    assert (wts["k3"] / "k3.txt").read_text() == "k3 work\n"
    assert (wts["k2"] / "k2.txt").read_text() == "k2 work\n"

    # The next spawn adds to the rebuilt state; it does not start a new one holding only itself.
    spawn(repo, tmux_socket, "k4")
    assert set(state(repo)["agents"]) == {"k1", "k2", "k3", "k4"}
    ports = [a["port"] for a in ls(repo, tmux_socket).values() if a["pane_alive"]]
    assert len(ports) == len(set(ports)), ports   # k4 is not handed k1's port


def test_spawn_as_the_first_command_after_the_damage_keeps_every_agent(repo: Path, tmux_socket: str):
    """Two commands at once meet the damaged file: one moves it aside and rebuilds, the other reads the result."""
    three_agents(repo, tmux_socket)
    state_path(repo).write_bytes(b'{"version":1,"agents":[]}')
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    env.update(PANEBOARD_TMUX_SOCKET=tmux_socket, PYTHONPATH=str(ROOT))
    commands = [["spawn", "k4", "--agent", RUNNING], ["ls"], ["ls", "--json"]]
    procs = [subprocess.Popen([sys.executable, "-m", "app.cli", *c], cwd=repo, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for c in commands]
    results = [(p.wait(60), *p.communicate()) for p in procs]
    assert all(code == 0 and "Traceback" not in err for code, _, err in results), results
    warned = [ln for _, _, err in results for ln in err.splitlines() if "moved aside" in ln]
    assert len(warned) == 1, results
    assert len(list(state_path(repo).parent.glob("state.json.corrupt-*"))) == 1
    data = state(repo)
    assert set(data["agents"]) == {"k1", "k2", "k4"} and set(data["discarded"]) == {"k3"}


@pytest.mark.parametrize("content", [
    b'{"version":1,"agents":[]}',
    b"{}",
    b"[]",
    b"",
    b'{"version": 1, "agents": {"k1": {"bra',                                  # truncated
    b'{"version": 1, "agents": {"k1": {"started_at": "yesterday"}}, "queued": {}}',
    b'{"version": 1, "agents": {"k1": "k1"}, "queued": {}}',
    b'{"version": 1, "agents": {}, "queued": {"q": {"after": "k1"}}}',
    b'{"version": 1, "agents": {}, "queued": {}, "discarded": {"k3": {"branch": 3}}}',
    b'{"version": 7, "agents": {}, "queued": {}}',
], ids=["agents-list", "empty-object", "list", "empty-file", "truncated", "field-type", "record-type",
        "queued-after-type", "discarded-field-type", "future-version"])
def test_state_of_the_wrong_shape_is_rebuilt_not_replaced(repo: Path, tmux_socket: str, content: bytes):
    spawn(repo, tmux_socket, "k1")
    k2 = spawn(repo, tmux_socket, "k2")
    ok(pb(repo, tmux_socket, "kill", "k2"))
    state_path(repo).write_bytes(content)

    for command in (["ls"], ["ls", "--json"], ["diff", "k2", "--stat"]):
        assert "Traceback" not in pb(repo, tmux_socket, *command).stderr
    agents = ls(repo, tmux_socket)
    assert set(agents) == {"k1", "k2"} and agents["k1"]["pane_alive"] and not agents["k2"]["pane_alive"]
    aside = [p for p in state_path(repo).parent.iterdir() if p.name.startswith("state.json.corrupt-")]
    assert [p.read_bytes() for p in aside] == [content]
    assert k2.is_dir() and git(repo, "rev-parse", "--verify", "paneboard/k2")


@pytest.mark.parametrize("when", ["before-start", "while-running"])
def test_an_unreadable_state_is_a_notification_in_the_dashboard(repo: Path, tmux_socket: str, when: str):
    import asyncio

    from app.dashboard import Dashboard
    from app.fleet import Fleet
    spawn(repo, tmux_socket, "k1")
    if when == "before-start":
        state_path(repo).write_bytes(b'{"version":1,"agents":[]}')
    fleet = Fleet.open(repo, socket_name=tmux_socket)
    if when == "while-running":
        state_path(repo).write_bytes(b'{"version":1,"agents":[]}')

    async def run() -> list[str]:
        app = Dashboard(fleet, refresh_seconds=0.2)
        async with app.run_test(size=(140, 44)) as pilot:
            for _ in range(300):
                notes = [n.message for n in app._notifications]
                if any("moved aside" in n for n in notes) and "k1" in app.agents:
                    return notes
                await pilot.pause(0.05)
        raise AssertionError("no notification")

    notes = asyncio.run(run())
    assert len([n for n in notes if "moved aside" in n]) == 1
    assert "k1" in state(repo)["agents"]


# ---------------------------------------------------------------- item 5: merge-journal.json unreadable

def journal(repo: Path) -> Path:
    return repo / ".git" / "paneboard" / "merge-journal.json"


@pytest.mark.parametrize("content", [
    os.urandom(64) + b"\xfe", b"{}", b"[1, 2]", b"", b'{"version": 1, "ref": "refs/heads/main"',
    json.dumps({"version": 1, "branch": "paneboard/a", "base": "main", "ref": "refs/heads/main",
                "old": "x" * 40, "new": "y" * 40, "checkouts": []}).encode(),
    json.dumps({"version": 1, "branch": "paneboard/a", "base": "main", "ref": "refs/heads/main",
                "old": "a" * 40, "new": "b" * 40, "checkouts": "."}).encode(),
], ids=["random-bytes", "empty-object", "list", "empty-file", "truncated", "not-commit-ids", "checkouts-type"])
def test_unreadable_merge_journal_is_moved_aside_with_one_line(repo: Path, tmux_socket: str, content: bytes):
    wt = spawn(repo, tmux_socket, "a")
    (wt / "a.txt").write_text("a\n")
    journal(repo).write_bytes(content)
    before = everything(repo, wt)

    first = ok(pb(repo, tmux_socket, "ls"))
    lines = first.stderr.splitlines()
    assert len(lines) == 1 and "merge journal" in lines[0] and "moved aside" in lines[0], lines
    assert "( -> )" not in lines[0] and "into  was" not in lines[0]
    assert not journal(repo).exists()
    aside = [p for p in journal(repo).parent.iterdir() if p.name.startswith("merge-journal.json.corrupt-")]
    assert [p.read_bytes() for p in aside] == [content]
    assert everything(repo, wt) == before   # nothing touched
    # Every command after it works, and says nothing more about it.
    for command in (["ls", "--json"], ["diff", "a", "--stat"]):
        assert ok(pb(repo, tmux_socket, *command)).stderr == ""


def test_unreadable_journal_found_by_merge_itself_does_not_stop_the_merge(repo: Path, tmux_socket: str):
    from app.git import merge as m
    git(repo, "checkout", "-q", "-b", "side")
    (repo / "s.txt").write_text("s\n")
    git(repo, "add", "s.txt")
    git(repo, "commit", "-q", "-m", "side")
    git(repo, "checkout", "-q", "main")
    journal(repo).parent.mkdir(parents=True, exist_ok=True)
    journal(repo).write_bytes(b"{}")
    result = m.merge(repo, "side", "main")
    assert result.changed and (repo / "s.txt").read_text() == "s\n"
    assert not journal(repo).exists()


def test_recovery_message_names_the_merge(repo: Path):
    from app.git.merge import Recovery
    text = Recovery("finished", "main", "a" * 40, "b" * 40).summary()
    assert text == f"an interrupted merge into main was finished ({'a' * 10} -> {'b' * 10})"


# ---------------------------------------------------------------- item 6: a merge finished by recovery

def after_setup(repo: Path, sock: str) -> Path:
    """Task a1 (an agent that has finished) started, b1 queued `after: [a1]`; a1 has work."""
    (repo / "paneboard.yaml").write_text(
        "tasks:\n"
        f"  - name: a1\n    agent: '{DONE}'\n    prompt: do a1\n"
        f"  - name: b1\n    agent: '{RUNNING}'\n    prompt: do b1\n    after: [a1]\n")
    git(repo, "add", "paneboard.yaml")
    git(repo, "commit", "-q", "-m", "tasks")
    up = ok(pb(repo, sock, "up"))
    assert "queued  b1" in up.stdout
    wt = Path(ls(repo, sock)["a1"]["worktree"])
    (wt / "src" / "app.py").write_text("print('a1')\n")
    (wt / "a1.txt").write_text("new in a1\n")
    return wt


@pytest.mark.parametrize("step", ["ref-updated", "checkout-partial", "checkout-updated", "merged-not-recorded"])
def test_merge_finished_by_recovery_has_every_effect_of_a_merge(repo: Path, tmux_socket: str, step: str):
    wt = after_setup(repo, tmux_socket)
    crashed = pb(repo, tmux_socket, "merge", "a1", env={"PANEBOARD_MERGE_CRASH_AT": step})
    assert crashed.returncode == -9, (crashed.returncode, crashed.stderr)
    assert ls(repo, tmux_socket)  # any command settles it
    agents = ls(repo, tmux_socket)
    a1 = agents["a1"]
    assert a1["merged"] and a1["pane"] is None and not wt.exists()
    assert agents["b1"]["status"] != "queued" and agents["b1"]["pane_alive"]   # its `after:` task started
    assert (repo / "src" / "app.py").read_text() == "print('a1')\n"
    assert (repo / "a1.txt").read_text() == "new in a1\n"
    assert git(repo, "status", "--porcelain") == ""
    assert "merging" not in state(repo)["agents"]["a1"]
    windows = subprocess.run(["tmux", "-L", tmux_socket, "list-windows", "-a", "-F", "#{window_name}"],
                             capture_output=True, text=True).stdout.split()
    assert "a1" not in windows


@pytest.mark.parametrize("step", ["computed", "journaled"])
def test_merge_killed_before_the_base_moved_leaves_the_agent_unmerged(repo: Path, tmux_socket: str, step: str):
    wt = after_setup(repo, tmux_socket)
    main_before = git(repo, "rev-parse", "main")
    crashed = pb(repo, tmux_socket, "merge", "a1", env={"PANEBOARD_MERGE_CRASH_AT": step})
    assert crashed.returncode == -9
    agents = ls(repo, tmux_socket)
    assert not agents["a1"]["merged"] and agents["b1"]["status"] == "queued"
    assert git(repo, "rev-parse", "main") == main_before and git(repo, "status", "--porcelain") == ""
    assert (wt / "a1.txt").read_text() == "new in a1\n"   # the work stays (committed on its branch)
    assert "merging" not in state(repo)["agents"]["a1"]
    # And merging it again now works.
    ok(pb(repo, tmux_socket, "merge", "a1"))
    assert (repo / "a1.txt").read_text() == "new in a1\n"


def test_a_live_merge_is_not_taken_for_an_interrupted_one(repo: Path, tmux_socket: str):
    """A merge mark whose merge still runs (its lock held) is left alone by other commands."""
    import fcntl
    wt = spawn(repo, tmux_socket, "a1", DONE)
    (wt / "a1.txt").write_text("a1\n")
    with open(repo / ".git" / "paneboard" / "state.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = state(repo)
        data["agents"]["a1"]["merging"] = {"base": "main", "strategy": "merge", "at": 1.0,
                                           "base_commit": git(repo, "rev-parse", "main").strip()}
        state_path(repo).write_text(json.dumps(data))
        fcntl.flock(lock, fcntl.LOCK_UN)
    with open(repo / ".git" / "paneboard" / "agent-merge.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        ok(pb(repo, tmux_socket, "ls"))
        assert "merging" in state(repo)["agents"]["a1"]
    ok(pb(repo, tmux_socket, "ls"))
    assert "merging" not in state(repo)["agents"]["a1"] and not ls(repo, tmux_socket)["a1"]["merged"]


# ---------------------------------------------------------------- item 7: refusals change nothing

def _untracked_in_the_way(repo: Path, wt: Path) -> None:
    (wt / "notes.txt").write_text("agent's notes\n")
    (repo / "notes.txt").write_text("the user's own notes\n")


def _ignored_in_the_way(repo: Path, wt: Path) -> None:
    # The base learns to ignore *.log after the agent forked; the user has an ignored out.log.
    (repo / ".gitignore").write_text("*.log\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-q", "-m", "ignore logs")
    (repo / "out.log").write_text("the user's log\n")
    (wt / "out.log").write_text("agent's log\n")


def _tracked_change_in_main(repo: Path, wt: Path) -> None:
    (repo / "README.md").write_text("# edited by the user\n")


def _operation_in_progress(repo: Path, wt: Path) -> None:
    (repo / ".git" / "MERGE_HEAD").write_text(git(repo, "rev-parse", "HEAD"))


def _index_locked(repo: Path, wt: Path) -> None:
    (repo / ".git" / "index.lock").write_bytes(b"")


def _conflict(repo: Path, wt: Path) -> None:
    (repo / "src" / "app.py").write_text("print('base')\n")
    git(repo, "commit", "-q", "-am", "base edits app.py")


def _check_fails(repo: Path, wt: Path) -> None:
    (repo / "paneboard.yaml").write_text("defaults:\n  check: sh -c 'exit 3'\n")


def _hook_refuses(repo: Path, wt: Path) -> None:
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text("#!/bin/sh\necho 'hook says no' >&2\nexit 1\n")
    hook.chmod(0o755)


def _base_deleted(repo: Path, wt: Path) -> None:
    git(repo, "checkout", "-q", "-b", "other")
    git(repo, "branch", "-q", "-D", "main")


REFUSALS = {
    "untracked-in-the-way": (_untracked_in_the_way, "would overwrite untracked or ignored notes.txt"),
    "ignored-in-the-way": (_ignored_in_the_way, "would overwrite untracked or ignored out.log"),
    "tracked-change-in-main": (_tracked_change_in_main, "has uncommitted changes"),
    "operation-in-progress": (_operation_in_progress, "git operation in progress (MERGE_HEAD)"),
    "index-locked": (_index_locked, "locked by another git command"),
    "conflict": (_conflict, "conflicts with main in src/app.py"),
    "check-fails": (_check_fails, "check `sh -c 'exit 3'` failed"),
    "hook-refuses": (_hook_refuses, "hook says no"),
    "base-deleted": (_base_deleted, "the base branch main of a no longer exists"),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_a_refused_merge_changes_nothing(repo: Path, tmux_socket: str, case: str):
    wt = spawn(repo, tmux_socket, "a", DONE)
    (wt / "src" / "app.py").write_text("print('agent')\n")           # unstaged
    (wt / "staged.txt").write_text("staged\n")
    git(wt, "add", "staged.txt")                                      # staged
    (wt / "new.txt").write_text("untracked\n")                        # untracked
    breaks, expected = REFUSALS[case]
    breaks(repo, wt)
    before = everything(repo, wt)
    status_before = git(wt, "status", "--porcelain=v1", "--untracked-files=all")

    line = one_line_refusal(pb(repo, tmux_socket, "merge", "a"))
    assert expected in line, line
    assert everything(repo, wt) == before
    assert git(wt, "status", "--porcelain=v1", "--untracked-files=all") == status_before
    assert not ls(repo, tmux_socket)["a"]["merged"]


# ---------------------------------------------------------------- item 12: the base branch deleted

def test_deleted_base_is_named_with_what_to_do(repo: Path, tmux_socket: str):
    wt = spawn(repo, tmux_socket, "g3", DONE)
    (wt / "src" / "app.py").write_text("print('g3')\n")
    (wt / "g3.txt").write_text("g3\n")
    git(wt, "add", "g3.txt")
    git(wt, "commit", "-q", "-m", "g3 commit")
    (wt / "later.txt").write_text("uncommitted\n")
    fork = git(repo, "rev-parse", "main").strip()
    git(repo, "checkout", "-q", "-b", "other")
    git(repo, "branch", "-q", "-D", "main")
    before = everything(repo, wt)

    agent = ls(repo, tmux_socket)["g3"]
    assert agent["files_changed"] == 3 and agent["commits"] == 1   # its work, against where it started
    for command in (["merge", "g3"], ["discard", "g3", "--yes"], ["diff", "g3"]):
        line = one_line_refusal(pb(repo, tmux_socket, *command))
        assert line == (f"paneboard: the base branch main of g3 no longer exists: create it again "
                        f"(`git branch main {fork[:10]}`, where g3 started) or set `base:` in paneboard.yaml"), line
    assert everything(repo, wt) == before

    # Either way out works: `base:` set to a branch that exists ...
    (repo / "paneboard.yaml").write_text("defaults:\n  base: other\n")
    shown = ok(pb(repo, tmux_socket, "diff", "g3", "--stat")).stdout
    assert "g3 (paneboard/g3, with uncommitted work) vs other" in shown
    (repo / "paneboard.yaml").unlink()
    # ... or the branch created again where it was.
    git(repo, "branch", "main", fork)
    ok(pb(repo, tmux_socket, "merge", "g3"))
    assert git(repo, "show", "main:g3.txt") == "g3\n"


def test_spawn_with_a_deleted_configured_base_says_what_to_do(repo: Path, tmux_socket: str):
    (repo / "paneboard.yaml").write_text("defaults:\n  base: trunk\n")
    line = one_line_refusal(pb(repo, tmux_socket, "spawn", "x", "--agent", RUNNING))
    assert "the base branch 'trunk' does not exist: create it" in line and "`base:` in paneboard.yaml" in line
    assert git(repo, "branch", "--list", "paneboard/*") == ""
