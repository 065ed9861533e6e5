"""Drive a real agent CLI through paneboard against the mock model: its home, its env, its moments.

A `Live` session owns one private tmux server, one repository, one mock model server and one agent
spawned through `Fleet.spawn` with the real preset (hooks and all). `expect(moment, ...)` waits until
paneboard's own assessment (`assess_once`, what `paneboard ls --json` prints) says so, records the
moment (for `python -m tests.live.scorecard`) and fails the test if it never does.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from tests.helpers import kill_tmux, make_repo, paneboard, retry_until, unique_socket
from tests.live import versions
from tests.live.mockmodel import MockModel

API_KEY = "sk-ant-mock-key-0123456789abcdef"
BINARIES = {"claude": "claude", "codex": "codex", "gemini": "gemini", "opencode": "opencode", "aider": "aider"}


def binary_or_skip(cli: str) -> Path:
    """The installed CLI's executable, or skip the test naming what is missing."""
    path = versions.bin_dir(cli) / BINARIES[cli]
    if not path.exists():
        pytest.skip(f"{BINARIES[cli]} {versions.version(cli)} is not installed at {path} "
                    f"(run `python -m tests.live.install`, or set PANEBOARD_AGENT_CLIS)")
    return path


def _write(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=1), encoding="utf-8")


def prepare_home(cli: str, home: Path, url: str) -> dict[str, str]:
    """First-run state in a fresh HOME for this CLI, pointed at the mock model; the agent's environment."""
    # XDG_CONFIG_HOME as a fresh HOME has it: the test run's own (tests/conftest.py) must not reach the CLI.
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "DISABLE_AUTOUPDATER": "1", "NO_COLOR": "",
           "TMPDIR": str(home / "tmp")}
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    if cli == "claude":
        # hasSeenAutoDefaultNudge: a user whose own settings name a mode other than auto is asked once, after
        # a turn, "Make auto mode your default permission mode?" (2.1.332; it reads only ~/.claude/settings.json).
        _write(home / ".claude.json", {"hasCompletedOnboarding": True, "hasSeenAutoDefaultNudge": True,
                                       "customApiKeyResponses": {"approved": [API_KEY[-20:]], "rejected": []}})
        # Ask before a tool runs (the default "auto" mode would let a classifier decide).
        _write(home / ".claude" / "settings.json", {"permissions": {"defaultMode": "default"}})
        env.update(ANTHROPIC_BASE_URL=url, ANTHROPIC_API_KEY=API_KEY, CLAUDE_CODE_MAX_RETRIES="0",
                   CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1")
    elif cli == "codex":
        _write(home / ".codex" / "config.toml", "\n".join([
            'model = "mock"', 'model_provider = "mock"', 'approval_policy = "on-request"', 'sandbox_mode = "read-only"',
            "[model_providers.mock]", 'name = "mock"', f'base_url = "{url}/v1"', 'wire_api = "responses"',
            'env_key = "MOCK_API_KEY"', "request_max_retries = 0", "stream_max_retries = 0", ""]))
        env.update(MOCK_API_KEY="mock", CODEX_HOME=str(home / ".codex"))
    elif cli == "gemini":
        _write(home / ".gemini" / "settings.json", {
            "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": True}},
            "general": {"disableAutoUpdate": True}, "model": {"name": "gemini-2.5-flash"}})
        env.update(GEMINI_API_KEY="mock", GOOGLE_GEMINI_BASE_URL=url)
    elif cli == "opencode":
        config = home / ".config" / "opencode" / "opencode.json"
        _write(config, {
            "$schema": "https://opencode.ai/config.json", "autoupdate": False, "share": "disabled",
            "model": "mock/mock", "small_model": "mock/mock",
            "provider": {"mock": {"npm": "@ai-sdk/openai-compatible", "name": "Mock",
                                  "options": {"baseURL": f"{url}/v1", "apiKey": "mock"},
                                  "models": {"mock": {"name": "Mock", "tool_call": True}}}},
            "permission": {"bash": "ask", "edit": "ask"}})
        # A user's own OPENCODE_CONFIG too, that sets something a test can see: a header on every model request.
        _write(home / "my-opencode.json", {"provider": {"mock": {"options": {"headers": {"X-User-Config": "kept"}}}}})
        # Offline: no models.dev fetch, no default plugins or LSPs from npm (each waits ~30 s for the network).
        # Its user config, found by XDG_CONFIG_HOME (paneboard adds its plugin in OPENCODE_CONFIG_CONTENT).
        env.update(OPENCODE_CONFIG=str(home / "my-opencode.json"), OPENCODE_DISABLE_AUTOUPDATE="1",
                   OPENCODE_DISABLE_MODELS_FETCH="1", OPENCODE_DISABLE_DEFAULT_PLUGINS="1",
                   OPENCODE_DISABLE_LSP_DOWNLOAD="1")
    elif cli == "aider":
        # The diff edit format as the model's own: shell blocks become commands it asks to run, prompt "> ".
        _write(home / "model-settings.yml", "- name: openai/mock\n  edit_format: diff\n")
        env.update(AIDER_MODEL_SETTINGS_FILE=str(home / "model-settings.yml"),
                   OPENAI_API_BASE=f"{url}/v1", OPENAI_API_KEY="mock", AIDER_MODEL="openai/mock",
                   AIDER_CHECK_UPDATE="false", AIDER_ANALYTICS_DISABLE="true", AIDER_SHOW_MODEL_WARNINGS="false",
                   AIDER_SHOW_RELEASE_NOTES="false", LITELLM_LOCAL_MODEL_COST_MAP="True")
    return {k: v for k, v in env.items() if v != ""}


