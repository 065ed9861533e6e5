"""The scripted demo agent as a real process (in a pty, and in a private tmux server), and the demo repo."""

from __future__ import annotations

import fcntl
import fnmatch
import json
import os
import re
import shutil
import signal
import struct
import shlex
import subprocess
import sys
import termios
import threading
import time
import uuid
from pathlib import Path

import pytest
import yaml

from app import demo, demo_agent

ROOT = Path(__file__).resolve().parents[2]
FAST = "0.02"  # --speed: fifty times faster than real time
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Za-z0-9]|\x1b[=>78]")


def retry_until(fn, timeout: float = 10.0, interval: float = 0.02):
    """Call fn until it returns something truthy; return that, or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s (last value: {value!r})")
        time.sleep(interval)


def agent_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANEBOARD_")}
    env.update(PYTHONPATH=str(ROOT), LANG="C.UTF-8", LC_ALL="C.UTF-8", PANEBOARD_AGENT="t1",
               PANEBOARD_TASK="t1", PORT="4101")
    env.update(extra)
    return env


def write_script(tmp_path: Path, steps: list[dict]) -> Path:
    path = tmp_path.parent / f"script-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(steps), encoding="utf-8")
    return path


class PtyAgent:
    """The demo agent on its own pseudo-terminal (as in a tmux pane), with everything it printed."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], cols: int = 100, rows: int = 30):
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

        def controlling_tty():  # make the pty its terminal, so Ctrl-C is a SIGINT like in a pane
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen([sys.executable, "-m", "app.demo_agent", *args], cwd=cwd, env=env,
                                     stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                                     preexec_fn=controlling_tty)
        os.close(slave)
        self.master = master
        self.raw = bytearray()
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.raw += data

    def text(self) -> str:
        """Everything printed so far, without colours, with plain newlines."""
        with self.lock:
            raw = bytes(self.raw)
        return ANSI.sub("", raw.decode("utf-8", "replace")).replace("\r\n", "\n")

    def type(self, text: str) -> None:
        os.write(self.master, text.encode("utf-8"))

    def wait_for(self, needle: str, timeout: float = 10.0) -> str:
        return retry_until(lambda: needle in self.text() and self.text(), timeout)

    def exit_code(self, timeout: float = 10.0) -> int:
        code = self.proc.wait(timeout)
        self.reader.join(2)
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self.reader.join(2)
        try:
            os.close(self.master)
        except OSError:
            pass


@pytest.fixture
def run_agent(tmp_path):
    """Start demo agents in tmp_path on a pty; each is killed at the end of the test."""
    started: list[PtyAgent] = []

    def start(*args: str, **env: str) -> PtyAgent:
        agent = PtyAgent(list(args), tmp_path, agent_env(**env))
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.close()


def run_script(run_agent, tmp_path: Path, steps: list[dict], *extra: str, **env: str) -> PtyAgent:
    return run_agent("--script", str(write_script(tmp_path, steps)), "--speed", FAST, *extra, **env)


# ---------------------------------------------------------------- steps

def test_edits_land_on_disk(run_agent, tmp_path):
    agent = run_script(run_agent, tmp_path, [
        {"do": "say", "text": "starting on port {port}"},
        {"do": "edit", "path": "src/pkg/deep/mod.py", "text": "x = 1"},
        {"do": "edit", "path": "src/pkg/deep/mod.py"},
        {"do": "edit", "path": "notes.md", "text": "line {not_a_field} {agent}\n"},
    ])
    assert agent.exit_code() == 0
    mod = (tmp_path / "src/pkg/deep/mod.py").read_text()
    assert mod.startswith("x = 1\n# edited by t1")
    assert (tmp_path / "notes.md").read_text() == "line {not_a_field} t1\n"
    text = agent.text()
    assert "● starting on port 4101" in text
    assert "✎ Edited src/pkg/deep/mod.py" in text and "✎ Edited notes.md" in text


def test_work_shows_a_spinner_that_redraws_in_place(run_agent, tmp_path):
    agent = run_script(run_agent, tmp_path, [{"do": "work", "seconds": 20, "label": "Pondering"}])
    assert agent.exit_code() == 0
    with agent.lock:
        raw = bytes(agent.raw).decode()
    assert raw.count("\r\x1b[2K") >= 3  # redrawn, not scrolled
    assert re.search(r"[·✢✳✶✻✽] Pondering… \(\d+s · esc to interrupt\)", agent.text())


