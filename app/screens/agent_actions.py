"""The main screen's actions on the selected agent itself: attach, reply, approve, reject, stop,
restart, acknowledge and snooze its triggers, show its output; and starting a new agent.

Fleet calls run in a thread worker (`fleet_action`) that posts how they ended; nothing here
changes the screen's state, which the handlers in `MainScreen` own.
"""

from __future__ import annotations

import os
import subprocess
import time
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import SuspendNotSupported

from app import presets
from app.config import Task
from app.errors import PaneboardError, one_line
from app.model import Kind

from .confirm import ConfirmScreen
from .messages import ActionFinished, OutputRead
from .reply import Reply, ReplyScreen
from .spawn import SpawnRequest, SpawnScreen

if TYPE_CHECKING:
    from app.fleet import Fleet
    from app.monitor import Monitor

SNOOZE_SECONDS = 600


def failure(what: str, exc: BaseException, near=None) -> ActionFinished:
    """How a failed action is told: one line (a full disk said plainly), never a crash of the dashboard."""
    message = one_line(exc, near)
    if not isinstance(exc, (PaneboardError, OSError)):
        message += " (a bug in paneboard: please report it)"
    return ActionFinished(what, message)


class AgentActions:
    """What the keys do to the selected agent (and `n` to the fleet).

    Mixed into `MainScreen`, whose services, selection and trigger log these use.
    """

    fleet: Fleet
    monitor: Monitor

    @work(thread=True, group="action")
    def fleet_action(self, what: str, fn, *args, failed: str | None = None) -> None:
        """Run a fleet call in a thread and post how it ended (`failed` titles its failure; else `what`)."""
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - any failure is a toast and a log line; the dashboard goes on
            self.post_message(failure(failed or what, exc, self.fleet.repo.common_dir))
        else:
            self.post_message(ActionFinished(what))
        self.monitor.refresh()

    def action_attach(self) -> None:
        """Hand the terminal to the selected agent's tmux pane until the user detaches."""
        agent = self._current()
        if agent is None or agent.pane is None:
            return
        if self.fleet.tmux_client_inside():
            self.fleet_action(f"switched to {agent.name}", self.fleet.switch_client_to, agent.name,
                              failed=f"switch to {agent.name}")
            return
        argv = self.fleet.attach_argv(agent.name)
        env = {k: v for k, v in os.environ.items() if k != "TMUX"}
        by_hand = " ".join(argv[:argv.index(";")])
        try:
            with self.app.suspend():
                result = subprocess.run(argv, env=env, stderr=subprocess.PIPE, text=True)
        except SuspendNotSupported:
            self.notify(f"This terminal cannot be handed over; run: {by_hand}",
                        title="attach", severity="warning", timeout=10, markup=False)
            return
        except OSError as exc:
            self.post_message(failure(f"attach to {agent.name}", exc))
            return
        if result.returncode != 0:
            reason = (result.stderr or "").strip().splitlines()
            self.notify(f"attach failed ({reason[-1] if reason else result.returncode}); run: {by_hand}",
                        title="attach", severity="warning", timeout=10, markup=False)

    def action_reply(self) -> None:
        """Type a line (or press a key) into the selected agent without attaching."""
        agent = self._current()
        if agent is None:
            return

        def send(reply: Reply | None) -> None:
            if reply is None:
                return
            if reply.key:
                self.fleet_action(f"{agent.name}: pressed {reply.key}", self.fleet.send_key, agent.name, reply.key,
                                  failed=f"press {reply.key} in {agent.name}")
            else:
                # Delivered off the UI thread (paste, wait, submit, confirm); not confirmed is a failure toast.
                self.fleet_action(f"{agent.name}: sent {reply.text!r} (delivery confirmed)", self.fleet.send,
                                  agent.name, reply.text, failed=f"send to {agent.name}")

        self.app.push_screen(ReplyScreen(agent.name, agent.status.evidence[-200:]), send)

    def _answer(self, approve: bool) -> None:
        agent = self._current()
        if agent is None:
            return
        keys = presets.resolve(agent.agent).approve if approve else presets.resolve(agent.agent).deny
        self.fleet_action(f"{agent.name}: {'approved' if approve else 'rejected'}", self.fleet.press, agent.name, keys,
                          failed=f"{'approve' if approve else 'reject'} {agent.name}")

    def action_approve(self) -> None:
        """Answer the selected agent's question with yes."""
        self._answer(True)

    def action_reject(self) -> None:
        """Answer the selected agent's question with no."""
        self._answer(False)

    def action_spawn(self) -> None:
        """Ask for a new agent's task, then start it (or its N candidates)."""
        def start(req: SpawnRequest | None) -> None:
            if req is None:
                return
            task = Task(name=req.name, agent=req.agent, prompt=req.prompt, scope=req.scope, count=req.count)
            self.fleet_action(f"started {req.name}", self._spawn_all, task, failed=f"start {req.name}")

        self.app.push_screen(SpawnScreen(list(presets.PRESETS), self.fleet.settings.agent), start)

    def _spawn_all(self, task: Task) -> None:
        for t in self.fleet.expand(task):
            self.fleet.spawn(t)
        for line in self.fleet.take_notices():      # a Gemini settings file it could not use: one line
            self.app.call_from_thread(self.app.notify, line, title="paneboard", severity="warning", timeout=30)

    def action_kill(self) -> None:
        """Stop the selected agent, or drop it if it is a queued task (asks first)."""
        agent = self._current()
        if agent is None:
            return

        if agent.status.kind == Kind.QUEUED:
            def dropped(yes: bool | None) -> None:
                if yes:
                    self.fleet_action(f"dropped queued task {agent.name}", self.fleet.unqueue, agent.name,
                                      failed=f"drop queued task {agent.name}")
            self.app.push_screen(ConfirmScreen(
                f"Drop queued task [b]{escape(agent.name)}[/b]?\n\nIt has not started ({escape(agent.status.why)}); "
                f"no branch, worktree or window exists for it yet. `paneboard up` queues it again.", "Drop"), dropped)
            return

        def done(yes: bool | None) -> None:
            if yes:
                self.fleet_action(f"stopped {agent.name}", self.fleet.kill, agent.name, failed=f"stop {agent.name}")

        self.app.push_screen(ConfirmScreen(
            f"Stop agent [b]{escape(agent.name)}[/b]?\n\nIts process is ended and its tmux window closed. "
            f"Its branch [b]{escape(agent.branch)}[/b] and worktree stay as they are "
            f"({agent.files_changed} files changed, {'uncommitted work kept' if agent.dirty else 'clean'}).",
            "Stop"), done)

    def action_restart(self) -> None:
        """Start the selected stopped agent again in its worktree, resuming its conversation where its CLI can."""
        agent = self._current()
        if agent is None:
            return
        self.fleet_action(f"restarted {agent.name}", self.fleet.restart, agent.name)

    def action_acknowledge(self) -> None:
        """Hide the selected agent's triggers until they clear and fire again."""
        agent = self._current()
        if agent is None:
            return
        try:
            for t in agent.triggers:
                self.monitor.acknowledge(agent.name, t.kind.value)
        except Exception as exc:  # noqa: BLE001 - a failed save is told, the dashboard goes on
            self.post_message(failure(f"acknowledge {agent.name}", exc, self.fleet.repo.common_dir))
            return
        self.trigger_log.write(Text(f"{time.strftime('%H:%M:%S')} {agent.name}: acknowledged "
                                    f"{', '.join(t.kind.value for t in agent.triggers)}", style="dim"))

    def action_snooze(self) -> None:
        """Hide the selected agent's triggers for SNOOZE_SECONDS."""
        agent = self._current()
        if agent is None:
            return
        try:
            for t in agent.triggers:
                self.monitor.snooze(agent.name, t.kind.value, SNOOZE_SECONDS)
        except Exception as exc:  # noqa: BLE001 - a failed save is told, the dashboard goes on
            self.post_message(failure(f"snooze {agent.name}", exc, self.fleet.repo.common_dir))
            return
        self.trigger_log.write(Text(f"{time.strftime('%H:%M:%S')} {agent.name}: snoozed for "
                                    f"{SNOOZE_SECONDS // 60} min", style="dim"))

    def action_output_log(self) -> None:
        """Show the selected agent's recorded output (read in a thread: a remote agent's is on its host)."""
        agent = self._current()
        if agent is not None:
            self.read_output(agent.name)

    @work(thread=True, group="output-log")
    def read_output(self, name: str) -> None:
        """Read an agent's output log, here or over ssh, and post it (or why it could not be read)."""
        try:
            out = self.fleet.output_log(name, 256 * 1024)
        except Exception as exc:  # noqa: BLE001 - an unreachable host is a toast and a log line
            self.post_message(failure(f"output log of {name}", exc, self.fleet.repo.common_dir))
            return
        self.post_message(OutputRead(name, out.where, out.text))

    def on_output_read(self, message: OutputRead) -> None:
        """Show the output log that was read."""
        from .text import TextScreen
        self.app.push_screen(TextScreen(f"{message.name}: recorded output ({message.where})", message.text))
