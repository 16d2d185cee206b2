"""A statement issued again whose corrected closing balance is its opening balance (the
correction takes the day's only entry out): the later issue counts, as for any other
closing balance. It was taken for a statement of the same day the first issue opened on,
imported after it, and the first issue's closing balance stood."""

from __future__ import annotations

import datetime as dt

from reconciliation.coverage import BalanceRow, closing_on, told

NOV_2 = dt.date(2026, 11, 2)


def _rows() -> list[BalanceRow]:
    return [
        BalanceRow(0, "i1", "D02#1", "EUR", "OPBD", 100, NOV_2),
        BalanceRow(1, "i1", "D02#1", "EUR", "CLBD", 150, NOV_2),
        # the same statement (id and sequence number) issued again: no entry, 100 to 100
        BalanceRow(2, "i2", "D02#1", "EUR", "OPBD", 100, NOV_2),
        BalanceRow(3, "i2", "D02#1", "EUR", "CLBD", 100, NOV_2),
    ]


def test_the_later_issue_of_a_statement_closing_on_its_opening_counts() -> None:
    assert closing_on(_rows(), NOV_2) == {"EUR": (100, NOV_2, "i2")}
    (eur,) = told(_rows())
    assert eur.closing == 100


def test_a_days_earlier_statement_imported_after_its_later_one_still_keeps_the_closing() -> None:
    """(What the out-of-order rule is for: two statements of one day, the second uploaded
    first.)"""
    rows = [
        BalanceRow(0, "i1", "D02b#2", "EUR", "OPBD", 150, NOV_2),
        BalanceRow(1, "i1", "D02b#2", "EUR", "CLBD", 180, NOV_2),
        BalanceRow(2, "i2", "D02a#1", "EUR", "OPBD", 100, NOV_2),
        BalanceRow(3, "i2", "D02a#1", "EUR", "CLBD", 150, NOV_2),
    ]
    assert closing_on(rows, NOV_2) == {"EUR": (180, NOV_2, "i1")}
