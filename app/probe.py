"""Moments a benchmark wants to see from outside the dashboard, appended to `$PANEBOARD_PROBE` when it is set.

Off (one dictionary lookup at import, nothing per call) unless the variable names a file.
"""

from __future__ import annotations

import os
import time

_PATH = os.environ.get("PANEBOARD_PROBE") or None


def mark(what: str, at: float | None = None) -> None:
    """Append "<unix time> <what>" (the time `at`, or now) to the probe file, if there is one (a failing write is ignored)."""
    if _PATH is None:
        return
    try:
        with open(_PATH, "a", encoding="utf-8") as fh:
            fh.write(f"{time.time() if at is None else at:.3f} {what}\n")
    except OSError:
        pass
