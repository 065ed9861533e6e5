"""app.git.objects on real repositories: blobs read through one long-lived cat-file per repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from app.git import objects as gitobjects
from app.errors import GitError


def git(cwd: Path, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
                          input=stdin).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q")
    return tmp_path


@pytest.fixture(autouse=True)
def _closed():
    yield
    gitobjects.close_all()


def test_blobs_written_after_the_reader_opened_are_read(repo: Path):
    first = git(repo, "hash-object", "-w", "--stdin", stdin="one\n")
    assert gitobjects.read_blob(repo, first) == b"one\n"
    later = git(repo, "hash-object", "-w", "--stdin", stdin="two\n")     # the cat-file process is already up
    assert gitobjects.read_blob(repo, later) == b"two\n"


def test_a_missing_blob_or_a_non_repository_is_one_git_error(repo: Path, tmp_path_factory):
    with pytest.raises(GitError, match="cannot read blob"):
        gitobjects.read_blob(repo, "ab" * 20)
    with pytest.raises(GitError, match="not a git repository"):
        gitobjects.read_blob(tmp_path_factory.mktemp("plain"), "ab" * 20)
    blob = git(repo, "hash-object", "-w", "--stdin", stdin="still fine\n")
    assert gitobjects.read_blob(repo, blob) == b"still fine\n"     # the failed reader was replaced


def test_at_most_a_few_readers_stay_open(tmp_path: Path):
    repos = []
    for i in range(gitobjects._MAX_OPEN + 2):
        r = tmp_path / f"r{i}"
        r.mkdir()
        git(r, "init", "-q")
        gitobjects.read_blob(r, git(r, "hash-object", "-w", "--stdin", stdin=f"{i}\n"))
        repos.append(r)
    assert len(gitobjects._open) == gitobjects._MAX_OPEN
    assert str(repos[-1].resolve()) in gitobjects._open and str(repos[0].resolve()) not in gitobjects._open


def test_a_repository_made_anew_at_the_same_path_is_read_at_the_first_try(tmp_path: Path):
    import shutil
    path = tmp_path / "again"
    path.mkdir()
    git(path, "init", "-q")
    first = git(path, "hash-object", "-w", "--stdin", stdin="before\n")
    assert gitobjects.read_blob(path, first) == b"before\n"        # a reader is open on the old repository
    shutil.rmtree(path)
    path.mkdir()
    git(path, "init", "-q")
    blob = git(path, "hash-object", "-w", "--stdin", stdin="after\n")
    assert gitobjects.read_blob(path, blob) == b"after\n"
