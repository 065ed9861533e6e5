"""Operating agents through a day: custom commands' `{prompt}`, the merge guard for live agents,
worktrees made ready (`copy:`, `setup:`), and the demo that keeps running."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from app import presets
from app.config import Task
from app.fleet import Fleet
from app.model import TriggerKind
from tests.helpers import (
    ROOT,
    demo_command,
    demo_script,
    git,
    kill_tmux,
    paneboard,
    retry_until,
    unique_socket,
)

HOSTILE_PROMPT = "it's \"quoted\" $(touch PWNED) `touch PWNED2` ; a  b\tc"

# A stand-in agent: writes its argv to a file, then its first line of input to another.
ARGV_AGENT = """\
import json, sys
out = sys.argv[sys.argv.index("--out") + 1]
with open(out + ".argv", "w") as f:
    json.dump(sys.argv[1:], f)
print("ready?", flush=True)
line = sys.stdin.readline()
with open(out + ".read", "w") as f:
    f.write(line)
print("bye", flush=True)
import time; time.sleep(300)
"""


def ls(repo: Path, sock: str) -> dict:
    out = paneboard("ls", "--json", cwd=repo, socket_name=sock)
    assert out.returncode == 0, out.stderr
    return {a["name"]: a for a in json.loads(out.stdout)}


def text(path) -> str:
    """The file's text, or "" while it does not exist yet."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def argv_agent(tmp_path: Path) -> Path:
    script = tmp_path / "argv_agent.py"
    script.write_text(ARGV_AGENT, encoding="utf-8")
    return script


# ---------------------------------------------------------------- item 8: {prompt}

def test_placeholder_is_replaced_inside_one_element():
    p = presets.resolve("my-agent --task {prompt} --label=task:{prompt}")
    assert p.prompt == "placeholder"
    assert p.command(HOSTILE_PROMPT) == ["my-agent", "--task", HOSTILE_PROMPT, f"--label=task:{HOSTILE_PROMPT}"]
    assert p.command("") == ["my-agent", "--task", "", "--label=task:"]
    # Without the placeholder: pasted, as before.
    assert presets.resolve("my-agent --task").prompt == "paste"
    assert presets.resolve("my-agent --task").command("x") == ["my-agent", "--task"]


def test_placeholder_gives_the_prompt_as_one_argument_and_leaves_stdin_alone(fleet: Fleet, tmp_path: Path):
    out = tmp_path / "agent"
    command = shlex.join([sys.executable, str(argv_agent(tmp_path)), "--task", "{prompt}", "--out", str(out)])
    fleet.spawn(Task(name="custom", agent=command, prompt=HOSTILE_PROMPT))
    fleet.wait_for_prompts(timeout=30)
    argv = retry_until(lambda: json.loads(text(f"{out}.argv")))
    assert argv == ["--task", HOSTILE_PROMPT, "--out", str(out)]
    # The script's first `read` gets what the user types, not the prompt pasted in.
    retry_until(lambda: "ready?" in fleet.tmux.capture(fleet.get("custom", stats=False).pane))
    fleet.send("custom", "my first answer")
    assert retry_until(lambda: text(f"{out}.read")) == "my first answer\n"
    assert not list(Path(fleet.get("custom", stats=False).worktree).glob("PWNED*"))


def test_without_placeholder_the_prompt_is_pasted_into_the_first_read(fleet: Fleet, tmp_path: Path):
    # What `{prompt}` fixes: pasted, the prompt is what a script's first read takes.
    out = tmp_path / "agent"
    command = shlex.join([sys.executable, str(argv_agent(tmp_path)), "--out", str(out)])
    fleet.spawn(Task(name="pasted", agent=command, prompt="the task"))
    fleet.wait_for_prompts(timeout=30)
    assert retry_until(lambda: text(f"{out}.read")) == "the task\n"
    assert json.loads(Path(f"{out}.argv").read_text()) == ["--out", str(out)]


