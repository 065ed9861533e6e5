"""The one "is this lock held" probe (app/state.py `lock_held`) that a spawn's and a prompt delivery's locks share."""

from __future__ import annotations

import subprocess
import sys

from app.state import lock_held

HOLD = "import fcntl, sys; f = open(sys.argv[1], 'w'); fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()"


def test_a_lock_is_held_only_while_its_process_holds_it_and_a_missing_file_is_none_unless_made(tmp_path):
    path = tmp_path / "x.lock"
    assert lock_held(path) is None and not path.exists()
    assert lock_held(path, create=True) is False and path.exists()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        assert lock_held(path) is True and lock_held(path, create=True) is True
    finally:
        holder.stdin.close()
        holder.wait(10)
    assert lock_held(path) is False
