"""What the selected agent is, where it runs, and why it has its status."""

from __future__ import annotations

import time

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from app.limits import until_text
from app.model import Agent, Kind, ago
from widgets.agent_table import TRIGGER_ICONS


def limit_text(agent: Agent, now: float) -> str:
    """"until 01:00", and when paneboard resumes the agent if it will."""
    text = f"until {until_text(agent.limit_resets_at, now)}"
    if agent.limit_resume_at is not None:
        text += f"; resumes at {time.strftime('%H:%M:%S', time.localtime(agent.limit_resume_at))} (on_limit: resume)"
    return text


def check_text(agent: Agent, now: float) -> str:
    """"running `pytest -q` for 20s", or how the last check went and when."""
    run, last = agent.check_running, agent.last_check
    if run:
        return f"running `{run.get('command', 'check')}` for {ago(now - float(run.get('started_at') or now))}"
    verdict = "passed" if last.get("passed") else "failed"
    return (f"{verdict} in {float(last.get('duration') or 0):.1f}s, {ago(now - float(last.get('at') or now))} ago: "
            f"{last.get('summary', '')}")


def _look(x: Text | str) -> tuple:
    """What a cell reads and how it looks, comparable."""
    return (x.plain, str(x.style), tuple(x.spans)) if isinstance(x, Text) else (x,)


class AgentDetail(Static):
    """The selected agent's status with its reason, triggers with evidence, branch, port, scope."""

    DEFAULT_CSS = """
    AgentDetail {
        color: $foreground;
    }
    """

    _shown: object = False     # the key of what is on screen (False: nothing yet)
    renders = 0
    """How many times the detail was rendered anew (a test counts it: an unchanged agent costs none)."""

    def show(self, agent: Agent | None, conflicts: list[tuple[str, tuple[str, ...]]] = ()) -> None:
        """Render one agent (or a hint when there is none), with whom its work would conflict and where.

        Rendered only when a row changed: an update that leaves the selected agent as it was costs nothing.
        """
        rows = self._rows(agent, conflicts) if agent is not None else None
        # rich's Text compares by its characters only: the key holds each one's style too (a theme change).
        key = None if rows is None else tuple(tuple(_look(x) for x in row) for row in rows)
        if self._shown == key:
            return
        self._shown = key
        self.renders += 1
        if rows is None:
            self.update(Text("No agent selected. Press n to start one.", style="dim"))
            return
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        for label, value in rows:
            grid.add_row(label, value)
        self.update(grid)

    def _rows(self, agent: Agent, conflicts) -> list[tuple[Text | str, Text]]:
        """The detail's rows, as (label, value) pairs that compare equal when they read and look the same."""
        v = self.app.theme_variables
        kind = "merged" if agent.merged else agent.status.kind.value
        rows: list[tuple[Text | str, Text]] = []
        add = lambda label, value: rows.append((label, value))
        add("status", Text(kind.replace("_", " "), style=v.get(f"status-{kind.replace('_', '-')}", "")))
        add("why", Text(agent.status.why or "-"))
        if agent.status.evidence:
            add("saw", Text(agent.status.evidence[-300:], style="italic"))
        now = time.time()
        if agent.limit_resets_at is not None:
            add("limit", Text(limit_text(agent, now)))
        for t in agent.triggers:
            style = v.get("trigger-loud" if t.loud else "trigger-quiet", "")
            add(Text(f"{TRIGGER_ICONS.get(t.kind, '•')} {t.kind.value}", style=style),
                Text(f"{t.what} ({ago(now - t.since)} ago)" +
                     (f"\n{t.evidence[-200:]}" if t.evidence and t.evidence not in agent.status.evidence else "")))
        for other, files in conflicts:
            shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
            add(Text("≠ conflict", style=v.get("conflict", "")), Text(f"with {other} in {shown}"))
        if agent.status.kind == Kind.QUEUED:
            add("after", Text(", ".join(agent.after)))
            add("branch", Text(f"{agent.branch} (created when it starts)"))
        else:
            add("branch", Text(agent.branch))
            add("worktree", Text(agent.worktree + ("" if agent.worktree_exists else "  (missing)")))
            add("pane", Text(f"{agent.pane or '-'}  PORT={agent.port}"))
        if agent.check_running or agent.last_check:
            add("check", Text(check_text(agent, now)))
        if agent.scope:
            add("scope", Text(", ".join(agent.scope)))
        if agent.prompt:
            add("prompt", Text(agent.prompt[:300]))
        return rows
