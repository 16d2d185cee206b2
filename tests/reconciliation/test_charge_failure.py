"""A SEPA Direct Debit that bounces after Stripe counted it: its charge line (+25.00 EUR,
fee 0.35) and, days later, a ``charge_failure`` line (Stripe's ``payment_failure_refund``
type) taking the 25.00 back, naming the same PaymentIntent. regie books a payment only when
it succeeds and a succeeded payment never fails (``payments.states``): the ledger has
nothing for pi_1. The two lines are one payment's (``records.CHARGE_FAILURE``): what they
leave is the fee the PSP kept, said once and named by the payment; on the uploaded report
and from Stripe's port alike (which folds the failure into its refunds: its reporting
category tells)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from payments.providers.stripe import settlement
from reconciliation.matching import reconcile
from reconciliation.normalise import from_port, from_report
from reconciliation.records import Inputs, LedgerItem, PspLine
from reconciliation.sources.stripe_csv import PayoutReportRow
from tests.reconciliation.world import at

D1, D2 = dt.date(2026, 10, 5), dt.date(2026, 10, 12)


def _row(txn: str, cat: str, gross: int, fee: int, src: str, when: dt.datetime) -> PayoutReportRow:
    return PayoutReportRow(txn, "po_2", at(D2, 6), when, when, "EUR", gross, fee, gross - fee,
                           cat, src, "py_1", "pi_1", None, 2)  # fmt: skip


def _txn(id_: str, type_: str, cat: str, amount: int, fee: int, source: dict[str, Any],
         when: dt.datetime) -> dict[str, Any]:  # fmt: skip
    return {"id": id_, "object": "balance_transaction", "type": type_,
            "reporting_category": cat, "amount": amount, "fee": fee, "net": amount - fee,
            "currency": "eur", "created": int(when.timestamp()), "source": source}  # fmt: skip


def _report() -> list[PspLine]:
    return [
        from_report(_row("txn_c1", "charge", 2500, 35, "py_1", at(D1, 9))),
        from_report(_row("txn_f1", "charge_failure", -2500, 0, "pyr_1", at(D2, 3))),
    ]


def _port() -> list[PspLine]:
    charge = {"id": "py_1", "object": "charge", "payment_intent": "pi_1"}
    failure = {"id": "pyr_1", "object": "refund", "payment_intent": "pi_1", "charge": "py_1"}
    return [
        from_port(settlement.settlement_line(
            _txn("txn_c1", "payment", "charge", 2500, 35, charge, at(D1, 9)))),
        from_port(settlement.settlement_line(
            _txn("txn_f1", "payment_failure_refund", "charge_failure", -2500, 0, failure,
                 at(D2, 3)))),
    ]  # fmt: skip


def _run(lines: list[PspLine], ledger: tuple[LedgerItem, ...] = ()) -> Any:
    return reconcile(Inputs(
        period_from=dt.date(2026, 10, 1), period_to=dt.date(2026, 10, 31),
        psp_lines=tuple(lines), ledger_items=ledger, payouts=(), bank_lines=(),
        as_of=dt.date(2026, 11, 20),
    ))  # fmt: skip


def _said(r: Any) -> list[tuple[str, str | None, int]]:
    return sorted((d.category, d.psp_reference, d.amount) for d in r.discrepancies)


def test_a_bounced_debit_the_ledger_never_booked_is_one_discrepancy_the_fee_kept() -> None:
    """The charge and its failure cancel out: no payment to book (regie never took it as
    paid), and what is left is the 0.35 fee the PSP kept, money that left the balance with
    nothing in the ledger for it: one discrepancy, named by the payment, not a payment to
    book and a refund regie never made."""
    for lines in (_report(), _port()):
        assert [x.category for x in lines] == ["charge", "charge_failure"]
        r = _run(lines)
        (d,) = r.discrepancies
        assert (d.category, d.key, d.psp_reference, d.amount) == (
            "missing_in_ledger", "missing_in_ledger:failed:pi_1@35 EUR", "pi_1", 35,
        )  # fmt: skip
        assert "failed" in d.detail and "fee" in d.detail
        assert r.matched_count == 0 and dict(r.matched_amount) == {}


def test_a_bounced_debit_whose_charge_was_the_month_before_is_its_failure() -> None:
    """The charge was October's (its run said it missing in the ledger: the debit was on its
    way); November holds the failure alone: the 25.00 the PSP took back, named by the
    payment, offsetting what October said."""
    for lines in (_report(), _port()):
        r = _run(lines[1:])
        (d,) = r.discrepancies
        assert (d.category, d.key, d.psp_reference, d.amount) == (
            "missing_in_ledger", "missing_in_ledger:failed:pi_1@2500 EUR", "pi_1", 2500,
        )  # fmt: skip


def test_a_bounced_debit_the_ledger_booked_is_matched_once_and_its_failure_said() -> None:
    """Had the ledger booked pi_1 (a payment it holds as received), its charge matches it
    once and the failure, the money the PSP took back, is the one discrepancy."""
    paid = LedgerItem("payment", "pi_1", 2500, 35, "EUR", ("ent_p1",), at(D1, 9))
    for lines in (_report(), _port()):
        r = _run(lines, (paid,))
        (d,) = r.discrepancies
        assert (d.category, d.key, d.amount) == (
            "missing_in_ledger", "missing_in_ledger:failed:pi_1@2500 EUR", 2500,
        )  # fmt: skip
        assert r.matched_count == 1 and dict(r.matched_amount) == {"EUR": 2500}
