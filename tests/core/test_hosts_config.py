"""`hosts:` in the task file and `host:` per task: parsed as the issue shows, bad values refused with file:line."""

from __future__ import annotations

import pytest

from app.config import parse
from app.errors import ConfigError
from app.hosts.remote import Remote, command_line, script

GOOD = """\
hosts:
  box: {ssh: dev@box.example, port: 22, repo: /srv/shop, worktree_root: /srv/shop.agents}
  lab: {ssh: [-F, ./ssh_config, lab], repo: shop}
tasks:
  - name: api
    host: box
  - name: ui
"""


def test_hosts_and_a_task_on_a_host_parse_as_the_issue_shows():
    tf = parse(GOOD)
    box, lab = tf.settings.hosts
    assert (box.name, box.ssh, box.port, box.repo) == ("box", ("dev@box.example",), 22, "/srv/shop")
    assert box.worktree_path("api") == "/srv/shop.agents/api"
    assert lab.ssh == ("-F", "./ssh_config", "lab") and lab.worktree_path("x") == "shop.paneboard/x"
    assert [t.host for t in tf.tasks] == ["box", None]


@pytest.mark.parametrize("text, message", [
    ("tasks:\n  - name: a\n    host: nope\n", "paneboard.yaml:3: tasks[0] (a).host: unknown host 'nope'"),
    ("hosts:\n  box: {ssh: \"a\\nb\", repo: /x}\n", "paneboard.yaml:2: hosts.box.ssh: 'a\\nb' holds a newline"),
    ("hosts:\n  box: {ssh: [-F, \"c\\0\"], repo: /x}\n", "hosts.box.ssh: 'c\\x00' holds a newline"),
    ("hosts:\n  box: {ssh: -oProxyCommand=x, repo: /x}\n", "a destination cannot start with '-'"),
    ("hosts:\n  box: {ssh: b}\n", "hosts.box.repo: every host needs `repo`"),
    ("hosts:\n  box: {ssh: b, repo: /x, port: 70000}\n", "hosts.box.port: must be at most 65535"),
    ("hosts:\n  box: {ssh: b, repo: ~/shop}\n", "'~' is not expanded"),
    ("hosts:\n  box: {ssh: b, repo: /x, prot: 2}\n", "unknown key (did you mean 'port'?)"),
])
def test_bad_hosts_are_one_line_with_file_and_line(text, message):
    with pytest.raises(ConfigError) as err:
        parse(text)
    assert message in str(err.value) and "\n" not in str(err.value).strip()


def test_the_remote_command_line_quotes_every_word():
    import shlex
    words = ["it's", "$(rm -rf /)", "a;b", "x\ny", "`id`", ""]
    assert shlex.split(command_line(["echo", *words])) == ["echo", *words]
    line = script([["git", "-C", "a b", "status"], ["echo", ";"]], sep=";")
    assert shlex.split(line) == ["git", "-C", "a b", "status", ";", "echo", ";"]
    with pytest.raises(ValueError):
        script([["true"]], sep="; rm -rf /;")


def test_the_ssh_argv_puts_options_first_and_the_command_after_a_double_dash():
    r = Remote("box", ("-F", "cfg", "box"), port=2222)
    argv = r.ssh_argv()
    assert argv[0] == "ssh" and "BatchMode=yes" in argv and argv[-3:] == ["-F", "cfg", "box"]
    assert argv[argv.index("-p") + 1] == "2222"
