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
