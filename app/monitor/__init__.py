"""The monitor: turns tmux output, file changes, hook events and a 1 s timer into statuses and triggers.

Event-driven and cheap at 50 agents: one tmux control-mode client for the session (no polling
of panes), one watchfiles watcher for every worktree, and a trailing-edge scheduler that
captures a pane's screen only after it printed something. Its parts, one job each:

- `facts`         what is known of one agent, and the pure functions from facts to status and triggers
- `agent_events`  an agent's own channels taken into its facts: output, pane death, screens, hook events
- `discovery`     folding tmux + the state file into the facts; a new agent's history from its log
- `control_link`  the tmux control client's life cycle (start, retry, restart)
- `captures`      when to read a pane's screen
- `gitstats`      when to ask git what a worktree's file events changed
- `attention`     acknowledgements and snoozes, persisted, and the previous dashboard's memory
- `publish`       the update queue, the status board files and `on_trigger` commands
- `limits`        parking at a usage limit, and resuming after it (`on_limit: resume`)
- `writer`        one writer per repository among several dashboards, and the hand-over when it goes
- `monitor`       `Monitor`, which wires them together
- `once`          `assess_once`, the history-free look that `paneboard ls` takes
"""

from .attention import hidden_marks
from .facts import HOOK_GRACE
from .monitor import Monitor
from .once import assess_agent, assess_once
from .publish import Update, status_file_paths

__all__ = ["HOOK_GRACE", "Monitor", "Update", "assess_agent", "assess_once", "hidden_marks", "status_file_paths"]
