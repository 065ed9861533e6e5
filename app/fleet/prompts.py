"""A task prompt that waits for its agent: recorded with the agent, delivered by a process of its own.

`spawn`, `up` and `restart` never wait for a slow agent or for one that asks a question first
(aider's "Add .aider* to .gitignore?", Claude's trust question): the prompt to paste is marked
pending in the agent's state record (`prompt_pending`: since when, for which pane, what the agent
asks) and a detached process (`python -m app.fleet.prompts COMMON_DIR NAME`, its own session,
argv only) waits until the agent is ready and shows no question, delivers the prompt
(app/fleet/deliver.py), clears the mark and says how it went in the agent's timeline.

Faults: only one delivery runs per agent (an flock on `prompts/<slug>.lock`); a delivery process
that was killed leaves its mark, and the next `paneboard` command or the monitor starts another
(`resume`); an agent that exits first keeps its prompt, marked `exited`, and `restart` delivers it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

from ..errors import HostUnreachable
from ..state import lock_held

PENDING = "prompt_pending"
SETTLED = 1.5           # seconds a screen must stand still to count as ready (without a ready pattern)
READY_ANYWAY = 30.0     # ... with a ready pattern that never showed: a settled screen after this long
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


def lock_path(state_dir: Path, name: str) -> Path:
    """The lock a delivery holds while it runs: `<git-common-dir>/paneboard/prompts/<slug>.lock`."""
    from ..names import slugify
    return Path(state_dir) / "prompts" / f"{slugify(name)}.lock"


def delivering(state_dir: Path, name: str) -> bool:
    """True while a delivery process holds the agent's lock."""
    return lock_held(lock_path(state_dir, name)) is True


def start(common_dir: Path, name: str) -> None:
    """Start the detached process that delivers the agent's pending prompt (it outlives this one)."""
    state_dir = Path(common_dir) / "paneboard"
    log = lock_path(state_dir, name).with_suffix(".log")
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_PACKAGE_ROOT, os.environ.get("PYTHONPATH")]))}
    with open(log, "ab") as err:
        subprocess.Popen([sys.executable, "-m", "app.fleet.prompts", str(common_dir), name], env=env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                         start_new_session=True, close_fds=True, cwd="/")


def mark(rec: dict, pane: str, at: float) -> None:
    """Mark the record's prompt as waiting to be pasted into this pane."""
    rec[PENDING] = {"since": at, "pane": pane}


def resume(fleet) -> list[str]:
    """Start a delivery for every prompt still marked pending whose process went (killed, machine rebooted)."""
    state_dir = fleet.repo.state_dir
    started = []
    for name, rec in fleet.state.read()["agents"].items():
        pending = rec.get(PENDING)
        if not isinstance(pending, dict) or pending.get("exited") or pending.get("pane") != rec.get("pane"):
            continue
        if not delivering(state_dir, name):
            start(fleet.repo.common_dir, name)
            started.append(name)
    return started


def waiting_why(rec: dict | None) -> str | None:
    """What the record says of a prompt not delivered yet (None: nothing waits)."""
    pending = (rec or {}).get(PENDING)
    if not isinstance(pending, dict):
        return None
    if pending.get("exited"):
        return "its task prompt was never delivered: the agent exited before it was ready (`paneboard restart` delivers it)"
    return "prompt waiting"


# -- the delivery process ----------------------------------------------------------------------


def _is_question(reading, rules: str) -> bool:
    """A question the prompt must not answer; a plain script's last line ending in '?' is its first read, not one."""
    from ..model import Kind
    if getattr(reading, "kind", None) != Kind.NEEDS_INPUT:
        return False
    return not (rules == "generic" and "question on the last line" in reading.why)


def _tmux_of(rec: dict):
    """The tmux server of an agent on another host, reached as its record says (no task file here)."""
    from ..hosts.remote import Remote
    from ..hosts.tmux import RemoteTmux
    ssh = tuple(rec.get("host_ssh") or ())
    if not ssh:
        raise ValueError(f"no ssh destination recorded for host {rec.get('host')!r}")
    return RemoteTmux(Remote(rec["host"], ssh, rec.get("host_port")), rec.get("socket") or "paneboard")


