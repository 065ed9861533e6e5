"""Agent definitions as data (app/agent_files.py): the shipped files, a user's additions and overrides,
`extends`, one-line errors with file:line:field, and `paneboard doctor` reporting them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import agent_files, presets
from app.agent_files import AgentFileError, load, read_file
from app.model import Kind
from app.status import FAMILIES, classify
from tests.helpers import ROOT

SHIPPED = ("aider", "claude", "codex", "demo", "gemini", "generic", "opencode")


@pytest.fixture
def user(tmp_path, monkeypatch):
    """An empty user agents directory that the registry reads (reloaded after the test)."""
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    d = home / "paneboard" / "agents"
    d.mkdir(parents=True)
    yield d
    monkeypatch.undo()
    agent_files.reload()


def write(d: Path, name: str, text: str) -> Path:
    p = d / name
    p.write_text(text, encoding="utf-8")
    return p


def test_every_preset_comes_from_a_shipped_file():
    reg = load(Path("/nonexistent"))
    assert sorted(reg.agents) == list(SHIPPED) and not reg.problems
    assert sorted(p.name for p in agent_files.BUILTIN_DIR.iterdir()) == [f"{n}.yaml" for n in SHIPPED]
    claude = presets.PRESETS["claude"]
    assert claude.argv == ("claude",) and claude.approve == ("1",) and claude.deny == ("Escape",)
    assert claude.hooks == claude.events == "claude" and claude.submit == ("Enter",)
    assert claude.resume == ("--resume", "{id}") and claude.resume_latest == ("--continue",)
    assert claude.session_from_screen("claude --resume 0a1b2c3d-aaaa") == "0a1b2c3d-aaaa"
    assert presets.PRESETS["gemini"].prompt_flag == "--prompt-interactive"
    assert all(presets.PRESETS[n].hooks == n for n in ("codex", "gemini", "aider", "opencode"))
    assert presets.PRESETS["demo"].hooks is None
    demo = presets.PRESETS["demo"]
    assert demo.argv == (sys.executable, "-m", "app.demo_agent") and demo.env["PYTHONPATH"] == str(ROOT)
    assert "generic" not in presets.PRESETS and set(FAMILIES) == set(SHIPPED)


def test_a_user_file_adds_an_agent_and_its_rules(user):
    write(user, "qwen.yaml", """\
description: Qwen Code
command: [qwen, --yolo]
prompt: paste
ready: '^> $'
submit: Enter
approve: ['y']
deny: [Escape]
events: null
status:
  box: '^> '
  working:
    - pattern: 'esc to cancel'
      region: tail:3
      why: qwen is thinking
  idle:
    - pattern: '^>$'
      region: last
      why: qwen waits
limits:
  - '^\\[API Error: 429'
""")
    agent_files.reload()
    q = presets.resolve("qwen")
    assert q.argv == ("qwen", "--yolo") and q.prompt == "paste" and q.rules == "qwen" and q.approve == ("y",)
    assert presets.is_known("qwen")
    assert classify("hello\n(esc to cancel)\n", "qwen").why == "qwen is thinking"
    idle = classify("[API Error: 429 Too Many Requests]\n> \n", "qwen")
    assert idle.kind == Kind.IDLE and idle.limit == "[API Error: 429 Too Many Requests]"


def test_an_override_extends_the_shipped_file_and_changes_only_some_keys(user):
    write(user, "claude.yaml", """\
extends: claude
command: [claude, --model, opus]
status:
  idle:
    - pattern: 'ready for more'
      region: tail:2
      why: my claude waits