@pytest.mark.parametrize("answer", ["1\r", "y\r", "yes\n", "\r"])
def test_ask_blocks_until_approved(run_agent, tmp_path, answer):
    agent = run_script(run_agent, tmp_path, [
        {"do": "ask", "title": "Bash command", "question": "rm -rf build/"},
        {"do": "edit", "path": "after.txt"},
    ])
    text = agent.wait_for("esc to cancel")
    for marker in ("Bash command", "rm -rf build/", "Do you want to proceed?", "❯ 1. Yes", "  2. No"):
        assert marker in text
    time.sleep(0.3)  # a blocked agent does nothing however long it waits
    assert agent.proc.poll() is None and not (tmp_path / "after.txt").exists()
    agent.type(answer)
    agent.wait_for("✔ Approved")
    assert agent.exit_code() == 0
    assert (tmp_path / "after.txt").exists()
    assert "✘ Denied" not in agent.text()


@pytest.mark.parametrize("answer", ["2\r", "n\r", "no\r", "\x1b"])
def test_ask_denied_continues(run_agent, tmp_path, answer):
    agent = run_script(run_agent, tmp_path, [
        {"do": "ask", "question": "Run the migration?"},
        {"do": "edit", "path": "after.txt"},
    ])
    agent.wait_for("esc to cancel")
    agent.type(answer)
    agent.wait_for("✘ Denied")
    assert agent.exit_code() == 0
    assert (tmp_path / "after.txt").exists()


def test_ask_on_deny_exit(run_agent, tmp_path):
    agent = run_script(run_agent, tmp_path, [
        {"do": "ask", "question": "Push to origin?", "on_deny": "exit"},
        {"do": "edit", "path": "after.txt"},
    ])
    agent.wait_for("esc to cancel")
    agent.type("2\r")
    assert agent.exit_code() == 1
    assert not (tmp_path / "after.txt").exists()


def test_ask_again_on_a_non_answer_and_arrow_keys_move_the_choice(run_agent, tmp_path):
    agent = run_script(run_agent, tmp_path, [{"do": "ask", "question": "Proceed?"}])
    agent.wait_for("esc to cancel")
    agent.type("maybe\r")
    retry_until(lambda: agent.text().count("Do you want to proceed?") == 2)
    assert agent.proc.poll() is None
    agent.type("\x1b[B")  # down: "No" is selected now
    retry_until(lambda: "❯ 2. No" in agent.text())
    agent.type("\r")
    agent.wait_for("✘ Denied")
    assert agent.exit_code() == 0


def test_ask_on_closed_stdin_is_a_deny(tmp_path):
    script = write_script(tmp_path, [{"do": "ask", "question": "Proceed?", "on_deny": "exit"}])
    done = subprocess.run([sys.executable, "-m", "app.demo_agent", "--script", str(script), "--speed", FAST],
                          cwd=tmp_path, env=agent_env(), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=20)
    assert done.returncode == 1
    assert "✘ Denied" in done.stdout


def test_idle_accepts_input_works_and_edits(run_agent, tmp_path):
    agent = run_script(run_agent, tmp_path, [{"do": "idle", "reply_edit": "src/notes.md", "reply_work": 5}])
    agent.wait_for("? for shortcuts")
    assert "─" * 20 in agent.text() and "\n> " in agent.text()
    agent.type("add docs for $(whoami)\r")
    notes = tmp_path / "src/notes.md"
    retry_until(lambda: notes.exists() and "# add docs for $(whoami)" in notes.read_text())
    retry_until(lambda: agent.text().count("? for shortcuts") == 2)  # back to idle
    assert "> add docs for $(whoami)" in agent.text()
    assert "esc to interrupt" in agent.text()  # it worked before editing
    agent.type("second\r")
    retry_until(lambda: "# second" in notes.read_text())
    agent.type("\x04")  # Ctrl-D
    assert agent.exit_code() == 0


