"""ccmanager driven on bench/busy.py's agents: the same scripted agent as its sessions, in the same worktrees.

ccmanager (`npm install --prefix DIR ccmanager`; its linux build is the package
`@kodaikabasawa/ccmanager-linux-x64`, a Bun binary) starts a session's command in a pty of its own
when the user selects a worktree in its menu. Here it runs in a 200x50 pane of the benchmark's
"terminal" tmux server with a throwaway HOME whose `~/.config/ccmanager/config.json` has one
command preset: `python bench/busy_agent.py GO_DIR` (an agent whose go-file is GO_DIR/<worktree
name>, so ccmanager's agents work while paneboard's stay idle; each appends to `work/<its pid>.log`,
so no two agents share a file). Each session is started as a user
would: `/`, the agent's name, Enter (the menu keeps that filter), `0` (the first worktree shown),
then Ctrl-E back to the menu and Escape to clear the filter. Its cost is its own process, its exited
children (git) and its live children other than the agents, the way paneboard's is counted.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from bench.busy import (
    AGENT,
    Result,
    alive,
    git_starts,
    own_cpu,
    rss_mb,
    stat_fields,
    tmux,
)
from bench.monitor import TICK

BINARY_PACKAGE = Path("node_modules") / "@kodaikabasawa" / "ccmanager-linux-x64" / "bin" / "ccmanager"


def find_binary(prefix: Path | None) -> tuple[Path | None, str]:
    """(ccmanager's binary, "") or (None, why there is no ccmanager column)."""
    if prefix is None:
        return None, "not measured: pass --ccmanager-prefix DIR (`npm install --prefix DIR ccmanager`)"
    binary = prefix / BINARY_PACKAGE
    if binary.exists():
        return binary, ""
    if (prefix / "node_modules" / "ccmanager").exists():
        return None, (f"not measured: {prefix} has ccmanager's JavaScript but not its Bun binary "
                      f"(`npm install --prefix {prefix} @kodaikabasawa/ccmanager-linux-x64`); its sessions need Bun's pty")
    return None, f"not installed under {prefix}"


def version(binary: Path) -> str:
    import subprocess
    p = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=False)
    return p.stdout.strip() or "?"


def tree_cpu(pid: int, agents: set[int]) -> tuple[float, float, float]:
    """(own, exited children, live children other than the agents) CPU seconds of a process."""
    own, exited = own_cpu(pid)
    live = 0.0
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) in agents:
            continue
        f = stat_fields(int(d))
        if f is not None and int(f[1]) == pid and f[0] != "Z":
            live += sum(int(x) for x in f[11:15]) / TICK
    return own, exited, live


def agent_pids(pid: int) -> set[int]:
    """ccmanager's children that run the scripted agent."""
    out = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        f = stat_fields(int(d))
        if f is None or int(f[1]) != pid:
            continue
        try:
            if str(AGENT).encode() in Path(f"/proc/{d}/cmdline").read_bytes():
                out.add(int(d))
        except OSError:
            pass
    return out


class CCManager:
    """One ccmanager process in the lab's terminal, with a session per agent started through its menu."""

    def __init__(self, lab, binary: Path, n: int):
        self.lab, self.binary = lab, binary
        self.home = lab.tmp / f"ccm-home-{n}"     # its own per run: a HOME it ran in before asks to restore sessions
        self.go = lab.tmp / "ccm-go"
        self.go.mkdir(exist_ok=True)
        conf = self.home / ".config" / "ccmanager"
        conf.mkdir(parents=True, exist_ok=True)
        preset = {"id": "1", "name": "busy", "command": sys.executable,
                  "args": [str(AGENT), str(self.go)], "detectionStrategy": "claude"}
        (conf / "config.json").write_text(json.dumps({
            "commandPresets": {"presets": [preset], "defaultPresetId": "1", "selectPresetOnStart": False}}))
        self.pid = 0
        self.pane = ""
        self.sessions = 0

    def screen(self) -> str:
        return tmux(self.lab.term, "capture-pane", "-p", "-t", self.pane, check=False)

    def wait_for(self, what, limit: float = 10.0) -> bool:
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            if what(self.screen()):
                return True
            time.sleep(0.05)
        return False

    def start(self, trace: Path) -> float:
        """Start ccmanager; seconds until its menu shows."""
        env = {"HOME": str(self.home), "GIT_TRACE2_EVENT": str(trace), "TERM": "xterm-256color",
               "CCMANAGER_LOG_FILE": str(self.lab.tmp / "ccm.log")}
        envargs = [x for k, v in env.items() for x in ("-e", f"{k}={v}")]
        t0 = time.monotonic()
        self.pane, pid = tmux(self.lab.term, "new-window", "-d", "-P", "-F", "#{pane_id} #{pane_pid}", "-n", "ccm", "-c", str(self.lab.repo), *envargs, "--",
                              str(self.binary)).split()
        self.pid = int(pid)
        if not self.wait_for(lambda s: "Select a worktree" in s, 30.0):
            raise RuntimeError(f"ccmanager's menu did not show: {self.screen()[-400:]!r}")
        return time.monotonic() - t0

    def open_sessions(self, names: list[str]) -> list[str]:
        """Start a session for each agent through the menu; the names it could not start."""
        failed = []
        for name in names:
            keys = self.lab.term, "send-keys", "-t", self.pane
            tmux(*keys, "/")        # each key waits for its screen: Ink reads a burst as one input
            ok = self.wait_for(lambda s: "Search:" in s, 5.0)
            tmux(*keys, "-l", name)
            ok = ok and self.wait_for(lambda s, name=name: f"Search: {name}" in s, 5.0)
            tmux(*keys, "Enter")
            ok = ok and self.wait_for(lambda s, name=name: f'Filtered: "{name}"' in s, 5.0)
            if ok:
                tmux(*keys, "0")
                ok = self.wait_for(lambda s: "for shortcuts" in s and "Select a worktree" not in s, 10.0)
            for _ in range(5):      # Ctrl-E sent while the session view is still mounting is lost: again
                tmux(*keys, "C-e")
                if self.wait_for(lambda s: "Select a worktree" in s, 2.0):
                    break
            tmux(*keys, "Escape")
            self.wait_for(lambda s: "Filtered:" not in s and "Search:" not in s, 5.0)
            if not ok:
                failed.append(name)
                if os.environ.get("BUSY_CCM_DEBUG"):
                    print(f"--- {name}:\n{self.screen()}", file=sys.stderr)
        self.sessions = len(agent_pids(self.pid))
        return failed

    def work(self, names: list[str], count: int) -> None:
        for i, name in enumerate(names):
            flag = self.go / name
            if i < count:
                flag.touch()
            else:
                flag.unlink(missing_ok=True)

    def quit(self) -> float | None:
        """`q`, then Exit in its "Are you sure" dialog; seconds from that Enter until the process is gone (None: it
        is still there after 20 s)."""
        keys = self.lab.term, "send-keys", "-t", self.pane
        tmux(*keys, "q")
        if self.wait_for(lambda s: "Are you sure" in s, 5.0):
            tmux(*keys, "Up")
            self.wait_for(lambda s: "> Exit" in s, 5.0)
        t0 = time.monotonic()
        tmux(*keys, "Enter")
        while alive(self.pid) and time.monotonic() - t0 < 20:
            time.sleep(0.01)
        return None if alive(self.pid) else time.monotonic() - t0

    def kill(self) -> None:
        for p in agent_pids(self.pid) | ({self.pid} if alive(self.pid) else set()):
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        tmux(self.lab.term, "kill-window", "-t", self.pane, check=False)


