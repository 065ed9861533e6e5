"""`paneboard explain` on real agents in a private tmux server: which source decided the status, the
latest events, each rule that matched with the lines it saw, and the regions the rules look at."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from app.config import Settings, Task
from app.fleet import Fleet
from app.git.worktrees import find_repo
from app.hooks import events_path
from tests.helpers import ROOT, demo_script, kill_tmux, make_repo, paneboard, retry_until, unique_socket

SCREENS = ROOT / "tests" / "fixtures" / "screens"


def test_explain_a_live_agent_and_one_that_exited(tmp_path):
    socket_name = unique_socket()
    repo = make_repo(tmp_path / "project")
    fleet = Fleet(find_repo(repo), Settings(agent="demo", tmux_socket=socket_name))
    env = {"PANEBOARD_DEMO_SPEED": "1"}
    try:
        ask = demo_script(tmp_path, [{"do": "ask", "title": "Bash command", "question": "pytest -q"}])
        fleet.spawn(Task(name="asker", agent="demo", env={"PANEBOARD_DEMO_SCRIPT": str(ask), **env}))
        bye = demo_script(tmp_path, [{"do": "say", "text": "bye"}, {"do": "exit", "code": 3}])
        fleet.spawn(Task(name="leaver", agent="demo", env={"PANEBOARD_DEMO_SCRIPT": str(bye), **env}))
        events = events_path(fleet.repo.common_dir, "asker")
        events.parent.mkdir(parents=True, exist_ok=True)
        events.write_text('{"at": 1.0, "event": "SessionStart", "session_id": "abc123def"}\n', encoding="utf-8")

        def explained(name: str) -> dict | None:
            out = paneboard("explain", name, "--json", cwd=repo, socket_name=socket_name)
            assert out.returncode == 0, out.stderr
            doc = json.loads(out.stdout)
            return doc if doc["status"] in ("needs_input", "exited") else None

        doc = retry_until(lambda: explained("asker"), timeout=20)
        assert doc["source"] == "screen" and doc["status"] == "needs_input" and doc["family"] == "demo"
        fired = [r for r in doc["rules"] if r["fired"]]
        assert fired[0]["kind"] == "needs_input" and fired[0]["why"] == "approval question on screen"
        assert "Do you want to proceed?" in fired[0]["matched"]
        assert set(doc["regions"]) >= {"tail:12", "tail:3", "turn:6"}
        assert "Do you want to proceed?" in doc["regions"]["tail:12"]
        assert doc["events"] == [{"at": 1.0, "event": "SessionStart", "session_id": "abc123def"}]

        text = paneboard("explain", "asker", cwd=repo, socket_name=socket_name)
        lines = text.stdout.splitlines()
        assert lines[0] == "asker (demo): needs_input, decided by the screen", text.stdout
        assert any(ln.startswith("  needs_input approval question on screen  [region tail:12; fired]") for ln in lines)
        assert "      | Do you want to proceed?" in lines and "regions the rules look at:" in lines
        assert any("SessionStart session_id=abc123def" in ln for ln in lines)

        gone = retry_until(lambda: explained("leaver"), timeout=20)
        assert gone["source"] == "exit" and gone["status"] == "exited" and "code 3" in gone["status_why"]

        unknown = paneboard("explain", "nobody", cwd=repo, socket_name=socket_name)
        assert unknown.returncode == 2 and len(unknown.stderr.strip().splitlines()) == 1
    finally:
        kill_tmux(socket_name)


def test_explain_a_saved_screen_with_any_agents_rules(tmp_path):
    out = subprocess.run([sys.executable, "-m", "app.cli", "explain", "--agent", "codex", "--screen",
                          str(SCREENS / "codex/working-streaming-120x40.ansi")], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[:2] == ["codex rules read the screen as: working",
                         "why: an answer is streaming: the latest turn has no 'Worked for' line yet"]
    assert "  turn:40: 2 line(s)" in lines and "      | and README.md only holds a" in lines
    missing = subprocess.run([sys.executable, "-m", "app.cli", "explain", "--agent", "codex", "--screen",
                              str(tmp_path / "nope.txt")], capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path, timeout=60)
    assert missing.returncode == 2 and missing.stderr.startswith("paneboard: --screen ") and \
        len(missing.stderr.strip().splitlines()) == 1
    no_agent = subprocess.run([sys.executable, "-m", "app.cli", "explain", "--screen", str(Path(__file__))],
                              capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                              cwd=tmp_path, timeout=60)
    assert no_agent.returncode == 2 and "--agent PRESET --screen FILE" in no_agent.stderr