def test_placeholder_from_the_task_file_and_spawn_agent(repo: Path, tmux_socket: str, tmp_path: Path):
    script = argv_agent(tmp_path)
    (repo / "paneboard.yaml").write_text(
        "tasks:\n"
        f"  - name: from-file\n    agent: {sys.executable} {script} --task {{prompt}} --out {tmp_path}/file\n"
        f"    prompt: {json.dumps(HOSTILE_PROMPT)}\n", encoding="utf-8")
    up = paneboard("up", cwd=repo, socket_name=tmux_socket)
    assert up.returncode == 0, up.stderr
    spawned = paneboard("spawn", "from-cli", "--agent", f"{sys.executable} {script} --task {{prompt}} --out "
                        f"{tmp_path}/cli", "--prompt", "two words", cwd=repo, socket_name=tmux_socket)
    assert spawned.returncode == 0, spawned.stderr
    assert retry_until(lambda: json.loads(text(tmp_path / "file.argv")))[:2] == ["--task", HOSTILE_PROMPT]
    assert retry_until(lambda: json.loads(text(tmp_path / "cli.argv")))[:2] == ["--task", "two words"]


# ---------------------------------------------------------------- item 4: never surprise a live agent

def windows(sock: str) -> list[str]:
    out = subprocess.run(["tmux", "-L", sock, "list-windows", "-a", "-F", "#{window_name}"],
                         capture_output=True, text=True)
    return out.stdout.split()


