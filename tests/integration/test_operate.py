"""Operating agents through a day: custom commands' `{prompt}`, the merge guard for live agents,
worktrees made ready (`copy:`, `setup:`), and the demo that keeps running."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

from app import presets
from app.config import Task
from app.fleet import Fleet
from tests.helpers import demo_command, demo_script, git, paneboard, retry_until

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
