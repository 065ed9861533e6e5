"""aider 0.86 live through paneboard against the mock model, moment by moment (tests run in order)."""

from __future__ import annotations

import pytest

from app.model import Kind, TriggerKind
from tests.live.harness import ANSWER, has, is_
from tests.live.mockmodel import Quota, RateLimit, Text, ToolCall

pytestmark = pytest.mark.live
CLI = "aider"


def test_first_run_question(live):
    live.model.queue(Text(ANSWER, seconds=5, delay=2))
    live.spawn("say hello")
    live.wait_screen("Add .aider* to .gitignore")
    live.expect("first-run question", is_(Kind.NEEDS_INPUT))


def test_prompt_waits_for_question(live):
    live.expect("prompt waits for the question", lambda a: a.status.why.startswith("prompt waiting"), timeout=3)


def test_working(live):
    live.wait_still()
    live.approve()
    live.expect("working", is_(Kind.WORKING), timeout=20)
    live.wait_screen("Hello from")


def test_streamed_answer(live):
    live.streaming()


def test_finished_turn(live):
    live.finished()


def test_reply_sent(live):
    live.model.queue(ToolCall("touch made-by-tool"))     # aider proposes it in a ```bash block
    live.send("please create the file")
    live.expect("reply sent", lambda a: live.model.saw("please create the file"), timeout=10)


def test_permission_request(live):
    live.wait_screen("Run shell command?")
    live.expect("permission request", is_(Kind.NEEDS_INPUT))


def test_approval(live):
    live.approved()


def test_finished_after_approval(live):
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


def test_edit_mode_prompt(live):
    live.send("/chat-mode ask")
    live.wait_screen("ask>")
    live.expect("idle in another edit mode", is_(Kind.IDLE), timeout=8)


def test_exit(live):
    live.quit("C-c", "C-c")
    live.expect("exit", is_(Kind.EXITED))
