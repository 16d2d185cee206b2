"""How far the bank's statements of an account tell, per currency (pure): the last day of
their unbroken run from the closing balance a run's bank tie-out compares.

A statement opens on the balance the one before it closed on (``OPBD``, or ``PRCD``), so
statements that follow on one another tell every day between them, even days the bank wrote
no statement for (many write none for a day without entries). A statement opening on
another balance follows a gap: a statement the bank wrote, with what it booked, was never
imported. The bank has then not told what it booked in the gap, whatever the statements
imported after it say: a payout due then is in transit, not missing in the bank
(``banking.bank_day``). Statements to Wednesday 28 October, then November's, opening on what
the bank held after 30 October's credit: they tell up to the 28th."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

OPENING = ("OPBD", "PRCD")
CLOSING = "CLBD"


@dataclass(frozen=True, slots=True)
class BalanceRow:
    """A statement's booked balance as imported: ``seq`` orders them as imported (the
    imports in their order, each file's statements in its order)."""

    seq: int
    import_id: str
    statement: str  # its statement's id and electronic sequence number (the pages of one)
    currency: str
    type: str
    amount: int
    day: dt.date
    # a closing balance's statement whose opening balance and booked entries add up to
    # another amount: that amount (``BankBalanceRow.computed``); else None
    computed: int | None = None


def covered_until(rows: Iterable[BalanceRow], until: dt.date) -> dict[str, dt.date]:
    """Per currency, the last day the statements tell without a gap from the latest closing
    balance on or before ``until`` (the period's end; from the first statement when none is),
    whichever import gave them. A statement's opening is the one before its closing in the
    same import (a statement split in pages opens on its first and closes on its last); one
    without an opening balance is taken to follow on. Of the statements of one day, the one
    imported last counts (a statement issued again), unless it opens on what the day closed
    on (the day goes on in it: ``_days``)."""
    return _covered(_days(rows), until)


def _covered(days: dict[str, dict[dt.date, _Told]], until: dt.date) -> dict[str, dt.date]:
    """``covered_until`` of the statements' days (``_days``)."""
    out: dict[str, dt.date] = {}
    for cur, by_day in days.items():
        ordered = sorted(by_day.items())
        start = [i for i, (day, _) in enumerate(ordered) if day <= until]
        i = start[-1] if start else 0
        day = ordered[i][0]
        for j in range(i + 1, len(ordered)):
            if _after(ordered, j) is not None:
                break  # a statement before this one was never imported
            day = ordered[j][0]
        out[cur] = day
    return out


# a day's statements: (opening or None, closing, the opening's day)
_Told = tuple[int | None, int, dt.date]
_Day = tuple[dt.date, _Told]


def _after(ordered: list[_Day], j: int) -> dt.date | None:
    """None when the ``j``-th day's statement follows on the one before it; else the day
    after which a statement was never imported. A statement opening on a day the ones
    before it told already (a month's statement over daily ones, from overlapping files)
    follows the statement closed on its opening's day or the day before it (as banks date
    an opening), or nothing imported before it."""
    day, (_, closed, _) = ordered[j - 1]
    opened, opened_on = ordered[j][1][0], ordered[j][1][2]
    if opened is None or opened == closed:
        return None
    if opened_on > day:
        return day
    before = [(d, c) for d, (_, c, _) in ordered[:j] if d <= opened_on]
    if not before or opened == before[-1][1]:
        return None
    earlier = [(d, c) for d, c in before if d < opened_on]
    if earlier and opened == earlier[-1][1]:
        return None
    return (earlier or before)[-1][0]


def gaps(rows: Iterable[BalanceRow]) -> dict[str, tuple[tuple[dt.date, dt.date], ...]]:
    """Per currency, the days no imported statement tells of, between two statements that
    do not follow on (the second opens on another balance than the first closed on): from
    the day after the first to the day before the second, or to its opening balance's day
    when that is earlier (a statement of several days: a month's opens on its first day, or
    on the day before). A payout due then and never found is still missing in the bank (the
    statements after the gap hold its credit in their balances, if anywhere), and its
    discrepancy says where to look (``banking``). A statement over days told already follows
    the one before its opening (``_after``). Two statements that do not follow on with no
    day between them are a break (``breaks``), not a gap: no day's statement is missing."""
    return _split(_days(rows))[0]


def breaks(rows: Iterable[BalanceRow]) -> dict[str, tuple[tuple[dt.date, dt.date], ...]]:
    """Per currency, the statements that do not open on what the statement before them
    closed on, though no day lies between them: (that statement's day, the day before's).
    Statements of 3 and 4 December, the 4th opening on another balance: a statement was
    issued again, or the bank wrote one more that day, never imported."""
    return _split(_days(rows))[1]


_Spans = dict[str, tuple[tuple[dt.date, dt.date], ...]]
# per currency: the last day told without a gap, the gaps, the breaks
Coverage = tuple[dict[str, dt.date], _Spans, _Spans]


def coverage(rows: Iterable[BalanceRow], until: dt.date) -> Coverage:
    """What a run reads of the statements: ``covered_until``, ``gaps`` and ``breaks``, from
    their days worked out once."""
    days = _days(rows)
    return (_covered(days, until), *_split(days))


