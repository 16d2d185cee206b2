"""Matching, pure, at a period's edges: what the PSP did in another period is compared in that
period's run, even when the ledger is read a week either side of this one."""

from __future__ import annotations

import dataclasses
import datetime as dt

from reconciliation.matching import reconcile
from reconciliation.records import CHARGE, DISPUTE, REFUND, Inputs, LedgerItem, PspLine
from tests.reconciliation.world import START, World, at, build

NEXT_MONTH = dt.date(2026, 11, 3)


def world() -> World:
    # payment 1 refunded 400 (re_1), payment 3 disputed for 1200 with a fee of 150 (du_3)
    return build([[(2500, 40), (1000, 25)], [(5000, 65), (1200, 27)]],
                 refunds={1: 400}, dispute=(3, 1200, 150))  # fmt: skip


def _reversals(w: World, day: dt.date) -> None:
    """The refund fails and the dispute is won on ``day``: the ledger books the money back
    (the dispute's fee given back is an entry of its own, as the ledger books it)."""
    w.ledger += [
        LedgerItem("refund", "re_1", 400, 0, "EUR", ("ent_rr1",), at(day, 10)),
        LedgerItem("dispute", "du_3", 1200, 0, "EUR", ("ent_dw3",), at(day, 11)),
        LedgerItem("dispute", "du_3", 0, -150, "EUR", ("ent_df3",), at(day, 11)),
    ]


def _lines_back(w: World, day: dt.date) -> None:
    """The PSP's lines of the same: a refund failure, a dispute reversal (fee given back)."""
    w.psp += [
        PspLine("txn_rf1", REFUND, ("re_1", "pi_00001"), 400, 0, 400, "EUR", None, at(day, 9)),
        PspLine("txn_dr3", DISPUTE, ("du_3", "pi_00003"), 1200, -150, 1350, "EUR", None,
                at(day, 9)),
    ]  # fmt: skip


def test_a_refund_failed_and_a_dispute_won_next_month_leave_this_month_clean() -> None:
    """The ledger's reversals of 3 November are read (a week past October) but are
    November's, with their own lines at the PSP: October compares its lines with its own
    entries (it summed them all: "PSP -400, ledger 0" and "PSP -1200, ledger 0")."""
    w = world()
    _reversals(w, NEXT_MONTH)
    r = reconcile(w.inputs())
    assert r.discrepancies == ()
    assert r.matched_count == 4 + 1 + 1


def test_next_month_compares_the_reversals_lines_with_the_reversals() -> None:
    """November's run has the PSP's lines of November, and the ledger of the week before
    too: the refund's and the dispute's October entries are not summed with November's."""
    w = world()
    _reversals(w, NEXT_MONTH)
    _lines_back(w, NEXT_MONTH)
    w.psp = [x for x in w.psp if x.created.month == 11]  # November's lines only
    nov = dataclasses.replace(
        w.inputs(), period_from=dt.date(2026, 11, 1), period_to=dt.date(2026, 11, 30),
        payouts=(), bank_lines=(),
    )  # fmt: skip
    r = reconcile(nov)
    assert r.discrepancies == ()
    assert r.matched_count == 2


def test_a_reversal_the_psp_does_not_list_is_missing_at_the_psp_once() -> None:
    """Reversed in the period, with no line at the PSP for it: the ledger's reversal is
    missing at the PSP, once per object (the dispute's fee given back is part of it), and
    what the PSP did list still matches."""
    w = world()
    _reversals(w, START + dt.timedelta(days=20))
    r = reconcile(w.inputs())
    assert [(d.category, d.psp_reference, d.amount, d.ledger_entry) for d in r.discrepancies] == [
        ("missing_at_psp", "du_3", 1200, "ent_dw3"),
        ("missing_at_psp", "re_1", 400, "ent_rr1"),
    ]
    assert r.matched_count == 4 + 1 + 1


def test_a_reversal_the_ledger_does_not_book_is_missing_in_the_ledger() -> None:
    """November's run has the refund's failure at the PSP; the ledger never booked it, only
    the refund of October (read, a week before the period): the failure is missing in the
    ledger, not an amount mismatch of the failure against the refund."""
    w = world()
    _lines_back(w, NEXT_MONTH)
    w.psp = [x for x in w.psp if x.id == "txn_rf1"]
    nov = dataclasses.replace(
        w.inputs(), period_from=dt.date(2026, 11, 1), period_to=dt.date(2026, 11, 30),
        payouts=(), bank_lines=(),
    )  # fmt: skip
    r = reconcile(nov)
    assert [(d.category, d.psp_reference, d.amount) for d in r.discrepancies] == [
        ("missing_in_ledger", "re_1", 400)
    ]


def test_both_ways_in_one_period_are_summed_per_object() -> None:
    """Refunded and failed in the same period at the PSP, the failure not booked: the
    object's lines are summed against its entries, as they always were."""
    w = world()
    _lines_back(w, START + dt.timedelta(days=20))
    w.psp = [x for x in w.psp if x.id != "txn_dr3"]
    r = reconcile(w.inputs())
    assert [(d.category, d.psp_reference, d.amount) for d in r.discrepancies] == [
        ("amount_mismatch", "re_1", 400)
    ]


def _november(w: World, before: tuple[PspLine, ...]) -> Inputs:
    return dataclasses.replace(
        w.inputs(), period_from=dt.date(2026, 11, 1), period_to=dt.date(2026, 11, 30),
        psp_lines=(), payouts=(), bank_lines=(), psp_before=before,
    )  # fmt: skip


def test_a_payment_booked_after_midnight_is_the_previous_periods() -> None:
    """The PSP charged at 23:59:30 on 31 October, the ledger booked it at 00:00:30 on 1
    November: October's run matched them; November's, given the PSP's lines of the week
    before it, does not call the entry missing at the PSP (nor counts it matched)."""
    line = PspLine("txn_m", CHARGE, ("pi_m", "ch_m"), 2500, 63, 2437, "EUR", None,
                   dt.datetime(2026, 10, 31, 23, 59, 30, tzinfo=dt.UTC))  # fmt: skip
    item = LedgerItem("payment", "pi_m", 2500, 63, "EUR", ("ent_m",),
                      dt.datetime(2026, 11, 1, 0, 0, 30, tzinfo=dt.UTC))  # fmt: skip
    w = World(psp=[line], ledger=[item])
    assert reconcile(w.inputs()).discrepancies == ()  # October
    r = reconcile(_november(w, (line,)))
    assert r.discrepancies == () and r.matched_count == 0
    # without the PSP's lines before the period, it would be missing at the PSP
    assert [d.category for d in reconcile(_november(w, ())).discrepancies] == ["missing_at_psp"]


def test_an_entry_whose_psp_line_is_not_before_the_period_is_still_missing() -> None:
    """The lines before the period excuse only the entries they name, and only the way they
    move money: a refund's failure booked in November for a refund the PSP made in October
    (no failure line) is missing at the PSP, and so is a payment the PSP never made."""
    w = world()
    _reversals(w, NEXT_MONTH)
    w.ledger.append(LedgerItem("payment", "pi_ghost", 700, 10, "EUR", ("ent_g",), at(NEXT_MONTH)))
    r = reconcile(_november(w, tuple(w.psp)))
    assert [(d.category, d.psp_reference, d.amount) for d in r.discrepancies] == [
        ("missing_at_psp", "du_3", 1200),
        ("missing_at_psp", "pi_ghost", 700),
        ("missing_at_psp", "re_1", 400),
    ]
