"""A scripted agent for bench/busy.py: idle at a prompt, or working while its go-file exists.

    python bench/busy_agent.py GO_FILE [OUT_FILE]
    python bench/busy_agent.py GO_DIR [OUT_FILE]    # go-file GO_DIR/<name of the directory it runs in>

Working means the issue's load: every 0.5 s three output lines, one line appended to OUT_FILE
(relative to the worktree it runs in; `work/<pid>.log` by default) and a spinner line that says
"esc to interrupt" (the demo rules read it as working). Idle means the demo agent's prompt box
with "? for shortcuts". It checks GO_FILE every 0.5 s, so the benchmark starts and stops the work
by creating and removing that file. Stdlib only: it runs in a worktree of a throwaway repository.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

STEP = 0.5
RULE = "─" * 60


def idle_screen() -> str:
    """The demo agent's idle prompt (its box and hint), after a clear of the screen."""
    return f"\x1b[2J\x1b[H● ready\n\n{RULE}\n> \n{RULE}\n  ? for shortcuts"


def main() -> int:
    go = Path(sys.argv[1])
    if go.is_dir():     # one command line for every worktree (ccmanager's preset): the go-file is per worktree
        go = go / Path.cwd().name
    out = Path(sys.argv[2] if len(sys.argv) > 2 else f"work/{os.getpid()}.log")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    working, n, began = None, 0, time.monotonic()
    while True:
        now = go.exists()
        if now != working:
            working, began = now, time.monotonic()
            if not working:
                sys.stdout.write(idle_screen())
        if working:
            n += 1
            spent = int(time.monotonic() - began)
            sys.stdout.write(f"\r\x1b[K⏺ step {n}: read src/module_{n % 7}.py\n"
                             f"  ⎿  {n * 3} lines, {n % 5} matches\n"
                             f"⏺ step {n}: appending to {out}\n"
                             f"✻ Working… ({spent}s · esc to interrupt)")
            out.parent.mkdir(parents=True, exist_ok=True)
            with out.open("a", encoding="utf-8") as fh:
                fh.write(f"step {n} at {time.time():.3f}\n")
        sys.stdout.flush()
        time.sleep(STEP)


if __name__ == "__main__":
    sys.exit(main())