def record(cli: str, moment: str, ok: bool, seen: str) -> None:
    """Append one moment's result to $PANEBOARD_LIVE_RESULTS (the scorecard reads it), if set."""
    path = os.environ.get("PANEBOARD_LIVE_RESULTS")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps({"cli": cli, "version": versions.version(cli), "moment": moment, "ok": ok,
                              "seen": seen}) + "\n")


class Live:
    """One real CLI spawned through paneboard, its mock model and its moments."""

    NAME = "live"

    def __init__(self, cli: str, root: Path, model: MockModel):
        self.cli, self.model, self.root = cli, model, root
        self.socket = unique_socket()
        self.repo = make_repo(root / "project")
        self.home = root / "home"
        self.env = prepare_home(cli, self.home, model.url)
        from app.config import Settings
        from app.fleet import Fleet
        from app.git.worktrees import find_repo
        self.fleet = Fleet(find_repo(self.repo), Settings(agent=cli, tmux_socket=self.socket, silence=120.0))

    # -- doing -------------------------------------------------------------------------------

    def spawn(self, prompt: str) -> None:
        """Start the agent with this task prompt through paneboard (the real preset, hooks on)."""
        from app.config import Task
        self.fleet.spawn(Task(name=self.NAME, agent=self.cli, prompt=prompt, env=self.env))

    def approve(self) -> None:
        """Answer the agent's question as the dashboard's `a` key does (the preset's approve keys)."""
        from app import presets
        self.fleet.press(self.NAME, presets.resolve(self.cli).approve)

    def send(self, text: str) -> subprocess.CompletedProcess:
        """`paneboard send NAME TEXT`, the real command in a subprocess."""
        return paneboard("send", self.NAME, text, cwd=self.repo, socket_name=self.socket)

    def say(self, text: str, timeout: float = 8.0) -> None:
        """Send a reply and wait until the model saw it; if it sits unsubmitted (issue 11's reply miss on Codex
        and Gemini, until delivery lands) press Enter once, so the moment after it can still be tried."""
        self.send(text)
        try:
            retry_until(lambda: self.model.saw(text), timeout=timeout, interval=0.2)
        except AssertionError:
            self.keys("Enter")
            retry_until(lambda: self.model.saw(text), timeout=timeout, interval=0.2)

    def quit(self, *keys: str, attempts: int = 3) -> None:
        """Press the CLI's exit keys until its process has ended (a busy TUI can read two quick Ctrl-C as one)."""
        for _ in range(attempts):
            self.keys(*keys)
            try:
                retry_until(self.pane_dead, timeout=6, interval=0.2)
                return
            except AssertionError:
                continue
        raise AssertionError(f"{self.cli} did not exit on {keys}\n--- screen ---\n{self.screen()}")

    def keys(self, *keys: str) -> None:
        """Press named keys in the agent's pane, a little apart (a TUI can drop keys sent together)."""
        from app.errors import PaneboardError
        for key in keys:
            try:
                self.fleet.send_key(self.NAME, key)
            except PaneboardError:
                return      # it exited at the previous key (the exit moment says so)
            time.sleep(0.4)

    # -- seeing ------------------------------------------------------------------------------

    def agent(self):
        """The agent as paneboard assesses it now (what `paneboard ls --json` prints)."""
        from app.monitor import assess_once
        return next(a for a in assess_once(self.fleet) if a.name == self.NAME)

    def pane_dead(self) -> bool:
        """True once the agent's process has ended (its pane stays, dead, with remain-on-exit) or the pane is gone."""
        pane = self.fleet.get(self.NAME, stats=False).pane
        out = self.fleet.tmux.run("display-message", "-p", "-t", pane, "#{pane_dead}", check=False) if pane else []
        return not out or out[0].strip() == "1"

    def screen(self) -> str:
        """The agent's visible screen."""
        pane = self.fleet.get(self.NAME, stats=False).pane
        return self.fleet.tmux.capture(pane) if pane else ""

    def seen(self) -> str:
        a = self.agent()
        triggers = ",".join(t.kind.value for t in a.triggers) or "-"
        return f"{a.status.kind.value} [{triggers}] {a.status.why[:100]}"

    def expect(self, moment: str, test, timeout: float = 30.0) -> None:
        """Wait until test(agent) holds, record the moment, and fail with what paneboard said if it never does."""
        try:
            retry_until(lambda: test(self.agent()), timeout=timeout, interval=0.3)
            ok = True
        except AssertionError:
            ok = False
        seen = self.seen()
        record(self.cli, moment, ok, seen)
        assert ok, f"{self.cli} {moment}: paneboard read {seen!r}\n--- screen ---\n{self.screen()}"

    def wait_screen(self, needle: str, timeout: float = 30.0) -> str:
        """Wait until the agent's screen shows this text."""
        try:
            return retry_until(lambda: needle in self.screen() and self.screen(), timeout=timeout, interval=0.2)
        except AssertionError:
            raise AssertionError(f"{self.cli}: {needle!r} never showed\n--- screen ---\n{self.screen()}") from None

    def wait_still(self, seconds: float = 1.0, timeout: float = 15.0) -> None:
        """Wait until the screen has not changed for `seconds` (a dialog drawn is not yet a dialog listening)."""
        last, since, end = None, time.monotonic(), time.monotonic() + timeout
        while time.monotonic() < end:
            screen = self.screen()
            if screen != last:
                last, since = screen, time.monotonic()
            elif time.monotonic() - since >= seconds:
                return
            time.sleep(0.1)

    def worktree_file(self, name: str) -> Path:
        """A file in the agent's worktree (where its tools run)."""
        return Path(self.fleet.get(self.NAME, stats=False).worktree) / name

    # -- the moments most CLIs walk the same way ----------------------------------------------

    def streaming(self) -> None:
        """While the answer still streams (its last words not shown yet) paneboard must say working."""
        from app.model import Kind
        self.expect("streamed answer", lambda a: a.status.kind == Kind.WORKING
                    and ANSWER.split()[-1] not in self.screen(), timeout=1)

    def finished(self) -> None:
        """The answer shown whole: paneboard must say idle."""
        from app.model import Kind
        self.wait_screen(ANSWER.split()[-1])
        self.expect("finished turn", is_(Kind.IDLE))

    def asks(self) -> None:
        """The tool call waits for approval: paneboard must say it needs input."""
        from app.model import Kind
        self.expect("permission request", is_(Kind.NEEDS_INPUT))

    def approved(self) -> None:
        """Approve once the dialog listens; the tool's file must appear in the worktree."""
        self.wait_still()
        self.approve()
        self.expect("approval", lambda a: self.worktree_file("made-by-tool").exists(), timeout=10)

    def reply_confirmed(self, text: str) -> None:
        """Send a reply that must land AND be confirmed by `send` (landing by chance is not delivery)."""
        sent = self.send(text)
        confirmed = sent.returncode == 0 and "confirmed" in sent.stdout
        try:
            self.expect("reply sent", lambda a: confirmed and self.model.saw(text), timeout=8)
        finally:
            if not self.model.saw(text):
                self.keys("Enter")      # recover, so the later moments can be tried

    # -- ending ------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the agent, every process that runs with its HOME (codex app-server), and the tmux server."""
        with suppress(Exception):       # it may never have started
            self.fleet.kill(self.NAME)
        for pid in _pids_with_env(f"HOME={self.home}"):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        kill_tmux(self.socket)


