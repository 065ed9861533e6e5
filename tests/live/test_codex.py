"""Codex 0.171 live through paneboard against the mock model, moment by moment (tests run in order)."""

from __future__ import annotations

import pytest

from app.model import Kind, TriggerKind
from tests.live.harness import ANSWER, has, is_
from tests.live.mockmodel import Quota, RateLimit, Text, ToolCall

pytestmark = pytest.mark.live
CLI = "codex"


def test_trust_question(live):
    live.model.queue(Text(ANSWER, seconds=5, delay=3))
    live.spawn("say hello")
    live.wait_screen("Trust this folder?")
    live.expect("trust question", is_(Kind.NEEDS_INPUT))


def test_working(live):
    live.wait_still()
    live.keys("Enter")          # "1. Trust and continue" is chosen already
    live.expect("working", is_(Kind.WORKING), timeout=5)
    live.wait_screen("Hello from")


def test_streamed_answer(live):
    live.streaming()


def test_finished_turn(live):
    live.finished()


def test_reply_sent(live):
    live.model.queue(ToolCall("touch made-by-tool"), Text("The file is there.", seconds=1))
    live.reply_confirmed("please create the file")


def test_permission_request(live):
    live.asks()


def test_approval(live):
    live.wait_screen("Yes, proceed")
    live.approved()


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


def test_failed_turn(live):
    # Codex 0.171 sends no event when a turn fails (no Stop, no notify): its last event said working, and its
    # notice "■ Quota exceeded…" comes 40 ms later. The status must leave working for what the screen shows.
    live.expect("a failed turn", lambda a: a.status.kind == Kind.ERROR and a.status.why.startswith("screen: ")
                and any(t.kind == TriggerKind.LIMIT for t in a.triggers), timeout=10)


def test_exit(live):
    live.quit("C-c", "C-c")
    live.expect("exit", is_(Kind.EXITED))
