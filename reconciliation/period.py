"""The days a reconciliation may cover (pure, imports nothing heavy: ``regie reconcile``
checks its period with it before it starts the ledger's hand-over).

A run reads the ledger a week either side of its period, and counts business days from a
payout's arrival: a period in year 1 or year 9999 overflows Python's dates on the way. No
payment regie or its PSP records is older than 2000, so a period is taken from 2000-01-01
to 9998-12-31, which leaves a year of room for that arithmetic."""

from __future__ import annotations

import datetime as dt

from reconciliation.sources.messages import Message, msg

EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(9998, 12, 31)


def out_of_range(
    period_from: dt.date, period_to: dt.date, as_of: dt.date | None = None
) -> tuple[str, str] | None:
    """``(param, message)`` for the first day outside ``[EARLIEST, LATEST]``, else None."""
    wrong = out_of_range_words(period_from, period_to, as_of)
    return None if wrong is None else (wrong[0], wrong[1].text())


def out_of_range_words(
    period_from: dt.date, period_to: dt.date, as_of: dt.date | None = None
) -> tuple[str, Message] | None:
    """``out_of_range``, its message in words the workspace says in French too."""
    for param, words, day in (
        ("period_from", msg("what_period_from"), period_from),
        ("period_to", msg("what_period_to"), period_to),
        ("as_of", msg("what_as_of"), as_of),
    ):
        if day is not None and not EARLIEST <= day <= LATEST:
            return param, msg(
                "period_out_of_range",
                param=words,
                day=day,
                earliest=EARLIEST,
                latest=LATEST,
            )
    return None
