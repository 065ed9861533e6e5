"""One writer per repository (app/monitor/writer.py): the lock, who holds it, and what a new writer
writes of what it saw while another wrote (real files and real processes, no tmux)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from app.model import Agent, Kind, Status, Trigger, TriggerKind
from app.monitor.limits import RULE, resumed_after
from app.monitor.timeline_feed import TimelineFeed
from app.monitor.writer import WriterLock, describe, holder
from app.timeline import Timeline
from tests.helpers import ROOT, retry_until


def test_one_lock_holder_at_a_time_and_its_pid_is_named(tmp_path: Path):
    assert holder(tmp_path) is None and "no dashboard runs on_trigger" in describe(tmp_path)
    first, second = WriterLock(tmp_path), WriterLock(tmp_path)
    assert first.take() and first.holds
    assert not second.take() and not second.holds
    assert not first.take()                    # already held: not "taken now" again
    assert holder(tmp_path) == os.getpid()
    assert describe(tmp_path, holds=True).startswith("this dashboard runs on_trigger")
    assert describe(tmp_path) == (f"another dashboard (pid {os.getpid()}) runs on_trigger and writes the "
                                  "timelines and status files")
    first.release()
    assert holder(tmp_path) is None
    assert second.take() and holder(tmp_path) == os.getpid()
    second.release()


def test_a_read_only_dashboard_never_takes_it(tmp_path: Path):
    read_only = WriterLock(tmp_path, enabled=False)
    assert not read_only.take() and holder(tmp_path) is None
    assert describe(tmp_path, watch_only=True).endswith("(this one is read-only)")


def test_a_killed_holder_lets_go_and_its_children_never_keep_it(tmp_path: Path):
    # The holder starts a long child (as on_trigger or git would be) and is then killed with -9.
    code = ("import subprocess, sys, time; from app.monitor.writer import WriterLock; "
            f"w = WriterLock({str(tmp_path)!r}); assert w.take(); "
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], close_fds=False); "
            "print('held', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        assert holder(tmp_path) == proc.pid
        proc.kill()
        proc.wait()
        mine = WriterLock(tmp_path)
        retry_until(mine.take, timeout=5)       # the child still runs, but the lock is free
        assert holder(tmp_path) == os.getpid()
        mine.release()
    finally:
        os.killpg(proc.pid, 9)


def _agent(tmp_path: Path) -> Agent:
    return Agent(name="a", task="a", agent="demo", branch="paneboard/a", worktree=str(tmp_path), base="main",
                 session="s")


def test_a_new_writer_writes_only_what_the_timeline_lacks(tmp_path: Path):
    tl = Timeline(tmp_path)
    agent = _agent(tmp_path)
    asks = Trigger(TriggerKind.NEEDS_INPUT, "a", "asks", since=100.0)
    writer = TimelineFeed(tl, writes=True)
    writer.status(agent, Status(Kind.NEEDS_INPUT, "asks", since=100.0), settled=True)
    writer.triggers([asks], [])
    watcher = TimelineFeed(tl, writes=False)
    watcher.start(95.0)
    watcher.status(agent, Status(Kind.NEEDS_INPUT, "asks", since=104.0), settled=True)
    watcher.triggers([Trigger(TriggerKind.NEEDS_INPUT, "a", "asks", since=104.0)], [])
    watcher.answered("a", 110.0, "allowed by rule: ls")        # seen here; the writer died before writing it
    watcher.hidden("a", "needs_input", "acknowledged")         # a human's action: written where it was made
    assert [e.kind for e in tl.events("a")] == ["status", "trigger", "acknowledged"]

    watcher.take_over(watcher.read_back_all(["a"]), now=120.0)
    # The question it dated 4 s later is the one the writer announced; the limit is new.
    limit = Trigger(TriggerKind.LIMIT, "a", "usage limit", since=115.0)
    fresh = watcher.catch_up("a", [Trigger(TriggerKind.NEEDS_INPUT, "a", "asks", since=104.0), limit],
                             {"needs_input", "limit"})
    assert fresh == [limit]
    said = sorted((e.kind, e.text) for e in tl.events("a"))      # each once (they sort by their own times)
    assert said == [("acknowledged", "needs_input acknowledged"), ("answered", "allowed by rule: ls"),
                    ("status", "needs_input: asks"), ("trigger", "limit raised: usage limit"),
                    ("trigger", "needs_input raised: asks")]
    assert tl.watched() == [(95.0, 120.0)]
    # An occurrence that ended while the previous writer wrote is closed.
    assert watcher.catch_up("a", [], set()) == []
    assert [e.text for e in tl.events("a")][-2:] == ["needs_input cleared", "limit cleared"]


def test_a_continue_message_already_sent_after_this_reset_is_not_sent_again(tmp_path: Path):
    tl = Timeline(tmp_path)
    tl.record("a", "reply", "continue", source="dashboard", rule=RULE, at=1000.0)
    assert resumed_after(tl, "a", 990.0)
    assert not resumed_after(tl, "a", 2000.0)        # a later limit: not yet
    tl.record("b", "reply", "continue", source="dashboard", at=1000.0)
    assert not resumed_after(tl, "b", 990.0)         # typed by a human, not the rule
