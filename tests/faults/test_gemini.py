"""Faults in the user's own Gemini CLI home: garbage settings, no ~/.gemini at all. Gemini still starts with
paneboard's hooks, the user hears one line, their file is never rewritten, and what Gemini writes (a first
login) lands in their real ~/.gemini.

`gemini` here is a small script on PATH that does what Gemini CLI 0.61 does with its GEMINI_CLI_HOME: read
`$GEMINI_CLI_HOME/.gemini/settings.json`, write a first login's `oauth_creds.json` beside it (fs.writeFile,
through a link) and run its SessionStart hooks through a shell.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from app import hooks
from app.git.worktrees import find_repo
from tests.helpers import ROOT, git, retry_until

FAKE_GEMINI = f"""#!{sys.executable}
import json, os, subprocess, time
from pathlib import Path
home = Path(os.environ["GEMINI_CLI_HOME"]) / ".gemini"
doc = json.loads((home / "settings.json").read_text())
(home / "oauth_creds.json").write_text('{{"refresh_token": "first login"}}')
payload = json.dumps({{"hook_event_name": "SessionStart", "session_id": "fake-session-1", "source": "startup"}})
for group in doc["hooks"]["SessionStart"]:
    for hook in group["hooks"]:
        subprocess.run(hook["command"], shell=True, input=payload.encode())
print("fake gemini ready", flush=True)
time.sleep(600)
"""


def spawn_gemini(repo: Path, socket: str, home: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """`paneboard spawn g --agent gemini` as the user whose HOME is home, with the fake gemini first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gemini").write_text(FAKE_GEMINI)
    (bin_dir / "gemini").chmod(0o755)
    path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE", "GEMINI_CLI_HOME")}
    env.update(HOME=str(home), PATH=path, PANEBOARD_TMUX_SOCKET=socket, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "app.cli", "spawn", "g", "--agent", "gemini", "--env", f"PATH={path}"],
                          cwd=repo, capture_output=True, text=True, env=env, timeout=60, check=False)


def session_started(repo: Path) -> dict:
    events = hooks.events_path(find_repo(repo).common_dir, "g")

    def read():
        try:
            rows = [json.loads(ln) for ln in events.read_text().splitlines() if ln.strip()]
        except OSError:
            return None
        return next((r for r in rows if r["event"] == "SessionStart"), None)
    return retry_until(read, timeout=30)


def test_garbage_user_settings_start_gemini_with_its_hooks_one_line_and_the_file_untouched(repo, tmux_socket,
                                                                                             tmp_path):
    home = tmp_path / "home"
    (home / ".gemini").mkdir(parents=True)
    settings = home / ".gemini" / "settings.json"
    settings.write_bytes(b'{"ui": {"theme": "ANSI",, \xff garbage')
    before = settings.stat()
    proc = spawn_gemini(repo, tmux_socket, home, tmp_path)
    assert proc.returncode == 0, proc.stderr
    [line] = proc.stderr.splitlines()
    assert line.startswith("paneboard: Gemini settings ") and str(settings) in line and "left as it is" in line
    row = session_started(repo)
    assert row["cli"] == "gemini" and row["session_id"] == "fake-session-1"
    assert settings.read_bytes() == b'{"ui": {"theme": "ANSI",, \xff garbage'
    assert (settings.stat().st_mtime_ns, settings.stat().st_ino) == (before.st_mtime_ns, before.st_ino)
    assert json.loads((home / ".gemini" / "oauth_creds.json").read_text()) == {"refresh_token": "first login"}
    assert git(repo.parent / f"{repo.name}.paneboard" / "g", "status", "--porcelain", "--untracked-files=all") == ""


def test_no_users_gemini_dir_starts_with_hooks_and_a_first_login_lands_in_the_users_home(repo, tmux_socket,
                                                                                         tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    proc = spawn_gemini(repo, tmux_socket, home, tmp_path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert session_started(repo)["session_id"] == "fake-session-1"
    real = home / ".gemini"
    assert sorted(p.name for p in real.iterdir()) == ["history", "oauth_creds.json", "tmp"]
    assert not (real / "oauth_creds.json").is_symlink()
    assert json.loads((real / "oauth_creds.json").read_text()) == {"refresh_token": "first login"}
    assert not (real / "settings.json").exists()      # paneboard's hooks never go into the user's own settings
