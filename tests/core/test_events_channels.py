"""Each CLI's event channel: what its installer writes and adds to the command line, and what its parser
makes of the payload shapes the CLI sends (taken from its docs, source and bundle; see app/events/)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from app import events, hooks
from app.events import aider, claude, codex, gemini, gemini_home, opencode, rules
from app.presets import PRESETS

ROOT = Path(__file__).resolve().parents[2]


def common(tmp_path: Path) -> Path:
    c = tmp_path / "repo" / ".git"
    c.mkdir(parents=True)
    return c


def test_every_preset_with_a_channel_names_a_module_and_installs_only_under_the_hooks_dir(tmp_path, monkeypatch):
    c = common(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))     # Gemini's channel links the user's ~/.gemini
    (tmp_path / "home").mkdir()
    for name in ("claude", "codex", "gemini", "opencode", "aider"):
        assert PRESETS[name].hooks == name
        ch = events.install(name, c, f"t-{name}", ("Bash(npm test*)",), ("Bash(rm *)",))
        assert all(f.parent == hooks.hooks_dir(c) and f.exists() for f in ch.files), name
    assert sorted(p.name for p in hooks.hooks_dir(c).iterdir()) == sorted(
        ["t-claude.settings.json", "t-gemini.gemini-home", "t-opencode.opencode.js"])


def test_claude_settings_hook_the_notification_matchers_and_carry_the_rules(tmp_path):
    c = common(tmp_path)
    ch = events.install("claude", c, "api", ("Bash(npm test*)", "Edit(src/**)"), ("Bash(rm *)",))
    assert ch.argv == ("--settings", str(ch.files[0]))
    doc = json.loads(ch.files[0].read_text())
    assert [g["matcher"] for g in doc["hooks"]["Notification"]] == ["permission_prompt", "idle_prompt",
                                                                    "elicitation_dialog"]
    assert "PermissionRequest" in doc["hooks"] and "PermissionDenied" in doc["hooks"]
    assert doc["permissions"] == {"allow": ["Bash(npm test*)", "Edit(src/**)"], "deny": ["Bash(rm *)"]}
    assert "permissions" not in json.loads(events.install("claude", c, "b").files[0].read_text())   # off unless set


def test_codex_gets_hooks_and_notify_as_overrides_that_parse_as_toml(tmp_path):
    import tomllib
    c = common(tmp_path)
    ch = events.install("codex", c, "we'ird $(x)", ("Bash(ls)",))
    assert "--dangerously-bypass-hook-trust" not in ch.argv and not ch.files and not ch.env
    pairs = [ch.argv[i + 1] for i, a in enumerate(ch.argv) if a == "-c"]
    doc: dict = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        parsed = tomllib.loads(f"v = {value}")["v"]
        node = doc
        *path, last = key.split(".")
        for part in path:
            node = node.setdefault(part, {})
        node[last] = parsed
    ev = str(hooks.events_path(c, "we'ird $(x)"))
    trust = doc["hooks"].pop("state")
    assert set(doc["hooks"]) == {"SessionStart", "UserPromptSubmit", "PreToolUse", "PermissionRequest",
                                 "PostToolUse", "Stop"}
    [[hook]] = [g["hooks"] for g in doc["hooks"]["Stop"]]
    assert shlex.split(hook["command"])[-3:] == ["record", ev, "codex"] and hook["type"] == "command"
    assert doc["notify"][-3:] == ["notify", ev, "codex"]
    # Each of paneboard's own hooks, and nothing else, is trusted by its hash for this start.
    assert trust == {f"/<session-flags>/config.toml:{key}:0:0": {"trusted_hash": codex.trust_hash(event, hook["command"])}
                     for event, key in (("SessionStart", "session_start"), ("UserPromptSubmit", "user_prompt_submit"),
                                        ("PreToolUse", "pre_tool_use"), ("PermissionRequest", "permission_request"),
                                        ("PostToolUse", "post_tool_use"), ("Stop", "stop"))}


def test_codex_trust_hash_is_the_one_codex_accepted():
    # Codex 0.171 ran this SessionStart hook given with -c and this hash, without its "Hooks need review"
    # question and without --dangerously-bypass-hook-trust (tests/integration/test_events_real.py does it live).
    assert codex.trust_hash("SessionStart", "/tmp/cx/hook.sh /tmp/cx/ev1.jsonl") == \
        "sha256:37fa288a026ff86d5cdb75512945c91dbb537f597393e9e46e9f9663c603744e"
    assert codex.trust_hash("Stop", "x") != codex.trust_hash("SessionStart", "x")


def test_codex_payloads_parse_to_the_shared_shape():
    # Shapes as Codex 0.171 sent them to a hook (recorded with the real binary) and to notify (its docs).
    start = {"session_id": "01a22a1b-817c-7fe3-bbbb-504c842f3e15", "transcript_path": "/t.jsonl", "cwd": "/w",
             "hook_event_name": "SessionStart", "model": "gpt", "permission_mode": "bypassPermissions",
             "source": "startup"}
    assert codex.parse(start) == {"event": "SessionStart", "cli": "codex",
                                  "session_id": "01a22a1b-817c-7fe3-bbbb-504c842f3e15", "source": "startup"}
    ask = {"session_id": "01a22a1b-817c", "hook_event_name": "PermissionRequest", "tool_name": "Bash",
           "tool_input": {"command": "cargo test"}, "turn_id": "t"}
    assert codex.parse(ask)["asks"] == "cargo test"
    done = {"type": "agent-turn-complete", "thread-id": "01a22a1b-aaaa", "turn-id": "12345",
            "cwd": "/w", "input-messages": ["fix"], "last-assistant-message": "Done."}
    assert codex.parse(done) == {"event": "Stop", "cli": "codex", "session_id": "01a22a1b-aaaa",
                                 "turn_id": "12345", "last_assistant_message": "Done."}
    assert codex.parse({"type": "other"}) is None


def test_gemini_gets_its_own_home_with_the_users_settings_plus_hooks_and_rules(tmp_path):
    c = common(tmp_path)
    real = tmp_path / "home" / ".gemini"
    (real / "commands").mkdir(parents=True)
    (real / "GEMINI.md").write_text("be brief")
    user_text = ('// mine\n{"ui": {"theme": "ANSI"}, /* old */ "model": {"name": "gemini-x"},\n'
                 ' "hooks": {"BeforeTool": [{"hooks": [{"type": "command", "command": "echo // not a comment"}]}]},\n'
                 ' "tools": {"allowed": ["read_file"], "exclude": ["web_fetch"]}}\n')
    (real / "settings.json").write_text(user_text)
    ch = events.install("gemini", c, "g", ("Bash(npm test*)", "Read"), ("Bash(rm*)", "Edit(secret/**)"),
                        {"HOME": str(tmp_path / "home")})
    home = Path(ch.env["GEMINI_CLI_HOME"])
    assert ch.files == (home,) and home.parent == hooks.hooks_dir(c) and ch.argv == () and ch.notices == ()
    assert ch.env["GEMINI_CLI_TRUSTED_FOLDERS_PATH"] == str(real / "trustedFolders.json")
    assert "GEMINI_CLI_SYSTEM_DEFAULTS_PATH" not in ch.env
    merged = home / ".gemini" / "settings.json"
    doc = json.loads(merged.read_text())
    assert (doc["ui"], doc["model"]) == ({"theme": "ANSI"}, {"name": "gemini-x"})
    assert set(doc["hooks"]) == set(gemini.EVENTS)
    assert doc["hooks"]["BeforeTool"][0]["hooks"][0]["command"] == "echo // not a comment"   # theirs first
    assert doc["hooks"]["BeforeTool"][1]["hooks"][0]["name"] == "paneboard"
    assert doc["hooks"]["AfterAgent"][0]["hooks"][0]["timeout"] == 10_000        # milliseconds
    assert doc["tools"] == {"allowed": ["read_file", "run_shell_command(npm test)", "read_many_files"],
                            "exclude": ["web_fetch", "run_shell_command(rm)"]}  # a path glob it cannot express: out
    assert (real / "settings.json").read_text() == user_text and merged.stat().st_mode & 0o077 == 0
    links = {p.name: os.readlink(p) for p in (home / ".gemini").iterdir() if p.is_symlink()}
    assert set(links) == {"commands", "GEMINI.md", "tmp", "history", *gemini_home.WRITTEN_IN_PLACE}
    assert all(Path(target) == real / name for name, target in links.items())
    assert (real / "tmp").is_dir() and (real / "history").is_dir() and not (real / "oauth_creds.json").exists()
    (home / ".gemini" / "oauth_creds.json").write_text("{}")        # a first login, written the way Gemini does
    assert (real / "oauth_creds.json").read_text() == "{}"


def test_gemini_home_is_renewed_on_restart_and_keeps_what_gemini_made_there(tmp_path):
    c = common(tmp_path)
    real = tmp_path / "home" / ".gemini"
    (real / "gone.json").parent.mkdir(parents=True)
    (real / "gone.json").write_text("x")
    env = {"HOME": str(tmp_path / "home")}
    home = Path(events.install("gemini", c, "g", env=env).env["GEMINI_CLI_HOME"]) / ".gemini"
    (home / "projects.json").write_text('{"projects": {}}')   # Gemini saves its registry by renaming over a link
    (real / "gone.json").unlink()
    (real / "extensions").mkdir()
    events.install("gemini", c, "g", env=env)
    assert not (home / "projects.json").is_symlink() and (home / "projects.json").read_text() == '{"projects": {}}'
    assert os.readlink(home / "extensions") == str(real / "extensions")
    assert not os.path.lexists(home / "gone.json")            # a link to what the user removed goes too
    events.channel_files(c, "g").remove()          # a failed start takes the home away, never what it links to
    assert not home.parent.exists() and (real / "extensions").is_dir() and (real / "tmp").is_dir()


def test_gemini_home_follows_the_users_own_gemini_cli_home_and_trusted_folders_path(tmp_path):
    c = common(tmp_path)
    theirs = tmp_path / "elsewhere"
    (theirs / ".gemini").mkdir(parents=True)
    (theirs / ".gemini" / "settings.json").write_text('{"ui": {"theme": "GitHub"}}')
    (theirs / ".agents").mkdir()
    ch = events.install("gemini", c, "g", env={"HOME": str(tmp_path / "home"), "GEMINI_CLI_HOME": str(theirs),
                                               "GEMINI_CLI_TRUSTED_FOLDERS_PATH": "/etc/trusted.json"})
    home = Path(ch.env["GEMINI_CLI_HOME"])
    assert home != theirs and "GEMINI_CLI_TRUSTED_FOLDERS_PATH" not in ch.env     # theirs is kept
    assert json.loads((home / ".gemini" / "settings.json").read_text())["ui"] == {"theme": "GitHub"}
    assert os.readlink(home / ".gemini" / "tmp") == str(theirs / ".gemini" / "tmp")
    assert os.readlink(home / ".agents") == str(theirs / ".agents")


@pytest.mark.parametrize("content, says", [
    ('{"ui": ', "are not valid JSON (line 1"), ("[1, 2]", "are not a JSON object"), (None, "cannot be read")])
def test_gemini_user_settings_it_cannot_use_give_one_line_and_hooks_only(tmp_path, content, says):
    c = common(tmp_path)
    settings = tmp_path / "home" / ".gemini" / "settings.json"
    if content is None:
        settings.mkdir(parents=True)            # a directory where the file should be
    else:
        settings.parent.mkdir(parents=True)
        settings.write_text(content)
    ch = events.install("gemini", c, "g", ("Read",), env={"HOME": str(tmp_path / "home")})
    [line] = ch.notices
    assert line.startswith(f"Gemini settings {settings} {says}") and "\n" not in line
    doc = json.loads((Path(ch.env["GEMINI_CLI_HOME"]) / ".gemini" / "settings.json").read_text())
    assert set(doc) == {"hooks", "tools"}
    assert content is None or settings.read_text() == content


def test_gemini_home_without_a_users_home_still_carries_the_hooks(tmp_path):
    c = common(tmp_path)
    ch = events.install("gemini", c, "g", env={"HOME": str(tmp_path / "no-such-home")})
    [line] = ch.notices
    assert line.startswith(f"cannot share {tmp_path / 'no-such-home' / '.gemini'} with agent g")
    assert "SessionStart" in json.loads((Path(ch.env["GEMINI_CLI_HOME"]) / ".gemini" / "settings.json").read_text())["hooks"]
    assert not (tmp_path / "no-such-home").exists()


def test_gemini_payloads_parse_to_the_shared_shape():
    base = {"session_id": "7f0c2c1e-1111", "transcript_path": "", "cwd": "/w", "timestamp": "2026-01-01T00:00:00Z"}
    assert gemini.parse({**base, "hook_event_name": "AfterAgent", "prompt": "p", "prompt_response": "r",
                         "stop_hook_active": False})["event"] == "Stop"
    assert gemini.parse({**base, "hook_event_name": "BeforeTool", "tool_name": "run_shell_command",
                         "tool_input": {"command": "ls"}}) == {
        "event": "PreToolUse", "cli": "gemini", "session_id": "7f0c2c1e-1111", "tool_name": "run_shell_command",
        "asks": "ls"}
    ask = gemini.parse({**base, "hook_event_name": "Notification", "notification_type": "ToolPermission",
                        "message": "Tool run_shell_command requires editing",
                        "details": {"type": "exec", "title": "Confirm Shell Command", "command": "rm -rf build"}})
    assert (ask["event"], ask["asks"]) == ("PermissionRequest", "rm -rf build")
    assert gemini.parse({**base, "hook_event_name": "PreCompress"}) is None


def test_opencode_config_loads_a_local_plugin_and_carries_permissions(tmp_path):
    c = common(tmp_path)
    ch = events.install("opencode", c, "o", ("Bash(git status*)", "Edit"), ("Bash(rm *)",))
    assert list(ch.env) == ["OPENCODE_CONFIG_CONTENT"]         # a user's own OPENCODE_CONFIG is never replaced
    cfg = json.loads(ch.env["OPENCODE_CONFIG_CONTENT"])
    [plugin] = cfg["plugin"]
    assert plugin.startswith("file:///") and Path(plugin[7:]).read_text().startswith("// paneboard")
    assert cfg["permission"] == {"bash": {"git status*": "allow", "rm *": "deny"}, "edit": "allow"}


def test_opencode_keeps_a_users_own_config_file_and_merges_their_content(tmp_path):
    c = common(tmp_path)
    own = {"OPENCODE_CONFIG": str(tmp_path / "mine.json"),
           "OPENCODE_CONFIG_CONTENT": json.dumps({"username": "me", "plugin": ["my-plugin@1"],
                                                  "permission": {"bash": {"git *": "allow", "rm *": "allow"},
                                                                 "webfetch": "deny", "edit": {"*.md": "allow"}}})}
    ch = events.install("opencode", c, "o", ("Edit",), ("Bash(rm *)",), env=own)
    assert "OPENCODE_CONFIG" not in ch.env
    cfg = json.loads(ch.env["OPENCODE_CONFIG_CONTENT"])
    assert cfg["username"] == "me" and cfg["plugin"][0] == "my-plugin@1" and cfg["plugin"][1].startswith("file:///")
    # The task's rules over theirs: its deny wins where both name a pattern, theirs stay where it names none.
    assert cfg["permission"] == {"bash": {"git *": "allow", "rm *": "deny"}, "webfetch": "deny", "edit": "allow"}


@pytest.mark.parametrize("content", ['{"username": "me" // mine\n}', "[1, 2]", "not json"])
def test_opencode_leaves_content_it_cannot_merge_alone_and_says_so(tmp_path, content):
    c = common(tmp_path)
    ch = events.install("opencode", c, "o", (), ("Bash(rm *)",), env={"OPENCODE_CONFIG_CONTENT": content})
    assert ch.env == {} and ch.files == ()
    [notice] = ch.notices
    assert "OPENCODE_CONFIG_CONTENT is not plain JSON" in notice and "\n" not in notice
    assert list(hooks.hooks_dir(c).iterdir()) == []      # the plugin written first is taken away again


OPENCODE_EVENTS = [
    {"type": "session.created", "properties": {"info": {"id": "ses_4b1c0f2a9ffe", "title": "t"}}},
    {"type": "session.status", "properties": {"sessionID": "ses_4b1c0f2a9ffe", "status": {"type": "busy"}}},
    {"type": "session.status", "properties": {"sessionID": "ses_4b1c0f2a9ffe",
                                              "status": {"type": "retry", "attempt": 2, "message": "429"}}},
    {"type": "permission.asked", "properties": {"id": "per_1", "sessionID": "ses_4b1c0f2a9ffe", "permission": "bash",
                                                "patterns": ["rm -rf build"], "metadata": {"command": "rm -rf build"},
                                                "always": []}},
    {"type": "permission.replied", "properties": {"sessionID": "ses_4b1c0f2a9ffe", "requestID": "per_1",
                                                  "reply": "once"}},
    {"type": "session.idle", "properties": {"sessionID": "ses_4b1c0f2a9ffe"}},
    {"type": "session.error", "properties": {"sessionID": "ses_4b1c0f2a9ffe",
                                             "error": {"name": "APIError", "data": {"message": "quota"}}}},
    {"type": "message.part.updated", "properties": {}},
    # A bash call a `permission` rule denied, as OpenCode 1.18 fails its tool part (its PermissionDeniedError).
    {"type": "message.part.updated", "properties": {"part": {
        "id": "prt_1", "sessionID": "ses_4b1c0f2a9ffe", "messageID": "msg_1", "type": "tool", "callID": "c1",
        "tool": "bash", "state": {"status": "error", "input": {"command": "rm -rf build"},
                                  "error": "The user has specified a rule which prevents you from using this specific "
                                           "tool call. Here are some of the relevant rules "
                                           '[{"permission":"bash","pattern":"rm *","action":"deny"}]'}}}},
    # A tool that failed for another reason is no rule's answer.
    {"type": "message.part.updated", "properties": {"part": {
        "id": "prt_2", "sessionID": "ses_4b1c0f2a9ffe", "type": "tool", "tool": "bash",
        "state": {"status": "error", "input": {"command": "false"}, "error": "exit code 1"}}}},
]


def test_opencode_parse_maps_its_bus_events():
    got = [opencode.parse(e) for e in OPENCODE_EVENTS]
    assert [g and g["event"] for g in got] == ["SessionStart", "Busy", "Busy", "PermissionRequest",
                                               "PermissionReplied", "Stop", "StopFailure", None, "RuleDenied", None]
    assert got[8] == {"event": "RuleDenied", "cli": "opencode", "session_id": "ses_4b1c0f2a9ffe", "tool_name": "bash",
                      "asks": "rm -rf build", "rule": "bash(rm *): deny"}
    assert hooks.answered(got[8]) == "denied by rule bash(rm *): deny: bash: rm -rf build"
    assert hooks.hint({"at": 1, **got[8]}) is None          # history, not status: the agent goes on
    assert got[3]["asks"] == "rm -rf build" and got[3]["tool_name"] == "bash"
    assert got[2]["message"] == "429 (attempt 2)"


def test_the_opencode_plugin_writes_what_parse_says(tmp_path):
    """The plugin's JavaScript, run by node on the same events, appends the lines the Python parser gives."""
    import shutil
    if not shutil.which("node"):
        pytest.skip("node is not installed")
    ev = tmp_path / "o.jsonl"
    js = tmp_path / "plugin.mjs"
    js.write_text(opencode.plugin(ev))
    driver = tmp_path / "drive.mjs"
    # OpenCode 1.18 calls every function the module exports as a plugin (a second one crashed it at start).
    driver.write_text(f"import * as m from {json.dumps(js.as_uri())};\n"
                      f"if (Object.keys(m).join() !== 'PaneboardEvents') throw new Error(Object.keys(m).join());\n"
                      f"const h = await m.PaneboardEvents({{}});\n"
                      f"for (const e of {json.dumps(OPENCODE_EVENTS)}) await h.event({{ event: e }});\n")
    subprocess.run(["node", str(driver)], check=True, timeout=30)
    written = [json.loads(line) for line in ev.read_text().splitlines()]
    for line in written:
        assert isinstance(line.pop("at"), float)
    assert written == [p for p in (opencode.parse(e) for e in OPENCODE_EVENTS) if p]