def _split(days: dict[str, dict[dt.date, _Told]]) -> tuple[_Spans, _Spans]:
    """``gaps`` and ``breaks`` of the statements' days (``_days``). Days between that all
    have a statement imported are no gap: the statement follows the one of the day before
    in a break (its opening dated the day before, as some banks date it, made it seem to
    follow the statement before that one)."""
    found: tuple[dict[str, list[tuple[dt.date, dt.date]]], ...] = ({}, {})
    for cur, by_day in days.items():
        ordered = sorted(by_day.items())
        for j, (later, (_, _, opened_on)) in enumerate(ordered):
            day = _after(ordered, j) if j else None
            if day is None:
                continue
            lo = day + dt.timedelta(days=1)
            hi = min(later - dt.timedelta(days=1), opened_on)
            told = [lo + dt.timedelta(days=k) in by_day for k in range((hi - lo).days + 1)]
            if hi >= lo and not all(told):
                found[0].setdefault(cur, []).append((lo, hi))
            else:
                found[1].setdefault(cur, []).append((later, ordered[j - 1][0]))
    gap, brk = ({cur: tuple(v) for cur, v in f.items()} for f in found)
    return gap, brk


@dataclass(frozen=True, slots=True)
class Told:
    """What the statements of one currency tell, for the bank statements page: the first and
    the last day a statement closed on, the closing balance of the last (the statement
    imported last, for a day issued twice), the days no imported statement tells of
    (``gaps``) and the statements that do not open on the day before's balance
    (``breaks``: the statement's day, the day before's)."""

    currency: str
    first: dt.date
    last: dt.date
    closing: int
    gaps: tuple[tuple[dt.date, dt.date], ...]
    breaks: tuple[tuple[dt.date, dt.date], ...] = ()


def told(rows: Iterable[BalanceRow]) -> list[Told]:
    """Per currency (in the codes' order), what the statements tell (``Told``)."""
    days = _days(rows)
    spans, brk = _split(days)
    return [
        Told(cur, min(by_day), max(by_day), by_day[max(by_day)][1], spans.get(cur, ()),
             brk.get(cur, ()))
        for cur, by_day in sorted(days.items())
    ]  # fmt: skip


def closing_on(rows: Iterable[BalanceRow], until: dt.date) -> dict[str, tuple[int, dt.date, str]]:
    """Per currency, the closing balance of the last day on or before ``until`` a statement
    closed on, with that day and the import that gave it: the day's last statement (of a
    day in several statements, whatever order their files came in; of a statement issued
    again, the one imported last). The bank tie-out compares it."""
    return {cur: (amount, day, row.import_id) for cur, (amount, day, row) in
            closing_rows(rows, until).items()}  # fmt: skip


def closing_rows(
    rows: Iterable[BalanceRow], until: dt.date
) -> dict[str, tuple[int, dt.date, BalanceRow]]:
    """``closing_on``, with the closing balance's own row (its import, its statement, and
    what that statement's entries add up to when they do not make it: ``computed``)."""
    rows = list(rows)
    ends = {(r.import_id, r.statement) for r in rows if r.type == CLOSING and r.day <= until}
    closed: dict[tuple[str, dt.date], BalanceRow] = {}
    days = _days([r for r in rows if (r.import_id, r.statement) in ends], closed)
    out: dict[str, tuple[int, dt.date, BalanceRow]] = {}
    for cur, by_day in days.items():
        last = max(by_day)
        out[cur] = (by_day[last][1], last, closed[(cur, last)])
    return out


def _days(
    rows: Iterable[BalanceRow], imports: dict[tuple[str, dt.date], BalanceRow] | None = None
) -> dict[str, dict[dt.date, _Told]]:
    """Per currency and closing day, the statement imported last: (opening or None, closing,
    the opening's day, or the closing's when it has no opening). A statement of the same day
    opening on what it closed on continues it (a bank writing a day in several statements):
    the day opens where the first opened and closes where the last closed; one closing on
    what the day opened on comes before it (the day's files imported out of order); one
    counted already with the same balances (a file uploaded again) changes nothing.
    ``imports`` gets, per currency and day, the row of the day's closing balance."""
    days: dict[str, dict[dt.date, _Told]] = {}
    imports = {} if imports is None else imports
    closed_by: dict[tuple[str, dt.date], str] = {}  # the statement that closed each day
    # each statement counted in a day, with its balances: (currency, day, statement) -> them
    counted: dict[tuple[str, dt.date, str], tuple[int | None, int]] = {}
    opening: dict[tuple[str, str], tuple[str, int, dt.date]] = {}
    for r in sorted(rows, key=lambda r: r.seq):
        where = (r.import_id, r.currency)
        if r.type in OPENING:
            if opening.get(where, ("", 0))[0] != r.statement:  # (not a later page's)
                opening[where] = (r.statement, r.amount, r.day)
        elif r.type == CLOSING:
            was = opening.pop(where, None)
            by_day = days.setdefault(r.currency, {})
            mine = (r.currency, r.day, r.statement)
            balances = (was[1] if was is not None and was[0] == r.statement else None, r.amount)
            if counted.get(mine) == balances:
                continue  # the same statement again, unchanged: the day stays as it is
            counted[mine] = balances
            if was is not None and was[0] == r.statement:
                day = by_day.get(r.day)
                if day is not None and was[1] == day[1]:
                    # the day goes on in another statement opening on what the one before
                    # closed on (a bank splitting a day): the day keeps its opening
                    by_day[r.day] = (day[0], r.amount, day[2])
                elif (
                    day is not None
                    and day[0] is not None
                    and r.amount == day[0]
                    and closed_by.get((r.currency, r.day)) != r.statement
                ):
                    # a statement the day's later one opened on, imported after it: the
                    # day keeps its closing (not the same statement issued again, closing
                    # on its opening: that issue counts)
                    by_day[r.day] = (was[1], day[1], was[2])
                    continue
                else:
                    by_day[r.day] = (was[1], r.amount, was[2])
            else:
                by_day[r.day] = (None, r.amount, r.day)
            imports[(r.currency, r.day)] = r
            closed_by[(r.currency, r.day)] = r.statement
    return days
