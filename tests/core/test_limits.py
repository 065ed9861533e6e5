"""The reset time of a usage limit, read from each real CLI's wording (app/limits.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from app.limits import parse_reset, reset_time, until_text

PARIS = ZoneInfo("Europe/Paris")
EVENING = datetime(2025, 6, 14, 23, 10, tzinfo=PARIS)     # 23:10 in Paris, summer time (+02:00)
MORNING = datetime(2025, 6, 14, 9, 30, tzinfo=PARIS)


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


CASES = [
    # Claude Code: a time of day, next occurrence after the message; its zone when it names one.
    ("5-hour limit reached ∙ resets 1am", EVENING, paris(2025, 6, 15, 1, 0)),                 # tomorrow
    ("5-hour limit reached ∙ resets 1am", datetime(2025, 6, 14, 0, 20, tzinfo=PARIS),
     paris(2025, 6, 14, 1, 0)),                                                                # today
    ("You've hit your limit · resets 3pm (Europe/Paris)", MORNING, paris(2025, 6, 14, 15, 0)),
    ("You've hit your session limit · resets 8:30pm (Asia/Tokyo)", MORNING,
     datetime(2025, 6, 14, 20, 30, tzinfo=ZoneInfo("Asia/Tokyo"))),                            # 13:30 Paris
    ("You've hit your session limit · resets 12:50am (America/Los_Angeles)", MORNING,
     datetime(2025, 6, 14, 0, 50, tzinfo=ZoneInfo("America/Los_Angeles"))),                    # LA: 00:30 now
    ("Claude usage limit reached. Your limit will reset at 1pm (Etc/GMT+5).", MORNING,
     datetime(2025, 6, 14, 13, 0, tzinfo=timezone(timedelta(hours=-5)))),
    ("Approaching usage limit · resets at 12pm", MORNING, paris(2025, 6, 14, 12, 0)),
    ("Weekly limit reached ∙ resets Oct 9, 5pm", MORNING, paris(2025, 10, 9, 17, 0)),
    ("Weekly limit reached ∙ resets Jan 2 at 5am", datetime(2025, 12, 30, 9, 0, tzinfo=PARIS),
     paris(2026, 1, 2, 5, 0)),                                                                 # next year
    ("Claude AI usage limit reached|1749924000", MORNING,
     datetime.fromtimestamp(1749924000, PARIS)),
    # Codex: relative durations, a local time today, a date and time further off.
    ("You've hit your usage limit. Upgrade to Pro (https://openai.com/chatgpt/pricing) or try again in "
     "2 hours 5 minutes.", MORNING, MORNING + timedelta(hours=2, minutes=5)),
    ("You've hit your usage limit. Try again in 4 days 3 hours 12 minutes.", MORNING,
     MORNING + timedelta(days=4, hours=3, minutes=12)),
    ("■ You’ve hit your usage limit. Try again at 3:00 PM.", MORNING, paris(2025, 6, 14, 15, 0)),
    ("■ You’ve hit your usage limit. Try again at 3:00 PM.", paris(2025, 6, 14, 16, 0),
     paris(2025, 6, 15, 15, 0)),                                                               # passed: tomorrow
    ("You've hit your usage limit. Visit https://chatgpt.com/codex/settings/usage to purchase more credits "
     "or try again at Dec 29th, 2025 10:15 PM.", MORNING, paris(2025, 12, 29, 22, 15)),
    # Gemini CLI: its quota dialog, and the API's own words.
    ("Usage limit reached for all Pro models. Access resets at 11:00 AM GMT+2.", MORNING,
     datetime(2025, 6, 14, 11, 0, tzinfo=timezone(timedelta(hours=2)))),
    ("Usage limit reached for gemini-2.5-pro. Access resets at 3:45 PM PST.", MORNING,
     datetime(2025, 6, 14, 15, 45, tzinfo=timezone(timedelta(hours=-8)))),
    ("You have exhausted your capacity on this model. Your quota will reset after 21h53m56s.", MORNING,
     MORNING + timedelta(hours=21, minutes=53, seconds=56)),
    ("Quota exceeded for metric: generate_content_free_tier_requests. Please retry in 17.5s.", MORNING,
     MORNING + timedelta(seconds=17.5)),
    # aider / opencode relay the API: seconds, milliseconds, minutes and seconds.
    ("litellm.RateLimitError: Rate limit reached for gpt-4o. Please try again in 1m30s.", MORNING,
     MORNING + timedelta(seconds=90)),
    ("Rate limit reached. Please try again in 250ms.", MORNING, MORNING + timedelta(milliseconds=250)),
    # 24-hour clock, a zone in brackets.
    ("usage limit reached · resets at 15:30 (UTC)", MORNING, datetime(2025, 6, 14, 15, 30, tzinfo=timezone.utc)),
]


@pytest.mark.parametrize("text,now,expected", CASES, ids=[c[0][:48] for c in CASES])
def test_parse_reset(text, now, expected):
    got = parse_reset(text, now, PARIS)
    assert got is not None and got == expected, (got, expected)


@pytest.mark.parametrize("text", [
    "■ You’ve hit your usage limit. Try again later.",                   # the real codex fixture says no time
    "API Error: Request rejected (429) · Number of request tokens has exceeded your per-minute rate limit",
    "Context left until auto-compact: 0%",
    "resets 5",                                                           # no minutes, no am/pm: not a time
    "resets 25:00", "resets 13pm",
    "",
])
def test_no_reset_time_when_the_text_gives_none(text):
    assert parse_reset(text, MORNING, PARIS) is None


def test_an_unknown_zone_reads_as_the_local_one():
    assert parse_reset("resets 3pm (Mars/Olympus)", MORNING, PARIS) == paris(2025, 6, 14, 15, 0)


def test_a_naive_now_is_in_the_given_zone():
    assert parse_reset("resets 1am", datetime(2025, 6, 14, 23, 10), PARIS) == paris(2025, 6, 15, 1, 0)


def test_reset_time_in_epoch_seconds_and_how_it_reads():
    at = MORNING.timestamp()
    assert reset_time("try again in 2 hours", at) == at + 7200
    assert reset_time(None, at) is None and reset_time("Try again later.", at) is None
    assert len(until_text(at + 600, at)) == 5                     # "HH:MM" within a day
    assert until_text(at + 3 * 86400, at).count(" ") == 2          # "Jun 17 09:30" further off


# -- the limit notice read from a screen (app/status.py) -------------------------------------------

def _screen(*lines: str) -> str:
    return "\n".join(lines) + "\n"


RULE = "─" * 40


def test_a_limit_the_user_answered_is_behind_them():
    from app.status import classify
    limited = _screen("> write the docs", "● Writing docs.", "You've hit your usage limit. Try again in 3 seconds.",
                      RULE, "> ", RULE, "  ? for shortcuts")
    assert classify(limited, "demo").limit == "You've hit your usage limit. Try again in 3 seconds."
    answered = _screen("> write the docs", "● Writing docs.", "You've hit your usage limit. Try again in 3 seconds.",
                       "", "> continue", "● On it.", "● Done.", RULE, "> ", RULE, "  ? for shortcuts")
    assert classify(answered, "demo").limit is None
    claude = _screen("❯ fix it", "● You've hit your session limit · resets 5:40pm (Europe/Berlin)",
                     "  /login to switch to an API usage-billed account.", "❯ continue",
                     "● You've hit your session limit · resets 10:30pm (Europe/Berlin)", RULE, "❯ ", RULE)
    assert "10:30pm" in classify(claude, "claude").limit


def test_a_limit_whose_reset_wrapped_to_the_next_line_keeps_it():
    from app.status import classify
    gemini = _screen("> fix it", "Usage limit reached for all Pro models.", "Access resets at 11:00 AM GMT+2.",
                     "/stats model for usage details", "● 1. Keep trying", "  2. Stop")
    reading = classify(gemini, "gemini")
    assert reading.limit == "Usage limit reached for all Pro models. Access resets at 11:00 AM GMT+2."
    assert parse_reset(reading.limit, MORNING, PARIS) == datetime(2025, 6, 14, 11, 0,
                                                                   tzinfo=timezone(timedelta(hours=2)))
