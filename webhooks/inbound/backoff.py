"""Retry schedule of failed inbox events (pure)."""

from __future__ import annotations

import datetime as dt

# 10 s, 30 s, 1.5 min, 4.5 min, ... capped at one hour
BASE = dt.timedelta(seconds=10)
CAP = dt.timedelta(hours=1)


def next_delay(attempts: int) -> dt.timedelta:
    """Delay before the next try after ``attempts`` failed tries (attempts >= 1)."""
    if attempts < 1:
        raise ValueError("attempts starts at 1")
    delay = BASE * (3 ** min(attempts - 1, 20))
    return min(delay, CAP)
