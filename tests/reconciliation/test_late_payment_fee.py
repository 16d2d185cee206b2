"""Matching, pure: a payment's fee the PSP reported after regie booked its success, booked
then on an entry of its own (read from its PSP posting as a fee and no money of the
payment: gross 0), is counted with the payment's entry, so the payment's fee is the PSP
line's; its order among the ledger's items does not matter (the Stripe flow and both
paths: ``tests/stripe/test_stripe_late_fee.py``)."""

from __future__ import annotations

import dataclasses

from reconciliation.matching import reconcile
from reconciliation.records import LedgerItem
from tests.reconciliation.test_matching import world

REF = "pi_00005"  # a payment of the world, its fee at the PSP 15


def booked_without_fee() -> tuple[list[LedgerItem], LedgerItem]:
    """The world's ledger with ``REF``'s success booked with no fee, and its late fee."""
    w = world()
    (paid,) = [i for i in w.ledger if i.ref == REF]
    late = LedgerItem("payment", REF, 0, paid.fee, paid.currency, ("je_late_fee",),
                      paid.effective_at)  # fmt: skip
    ledger = [dataclasses.replace(i, fee=0) if i.ref == REF else i for i in w.ledger]
    return ledger, late


def test_a_fee_booked_late_is_counted_with_its_payment() -> None:
    clean = reconcile(world().inputs())
    ledger, late = booked_without_fee()
    w = world()
    w.ledger = ledger
    (d,) = reconcile(w.inputs()).discrepancies  # the fee not booked (yet): a fee_mismatch
    assert (d.category, d.amount, d.psp_reference) == ("fee_mismatch", 15, REF)
    for order in ([*ledger, late], [late, *ledger]):
        w.ledger = order
        r = reconcile(w.inputs())
        assert r.discrepancies == () and r.suggestions == ()
        assert (r.matched_count, r.matched_amount) == (clean.matched_count, clean.matched_amount)
        assert r.clearing_cut_off == clean.clearing_cut_off
