"""Claude Code 2.1 live through paneboard against the mock model, moment by moment (tests run in order)."""

from __future__ import annotations

import pytest

from app.model import Kind, TriggerKind
from tests.live.harness import ANSWER, has, is_
from tests.live.mockmodel import Quota, RateLimit, Text, ToolCall

pytestmark = pytest.mark.live
CLI = "claude"


def test_trust_question(live):
    live.model.queue(Text(ANSWER, seconds=4))
    live.spawn("say hello")
    live.wait_screen("trust this folder")
    live.expect("trust question", is_(Kind.NEEDS_INPUT))


def test_working(live):
    # The folder question puts "No, exit" first: approve is Down, Enter here (the preset's "1" exits).
    live.wait_still()       # a key pressed while the dialog is drawn but not listening yet is lost
    live.keys("Down", "Enter")
    live.expect("working", is_(Kind.WORKING))


def test_streamed_answer(live):
    live.wait_screen("Hello from the mock model")
    live.expect("streamed answer", lambda a: live.model.pending() == 0 and a.status.kind == Kind.WORKING
                or ANSWER.split()[-1] in live.screen())


def test_finished_turn(live):
    live.finished()


def test_reply_sent(live):
    live.model.queue(ToolCall("touch made-by-tool"), Text("The file is there.", seconds=1))
    live.send("please create the file")
    live.expect("reply sent", lambda a: live.model.saw("please create the file"))


def test_permission_request(live):
    live.asks()


def test_approval(live):
    live.wait_screen("Do you want to proceed?")
    live.wait_still()
    live.approve()
    try:
        live.expect("approval", lambda a: live.worktree_file("made-by-tool").exists(), timeout=10)
    finally:
        if "Do you want to proceed?" in live.screen():
            live.keys("Enter")      # recover, so the later moments can be tried


def test_finished_after_approval(live):
    live.wait_screen("The file is there.")
    live.expect("finished after approval", is_(Kind.IDLE))


def test_rate_limit(live):
    live.model.queue(RateLimit(times=3))
    live.say("try again")
    live.expect("429", has(TriggerKind.LIMIT))


def test_quota(live):
    live.model.clear()      # no 429 left in the script, and no late retry of the 429's turn takes the quota
    live.model.queue(Quota(times=3, when="and once more"))
    live.say("and once more")
    live.expect("quota notice", has(TriggerKind.LIMIT))


def test_exit(live):
    live.quit("C-c", "C-c")
    live.expect("exit", is_(Kind.EXITED))
