"""A payout the bank refused, seen through Stripe's itemised payout reconciliation report.

What Stripe writes for it (the facts the cases below are built on):

- a payout that fails or is canceled gets a second balance transaction, its
  ``failure_balance_transaction``, which "reversed the initial balance transaction, and puts
  the funds from the failed payout back in your balance" (the Payout object,
  https://docs.stripe.com/api/payouts/object); its type is ``payout_failure`` (or
  ``payout_cancel``), its reporting category ``payout_reversal``, its source the payout that
  failed (https://docs.stripe.com/reports/reporting-categories,
  https://docs.stripe.com/reports/balance-transaction-types);
- listed by payout (``GET /v1/balance_transactions?payout=``,
  https://docs.stripe.com/payouts/reconciliation), the failed payout keeps the charges it
  was made of, and the next automatic payout carries that failure line, which is how the
  money reaches the bank; the report's ``automatic_payout_id`` is "the automatically created
  payout associated with this balance transaction"
  (https://docs.stripe.com/reports/report-types/payout-reconciliation);
- the Dashboard's report shows failed automatic payouts in a section of their own
  (https://docs.stripe.com/reports/payout-reconciliation).

So a report of the month may hold the failed payout's own rows (po_A: its charge), next to
the payout that carried its money back (po_B: the ``payout_reversal`` row naming po_A, and
po_B's own charge); or hold the failed payout's rows under po_B (its charge, its payout line
and its reversal). Either way the bank credits po_B only, the ledger books po_A out and back
(``payout.paid``, ``payout.failed``) and po_B out: nothing is to be looked at, and the
failure the ledger did not book is.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from reconciliation.matching import reconcile
from reconciliation.normalise import ReportFolder
from reconciliation.records import BankLine, Inputs, LedgerItem, Payout
from reconciliation.sources.stripe_csv import (
    PayoutReportRow,
    parse_stripe_payout_csv,
    write_stripe_payout_csv,
)
from tests.reconciliation.test_bulk_typing_fuzz import typed
from tests.reconciliation.world import at

D1, D2, D3 = dt.date(2026, 10, 12), dt.date(2026, 10, 13), dt.date(2026, 10, 14)
BACK = 2437  # po_A: 25.00 EUR less 0.63 EUR of fee, refused by the bank on D2
NEXT = 5000 - 65 + BACK  # po_B: its own payment's net and po_A's money back


def _row(txn: str, cat: str, gross: int, fee: int, payout: str, eff: dt.date, src: str,
         when: dt.datetime, pi: str | None = None) -> PayoutReportRow:  # fmt: skip
    return PayoutReportRow(txn, payout, at(eff, 0), when, when, "EUR", gross, fee, gross - fee,
                           cat, src, src if pi else None, pi, None, 2)  # fmt: skip


def _charge_1(payout: str, eff: dt.date) -> PayoutReportRow:
    return _row("txn_c1", "charge", 2500, 63, payout, eff, "ch_1", at(D1, 9), "pi_1")


_CHARGE_2 = _row("txn_c2", "charge", 5000, 65, "po_B", D3, "ch_2", at(D3, 9), "pi_2")
_BACK = _row("txn_fail", "payout_reversal", BACK, 0, "po_B", D3, "po_A", at(D2, 8))
_OUT_A = _row("txn_poA", "payout", -BACK, 0, "po_B", D3, "po_A", at(D1, 12))

# po_A's rows under po_A, the failure line under po_B, which carried it
OWN_ROWS = [_charge_1("po_A", D1), _BACK, _CHARGE_2]
# po_A's rows under po_B: its charge, its payout going out and coming back
MOVED_ROWS = [_charge_1("po_B", D3), _OUT_A, _BACK, _CHARGE_2]

LEDGER = (
    LedgerItem("payment", "pi_1", 2500, 63, "EUR", ("ent_p1",), at(D1, 9)),
    LedgerItem("payout", "po_A", -BACK, 0, "EUR", ("ent_poA",), at(D1, 12)),
    LedgerItem("payout", "po_A", BACK, 0, "EUR", ("ent_poA_back",), at(D2, 8)),
    LedgerItem("payment", "pi_2", 5000, 65, "EUR", ("ent_p2",), at(D3, 9)),
    LedgerItem("payout", "po_B", -NEXT, 0, "EUR", ("ent_poB",), at(D3, 12)),
)
BANK = (BankLine("BANK2", NEXT, "credit", "EUR", D3, "STRIPE po_B"),)  # po_A never arrived


def _csv(rows: list[PayoutReportRow]) -> bytes:
    return write_stripe_payout_csv(rows)


def _inputs(data: bytes, ledger: tuple[LedgerItem, ...] = LEDGER) -> Inputs:
    """The month as a run on the uploaded report reads it (``service._report``)."""
    folder = ReportFolder()
    lines = [folder.add(r) for r in parse_stripe_payout_csv(data, "r.csv").rows]
    return Inputs(
        period_from=dt.date(2026, 10, 1), period_to=dt.date(2026, 10, 31),
        psp_lines=tuple(lines), ledger_items=ledger, payouts=tuple(folder.payouts()),
        bank_lines=BANK, as_of=dt.date(2026, 11, 20),
        psp_covered_until={"EUR": max(x.created for x in lines)},
    )  # fmt: skip


def _seen(inp: Inputs) -> list[tuple[str, str | None, int]]:
    return sorted((d.category, d.payout_id, d.amount) for d in reconcile(inp).discrepancies)


def _without_back(ledger: tuple[LedgerItem, ...]) -> tuple[LedgerItem, ...]:
    return tuple(i for i in ledger if i.entry_ids != ("ent_poA_back",))


# -- the failed payout's own rows in the report ---------------------------------------------


def test_the_failed_payout_is_announced_as_come_back_whole_on_both_paths() -> None:
    """po_A's rows add up to 24.37 EUR and po_B carries a failure line naming it: po_A
    reached the bank with nothing (as the port's ``payouts_from_lines`` says of the same
    balance transactions), po_B with everything it was sent for."""
    data = _csv(OWN_ROWS)
    expected = [Payout("po_A", 0, "EUR", D1, returned=BACK), Payout("po_B", NEXT, "EUR", D3)]
    assert list(_inputs(data).payouts) == expected
    bulk = typed(data)
    assert bulk is not None and not isinstance(bulk, str)
    assert bulk[1] == expected


def test_a_failed_payout_whose_money_the_next_one_carried_is_nothing_to_look_at() -> None:
    """Not ``missing_in_bank`` for po_A (it failed: the bank was never to credit it), not
    ``payout_mismatch`` for po_A (the ledger booked it out and back, 0 net, as Stripe did);
    po_B matched to the bank's credit."""
    r = reconcile(_inputs(_csv(OWN_ROWS)))
    assert r.discrepancies == (), r.discrepancies
    assert r.payout_matches == ((("po_B",), ("BANK2",)),)
    assert r.in_transit == ()