def refs(repo: Path) -> str:
    return git(repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads")


def test_merge_of_a_waiting_agent_with_nothing_to_merge_changes_nothing(fleet: Fleet, repo: Path,
                                                                          tmux_socket: str):
    # The demo agent asking a question, with no change of its own yet.
    fleet.spawn(Task(name="asker", agent="demo", prompt="make pricing cheaper",
                     env={"PANEBOARD_DEMO_SCENARIO": "asker", "PANEBOARD_DEMO_SPEED": "0.05"}))
    row = retry_until(lambda: (r := ls(repo, tmux_socket)["asker"])["status"] == "needs_input" and r)
    before = (refs(repo), windows(tmux_socket), git(repo, "worktree", "list"))
    refused = paneboard("merge", "asker", cwd=repo, socket_name=tmux_socket)
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and "asker is needs_input" in refused.stderr
    assert "--force" in refused.stderr and "nothing was changed" in refused.stderr
    assert (refs(repo), windows(tmux_socket), git(repo, "worktree", "list")) == before
    forced = paneboard("merge", "asker", "--force", cwd=repo, socket_name=tmux_socket)
    assert forced.returncode == 0, forced.stderr
    assert "nothing to merge" in forced.stdout
    # Nothing closed, nothing removed, nothing recorded: the agent still waits at its question.
    assert (refs(repo), windows(tmux_socket), git(repo, "worktree", "list")) == before
    after = ls(repo, tmux_socket)["asker"]
    assert after["status"] == "needs_input" and after["pane_alive"] and not after["merged"]
    assert Path(row["worktree"]).is_dir()


def test_merge_of_a_working_agent_is_refused_unless_forced(repo: Path, tmux_socket: str, tmp_path: Path):
    script = demo_script(tmp_path, [{"do": "edit", "path": "feature.txt", "text": "new feature"},
                                    {"do": "work", "seconds": 300, "label": "Building"}])
    # `{prompt}`: pasting would wait for a screen that never settles under a spinner.
    assert paneboard("spawn", "busy", "--agent", demo_command(script, speed=1.0) + " {prompt}", "--prompt", "build it",
                     cwd=repo, socket_name=tmux_socket).returncode == 0
    row = retry_until(lambda: (r := ls(repo, tmux_socket)["busy"])["status"] == "working"
                      and r["files_changed"] == 1 and r)
    wt = Path(row["worktree"])
    before = (refs(repo), windows(tmux_socket), git(wt, "status", "--porcelain"))
    refused = paneboard("merge", "busy", cwd=repo, socket_name=tmux_socket)
    assert refused.returncode == 2, refused.stdout
    assert refused.stderr.count("\n") == 1 and "busy is working" in refused.stderr and "--force" in refused.stderr
    # Nothing changed: no commit on the agent's branch or the base, its window and its work as they were.
    assert (refs(repo), windows(tmux_socket), git(wt, "status", "--porcelain")) == before
    assert ls(repo, tmux_socket)["busy"]["status"] == "working"
    forced = paneboard("merge", "busy", "--force", cwd=repo, socket_name=tmux_socket)
    assert forced.returncode == 0, forced.stderr
    assert "merged busy into main" in forced.stdout
    assert (repo / "feature.txt").read_text() == "new feature\n"
    assert ls(repo, tmux_socket)["busy"]["merged"]


def test_merge_of_an_idle_agent_needs_no_force(repo: Path, tmux_socket: str, tmp_path: Path):
    script = demo_script(tmp_path, [{"do": "edit", "path": "done.txt", "text": "done"}, {"do": "idle"}])
    agent = shlex.join([sys.executable, "-m", "app.demo_agent", "--script", str(script), "--speed", "0.05"])
    assert paneboard("spawn", "calm", "--agent", agent + " {prompt}", "--prompt", "finish it",
                     cwd=repo, socket_name=tmux_socket).returncode == 0
    retry_until(lambda: (r := ls(repo, tmux_socket)["calm"])["status"] == "idle" and r["files_changed"] == 1)
    merged = paneboard("merge", "calm", cwd=repo, socket_name=tmux_socket)
    assert merged.returncode == 0, merged.stderr
    assert (repo / "done.txt").exists() and ls(repo, tmux_socket)["calm"]["merged"]


# ---------------------------------------------------------------- item 10: a worktree ready to work in

def worktree_of(repo: Path, name: str) -> Path:
    return repo.parent / f"{repo.name}.paneboard" / name


def nothing_left(repo: Path, sock: str, name: str) -> None:
    assert f"paneboard/{name}" not in git(repo, "branch", "--list")
    assert not worktree_of(repo, name).exists()
    assert str(worktree_of(repo, name)) not in git(repo, "worktree", "list")
    assert name not in windows(sock)
    state = repo / ".git" / "paneboard" / "state.json"
    assert not state.exists() or name not in json.loads(state.read_text())["agents"]


def ignoring_repo(repo: Path) -> None:
    (repo / ".gitignore").write_text(".env\nconfig/local.yaml\n")
    (repo / "config").mkdir()
    (repo / "config" / "app.yaml").write_text("tracked: v1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "config")
    (repo / ".env").write_text("SECRET=1\n")                     # ignored
    (repo / "config" / "local.yaml").write_text("local: yes\n")  # ignored
    (repo / "config" / "app.yaml").write_text("tracked: edited in main\n")   # tracked, matches a glob
    (repo / "config" / "notes.txt").write_text("mine\n")         # untracked, not ignored


def test_copy_brings_ignored_files_and_never_tracked_ones(repo: Path, tmux_socket: str, tmp_path: Path):
    ignoring_repo(repo)
    (repo / "paneboard.yaml").write_text("defaults:\n  copy: [.env, 'config/*']\n"
                                         "tasks:\n  - name: only-env\n    agent: sleep 300\n    copy: [.env]\n")
    assert paneboard("spawn", "ready", "--agent", "sleep 300", cwd=repo, socket_name=tmux_socket).returncode == 0
    wt = worktree_of(repo, "ready")
    assert (wt / ".env").read_text() == "SECRET=1\n"
    assert (wt / "config" / "local.yaml").read_text() == "local: yes\n"
    assert (wt / "config" / "app.yaml").read_text() == "tracked: v1\n"     # the branch's, not main's edit
    assert not (wt / "config" / "notes.txt").exists()                      # not ignored: the user's, not copied
    assert git(wt, "status", "--porcelain") == "" and ls(repo, tmux_socket)["ready"]["files_changed"] == 0
    # A task's own `copy:` replaces the defaults'.
    assert paneboard("up", cwd=repo, socket_name=tmux_socket).returncode == 0
    assert (worktree_of(repo, "only-env") / ".env").exists()
    assert not (worktree_of(repo, "only-env") / "config" / "local.yaml").exists()


def test_copy_refuses_what_leads_outside_the_repository(repo: Path, tmux_socket: str, tmp_path: Path):
    (repo / ".gitignore").write_text(".env\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-q", "-m", "ignore")
    (tmp_path / "elsewhere.txt").write_text("not the repo's\n")
    (repo / ".env").symlink_to(tmp_path / "elsewhere.txt")
    (repo / "paneboard.yaml").write_text("defaults:\n  agent: sleep 300\n  copy:\n    - .env\n")
    refused = paneboard("spawn", "leak", cwd=repo, socket_name=tmux_socket)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert "paneboard.yaml:4: defaults.copy: .env is a symlink to" in refused.stderr
    assert "outside the repository" in refused.stderr and "Traceback" not in refused.stderr
    nothing_left(repo, tmux_socket, "leak")
    for glob, message in (("../secrets", "no '..'"), ("/etc/passwd", "inside the repository"),
                          ("a/../../b", "no '..'"), (".git/config", "git's own files")):
        (repo / "paneboard.yaml").write_text(f"tasks:\n  - name: t\n    agent: sleep 300\n    copy: [{glob!r}]\n")
        bad = paneboard("up", cwd=repo, socket_name=tmux_socket)
        assert bad.returncode == 2 and "paneboard.yaml:4: tasks[0].copy[0]:" in bad.stderr, bad.stderr
        assert message in bad.stderr and bad.stderr.count("\n") == 1
        nothing_left(repo, tmux_socket, "t")


def test_setup_runs_in_the_new_worktree_before_the_agent(repo: Path, tmux_socket: str, tmp_path: Path):
    setup = tmp_path / "setup.py"
    setup.write_text("import os, sys\nopen('.deps-installed', 'w').write(' '.join(sys.argv[1:]))\n"
                     "print('installing deps in', os.getcwd(), 'for', os.environ['PANEBOARD_AGENT'])\n")
    agent = tmp_path / "agent.py"
    agent.write_text("import os, sys, time\nopen(sys.argv[1], 'w').write(str(os.path.exists('.deps-installed')))\n"
                     "time.sleep(300)\n")
    (repo / ".gitignore").write_text(".deps-installed\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-q", "-m", "ignore")
    seen = tmp_path / "agent-saw-deps"
    (repo / "paneboard.yaml").write_text(
        f"defaults:\n  setup: {sys.executable} {setup} --quiet 'two words'\n"
        f"tasks:\n  - name: built\n    agent: {sys.executable} {agent} {seen}\n")
    up = paneboard("up", cwd=repo, socket_name=tmux_socket)
    assert up.returncode == 0, up.stderr
    wt = worktree_of(repo, "built")
    assert (wt / ".deps-installed").read_text() == "--quiet two words"
    assert retry_until(lambda: text(seen)) == "True"        # the agent started after its setup ended
    log = text(repo / ".git" / "paneboard" / "logs" / "built.log")
    assert f"installing deps in {wt} for built" in log and "setup exited with code 0" in log


def test_failing_setup_rolls_back_and_names_the_command(repo: Path, tmux_socket: str, tmp_path: Path):
    (repo / ".gitignore").write_text("node_modules/\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-q", "-m", "ignore")
    failing = [sys.executable, "-c", "import os; os.makedirs('node_modules/x'); "
               "open('node_modules/x/a.js', 'w').write('x'); print('npm ERR! 404'); raise SystemExit(3)"]
    (repo / "paneboard.yaml").write_text(f"defaults:\n  agent: sleep 300\n  setup: {json.dumps(failing)}\n")
    before = (refs(repo), git(repo, "worktree", "list"))
    failed = paneboard("spawn", "broken", cwd=repo, socket_name=tmux_socket)
    assert failed.returncode == 2 and failed.stderr.count("\n") == 1, failed.stderr
    assert "setup" in failed.stderr and "exited with code 3" in failed.stderr
    assert shlex.join(failing) in failed.stderr and "rolled back" in failed.stderr
    nothing_left(repo, tmux_socket, "broken")
    assert (refs(repo), git(repo, "worktree", "list")) == before
    assert "npm ERR! 404" in text(repo / ".git" / "paneboard" / "logs" / "broken.log")
    # A command that does not exist fails the same way.
    (repo / "paneboard.yaml").write_text("defaults:\n  agent: sleep 300\n  setup: no-such-setup-command --go\n")
    missing = paneboard("spawn", "broken", cwd=repo, socket_name=tmux_socket)
    assert missing.returncode == 2 and "`no-such-setup-command --go` could not start" in missing.stderr
    nothing_left(repo, tmux_socket, "broken")


def test_setup_that_hangs_is_killed_and_rolled_back(repo: Path, tmux_socket: str, tmp_path: Path):
    pidfile = tmp_path / "setup.pid"
    hang = [sys.executable, "-c", f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); "
                                  "time.sleep(120)"]
    (repo / "paneboard.yaml").write_text(f"defaults:\n  agent: sleep 300\n  check_timeout: 1s\n"
                                         f"  setup: {json.dumps(hang)}\n")
    failed = paneboard("spawn", "stuck", cwd=repo, socket_name=tmux_socket)
    assert failed.returncode == 2 and "did not finish within 1s" in failed.stderr, failed.stderr
    nothing_left(repo, tmux_socket, "stuck")
    pid = int(pidfile.read_text())
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


# ---------------------------------------------------------------- item 9: the demo

def demo_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """The real `paneboard demo ...` (its own --socket, so it never meets another test's)."""
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE", "PANEBOARD_TMUX_SOCKET")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "app.cli", "demo", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def socket_file(name: str) -> Path:
    return Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}" / name


