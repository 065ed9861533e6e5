"""The fleet: the one owner of agent state. One door, `Fleet`; each family of verbs in its own module.

core.py     construction, settings, discovery (agents, get), stopping an agent's window
rebuild.py  the state rebuilt from tmux, git and the archive refs when state.json cannot be read
start.py    spawn, up, pasted prompts, ports
prepare.py  a new worktree made ready: `copy:` ignored files in, `setup:` run there
answer.py   send, send_key, press
merge.py    check, merge_preview, merge, recover_interrupted_merge, finish_interrupted_merges
discard.py  kill, discard_preview, discard, restore, forget
prune.py    prune
queue.py    queued, unqueue, start_ready
restart.py  restart, restart_all, stopped (adopting a forgotten branch); sockets.py, sessions.py: where
            an agent lives and the conversation it resumes
attach.py   attach_argv, tmux_client_inside, switch_client_to
remote_start.py  spawn on a host over SSH; hosts.py: reaching a host, its agents listed, their work fetched
output.py   output_log (an agent's recorded output, here or on its host), open_log_pipes (remote panes)
review.py   comment, send_comments, drafts, mark_reviewed, reviewed_tree, candidates, combine
"""

from __future__ import annotations

from .answer import AnswerVerbs
from .attach import AttachVerbs
from .core import session_name
from .discard import DiscardVerbs
from .merge import MergeVerbs
from .output import OutputVerbs
from .prune import PruneVerbs
from .queue import QueueVerbs
from .restart import RestartVerbs
from .remote_start import RemoteStartVerbs
from .review import ReviewVerbs
from .start import StartVerbs

__all__ = ["Fleet", "session_name"]


class Fleet(RestartVerbs, StartVerbs, AnswerVerbs, MergeVerbs, DiscardVerbs, PruneVerbs, QueueVerbs, AttachVerbs,
            ReviewVerbs, RemoteStartVerbs, OutputVerbs):
    """All agents of one repository on one tmux server."""