def test_a_failure_the_ledger_did_not_book_is_po_as_mismatch() -> None:
    """regie never heard ``payout.failed``: the ledger still has po_A at the bank. That, and
    only that, is for the finance officer to look at."""
    inp = _inputs(_csv(OWN_ROWS), _without_back(LEDGER))
    assert _seen(inp) == [("payout_mismatch", "po_A", BACK)]


# -- the failed payout's rows under the next payout -------------------------------------------


def test_a_failed_payout_listed_under_the_next_one_is_nothing_to_look_at() -> None:
    """po_A's out line and its failure, both under po_B, name po_A: the PSP lists it, and
    the ledger's two entries for it agree with them (no ``missing_at_psp`` of 0.00)."""
    r = reconcile(_inputs(_csv(MOVED_ROWS)))
    assert r.discrepancies == (), r.discrepancies
    assert r.payout_matches == ((("po_B",), ("BANK2",)),)


def test_a_failed_payout_under_the_next_one_the_ledger_booked_otherwise_is_said() -> None:
    """The ledger booked po_A out for 1.00 EUR more than Stripe sent: po_A's mismatch."""
    ledger = tuple(
        dataclasses.replace(i, gross=-BACK - 100) if i.entry_ids == ("ent_poA",) else i
        for i in LEDGER
    )
    assert _seen(_inputs(_csv(MOVED_ROWS), ledger)) == [("payout_mismatch", "po_A", 100)]
    assert _seen(_inputs(_csv(MOVED_ROWS), _without_back(LEDGER))) == [
        ("missing_in_ledger", "po_A", BACK)
    ]