def live_panes(sock: str, dead_too: bool = False) -> list[str]:
    out = subprocess.run(["tmux", "-L", sock, "list-panes", "-a", "-F", "#{pane_id} #{pane_dead}"],
                         capture_output=True, text=True)
    return [line.split()[0] for line in out.stdout.splitlines() if dead_too or line.endswith(" 0")]


def test_demo_shows_every_trigger_within_a_minute_and_stops(tmp_path: Path):
    sock = unique_socket()
    started = time.monotonic()
    try:
        first = demo_cli("--no-dashboard", "--dir", str(tmp_path / "demo"), "--socket", sock)
        assert first.returncode == 0, first.stderr
        repo = tmp_path / "demo" / "shop"
        assert f"demo repository: {repo}" in first.stdout and f"paneboard demo --stop --socket {sock}" in first.stdout

        def every_kind() -> dict:
            rows = ls(repo, sock)
            seen = {t["kind"]: name for name, row in rows.items() for t in row["triggers"]}
            # Every kind but `missing`, which takes a worktree deleted behind paneboard's back: a fault the
            # fault suite stages (tests/faults/test_safe_discard.py), not a moment of a working day; and
            # `unreachable`, which takes an SSH host that goes away (tests/remote/, tests/faults/test_ssh.py).
            assert set(seen) == {k.value for k in TriggerKind} - {TriggerKind.MISSING.value,
                                                                  TriggerKind.UNREACHABLE.value}, sorted(seen)
            return rows
        rows = retry_until(every_kind, timeout=60, interval=1.0)
        took = time.monotonic() - started
        assert took < 60
        conflict = [t for t in rows["rename-sku"]["triggers"] if t["kind"] == "conflict"]
        assert conflict and "inventory/models.py" in conflict[0]["what"]
        # Its tests are its check: a real result both ways.
        assert "passed" in paneboard("check", "low-stock", cwd=repo, socket_name=sock).stdout
        failed = paneboard("check", "warehouse-sync", cwd=repo, socket_name=sock)
        assert failed.returncode == 1 and "FAILED (errors=1)" in failed.stdout
        gate = paneboard("merge", "warehouse-sync", cwd=repo, socket_name=sock)
        assert gate.returncode == 2 and "FAILED (errors=1)" in gate.stderr and "nothing was changed" in gate.stderr

        # `demo` again reopens the running demo: no second repository, the same agents.
        panes = sorted(live_panes(sock))
        again = demo_cli("--no-dashboard", "--socket", sock)
        assert again.returncode == 0, again.stderr
        assert f"the demo is still running: reopening it (repository {repo}" in again.stdout
        assert sorted(live_panes(sock)) == panes and sorted(p.name for p in (tmp_path / "demo").iterdir()) == \
            ["shop", "shop.paneboard"]

        stopped = demo_cli("--stop", "--socket", sock)
        assert stopped.returncode == 0, stopped.stderr
        assert f"its repository stays at {repo}" in stopped.stdout
        assert subprocess.run(["tmux", "-L", sock, "ls"], capture_output=True).returncode != 0
        assert not socket_file(sock).exists()
        # Stopped on purpose, so nothing looks crashed; the work stays.
        after = ls(repo, sock)
        assert all("stopped with paneboard" in r["status_why"] for r in after.values() if r["status"] != "queued")
        assert (Path(after["low-stock"]["worktree"]) / "inventory" / "stock.py").exists()
        assert "no demo is running" in demo_cli("--stop", "--socket", sock).stdout
    finally:
        kill_tmux(sock)
    print(f"every trigger kind after {took:.1f} s")


