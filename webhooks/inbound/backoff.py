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


# An event regie cannot apply yet (a refund before its payment's success): it waits as
# long again as it has waited (10 s at least, an hour at most), for up to a week, past
# the PSP's own redelivery (Stripe: 3 days) and the daily re-check of pending payments;
# then it is dead-lettered, for an operator to see.
DEFER_FOR = dt.timedelta(days=7)


def defer_delay(waited: dt.timedelta) -> dt.timedelta:
    """Delay before the next try of an event deferred after waiting ``waited`` since it
    was received."""
    return min(max(waited, BASE), CAP)
