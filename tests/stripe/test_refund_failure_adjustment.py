"""Stripe's balance transactions of the categories a public body's account sees, read
through the Stripe adapter (``payments.providers.stripe.settlement.settlement_line``) and
folded for matching (``reconciliation.normalise.from_port``).

Stripe documents that ``reporting_category`` "separates balance transactions with
``type=adjustment`` into several different categories, including disputes, dispute
reversals, and failed refunds" (docs.stripe.com/reports/reporting-categories): a refund
that fails after it was paid out (the card was closed, the money comes back) is a balance
transaction of type ``adjustment``, reporting category ``refund_failure``, whose source is
the refund. The adapter promotes an adjustment to a dispute by its reporting category, but
not to a refund: the failure becomes an ``other`` line that matching never looks at, and
the ledger's correct reversal of the refund is reported as missing at the PSP."""

from __future__ import annotations

import datetime as dt

from payments.providers.stripe.settlement import settlement_line
from reconciliation.matching import reconcile
from reconciliation.normalise import from_port
from reconciliation.records import REFUND, LedgerItem
from tests.reconciliation.world import at, build

CREATED = at(dt.date(2026, 10, 20), 10)


def _refund_failure_txn(amount: int) -> dict[str, object]:
    """The balance transaction Stripe lists (``expand=data.source``) for refund ``re_3``
    of charge ``ch_00003`` / PaymentIntent ``pi_00003`` failing: its money is back."""
    return {
        "id": "txn_refund_failure_1",
        "object": "balance_transaction",
        "amount": amount,
        "fee": 0,
        "net": amount,
        "currency": "eur",
        "created": int(CREATED.timestamp()),
        "available_on": int(CREATED.timestamp()),
        "type": "adjustment",
        "reporting_category": "refund_failure",
        "status": "available",
        "fee_details": [],
        "source": {
            "id": "re_3",
            "object": "refund",
            "amount": amount,
            "charge": "ch_00003",
            "payment_intent": "pi_00003",
            "currency": "eur",
            "status": "failed",
        },
    }


def test_a_refund_failure_adjustment_is_a_refund_line() -> None:
    line = from_port(settlement_line(_refund_failure_txn(1000)))
    assert line.category == REFUND, line
    assert line.refs[0] == "re_3"


def test_a_refund_failure_adjustment_matches_the_ledgers_reversal() -> None:
    """A refund of 10.00 EUR made, booked and paid out; it fails on 20 October and the
    ledger reverses it (``refund_reversed``: +1000 on the PSP's account), as the PSP's
    adjustment says. The finance officer should see nothing to explain; they see
    ``missing_at_psp`` 10.00 EUR on ``re_3`` ("the ledger books refund re_3; the PSP has
    no such line"), and the PSP's own line about it is never compared with anything."""
    w = build([[(2500, 63), (3000, 70), (4000, 81)], [(2500, 63), (1200, 40)]], refunds={3: 1000})
    line = from_port(settlement_line(_refund_failure_txn(1000)))
    w.psp.append(line)
    w.ledger.append(LedgerItem("refund", "re_3", 1000, 0, "EUR", ("ent_rev3",), CREATED))
    result = reconcile(w.inputs())
    assert result.discrepancies == (), result.discrepancies
