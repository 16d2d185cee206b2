"""The bank's balance at a period's end from a later statement's opening balance (pure).

A period whose days no imported statement closes on (a Saturday or a Sunday, or a TARGET2
closing day such as 25 December or Good Friday: the bank writes no statement for them) has
no closing balance to compare. The next statement's opening balance (``OPBD``, or ``PRCD``)
is the balance at the end of the day before it (dated on the statement's own day) or of the
day it is dated (dated earlier, as some banks date an opening: either, when it is dated a
day before the statement's). It is the balance at the period's end when it is dated at or
after that end and nothing was booked between them: no day between is a bank day (all are
weekend days or TARGET2 closing days, ``regie.kit.bank_days``: the bank books nothing then,
as ``book.told_until`` takes it) and no imported entry is booked on them (``quiet``: the
run looks). Anything else cannot be told, and there is no bank tie-out, as before. Monday 7
December's opening, dated the 7th or the 6th, is Saturday the 5th's and Sunday the 6th's
balance; dated Friday the 4th, it is not (Friday's, for all it says). Monday 28 December
2026's is Thursday the 24th's too: Friday the 25th is Christmas.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from reconciliation.coverage import OPENING, BalanceRow, _days
from regie.kit.bank_days import is_bank_day

_DAY = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class LaterOpening:
    """A statement's opening balance that is the period's end's, if nothing is booked on
    ``quiet`` (its first and last day, None when no day lies between)."""

    currency: str
    amount: int
    statement: str  # the statement's id
    day: dt.date  # the day it closes on
    import_id: str
    quiet: tuple[dt.date, dt.date] | None


def later_openings(rows: Iterable[BalanceRow], period_to: dt.date) -> dict[str, LaterOpening]:
    """Per currency, the opening balance of the first statement closing after
    ``period_to`` when it tells the balance at ``period_to``'s end (the module's
    docstring), but for the entries booked on its ``quiet`` days, which the caller reads."""
    rows = list(rows)
    closed: dict[tuple[str, dt.date], BalanceRow] = {}
    out: dict[str, LaterOpening] = {}
    for cur, by_day in _days(rows, closed).items():
        after = sorted(day for day in by_day if day > period_to)
        if not after:
            continue
        closing_day = after[0]
        opening, _, opened_on = by_day[closing_day]
        if opening is None:
            continue
        # the opening is the balance at the end of a day between ``lo`` and ``hi``
        lo = opened_on - _DAY
        hi = opened_on if opened_on < closing_day else lo
        if hi < period_to:
            continue  # dated before the period's end
        first, last = min(period_to, lo) + _DAY, max(period_to, hi)
        span = [first + k * _DAY for k in range((last - first).days + 1)]
        if any(is_bank_day(d) for d in span):
            continue  # a bank day between: the bank may have booked on it
        row = _opened_by(rows, cur, opening, opened_on, closed[(cur, closing_day)])
        out[cur] = LaterOpening(
            cur, opening, row.statement.rsplit("#", 1)[0], closing_day, row.import_id,
            (span[0], span[-1]) if span else None,
        )  # fmt: skip
    return out


def _opened_by(
    rows: list[BalanceRow], cur: str, amount: int, day: dt.date, closing: BalanceRow
) -> BalanceRow:
    """The opening balance's row: of the statements closing on the day, the last imported
    opening on it (a day in several statements opens in its first), else the closing's."""
    closes = {(r.import_id, r.statement) for r in rows
              if r.type not in OPENING and r.currency == cur and r.day == closing.day}  # fmt: skip
    found = [
        r for r in rows
        if r.type in OPENING and r.currency == cur and r.amount == amount and r.day == day
        and (r.import_id, r.statement) in closes
    ]  # fmt: skip
    return max(found, key=lambda r: r.seq) if found else closing