def measure(lab, binary: Path, n: int, working: int, args) -> Result:
    """ccmanager's cost with n sessions of the scripted agent, `working` of them working."""
    r = Result()
    trace = lab.tmp / f"trace-ccm-{n}.jsonl"
    ccm = CCManager(lab, binary, n)
    lab.work(0)
    try:
        shown = ccm.start(trace)
        t0 = time.monotonic()
        failed = ccm.open_sessions(lab.names[:n])
        if failed:      # a key lost while a session view mounted: those once more
            failed = ccm.open_sessions(failed)
        r.values["settle (below 5 % of a core), all idle"] = f"menu in {shown:.1f} s; {n} sessions opened in " \
                                                             f"{time.monotonic() - t0:.0f} s"
        if failed or ccm.sessions != n:
            r.notes.append(f"ccmanager N={n}: {ccm.sessions} sessions running; not started: {', '.join(failed)}")
        time.sleep(3.0)
        agents = agent_pids(ccm.pid)
        a, ta = tree_cpu(ccm.pid, agents), time.monotonic()
        time.sleep(args.idle_window)
        b, tb = tree_cpu(ccm.pid, agents), time.monotonic()
        r.values["CPU all idle: dashboard + children"] = f"{100 * (sum(b) - sum(a)) / (tb - ta):.1f} %"
        ccm.work(lab.names[:n], working)
        time.sleep(3.0)
        offset = git_starts(trace, 0)[2]
        agents = agent_pids(ccm.pid)
        a, ta = tree_cpu(ccm.pid, agents), time.monotonic()
        time.sleep(args.window)
        b, tb = tree_cpu(ccm.pid, agents), time.monotonic()
        secs = tb - ta
        procs, merges, _ = git_starts(trace, offset)
        own, kids = 100 * (b[0] - a[0]) / secs, 100 * (b[1] + b[2] - a[1] - a[2]) / secs
        r.values[f"CPU {working} working: total (process + children + tmux extra)"] = f"{own + kids:.1f} %"
        r.values["  dashboard process"] = f"{own:.1f} %"
        r.values["  its children (git; tmux control client)"] = f"{kids:.1f} % (none: own ptys)"
        r.values["  tmux server over its baseline"] = "0 (agents in its own ptys)"
        r.values["git processes / s"] = f"{procs / secs:.1f}"
        r.values["git merge-tree calls in the window"] = f"{merges}"
        r.values["RSS"] = f"{rss_mb(ccm.pid):.0f} MB"
        r.values["newest prediction's age, max over the window"] = "no conflict prediction"
        r.values["key → selection moved: median"] = "not measured (another UI)"
        quit_s = ccm.quit()
        r.values["quit on q while they work"] = (f"{quit_s:.2f} s (from its Exit confirmed)" if quit_s is not None
                                                 else "> 20 s")
        r.values["sessions"] = f"{ccm.sessions} of {n}"
    except RuntimeError as exc:
        r.values["CPU all idle: dashboard + children"] = f"not measured: {exc}"
    finally:
        ccm.kill()
        ccm.work(lab.names, 0)
    return r
