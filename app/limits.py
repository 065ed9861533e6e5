"""When a usage limit lifts: the reset time read from the words agent CLIs print it in.

`parse_reset(text, now, tz)` is a pure function of a limit message, the moment it was printed and
the zone its times are in when it names none. The wordings come from the real CLIs:

- Claude Code: "You've hit your limit · resets 1am (Europe/Paris)", "5-hour limit reached ∙ resets
  3pm", "Weekly limit reached ∙ resets Oct 9, 5pm", "Approaching usage limit · resets at 12pm",
  "Your limit will reset at 1pm (Etc/GMT+5)", and the raw "Claude AI usage limit reached|1749924000";
- Codex: "… or try again in 2 hours 5 minutes.", "Try again at 3:00 PM.", "or try again at
  Dec 29th, 2025 10:15 PM." (local time);
- Gemini CLI: "Access resets at 11:00 AM GMT+2.", "Your quota will reset after 21h53m56s.",
  "Please retry in 17.3s.";
- aider and opencode pass on the API's "Please try again in 20s".

A time of day without a date is the next such moment after `now` (today, or tomorrow if it has
passed). Plain Python, no clock: callers pass `now`.
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                        "nov", "dec"), 1)}
# Abbreviations CLIs print after a time ("3:00 PM PST"); anything else falls back to the local zone.
_ABBREVIATIONS = {"UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "BST": 1, "CET": 1, "CEST": 2, "EET": 2, "EEST": 3,
                  "MSK": 3, "IST": 5.5, "SGT": 8, "HKT": 8, "JST": 9, "KST": 9, "AEST": 10, "AEDT": 11,
                  "NZST": 12, "NZDT": 13, "HST": -10, "AKST": -9, "AKDT": -8, "PST": -8, "PDT": -7,
                  "MST": -7, "MDT": -6, "CST": -6, "CDT": -5, "EST": -5, "EDT": -4, "BRT": -3}

_EPOCH = re.compile(r"limit reached\|(\d{9,11})\b", re.IGNORECASE)

_UNIT = r"(?:milliseconds?|ms|minutes?|mins?|m|seconds?|secs?|s|hours?|hrs?|h|days?|d)(?![a-z])"
_AMOUNT = rf"(?:\d+(?:\.\d+)?\s*{_UNIT}|an?\s+(?:hour|minute|day)\b)"
_RELATIVE = re.compile(
    r"\b(?:try again|retry|resets?|reset after|available again|wait)\s+(?:in|after)\s+(?:about\s+|approximately\s+|~\s*)?"
    rf"(?P<amount>{_AMOUNT}(?:\s*,?\s*(?:and\s+)?{_AMOUNT})*)", re.IGNORECASE)
_PART = re.compile(rf"(\d+(?:\.\d+)?|an?)\s*({_UNIT}|hour|minute|day)", re.IGNORECASE)
_SECONDS = {"ms": 0.001, "m": 60, "s": 1, "h": 3600, "d": 86400}

_WHEN = (r"\b(?:resets?|reset at|try again at|retry at|available(?: again)? at)\s+(?:at\s+|on\s+)?"
         r"(?:(?P<iso>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)"
         r"|(?:(?P<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?"
         r"(?:,?\s+(?P<year>\d{4}))?,?\s+(?:at\s+)?)?"
         r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?(?::(?P<second>\d{2}))?\s*(?P<ampm>[ap]\.?\s?m\b\.?)?"
         r"(?:\s*\(?(?P<zone>[A-Za-z]+/[A-Za-z0-9_+\-/]+|(?:UTC|GMT)\s?[+-]\d{1,2}(?::?\d{2})?|[A-Z]{1,5}\b)\)?)?)")
_ABSOLUTE = re.compile(_WHEN, re.IGNORECASE)
_OFFSET = re.compile(r"^(?:UTC|GMT)\s?([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)


def parse_reset(text: str, now: datetime, tz: tzinfo) -> datetime | None:
    """When the limit in `text` lifts, as an aware datetime (None if the text does not say).

    `now` is when the message was printed; `tz` the zone of times that name none (the machine's).
    """
    if not text:
        return None
    if now.tzinfo is None:
        now = now.replace(tzinfo=tz)
    m = _EPOCH.search(text)
    if m:
        return datetime.fromtimestamp(int(m.group(1)), tz)
    for m in _ABSOLUTE.finditer(text):
        at = _absolute(m, now, tz)
        if at is not None:
            return at
    m = _RELATIVE.search(text)
    if m:
        return now + timedelta(seconds=_duration(m.group("amount")))
    return None


def _duration(amount: str) -> float:
    total = 0.0
    for number, unit in _PART.findall(amount):
        n = 1.0 if number.lower() in ("a", "an") else float(number)
        u = unit.lower()
        key = "ms" if u == "ms" or u.startswith("milli") else ("m" if u.startswith("m") else u[0])
        total += n * _SECONDS[key]
    return total


def _absolute(m: re.Match, now: datetime, tz: tzinfo) -> datetime | None:
    if m.group("iso"):
        try:
            at = datetime.fromisoformat(m.group("iso").replace("Z", "+00:00"))
        except ValueError:
            return None
        return at if at.tzinfo else at.replace(tzinfo=tz)
    wall = _wall_time(m)
    if wall is None:
        return None
    zone = _zone(m.group("zone")) or tz
    local_now = now.astimezone(zone)
    if m.group("mon"):
        return _on_date(m, wall, zone, local_now)
    at = datetime.combine(local_now.date(), wall, tzinfo=zone)
    if at <= local_now:
        at = datetime.combine(local_now.date() + timedelta(days=1), wall, tzinfo=zone)
    return at


def _wall_time(m: re.Match) -> time | None:
    """The time of day the match names; None when it is not one ("resets 5" alone names none)."""
    hour, minute, second, ampm = m.group("hour"), m.group("minute"), m.group("second"), m.group("ampm")
    if minute is None and ampm is None:
        return None
    h, mi, s = int(hour), int(minute or 0), int(second or 0)
    if ampm:
        if not 1 <= h <= 12:
            return None
        h = h % 12 + (12 if ampm[0].lower() == "p" else 0)
    if h > 23 or mi > 59 or s > 59:
        return None
    return time(h, mi, s)


def _on_date(m: re.Match, wall: time, zone: tzinfo, local_now: datetime) -> datetime | None:
    month, day = _MONTHS[m.group("mon")[:3].lower()], int(m.group("day"))
    year = int(m.group("year")) if m.group("year") else local_now.year
    try:
        at = datetime.combine(date(year, month, day), wall, tzinfo=zone)
        if not m.group("year") and at < local_now - timedelta(days=1):
            at = datetime.combine(date(year + 1, month, day), wall, tzinfo=zone)   # "Jan 2" seen on Dec 30
    except ValueError:
        return None
    return at


def _zone(name: str | None) -> tzinfo | None:
    if not name:
        return None
    if "/" in name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return None
    off = _OFFSET.match(name)
    if off:
        minutes = int(off.group(2)) * 60 + int(off.group(3) or 0)
        return timezone(timedelta(minutes=minutes if off.group(1) == "+" else -minutes))
    hours = _ABBREVIATIONS.get(name.upper()) if name.isupper() or name.upper() in ("UTC", "GMT") else None
    return None if hours is None else timezone(timedelta(hours=hours))


@lru_cache(maxsize=1)
def local_zone() -> tzinfo:
    """The machine's time zone (from $TZ or /etc/localtime, with its daylight-saving rules where known)."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        with open("/etc/localtime", "rb") as fh:
            return ZoneInfo.from_file(fh, key="localtime")
    except (OSError, ValueError):
        return datetime.now().astimezone().tzinfo or timezone.utc


def reset_time(text: str | None, printed_at: float) -> float | None:
    """When the limit in `text`, printed at `printed_at` (epoch seconds), lifts, in epoch seconds (None: unknown)."""
    if not text:
        return None
    zone = local_zone()
    at = parse_reset(text, datetime.fromtimestamp(printed_at, zone), zone)
    return at.timestamp() if at is not None else None


def until_text(resets_at: float, now: float) -> str:
    """How a reset reads in a sentence: "01:00" within a day, "Oct 09 17:00" further off."""
    when = datetime.fromtimestamp(resets_at, local_zone())
    return when.strftime("%H:%M") if 0 <= resets_at - now < 86400 else when.strftime("%b %d %H:%M")


def iso(t: float | None) -> str | None:
    """An epoch time as ISO 8601 in the local zone, to the second (None stays None)."""
    return None if t is None else datetime.fromtimestamp(t, local_zone()).isoformat(timespec="seconds")