""")
    agent_files.reload()
    c = presets.resolve("claude")
    assert c.argv == ("claude", "--model", "opus") and c.approve == ("1",) and c.hooks == "claude"
    assert classify("ready for more\n", "claude").why == "my claude waits"
    # The keys of `status` it did not give stay the shipped ones.
    assert classify("Do you want to proceed?\n❯ 1. Yes\n", "claude").kind == Kind.NEEDS_INPUT
    assert classify("❯ \n", "claude").kind is None          # its idle rules were replaced


def test_extends_reaches_another_user_file_and_a_cycle_is_one_line(user):
    write(user, "base.yaml", "extends: generic\ncommand: [base-cli]\napprove: ['1']\n")
    write(user, "child.yaml", "extends: base\ncommand: [child-cli]\n")
    write(user, "ping.yaml", "extends: pong\ncommand: [x]\n")
    write(user, "pong.yaml", "extends: ping\ncommand: [y]\n")
    write(user, "orphan.yaml", "extends: nobody\ncommand: [z]\n")
    reg = agent_files.reload()
    assert presets.resolve("child").approve == ("1",) and presets.resolve("child").argv == ("child-cli",)
    assert reg.problems["ping"].endswith("pong.yaml:1: extends: ping -> pong -> ping is a cycle")
    assert reg.problems["pong"].endswith("ping.yaml:1: extends: pong -> ping -> pong is a cycle")
    assert reg.problems["orphan"].endswith("orphan.yaml:1: extends: no agent named 'nobody' to extend")


@pytest.mark.parametrize("text,where", [
    ("command: [q]\nstatus:\n  working:\n    - pattern: 'a'\n    - pattern: 'b'\n    - pattern: '(unclosed'\n",
     ":6: status.working[2].pattern: bad regular expression: missing ), unterminated subpattern"),
    ("command: [q]\nsubmitt: Enter\n", ":2: submitt: unknown key (did you mean 'submit'?)"),
    ("command: [q]\nprompt: typed\n", ":2: prompt: must be one of arg, paste, placeholder, none, got 'typed'"),
    ("command: [q]\nstatus:\n  idle:\n    - pattern: x\n      region: bottom\n",
     ":5: status.idle[0].region: must be last, tail:N, turn, turn:N or screen"),
    ("command: [q]\nstatus:\n  idle:\n    - region: last\n", ":4: status.idle[0]: a rule needs either"),
    ("command: q\n", ":1: command: expected a list of text"),
    ("description: no command\n", ":1: command: every agent needs a command"),
    ("command: [q]\nsession_hint: 'q resume \\S+'\n", ":2: session_hint: needs a group"),
    ("command: [q]\nlimits: ['a', '[b']\n", ":2: limits[1]: bad regular expression"),
    ("command: [q]\ncommand: [r]\n", ":2: command: duplicate key (first on line 1)"),
    ("command: [q\n", ":2: malformed YAML"),
])
def test_a_problem_is_one_line_with_file_line_and_field(user, text, where):
    write(user, "qwen.yaml", text)
    reg = agent_files.reload()
    problem = reg.problems["qwen"]
    assert "\n" not in problem and where in problem, problem
    assert problem.startswith(agent_files.shown(user / "qwen.yaml") + ":")
    with pytest.raises(AgentFileError) as exc:
        presets.resolve("qwen")
    assert str(exc.value) == problem
    # Every other agent is untouched.
    assert presets.resolve("claude").argv == ("claude",) and set(SHIPPED) <= set(reg.agents)


def test_a_broken_override_keeps_the_shipped_rules_for_reading_screens(user):
    write(user, "codex.yaml", "extends: codex\nstatus:\n  idle: nope\n")
    reg = agent_files.reload()
    assert ":3: status.idle: expected a list of rules" in reg.problems["codex"]
    with pytest.raises(AgentFileError):
        presets.resolve("codex")
    # The monitor still reads a codex pane with the shipped rules.
    assert classify("› fix\n• Working (3s • esc to interrupt)\n", "codex").kind == Kind.WORKING


def test_shown_paths_start_with_a_tilde_under_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert agent_files.shown(tmp_path / ".config" / "x.yaml") == "~/.config/x.yaml"
    assert agent_files.shown(Path("/etc/x.yaml")) == "/etc/x.yaml"


def test_loading_is_cached_and_reads_no_file_per_classification(user, monkeypatch):
    agent_files.reload()
    classify("x\n", "claude")
    reads = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(self) or real(self))
    for _ in range(50):
        classify("❯ \n? for shortcuts\n", "claude")
        presets.resolve("claude")
    assert reads == []


def test_read_file_names_a_non_utf8_byte_and_its_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_bytes(b"command: [q]\ndescription: caf\xe9\n")
    with pytest.raises(AgentFileError, match=r"bad.yaml:2: not UTF-8 text \(byte 0xe9\)"):
        read_file(p)


def _doctor(env_home: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_CONFIG_HOME": str(env_home), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "app.cli", "doctor"], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=60)


def test_doctor_checks_every_agent_file_and_reports_each_problem_on_its_line(tmp_path):
    d = tmp_path / "config" / "paneboard" / "agents"
    d.mkdir(parents=True)
    write(d, "good.yaml", "extends: generic\ncommand: [good-cli]\n")
    write(d, "typo.yaml", "command: [x]\nstatus:\n  idle:\n    - pattern: '(x'\n")
    write(d, "unknown.yaml", "command: [x]\ncolour: red\n")
    fine = _doctor(tmp_path / "empty", tmp_path)
    assert "agent files: 7 shipped, 0 in " in fine.stdout and "problem:" not in fine.stdout
    out = _doctor(tmp_path / "config", tmp_path)
    assert out.returncode == 1, out
    problems = [ln.strip() for ln in out.stdout.splitlines() if ln.strip().startswith("problem:")]
    assert problems == [f"problem: {d / 'typo.yaml'}:4: status.idle[0].pattern: bad regular expression: "
                        f"missing ), unterminated subpattern at position 0",
                        f"problem: {d / 'unknown.yaml'}:2: colour: unknown key (allowed: approve, command, continue, "
                        f"deny, description, env, events, extends, limits, prompt, prompt_flag, ready, resume, "
                        f"resume_latest, session_hint, status, submit)"], out.stdout
    assert "agent files: 7 shipped, 3 in " in out.stdout
    assert "good" in out.stdout and "Traceback" not in out.stdout + out.stderr


@pytest.mark.slow
def test_the_agent_files_ship_in_the_package(tmp_path):
    """`pip install .` into a fresh virtualenv installs every agent file with the package."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    out = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", str(ROOT)],
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        pytest.skip(f"pip cannot install the package here (no registry for its build backend?): "
                    f"{out.stderr.strip().splitlines()[-1:]}")
    found = sorted(p.name for p in venv.glob("lib/python3*/site-packages/app/agents/*.yaml"))
    assert found == [f"{n}.yaml" for n in SHIPPED]