def test_demo_stop_refuses_a_socket_that_runs_real_agents(repo: Path, tmux_socket: str):
    assert paneboard("spawn", "mine", "--agent", "sleep 300", cwd=repo, socket_name=tmux_socket).returncode == 0
    refused = demo_cli("--stop", "--socket", tmux_socket)
    assert refused.returncode == 2 and "not a paneboard demo" in refused.stderr
    assert live_panes(tmux_socket)
    reopened = demo_cli("--no-dashboard", "--socket", tmux_socket)
    assert reopened.returncode == 2 and "not a paneboard demo" in reopened.stderr


def test_quitting_the_demo_dashboard_leaves_its_agents_running(tmp_path: Path):
    # The real dashboard in a real terminal: a pane of another tmux server.
    sock, outer = unique_socket(), unique_socket()
    env = [f"PYTHONPATH={ROOT}"]
    command = shlex.join(["env", *env, sys.executable, "-m", "app.cli", "demo", "--dir", str(tmp_path / "d"),
                          "--socket", sock]) + "; sleep 600"

    def screen() -> str:
        return subprocess.run(["tmux", "-L", outer, "capture-pane", "-p", "-t", "term"], capture_output=True,
                              text=True).stdout
    try:
        subprocess.run(["tmux", "-L", outer, "new-session", "-d", "-s", "term", "-x", "160", "-y", "48",
                        "env", "-u", "TMUX", "-u", "PANEBOARD_TMUX_SOCKET", "sh", "-c", command], check=True)
        retry_until(lambda: "low-stock" in screen() and "rename-sku" in screen(), timeout=60)
        # Every agent's pane (the crasher's may already be dead: it keeps its pane).
        panes = live_panes(sock, dead_too=True)
        assert len(panes) == 7
        subprocess.run(["tmux", "-L", outer, "send-keys", "-t", "term", "q"], check=True)
        retry_until(lambda: "keep running" in screen(), timeout=30)
        text = screen()
        assert f"paneboard demo --stop --socket {sock}" in text and "reopen the dashboard" in text
        # Nothing was stopped: every pane is still there (the demo's crasher may have died on its own
        # meanwhile, and keeps its dead pane), and every other one still runs.
        assert sorted(live_panes(sock, dead_too=True)) == sorted(panes)
        gone = set(panes) - set(live_panes(sock))
        crasher = subprocess.run(["tmux", "-L", sock, "list-panes", "-a", "-F", "#{pane_id}",
                                  "-f", "#{==:#{window_name},fix-tests}"], capture_output=True, text=True).stdout.split()
        assert gone <= set(crasher), gone
    finally:
        kill_tmux(outer)
        demo_cli("--stop", "--socket", sock)
        kill_tmux(sock)


