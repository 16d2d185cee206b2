"""Bank days (pure): the days SEPA credit transfers settle, TARGET2's. TARGET2 is closed on
Saturdays and Sundays and on 1 January, Good Friday, Easter Monday, 1 May, 25 and 26
December (the ECB's calendar, as the ``holidays`` library gives it: its
``financial_holidays("ECB")``). The reconciliation counts its windows in them and the
simulated bank writes a statement on each; both import them from here, the kernel.

The closing days are computed once per process and year, when a day of that year is first
asked about (pure data: no I/O), so the same day is always the same answer."""

from __future__ import annotations

import datetime as dt
from functools import cache

import holidays

_DAY = dt.timedelta(days=1)


@cache
def closing_days(year: int) -> frozenset[dt.date]:
    """TARGET2's closing days of ``year`` falling Monday to Friday (the weekend's are
    closed anyway)."""
    found = holidays.financial_holidays("ECB", years=year)
    return frozenset(d for d in found if d.weekday() < 5)


def is_bank_day(day: dt.date) -> bool:
    """Whether TARGET2 is open on ``day``: a weekday that is not one of its closing days."""
    return day.weekday() < 5 and day not in closing_days(day.year)


def bank_days_between(a: dt.date, b: dt.date) -> int:
    """The bank days after the earlier date up to the later one (0 for the same day): from
    a Thursday 24 December to the Tuesday after, 2 (the 28th and the 29th)."""
    lo, hi = (a, b) if a <= b else (b, a)
    weeks, rest = divmod((hi - lo).days, 7)
    count = weeks * 5 + sum(1 for i in range(1, rest + 1) if (lo + i * _DAY).weekday() < 5)
    for year in range(lo.year, hi.year + 1):
        count -= sum(1 for d in closing_days(year) if lo < d <= hi)
    return count


def add_bank_days(day: dt.date, n: int) -> dt.date:
    """The ``n``-th bank day after ``day`` (``day`` itself for 0)."""
    while n > 0:
        day += _DAY
        if is_bank_day(day):
            n -= 1
    return day


def next_bank_day(day: dt.date) -> dt.date:
    """``day`` when it is a bank day, else the first bank day after it."""
    while not is_bank_day(day):
        day += _DAY
    return day


def previous_bank_day(day: dt.date) -> dt.date:
    """The last bank day before ``day``."""
    day -= _DAY
    while not is_bank_day(day):
        day -= _DAY
    return day