def test_idle_ignores_empty_lines_and_joins_a_bracketed_paste(run_agent, tmp_path):
    agent = run_script(run_agent, tmp_path, [{"do": "idle", "reply_edit": "n.md", "reply_work": 0}])
    agent.wait_for("? for shortcuts")
    agent.type("\r\r")
    agent.type("\x1b[200~line one\rline two\x1b[201~\r")
    retry_until(lambda: (tmp_path / "n.md").exists())
    retry_until(lambda: agent.text().count("? for shortcuts") >= 2)
    assert "> line one\n  line two" in agent.text()
    assert (tmp_path / "n.md").read_text() == "# line one\n"
    agent.type("/exit\r")
    assert agent.exit_code() == 0


def test_idle_with_piped_stdin_exits_at_end_of_input(tmp_path):
    script = write_script(tmp_path, [{"do": "idle", "reply_edit": "n.md", "reply_work": 1}])
    done = subprocess.run([sys.executable, "-m", "app.demo_agent", "--script", str(script), "--speed", FAST],
                          cwd=tmp_path, env=agent_env(), input="first\nsecond\n", capture_output=True,
                          text=True, timeout=20)
    assert done.returncode == 0
    assert (tmp_path / "n.md").read_text() == "# first\n# second\n"


def test_error_repeats_with_one_normalised_signature(run_agent, tmp_path):
    agent = run_script(run_agent, tmp_path, [
        {"do": "error", "times": 4, "every": 1},
        {"do": "error", "text": "Error: cannot open {tmp}/lock ({id})", "times": 2, "every": 0},
    ])
    assert agent.exit_code() == 0
    refused = [ln for ln in agent.text().splitlines() if ln.startswith("Error: connection")]
    assert len(refused) == 4
    assert [re.search(r"attempt (\d+)", ln).group(1) for ln in refused] == ["1", "2", "3", "4"]
    assert re.fullmatch(r"Error: connection to 127\.0\.0\.1:5433 refused \(attempt 1\) at \d\d:\d\d:\d\d",
                        refused[0])
    normalised = {re.sub(r"\d+", "N", ln) for ln in refused}
    assert len(normalised) == 1
    locks = [ln for ln in agent.text().splitlines() if ln.startswith("Error: cannot open")]
    assert len(locks) == 2 and locks[0] != locks[1]


def test_limit_message(run_agent, tmp_path):
    agent = run_script(run_agent, tmp_path, [{"do": "limit"}, {"do": "limit", "resets": "3pm"}])
    assert agent.exit_code() == 0
    text = agent.text()
    assert re.search(r"5-hour limit reached ∙ resets \d{1,2}(am|pm)", text)
    assert "5-hour limit reached ∙ resets 3pm" in text


def test_limit_that_resets_seconds_later_says_when_to_the_second(run_agent, tmp_path):
    import time
    from datetime import datetime
    from app.limits import local_zone, parse_reset
    before = time.time()
    agent = run_script(run_agent, tmp_path, [{"do": "limit", "resets_in": 60}])   # 60 s at FAST speed: ~3 s
    assert agent.exit_code() == 0
    line = re.search(r"5-hour limit reached ∙ resets \d{1,2}:\d\d:\d\d(am|pm)", agent.text()).group(0)
    at = parse_reset(line, datetime.fromtimestamp(before, local_zone()), local_zone()).timestamp()
    assert before < at <= time.time() + 60 * float(FAST) + 1


@pytest.mark.parametrize("code", [0, 3, 42])
def test_exit_code_is_honoured(run_agent, tmp_path, code):
    agent = run_script(run_agent, tmp_path, [{"do": "exit", "code": code}, {"do": "edit", "path": "never"}])
    assert agent.exit_code() == code
    assert not (tmp_path / "never").exists()


def test_script_that_ends_exits_zero(run_agent, tmp_path):
    assert run_script(run_agent, tmp_path, [{"do": "say", "text": "bye"}]).exit_code() == 0