class _Waiter:
    """The delivery of one agent's prompt: watch its screen, wait out questions, deliver once ready."""

    def __init__(self, common_dir: Path, name: str):
        from ..state import StateFile
        from ..timeline import Timeline
        self.common_dir, self.name = Path(common_dir), name
        self.state_dir = self.common_dir / "paneboard"
        self.state = StateFile(self.state_dir)
        self.timeline = Timeline(self.state_dir)
        self.asked = ""
        self.last, self.still_since = None, time.monotonic()

    def _record(self, kind: str, text: str, **data) -> None:
        with contextlib.suppress(OSError):
            self.timeline.record(self.name, kind, text, source="prompt delivery", **data)

    def _readable(self) -> dict | None:
        """The state's agents, or None when the file cannot be read: repairing it is the fleet's job, not ours."""
        from ..state import _parse
        try:
            data, _ = _parse(self.state.path.read_bytes())
        except OSError:
            return None
        return data["agents"] if data is not None else None

    def _pending(self) -> tuple[dict, dict] | None:
        rec = (self._readable() or {}).get(self.name)
        pending = (rec or {}).get(PENDING)
        if not isinstance(pending, dict) or pending.get("exited") or pending.get("pane") != rec.get("pane"):
            return None     # delivered, stopped, forgotten, or restarted (the restart started its own)
        return rec, pending

    def _update(self, pane: str, **fields) -> None:
        if self._readable() is None:
            return
        with self.state.edit() as data:
            pending = data["agents"].get(self.name, {}).get(PENDING)
            if isinstance(pending, dict) and pending.get("pane") == pane:
                if fields.get("delivered"):
                    del data["agents"][self.name][PENDING]
                else:
                    pending.update(fields)

    def run(self) -> None:
        """Wait and deliver, until the prompt is delivered, the agent exits or its record says to stop."""
        from .. import presets
        started = time.monotonic()
        interval = 0.2
        found = self._pending()
        if found is not None:
            self._update(found[1]["pane"], pid=os.getpid())     # who delivers it, for a look with ps
        while found is not None:
            rec, pending = found
            preset = presets.resolve(rec.get("agent") or "")
            try:
                if self._step(rec, pending["pane"], preset, time.monotonic() - started):
                    return
            except HostUnreachable:
                pass        # its host is away for now: the prompt waits, and so do we
            time.sleep(interval)
            interval = min(interval * 1.2, 1.0)
            found = self._pending()

    def _step(self, rec: dict, pane: str, preset, waited: float) -> bool:
        """One look at the agent; True when the delivery is over (delivered, or the agent went)."""
        import re
        from ..status import classify
        from ..tmux import Tmux
        from .deliver import look
        tmux = _tmux_of(rec) if rec.get("host") else Tmux(rec.get("socket") or None)
        seen = look(tmux, pane)
        if seen.dead:
            self._update(pane, exited=time.time())
            self._record("prompt", "task prompt not delivered: the agent exited before it was ready "
                                   "(kept; `paneboard restart` delivers it)", delivered="no")
            return True
        screen = "\n".join(seen.rows)
        reading = classify(screen, rec.get("rules") or preset.rules)
        if _is_question(reading, rec.get("rules") or preset.rules):
            asks = (reading.evidence or reading.why).strip().splitlines()[-1][:160]
            if asks != self.asked:
                self.asked = asks
                self._update(pane, asks=asks)
                self._record("prompt", f"prompt waiting: the agent asks {asks!r}")
            self.last = None
            return False
        if screen != self.last:
            self.last, self.still_since = screen, time.monotonic()
        still = time.monotonic() - self.still_since
        pattern = re.compile(preset.ready) if preset.ready else None
        ready = bool(pattern.search(screen)) if pattern else \
            still > SETTLED and (bool(screen.strip()) or waited > 2 * SETTLED)
        if not ready and not (pattern and still > SETTLED and waited > READY_ANYWAY):
            return False
        self._deliver(tmux, rec, pane, preset)
        return True

    def _deliver(self, tmux, rec: dict, pane: str, preset) -> None:
        from .. import hooks
        from .deliver import deliver
        done = deliver(tmux, pane, rec.get("prompt") or "", preset.submit,
                       events=hooks.events_path(self.common_dir, self.name))
        self._update(pane, delivered=True)
        if done.confirmed:
            self._record("prompt", f"task prompt delivered: {done.saw}", delivered="confirmed")
        else:
            self._record("prompt", f"task prompt pasted, its submission not confirmed: {done.saw}",
                         delivered="not confirmed")


def main(argv: list[str]) -> int:
    """`COMMON_DIR NAME`: deliver the agent's pending prompt; one delivery per agent at a time."""
    if len(argv) != 2:
        return 2
    common_dir, name = Path(argv[0]), argv[1]
    path = lock_path(common_dir / "paneboard", name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return 0        # another delivery of this prompt runs
    try:
        _Waiter(common_dir, name).run()
    finally:
        os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