def _pids_with_env(entry: str) -> list[int]:
    """Processes of this user whose environment holds exactly this KEY=VALUE entry."""
    found, needle = [], entry.encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if needle in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


@contextmanager
def live_session(cli: str, root: Path):
    """A Live session for this CLI (skipped if it is not installed), cleaned up whatever happens."""
    binary_or_skip(cli)
    old_path, old_socket = os.environ.get("PATH", ""), os.environ.get("PANEBOARD_TMUX_SOCKET")
    # The CLI must be on PATH for paneboard (its preset names a bare command) and for the tmux server.
    os.environ["PATH"] = f"{versions.bin_dir(cli)}{os.pathsep}{old_path}"
    for key in ("TMUX", "TMUX_PANE"):
        os.environ.pop(key, None)
    with MockModel(**({"main": lambda path, body: True} if cli == "aider" else {})) as model:
        live = Live(cli, root, model)
        os.environ["PANEBOARD_TMUX_SOCKET"] = live.socket
        try:
            yield live
        finally:
            live.close()
            os.environ["PATH"] = old_path
            if old_socket is None:
                os.environ.pop("PANEBOARD_TMUX_SOCKET", None)
            else:
                os.environ["PANEBOARD_TMUX_SOCKET"] = old_socket


ANSWER = "Hello from the mock model, this answer streams slowly over a few seconds"
"""What the mock model streams for "say hello" in every CLI's walk."""


def is_(kind):
    """An expectation: the agent's status is of this kind."""
    return lambda a: a.status.kind == kind


def has(trigger):
    """An expectation: the agent carries a trigger of this kind."""
    return lambda a: any(t.kind == trigger for t in a.triggers)
