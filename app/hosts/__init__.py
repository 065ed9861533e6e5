"""Where agents run: this machine, or another host reached over SSH (tmux, git and python3 there).

remote.py  `Remote`: the ssh argv for one host (multiplexed, batch mode, timeouts) and `run(argv)`,
           the one place a command string for the remote shell is built (`shlex.join`)
tmux.py    `RemoteTmux`: the `Tmux` interface with every call made on the host through `Remote`
git.py     the host's clone: made when missing, the base pushed to a ref, worktrees, stats, snapshots
events.py  an agent's event channel there: the recorder (in the runtime files.py sends) installed, followed, read
archive.py discard's archive made on the host and fetched here; removal and restore, each safe to run again
keep.py    app/git/keep.py on the host: ignored files as a commit, submodules' git dirs moved to a keep area
files.py   paneboard's own small files put under the clone's common dir (one ssh call, never sent twice)
logs.py    a remote agent's output log: paneboard's writer run by the host's pipe-pane, read back over ssh
"""

from __future__ import annotations

from .remote import Remote

__all__ = ["Remote"]