def test_a_demo_whose_repository_was_deleted_is_named_and_can_still_be_stopped(tmp_path: Path):
    import shutil
    sock = unique_socket()
    try:
        assert demo_cli("--no-dashboard", "--dir", str(tmp_path / "d"), "--socket", sock).returncode == 0
        # The demo's agents keep writing into it while it goes: remove until it stays gone.
        assert retry_until(lambda: shutil.rmtree(tmp_path / "d", ignore_errors=True) or not (tmp_path / "d").exists(),
                           timeout=10)
        reopen = demo_cli("--no-dashboard", "--socket", sock)
        assert reopen.returncode == 2 and reopen.stderr.count("\n") == 1
        assert "cannot be reopened" in reopen.stderr and "paneboard demo --stop" in reopen.stderr
        stopped = demo_cli("--stop", "--socket", sock)
        assert stopped.returncode == 0, stopped.stderr
        assert subprocess.run(["tmux", "-L", sock, "ls"], capture_output=True).returncode != 0
        assert not socket_file(sock).exists()
    finally:
        kill_tmux(sock)


def test_may_conflict_is_false_only_where_no_conflict_can_be(repo: Path, tmp_path: Path):
    from app.git import merge as merging
    from app.git.worktrees import find_repo
    info = find_repo(repo)

    def agent(name: str, files: dict[str, str]) -> Path:
        wt = tmp_path / name
        git(repo, "worktree", "add", "-q", "-b", name, str(wt), "main")
        for path, content in files.items():
            (wt / path).parent.mkdir(parents=True, exist_ok=True)
            (wt / path).write_text(content)
        return wt
    same = agent("same", {"src/app.py": "print('agent')\n"})
    other = agent("other", {"src/other.py": "x = 1\n"})
    dirfile = agent("dirfile", {"notes/a.md": "a\n"})
    assert not merging.may_conflict(same, "main", ["src/app.py"])        # the base has not moved
    (repo / "src" / "app.py").write_text("print('base')\n")
    (repo / "notes").write_text("a file where the agent has a directory\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base moves")
    for wt, files in ((same, ["src/app.py"]), (other, ["src/other.py"]), (dirfile, ["notes/a.md"])):
        predicted = merging.predict_agent(info.root, "main", wt)
        # Never "cannot conflict" where git predicts a conflict.
        assert merging.may_conflict(wt, "main", files) or predicted.clean, wt.name
    assert not merging.may_conflict(other, "main", ["src/other.py"])
    assert not merging.predict_agent(info.root, "main", same).clean
    assert not merging.predict_agent(info.root, "main", dirfile).clean
