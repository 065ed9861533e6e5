"""A remote agent's output log: written on its host, under its clone's common dir, and read back over ssh.

The writer is paneboard's own (`app/tmux/logs.py`, stdlib only), put on the host with the rest of
paneboard's runtime there (`files.install_runtime`) and run there by the host's tmux `pipe-pane` with the host's `python3`: the same rotation
(`paneboard/logs/<slug>.log`, `.1`, `.2`, 2 MB each) as here, with no paneboard process in the
path, so the log keeps everything while the ssh connection, the dashboard or this machine is
away. Reading it is one ssh call that sends back only the tail.
"""

from __future__ import annotations

import re

from ..errors import PaneboardError
from ..names import slugify
from ..tmux import logs as tmux_logs
from . import files
from .remote import Remote, command_line, last_line

WRITER = "app/tmux/logs.py"

# $1 the clone, $2 the agent's slug, $3 how many bytes. Prints "<mtime>\t<log path>", then the tail: the
# last $3 bytes across the rotated files, without its first line when that is probably cut.
_READ = r'''
cd -- "$1" 2>/dev/null && c=$(git rev-parse --git-common-dir 2>/dev/null) && cd -- "$c" \
  || { echo "no git clone at $1" >&2; exit 3; }
p="$(pwd -P)/paneboard/logs/$2.log"; n=$3; t=0; m=
for f in "$p.2" "$p.1" "$p"; do
  if [ -f "$f" ]; then t=$((t + $(wc -c < "$f"))); m=$(date -r "$f" +%s.%N 2>/dev/null || echo 0); fi
done
[ -n "$m" ] || { printf '%s\n' "$p"; exit 4; }
printf '%s\t%s\n' "$m" "$p"
for f in "$p.2" "$p.1" "$p"; do if [ -f "$f" ]; then tail -c "$n" -- "$f"; fi; done | tail -c "$n" \
  | if [ "$t" -ge "$n" ]; then tail -n +2; else cat; fi
'''
_NO_LOG = 4
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def prepare(remote: Remote, repo: str) -> files.Installed:
    """Put the log writer in the host's clone (once per version; one ssh call); where it is."""
    return files.install_runtime(remote, repo)


def log_path(common_dir: str, name: str) -> str:
    """The agent's log on its host: `<common dir>/paneboard/logs/<slug>.log`, as here."""
    return f"{common_dir}/paneboard/logs/{slugify(name)}.log"


def pipe_command(writer: files.Installed, name: str) -> str:
    """The command the host's tmux runs for the agent pane's `pipe-pane`: the writer, every word quoted."""
    return "exec " + command_line(["python3", "-I", "-S", writer.path(WRITER), log_path(writer.common_dir, name)])


def open_pipes(tmux, writer: files.Installed, panes: dict[str, str]) -> list[str]:
    """Pipe each live pane (id -> agent name) whose output goes nowhere into its log on the host; the names
    piped now. One ssh call to ask, one to open them all."""
    if not panes:
        return []
    piped = tmux_logs.open_pipes(tmux)
    args: list[str] = []
    opened = []
    for pane, name in sorted(panes.items()):
        if pane not in piped:
            # pipe-pane expands formats in its command: '#' is doubled to stay literal.
            args += ["pipe-pane", "-t", pane, pipe_command(writer, name).replace("#", "##"), ";"]
            opened.append(name)
    if args:
        tmux.run(*args[:-1], check=False)
    return opened


def read(remote: Remote, repo: str, name: str, n_bytes: int) -> tuple[float | None, str, str]:
    """(when it was last written or None when there is no log, its recent text as `tail` gives it, its path)."""
    res = remote.run(["sh", "-c", _READ, "sh", repo, slugify(name), str(max(1, int(n_bytes)))], check=False)
    head, _, body = res.stdout.partition("\n")
    if res.returncode == _NO_LOG:
        return None, "", head.strip()
    if res.returncode != 0 or "\t" not in head:
        raise PaneboardError(f"cannot read the output log of {name!r} on host {remote.name!r}: "
                             f"{last_line(res.stderr) or f'exit {res.returncode}'}")
    stamp, path = head.split("\t", 1)
    found = _NUMBER.match(stamp)
    return (float(found.group()) if found else 0.0), tmux_logs.readable(body, cut=False), path
