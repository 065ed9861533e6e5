"""paneboard's own small files put on a host, under its clone's git common dir, in one ssh call.

A set of files goes to `<common dir>/<under>/<hash>/` where the hash is of their names and
contents: a directory that exists already holds exactly these files, so nothing is sent twice,
a file is never replaced under a process that runs it, and paneboard versions side by side each
use their own. The files travel as a tar stream on stdin into a temporary directory that is
renamed into place, so a half-sent set is never found.

paneboard's runtime there (`runtime_files`: the output-log writer, the event recorder and its channels, all
stdlib) is one such set, in `<common dir>/paneboard/runtime/<hash>/app/`, laid out as here.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import PaneboardError
from .remote import Remote, last_line

RUNTIME = "paneboard/runtime"
_APP = Path(__file__).resolve().parent.parent

# Positional parameters of a fixed script: $1 the clone, $2 the folder under its common dir, $3 the hash.
# Prints the common dir (absolute). The tar stream is read (and dropped) even when nothing is written.
_INSTALL = r'''
cd -- "$1" 2>/dev/null || { echo "no directory $1" >&2; exit 3; }
c=$(git rev-parse --git-common-dir 2>/dev/null) && cd -- "$c" || { echo "$1 is not a git repository" >&2; exit 3; }
c=$(pwd -P); d="$c/$2/$3"
if [ -d "$d" ]; then cat >/dev/null; echo "$c"; exit 0; fi
t="$d.tmp.$$"
mkdir -p -- "$t" && tar -x -f - -C "$t" || { rm -rf -- "$t"; exit 4; }
[ -d "$d" ] || mv -- "$t" "$d"
rm -rf -- "$t"
echo "$c"
'''


@dataclass(frozen=True)
class Installed:
    """Where a set of files is on a host: its clone's common dir and the folder that holds them."""

    common_dir: str
    folder: str

    def path(self, name: str) -> str:
        """The path on the host of one installed file."""
        return f"{self.folder}/{name}"


def digest(files: dict[str, bytes]) -> str:
    """The name of the folder for these files: a hash of their names and contents."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return h.hexdigest()[:16]


@lru_cache(maxsize=1)
def _runtime() -> tuple[tuple[str, bytes], ...]:
    names = ["__init__.py", "hooks.py", "names.py", "tmux/logs.py"] + \
        sorted(f"events/{p.name}" for p in (_APP / "events").glob("*.py"))
    return tuple((f"app/{n}", (_APP / n).read_bytes()) for n in names)


def runtime_files() -> dict[str, bytes]:
    """paneboard's files that run on a host (relative name -> content), read once per process."""
    return dict(_runtime())


@lru_cache(maxsize=1)
def runtime_digest() -> str:
    """The hash that names this version's runtime folder on a host."""
    return digest(runtime_files())


def runtime_folder(common_dir: str) -> str:
    """Where this version's runtime is under a host clone's common dir, known without asking the host."""
    return f"{common_dir.rstrip('/')}/{RUNTIME}/{runtime_digest()}"


def install_runtime(remote: Remote, repo: str) -> Installed:
    """Make sure this version's runtime is in the host clone's common dir (one ssh call); where it is."""
    return install(remote, repo, RUNTIME, runtime_files())


def _tar(files: dict[str, bytes]) -> bytes:
    import tarfile      # only when files are sent: `ls` never pays for it
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(files[name]), 0o644, 0
            tar.addfile(info, io.BytesIO(files[name]))
    return buf.getvalue()


def install(remote: Remote, repo: str, under: str, files: dict[str, bytes]) -> Installed:
    """Make sure these files (relative name -> content) are on the host under `<common dir>/<under>/<hash>/`."""
    key = digest(files)
    res = remote.run(["sh", "-c", _INSTALL, "sh", repo, under.strip("/"), key], stdin=_tar(files), check=False)
    common = res.stdout.strip().splitlines()[-1:] if res.returncode == 0 else []
    if not common or not common[0].startswith("/"):
        why = last_line(res.stderr) or f"exit {res.returncode}"
        raise PaneboardError(f"cannot put paneboard's files in {repo} on host {remote.name!r}: {why}")
    return Installed(common[0], f"{common[0]}/{under.strip('/')}/{key}")