def test_silent_prints_nothing_and_can_leave_a_stale_spinner(run_agent, tmp_path):
    agent = run_agent("--script", str(write_script(tmp_path, [
        {"do": "say", "text": "ready"},
        {"do": "silent", "seconds": 30, "spinner": True},
        {"do": "edit", "path": "after.txt"},
    ])), "--speed", "1")
    agent.wait_for("esc to interrupt")
    before = bytes(agent.raw)
    time.sleep(0.5)  # silence is the thing under test: nothing may arrive meanwhile
    assert bytes(agent.raw) == before
    assert not (tmp_path / "after.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_flood_prints_lines_at_the_rate(run_agent, tmp_path):
    agent = run_agent("--script", str(write_script(tmp_path, [
        {"do": "flood", "lines_per_second": 400, "seconds": 0.5}])), "--speed", "1")
    assert agent.exit_code() == 0
    assert len([ln for ln in agent.text().splitlines() if ln.startswith("flood ")]) == 200


@pytest.mark.parametrize("via", ["flag", "env"])
def test_speed_scales_durations(run_agent, tmp_path, via):
    script = str(write_script(tmp_path, [{"do": "work", "seconds": 100}, {"do": "silent", "seconds": 100}]))
    start = time.monotonic()
    if via == "flag":
        agent = run_agent("--script", script, "--speed", "0.001")
    else:
        agent = run_agent("--script", script, PANEBOARD_DEMO_SPEED="0.001")
    assert agent.exit_code() == 0
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_signals_end_it_cleanly(run_agent, tmp_path, sig, code):
    agent = run_agent("--script", str(write_script(tmp_path, [{"do": "work", "seconds": 60}])))
    agent.wait_for("esc to interrupt")
    agent.proc.send_signal(sig)
    assert agent.exit_code() == code
    assert "Traceback" not in agent.text()


def test_ctrl_c_on_its_terminal(run_agent, tmp_path):
    agent = run_agent("--script", str(write_script(tmp_path, [{"do": "idle"}])))
    agent.wait_for("? for shortcuts")
    agent.type("\x03")
    assert agent.exit_code() == 130


NASTY_PROMPT = ("Fix it $(touch X1) and `touch X2`; touch X3 && touch X4 | tee X5\n"
                "it's \"quoted\" 'single' $HOME ${PATH} \\n \\\n"
                "ünïcødé 🚀 中文 — done > X6")


def test_prompt_is_printed_literally_and_never_run(run_agent, tmp_path):
    agent = run_script(run_agent, tmp_path, [{"do": "say", "text": "ok"}], NASTY_PROMPT)
    assert agent.exit_code() == 0
    text = agent.text()
    lines = NASTY_PROMPT.split("\n")
    assert f"> {lines[0]}\n  {lines[1]}\n  {lines[2]}\n" in text
    assert list(tmp_path.iterdir()) == []
    assert not list(tmp_path.parent.glob("X*"))


@pytest.mark.parametrize("args, prompt", [(["-v"], "-v"), (["--fix-it"], "--fix-it"),
                                          (["--", "--speed"], "--speed")])
def test_a_prompt_that_looks_like_an_option_is_still_the_prompt(run_agent, tmp_path, args, prompt):
    agent = run_script(run_agent, tmp_path, [], *args)
    assert agent.exit_code() == 0
    assert f"> {prompt}\n" in agent.text()


def test_prompt_control_characters_are_shown_not_obeyed(run_agent, tmp_path):
    agent = run_script(run_agent, tmp_path, [], "a\x1b[2Jb\rc\x07")
    assert agent.exit_code() == 0
    assert "> a^[[2Jb^Mc^G" in agent.text()


def test_scenario_from_the_environment(run_agent, tmp_path):
    agent = run_agent("--speed", FAST, PANEBOARD_DEMO_SCENARIO="crasher")
    assert agent.exit_code() == 3
    assert (tmp_path / "tests/helpers.py").exists()
    assert "RuntimeError" in agent.text()


@pytest.mark.parametrize("steps, message", [
    ({"do": "say"}, "a JSON list"),
    ([{"do": "dance"}], "unknown step 'dance'"),
    ([{"do": "work"}], "missing field(s) seconds"),
    ([{"do": "work", "seconds": -1}], "'seconds' must be a number"),
    ([{"do": "work", "second": 1}], "unknown field(s) second"),
    ([{"do": "edit", "path": "../outside.txt"}], "must stay inside the worktree"),
    ([{"do": "edit", "path": "/etc/passwd"}], "must stay inside the worktree"),
    ([{"do": "ask", "question": "q", "options": []}], "non-empty list"),
])
def test_bad_scripts_are_refused_before_anything_runs(tmp_path, steps, message):
    script = write_script(tmp_path, steps)
    done = subprocess.run([sys.executable, "-m", "app.demo_agent", "--script", str(script)], cwd=tmp_path,
                          env=agent_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)
    assert done.returncode == 2
    assert message in done.stderr
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- built-in scenarios

def durations(steps: list[dict]) -> float:
    return sum(s.get("seconds", 0) + s.get("every", 0) * max(0, s.get("times", 1) - 1) for s in steps)


@pytest.mark.parametrize("name", sorted(demo_agent.SCENARIOS))
def test_scenarios_are_valid_and_short(name):
    steps = demo_agent.scenario(name)
    moving = [s for s in steps if not (s["do"] == "silent" and name == "stuck")]
    assert durations(moving) <= 60


@pytest.mark.parametrize("name, code", [("worker", 0), ("asker", 0), ("rogue", 0), ("flaky", 0),
                                        ("limiter", 0), ("follower", 0), ("crasher", 3)])
def test_scenarios_run_to_idle_or_exit(tmp_path, name, code):
    # Piped stdin: the idle prompt sees end of input at once and the agent exits 0.
    done = subprocess.run([sys.executable, "-m", "app.demo_agent", "--scenario", name, "--speed", FAST],
                          cwd=tmp_path, env=agent_env(), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == code, done.stderr
    edited = [e["path"] for e in demo_agent.SCENARIOS[name] if e["do"] == "edit"]
    assert all((tmp_path / p).exists() for p in edited)


def test_no_textual_or_rich_in_the_agent():
    code = ("import sys, app.demo_agent, app.demo; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')]; "
            "sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=agent_env(), timeout=20).returncode == 0


# ---------------------------------------------------------------- the screen, in a real tmux pane

@pytest.fixture
def tmux(tmp_path):
    """A private tmux server (its own -L socket), killed at the end of the test."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    socket = f"pbtest-{uuid.uuid4().hex[:12]}"
    env = agent_env(TMUX_TMPDIR=str(tmp_path.parent))
    env.pop("TMUX", None)

    def run(*args: str) -> str:
        return subprocess.run(["tmux", "-u", "-L", socket, "-f", "/dev/null", *args], env=env,
                              capture_output=True, text=True, timeout=10, check=True).stdout

    def start(*agent_args: str) -> None:
        exports = [a for k, v in agent_env().items() if k in ("PYTHONPATH", "LANG", "LC_ALL", "PANEBOARD_AGENT")
                   for a in ("-e", f"{k}={v}")]
        # Several arguments after "--": tmux runs them directly, no shell in between.
        run("new-session", "-d", "-s", "a", "-x", "100", "-y", "30", "-c", str(tmp_path), *exports, "--",
            sys.executable, "-m", "app.demo_agent", *agent_args)

    def screen() -> str:
        return run("capture-pane", "-p", "-t", "a")

    run.start, run.screen = start, screen
    yield run
    subprocess.run(["tmux", "-L", socket, "kill-server"], env=env, capture_output=True, timeout=10)


def test_answered_question_leaves_the_screen(tmux, tmp_path):
    tmux.start("--speed", FAST, "--script", str(write_script(tmp_path, [
        {"do": "say", "text": "before"},
        {"do": "ask", "title": "Bash command", "question": "pytest -q"},
        {"do": "idle", "reply_edit": "r.md"},
    ])))
    retry_until(lambda: "❯ 1. Yes" in tmux.screen())
    screen = tmux.screen()
    assert "Do you want to proceed?" in screen and "esc to cancel" in screen
    tmux("send-keys", "-t", "a", "1", "Enter")
    retry_until(lambda: "? for shortcuts" in tmux.screen())
    screen = tmux.screen()
    assert "✔ Approved" in screen
    for gone in ("Do you want to proceed?", "❯ 1. Yes", "esc to cancel", "Bash command"):
        assert gone not in screen
    lines = [ln.rstrip() for ln in screen.splitlines() if ln.strip()]
    assert lines[-4:] == ["─" * 100, ">", "─" * 100, "  ? for shortcuts"]


def test_idle_reply_redraws_the_box_below_it(tmux, tmp_path):
    tmux.start("--speed", FAST, "--script", str(write_script(tmp_path, [{"do": "idle", "reply_edit": "r.md"}])))
    retry_until(lambda: "? for shortcuts" in tmux.screen())
    tmux("send-keys", "-t", "a", "-l", "make it faster ✨")
    retry_until(lambda: "> make it faster ✨" in tmux.screen())
    tmux("send-keys", "-t", "a", "Enter")
    retry_until(lambda: (tmp_path / "r.md").exists() and tmux.screen().count("? for shortcuts") == 1
                and "● Done." in tmux.screen())
    screen = tmux.screen()
    assert screen.count("> make it faster ✨") == 1  # the message, once; the old box is gone
    assert "esc to interrupt" not in screen


def test_stalled_spinner_stays_on_screen(tmux, tmp_path):
    tmux.start("--speed", "1", "--script", str(write_script(tmp_path, [
        {"do": "say", "text": "thinking hard"},
        {"do": "silent", "seconds": 60, "spinner": True},
    ])))
    first = retry_until(lambda: "esc to interrupt" in (s := tmux.screen()) and s)
    time.sleep(0.5)  # a stall: the same screen later
    assert tmux.screen() == first
    assert re.search(r"✻ Working… \(\d+s · esc to interrupt\)", first)


def test_nasty_prompt_in_a_tmux_pane(tmux, tmp_path):
    tmux.start("--speed", FAST, "--script", str(write_script(tmp_path, [{"do": "idle"}])), NASTY_PROMPT)
    retry_until(lambda: "? for shortcuts" in tmux.screen())
    screen = tmux.screen()
    for line in NASTY_PROMPT.split("\n"):
        assert line in screen
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- the demo repository and task file

def test_create_demo_repo_is_clean_with_one_commit_on_main(tmp_path, monkeypatch):
    # No global identity: git must still commit.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(var, raising=False)
    repo = demo.create_demo_repo(tmp_path / "shop")

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()

    assert git("status", "--porcelain") == ""
    assert git("rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert git("rev-list", "--count", "HEAD") == "1"
    files = git("ls-files").splitlines()
    assert {"README.md", ".gitignore", "inventory/__init__.py", "inventory/stock.py", "inventory/pricing.py",
            "inventory/models.py", "inventory/report.py", "tests/test_stock.py"} <= set(files)
    for module in ("models", "stock", "pricing", "report"):
        assert 20 <= len((repo / "inventory" / f"{module}.py").read_text().splitlines()) <= 60
    # The demo's check command (its task file's `check:`) runs its tests and they pass.
    check = shlex.split(yaml.safe_load(demo.demo_task_file_text())["defaults"]["check"])
    tests = subprocess.run(check, cwd=repo, capture_output=True, text=True, timeout=60)
    assert tests.returncode == 0 and "Ran 5 tests" in tests.stderr, tests.stderr


def test_create_demo_repo_refuses_a_non_empty_directory(tmp_path):
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "mine.txt").write_text("keep me")
    with pytest.raises(demo.GitError):
        demo.create_demo_repo(tmp_path / "shop")
    assert (tmp_path / "shop" / "mine.txt").read_text() == "keep me"


def test_demo_task_file_gives_each_scenario_a_task_with_a_matching_scope():
    data = yaml.safe_load(demo.demo_task_file_text())
    assert data["defaults"] == {"agent": "demo", "base": "main", "silence": 20, "quiet_retry": 20,
                                "check": shlex.join([sys.executable, "-m", "unittest"])}
    tasks = data["tasks"]
    assert len(tasks) >= 5
    scenarios = {t["env"]["PANEBOARD_DEMO_SCENARIO"]: t for t in tasks}
    assert {"worker", "asker", "stuck", "flaky", "rogue"} <= set(scenarios)
    assert len({t["name"] for t in tasks}) == len(tasks)
    for name, task in scenarios.items():
        assert task["agent"] == "demo" and task["prompt"] and task["scope"]
        edited = [s["path"] for s in demo_agent.SCENARIOS[name] if s["do"] == "edit"]
        edited += [s["reply_edit"] for s in demo_agent.SCENARIOS[name] if s["do"] == "idle"]
        outside = [p for p in edited if not any(fnmatch.fnmatch(p, g) for g in task["scope"])]
        if name == "rogue":
            assert outside, "the rogue agent must edit outside its scope"
        else:
            assert outside == [], f"{name} edits outside its scope: {outside}"
