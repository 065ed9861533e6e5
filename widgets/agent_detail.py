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


class AgentDetail(Static):
    """The selected agent's status with its reason, triggers with evidence, branch, port, scope."""

    DEFAULT_CSS = """
    AgentDetail {
        color: $foreground;
    }
    """

    def show(self, agent: Agent | None, conflicts: list[tuple[str, tuple[str, ...]]] = ()) -> None:
        """Render one agent (or a hint when there is none), with whom its work would conflict and where."""
        if agent is None:
            self.update(Text("No agent selected. Press n to start one.", style="dim"))
            return
        v = self.app.theme_variables
        kind = "merged" if agent.merged else agent.status.kind.value
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        grid.add_row("status", Text(kind.replace("_", " "), style=v.get(f"status-{kind.replace('_', '-')}", "")))
        grid.add_row("why", Text(agent.status.why or "-"))
        if agent.status.evidence:
            grid.add_row("saw", Text(agent.status.evidence[-300:], style="italic"))
        now = time.time()
        if agent.limit_resets_at is not None:
            grid.add_row("limit", Text(limit_text(agent, now)))
        for t in agent.triggers:
            style = v.get("trigger-loud" if t.loud else "trigger-quiet", "")
            grid.add_row(Text(f"{TRIGGER_ICONS.get(t.kind, '•')} {t.kind.value}", style=style),
                         Text(f"{t.what} ({ago(now - t.since)} ago)" +
                              (f"\n{t.evidence[-200:]}" if t.evidence and t.evidence not in agent.status.evidence else "")))
        for other, files in conflicts:
            shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
            grid.add_row(Text("≠ conflict", style=v.get("conflict", "")), Text(f"with {other} in {shown}"))
        if agent.status.kind == Kind.QUEUED:
            grid.add_row("after", Text(", ".join(agent.after)))
            grid.add_row("branch", Text(f"{agent.branch} (created when it starts)"))
        else:
            grid.add_row("branch", Text(agent.branch))
            grid.add_row("worktree", Text(agent.worktree + ("" if agent.worktree_exists else "  (missing)")))
            grid.add_row("pane", Text(f"{agent.pane or '-'}  PORT={agent.port}"))
        if agent.check_running or agent.last_check:
            grid.add_row("check", Text(check_text(agent, now)))
        if agent.scope:
            grid.add_row("scope", Text(", ".join(agent.scope)))
        if agent.prompt:
            grid.add_row("prompt", Text(agent.prompt[:300]))
        self.update(grid)
