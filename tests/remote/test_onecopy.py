"""paneboard's own files on a host, by one mechanism (app/hosts/files.py): the log writer and the event
recorder in one runtime folder under the clone's common dir, where the paths computed here say they are."""

from __future__ import annotations

import subprocess

import pytest

from app.errors import PaneboardError
from app.fleet import hosts
from app.hosts import events, files
from app.hosts import logs as rlogs
from tests.helpers import retry_until
from tests.remote.conftest import remote_task

pytestmark = pytest.mark.slow


def test_the_log_writer_and_the_recorder_share_one_runtime_folder_where_host_py_names_it(box, tmp_path, host_repo):
    box.spawn(remote_task(tmp_path, "there", [{"do": "say", "text": "HELLO"}, {"do": "idle"}]))
    log = host_repo / ".git" / "paneboard" / "logs" / "there.log"
    retry_until(lambda: log.exists() and b"HELLO" in log.read_bytes())
    area = host_repo / ".git" / "paneboard"
    folders = list((area / "runtime").iterdir())
    assert [f.name for f in folders] == [files.runtime_digest()]
    assert not (area / "bin").exists()
    remote = hosts.remote(box, "box")
    events.send_runtime(remote, str(host_repo))         # already there: nothing new, nothing replaced
    assert list((area / "runtime").iterdir()) == folders
    assert (host_repo / ".git" / "paneboard" / "runtime").resolve() / files.runtime_digest() == folders[0]
    writer = rlogs.prepare(remote, str(host_repo))
    assert writer.path(rlogs.WRITER) == f"{folders[0]}/app/tmux/logs.py"
    assert events.host_py(str(host_repo)) == f"{folders[0]}/app/events/host.py"
    for name, data in files.runtime_files().items():
        assert (folders[0] / name).read_bytes() == data


def test_a_host_repo_without_a_git_directory_of_its_own_gets_one_line_not_a_recorder_elsewhere(box, tmp_path, host_repo):
    host_repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(host_repo)], check=True)
    subprocess.run(["git", "-C", str(host_repo), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q",
                    "--allow-empty", "-m", "one"], check=True)
    linked = tmp_path / "box" / "linked"
    subprocess.run(["git", "-C", str(host_repo), "worktree", "add", "-q", str(linked)], check=True)
    with pytest.raises(PaneboardError, match="point `repo:` at a clone with its own .git"):
        events.send_runtime(hosts.remote(box, "box"), str(linked))
