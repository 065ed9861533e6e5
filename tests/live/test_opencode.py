"""OpenCode 1.18 live through paneboard against the mock model, moment by moment (tests run in order)."""

from __future__ import annotations

import pytest

from app.model import Kind, TriggerKind
from tests.helpers import retry_until
from tests.live.harness import ANSWER, has, is_
from tests.live.mockmodel import Quota, RateLimit, Text, ToolCall

pytestmark = pytest.mark.live
CLI = "opencode"


def test_working(live):
    live.model.queue(Text(ANSWER, seconds=5, delay=3))
    live.spawn("say hello")
    # OpenCode takes 10-20 s here to start before it asks the model (its log: init, project copy, snapshot).
    retry_until(lambda: live.model.saw("say hello"), timeout=60, interval=0.2)
    live.expect("working", is_(Kind.WORKING), timeout=5)
    live.wait_screen("Hello from")


def test_user_config_kept(live):
    # The user's own OPENCODE_CONFIG (tests/live/harness.py: a header on every model request) still loads beside
    # paneboard's plugin, whose events decide the status.
    assert any(v == "kept" for r in live.model.main_requests() for k, v in r.headers.items()
               if k.lower() == "x-user-config"), "the user's OPENCODE_CONFIG did not reach the model requests"
    assert live.agent().status.why.startswith("event "), live.seen()


def test_streamed_answer(live):
    live.streaming()


def test_finished_turn(live):
    live.wait_screen(ANSWER.split()[-1])
    live.wait_screen("Build · Mock · ")     # the turn's duration: it has finished
    live.expect("finished turn", is_(Kind.IDLE), timeout=10)


def test_reply_sent(live):
    live.model.queue(ToolCall("touch made-by-tool"), Text("The file is there.", seconds=1))
    live.send("please create the file")
    live.expect("reply sent", lambda a: live.model.saw("please create the file"), timeout=10)


def test_permission_request(live):
    live.asks()


def test_approval(live):
    live.approved()


def test_finished_after_approval(live):
    live.wait_screen("The file is there.")
    retry_until(lambda: live.screen().count("Build · Mock · ") >= 2, timeout=30, interval=0.2)
    live.expect("finished after approval", is_(Kind.IDLE), timeout=10)


# OpenCode 1.18 retries a retryable error (a 429, a quota's 429 too) 5 times itself (its SessionRetry:
# RETRY_MAX_RETRIES 5, each after the retry-after header's wait), then fails the turn: the script outlasts that.
TRIES = 1 + 5


def failed_turn(a) -> bool:
    """The turn failed on a limit, as OpenCode's session.error said: error, a limit trigger."""
    return a.status.kind == Kind.ERROR and a.status.why.startswith("event StopFailure (opencode): ") \
        and has(TriggerKind.LIMIT)(a)


def test_rate_limit_retrying(live):
    live.model.queue(RateLimit(times=TRIES))
    live.say("try again")
    live.expect("429 retrying", lambda a: a.status.kind == Kind.WORKING and "Rate limit reached" in a.status.why
                and "(attempt " in a.status.why, timeout=10)


def test_rate_limit(live):
    live.expect("429", failed_turn)


def test_quota(live):
    live.model.clear()      # no 429 left in the script, and no late retry of the 429's turn takes the quota
    live.model.queue(Quota(times=TRIES, when="and once more"))
    live.say("and once more")
    live.expect("quota notice", failed_turn)


def test_exit(live):
    live.quit("C-c", "C-c")
    live.expect("exit", is_(Kind.EXITED))
