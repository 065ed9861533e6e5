"""An agent's event channel on its host: the recorder sent once per version, installed, followed, read.

The recorder, app/names.py and app/events/ (all stdlib) are part of paneboard's runtime on the host,
`<clone>/.git/paneboard/runtime/<hash>/app/`, put there by `files.install_runtime` (one tar over the shared
ssh connection, beside the output-log writer) when this version's folder is not there yet. The channel
is installed by the same code as here (app/events/host.py `install`, run by the host's `python3`), so the
hook commands name the host's python and paths. A host (or an agent's PATH) without `python3` has no
channel: the agent starts, read from its screen, with one line saying why.
"""

from __future__ import annotations

import json

from ..errors import PaneboardError
from . import files
from .remote import Remote, last_line

NO_PYTHON = 127         # the shell's (and env's) exit code for a command not found
TAIL_BYTES = 64 * 1024


def common_dir(host_repo: str) -> str:
    """The host clone's git common dir (paneboard makes it a non-bare clone)."""
    return f"{host_repo.rstrip('/')}/.git"


def hooks_dir(host_repo: str) -> str:
    """Where the host's agents' channel files and events live."""
    return f"{common_dir(host_repo)}/paneboard/hooks"


def events_path(host_repo: str, name: str) -> str:
    """One agent's events file on its host."""
    from .. import hooks
    return f"{hooks_dir(host_repo)}/{hooks.slug(name)}.jsonl"


def host_py(host_repo: str) -> str:
    """The host side's entry point (app/events/host.py) in this version's runtime."""
    return f"{files.runtime_folder(common_dir(host_repo))}/app/events/host.py"


def send_runtime(remote: Remote, host_repo: str) -> None:
    """Put this version's runtime in the host's clone, where `host_py` names it (one ssh call when it is)."""
    there = files.install_runtime(remote, host_repo)
    if there.folder == files.runtime_folder(common_dir(host_repo)):
        return
    # The host named the common dir another way (a symlink on the path, or no .git directory of its own).
    if remote.run(["test", "-f", host_py(host_repo)], check=False).returncode != 0:
        raise PaneboardError(f"on host {remote.name!r}: paneboard's event recorder is in {there.common_dir}, "
                             f"not in {common_dir(host_repo)}: point `repo:` at a clone with its own .git")


def _python(env: dict[str, str]) -> list[str]:
    """`python3` as the agent would find it: on the agent's own PATH when its env sets one."""
    return ["env", f"PATH={env['PATH']}", "python3"] if "PATH" in env else ["python3"]


def install(remote: Remote, host_repo: str, cli: str, name: str, allow=(), deny=(),
            env: dict[str, str] | None = None) -> tuple[dict | None, str]:
    """Install the agent's channel on its host: (the channel as JSON, "") or (None, why it has none)."""
    env = dict(env or {})
    argv = [*_python(env), "-I", "-S", host_py(host_repo), "install"]
    req = json.dumps({"cli": cli, "common_dir": common_dir(host_repo), "name": name, "allow": list(allow),
                      "deny": list(deny), "env": env}) + "\n"
    for attempt in (1, 2):
        res = remote.run(argv, stdin=req, check=False)
        if res.returncode == NO_PYTHON:
            return None, "no python3 on its PATH there"
        if res.returncode == 0:
            try:
                return json.loads(res.stdout.strip().splitlines()[-1]), ""
            except (ValueError, IndexError):
                return None, "its event channel gave no answer"
        if attempt == 1 and "can't open file" in res.stderr:
            send_runtime(remote, host_repo)
            continue
        return None, f"installing its event channel failed ({last_line(res.stderr) or res.returncode})"
    return None, "its event channel could not be installed"


def follow_argv(remote: Remote, host_repo: str, python: str) -> list[str]:
    """The local argv of the host's long-running events reader (its request goes on stdin)."""
    return remote.argv([python or "python3", "-I", "-S", host_py(host_repo), "follow"])


def read_tails(remote: Remote, host_repo: str, python: str, files: list[str]) -> dict[str, bytes]:
    """The newest events of these files on the host (the last TAIL_BYTES of each and its rotated one), in one call."""
    if not files:
        return {}
    req = json.dumps({"files": files, "bytes": TAIL_BYTES}) + "\n"
    res = remote.run([python or "python3", "-I", "-S", host_py(host_repo), "tail"], stdin=req, check=False)
    if res.returncode != 0:
        return {}
    try:
        doc = json.loads(res.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {}
    return {str(k): str(v).encode("utf-8") for k, v in doc.items()} if isinstance(doc, dict) else {}