def test_aider_gets_a_notifications_command_that_reads_nothing(tmp_path):
    c = common(tmp_path)
    ch = events.install("aider", c, "a")
    assert ch.argv[:2] == ("--notifications", "--notifications-command")
    argv = shlex.split(ch.argv[2])
    assert argv[-3:] == ["notify", str(hooks.events_path(c, "a")), "aider"]
    # aider runs it through a shell that shares its terminal: stdin left open must not block it.
    proc = subprocess.Popen(["sh", "-c", ch.argv[2]], stdin=subprocess.PIPE)
    assert proc.wait(timeout=20) == 0
    [line] = [json.loads(x) for x in hooks.events_path(c, "a").read_text().splitlines()]
    assert (line["event"], line["cli"]) == ("Waiting", "aider")
    assert aider.parse({}) == {"event": "Waiting", "cli": "aider", "message": "aider waits for input"}


@pytest.mark.parametrize("bad", ["", "Bash(", "Bash()", "rm -rf /", "Bash(x)\n", "(x)"])
def test_a_bad_rule_is_named(bad):
    assert rules.rule_problem(bad) is not None


def test_claude_parse_keeps_what_a_permission_request_asks():
    line = claude.parse({"hook_event_name": "PermissionRequest", "session_id": "abcdef12", "tool_name": "Edit",
                         "tool_input": {"file_path": "src/app.py", "old_string": "x" * 9000}})
    assert line == {"event": "PermissionRequest", "cli": "claude", "session_id": "abcdef12", "tool_name": "Edit",
                    "asks": "src/app.py"}
    assert hooks.hint({"at": 1.0, **line}).why == "event PermissionRequest: asks permission: Edit: src/app.py"


def test_the_recorder_runs_without_the_package_on_the_path(tmp_path):
    ev = tmp_path / "e.jsonl"
    payload = json.dumps({"hook_event_name": "BeforeAgent", "session_id": "gem-session-1", "prompt": "x"})
    proc = subprocess.run([sys.executable, "-I", "-S", str(ROOT / "app" / "hooks.py"), "record", str(ev), "gemini"],
                          input=payload.encode(), capture_output=True, timeout=30, cwd=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")
    assert json.loads(ev.read_text())["event"] == "UserPromptSubmit"
