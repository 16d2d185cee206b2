"""Stripe's itemised payout reconciliation report with the lines a public body's account
sees besides charges and refunds, reconciled on both paths (the pure rounds, and the bulk
path on PostgreSQL), with the bank's statement: each line the ledger cannot explain must
be a discrepancy of its amount, and a payout whose lines add up to it is no mismatch.

The month is ``tests.reconciliation.test_bulk.Month`` (300 payments over 4 payouts, the
ledger booked as regie books it, a camt.053 with each payout's credit), with one line of
the category under test added to payout ``po_t2``: the PSP's payout, the ledger's payout
entry (``payout.paid`` carries the payout's amount) and the bank's credit all include it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.reconciliation.test_bulk import DAY0, Month, _book, _run

pytestmark = pytest.mark.postgres

K = 2  # the payout the line is in: po_t2 (po_t1 carries test_bulk's own planted mismatch)


def _month(category: str, gross: int, src: str) -> Month:
    m = Month(300, 11)
    at = DAY0 + dt.timedelta(days=17, hours=3)
    m._line(K, f"txn_{category}", at, gross, 0, category, src, "", "")
    m.booked_nets[K] += gross  # the ledger's payout entry is the payout's amount
    return m


async def _both(app: Any, m: Month, bulk_calls: list[bool]) -> tuple[Any, Any]:
    await _book(app, m)
    pure = await _run(app, False, m.csv(), m.camt())
    bulk = await _run(app, True, m.csv(), m.camt())
    assert bulk_calls == [True]
    return pure, bulk


@pytest.mark.parametrize(
    ("category", "gross", "src"),
    [
        ("fee", -500, "txn_radar_fee"),  # Radar / Billing fees charged as their own line
        ("network_cost", -37, "txn_network_cost"),
        ("tax", -105, "txn_tax_on_fees"),
        ("other_adjustment", -1000, "ia_adjustment"),
        ("risk_reserved_funds", -2000, "rsv_hold"),
        ("topup", 5000, "tu_cover_negative_balance"),
    ],
)
async def test_a_line_the_ledger_has_nothing_for_is_a_discrepancy_of_its_amount(
    app: Any, bulk_calls: list[bool], category: str, gross: int, src: str
) -> None:
    """A finance officer reconciling October with Stripe's report sees no trace of the
    5.00 EUR Radar fee (or network cost, tax on fees, adjustment, reserve) Stripe took out
    of payout po_t2: the line is summed into the payout (which the bank and the ledger's
    payout entry then agree with) but never compared with the ledger, which has no entry
    for it; and a run on a report has no PSP clearing tie-out to show the gap. The
    ledger's PSP clearing account keeps 5.00 EUR that left it, and the run says the month
    reconciles. They should see a discrepancy of the line's amount (missing in the
    ledger), on both paths."""
    m = _month(category, gross, src)
    pure, bulk = await _both(app, m, bulk_calls)
    assert bulk["discrepancies"] == pure["discrepancies"]
    names = {f"txn_{category}", src, f"po_t{K}"}
    about = [d for d in pure["discrepancies"]
             if names & {d[4], d[5]} or any(n in d[0] for n in names)]  # fmt: skip
    assert [(d[2], d[3]) for d in about] == [(abs(gross), "EUR")], pure["discrepancies"]


async def test_a_payout_carrying_a_failed_payouts_money_back_is_no_payout_mismatch(
    app: Any, bulk_calls: list[bool]
) -> None:
    """An earlier payout (po_failed, 24.37 EUR) was refused by the bank; Stripe put its money
    back in the balance (a balance transaction of reporting category ``payout_reversal``)
    and the next automatic payout, po_t2, carried it: the report lists that line under
    po_t2, and po_t2's amount, the bank's credit and the ledger's payout entry all include
    the 24.37 EUR. The finance officer sees ``payout_mismatch`` 24.37 EUR on po_t2
    ("payout N, its lines' net N - 2437"), on both paths: the report's payout is the sum of
    all its lines (``ReportFolder``, ``bulk_sql.SUMMARY``), but the integrity check leaves
    out the lines of category ``payout`` (``payout_rounds.payout_integrity``), so a payout is
    compared with its own lines minus one of them. Its lines add up to it: they should see
    nothing about po_t2."""
    m = _month("payout_reversal", 2437, "po_failed")
    pure, bulk = await _both(app, m, bulk_calls)
    assert bulk["discrepancies"] == pure["discrepancies"]
    about = [d for d in pure["discrepancies"] if d[5] == f"po_t{K}"]
    assert about == [], about


async def test_a_debit_the_payers_bank_refused_is_the_fee_kept_on_both_paths(
    app: Any, bulk_calls: list[bool]
) -> None:
    """A SEPA debit of 25.00 EUR (fee 0.35) that the payer's bank refused after Stripe counted
    it: its charge line and its ``charge_failure`` line, both in po_t2, and nothing in the
    ledger (regie books a payment when it succeeds). The report's payout nets them (-0.35);
    the ledger's payout entry and the bank's credit agree with it. Both paths say one thing
    about it: the 0.35 the PSP kept, named by the payment."""
    m = Month(300, 11)
    at = DAY0 + dt.timedelta(days=17, hours=3)
    m._line(K, "txn_sepa", at, 2500, 35, "charge", "py_sepa", "py_sepa", "pi_sepa")
    m._line(K, "txn_sepa_back", at + dt.timedelta(days=2), -2500, 0, "charge_failure",
            "pyr_sepa", "py_sepa", "pi_sepa")  # fmt: skip
    m.booked_nets[K] += -35
    pure, bulk = await _both(app, m, bulk_calls)
    assert bulk["discrepancies"] == pure["discrepancies"]
    about = [d for d in pure["discrepancies"] if "sepa" in str(d)]
    assert [(d[1], d[2], d[4]) for d in about] == [("missing_in_ledger", 35, "pi_sepa")], about
