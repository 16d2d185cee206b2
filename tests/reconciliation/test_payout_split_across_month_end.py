"""A payout the bank credits in two parts across the month's end (6.00 EUR on Friday 30
October, 3.70 EUR on Monday 2 November): the ledger put the whole 9.70 EUR in the bank on
the 30th, so October's bank tie-out holds the part credited after the period in transit,
as it does a payout credited whole after it. Before, it counted nothing in transit and the
tie-out was 3.70 EUR apart with no discrepancy to say why."""

from __future__ import annotations

import dataclasses
import datetime as dt

from reconciliation.in_transit import bank_in_transit
from reconciliation.matching import reconcile
from tests.reconciliation.world import World, build

FRIDAY = dt.datetime(2026, 10, 30, 9, tzinfo=dt.UTC)


def _split(second_day: dt.date) -> World:
    w = build([[(1000, 30)]])
    w.payouts = [dataclasses.replace(w.payouts[0], arrival_date=FRIDAY.date())]
    w.psp = [dataclasses.replace(x, created=FRIDAY) for x in w.psp]
    w.ledger = [dataclasses.replace(x, effective_at=FRIDAY) for x in w.ledger]
    b = w.bank[0]
    w.bank = [
        dataclasses.replace(b, reference="PART1", amount=600, booking_date=FRIDAY.date()),
        dataclasses.replace(b, reference="PART2", amount=370, booking_date=second_day),
    ]
    return w


def test_the_part_credited_after_the_period_is_in_transit() -> None:
    inp = _split(dt.date(2026, 11, 2)).inputs()
    result = reconcile(inp)
    assert result.payout_matches == ((("po_000",), ("PART1", "PART2")),)
    assert result.discrepancies == ()
    assert bank_in_transit(inp, result) == {"EUR": 370}


def test_both_parts_in_the_period_leave_nothing_in_transit() -> None:
    inp = _split(dt.date(2026, 10, 30)).inputs()
    result = reconcile(inp)
    assert result.payout_matches == ((("po_000",), ("PART1", "PART2")),)
    assert bank_in_transit(inp, result) == {}


def test_payouts_suggested_only_for_credits_after_the_period_are_in_transit() -> None:
    """Two payouts of one amount on Friday 30 October, credited on Monday 2 November with no
    payout id: the credits are only suggested, but whichever goes with which, both were
    credited after the period, and the ledger holds both in the bank on the 30th."""
    w = build([[(1000, 30)], [(1000, 30)]])
    w.payouts = [dataclasses.replace(p, arrival_date=FRIDAY.date()) for p in w.payouts]
    w.psp = [dataclasses.replace(x, created=FRIDAY) for x in w.psp]
    w.ledger = [dataclasses.replace(x, effective_at=FRIDAY) for x in w.ledger]
    monday = dt.date(2026, 11, 2)
    w.bank = [dataclasses.replace(b, booking_date=monday, text="VIR") for b in w.bank]
    inp = w.inputs()
    result = reconcile(inp)
    assert result.payout_matches == () and len(result.suggestions) == 4
    assert bank_in_transit(inp, result) == {"EUR": 2 * 970}
