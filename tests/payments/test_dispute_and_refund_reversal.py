"""A refund that fails after it succeeded (the bank returned the money), on an invoice
whose payment was also charged back and lost: the payer got the money back through the
chargeback all the same. What the invoice counts as refunded is what the payer got back
(refunds that stand, plus what the chargeback kept), never more than was paid, before
and after the refund's failure alike."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Keys
from tests.payments.test_disputes import (
    apply_all,
    balances,
    event,
    invoice,
    paid,  # noqa: F401 - the fixture
    psp_refund,
    truth,
)
from tests.payments.test_refund_psp_paths import psp_now_says


@pytest.mark.parametrize(
    ("refunded", "disputed", "after"),
    [
        (2500, 2500, ("refunded", 2500, 0)),  # refunded in full, charged back in full
        (1000, 2500, ("refunded", 2500, 0)),  # part refunded, all of it charged back
        (1000, 1500, ("partially_refunded", 1500, 1000)),  # no overlap: only the refund goes
    ],
)
async def test_a_refund_failing_after_a_lost_chargeback_leaves_what_the_chargeback_gave_back(
    client: httpx.AsyncClient,
    app: Any,
    keys: Keys,
    paid: dict[str, Any],  # noqa: F811 - the fixture
    monkeypatch: Any,
    refunded: int,
    disputed: int,
    after: tuple[str, int, int],
) -> None:
    refund_ev = await psp_refund(app, paid["ppid"], refunded)
    await apply_all(app, [refund_ev])
    body = {"dispute_id": "dp_rev", "provider_payment_id": paid["ppid"]}
    app.state.payments.provider.set_dispute(
        truth(paid, "dp_rev", amount=disputed, withdrawn=disputed, status="lost", closed=True)
    )
    await apply_all(app, [event("dispute.closed", **body)])
    doc = await invoice(client, keys.urbanisme, paid["invoice"])
    assert doc["amount_refunded"] == min(refunded + disputed, 2500)
    psp_now_says(app, monkeypatch, "failed", "expired_or_canceled_card")
    await apply_all(app, [event("refund.updated", **refund_ev.data)])
    doc = await invoice(client, keys.urbanisme, paid["invoice"])
    assert (doc["status"], doc["amount_refunded"], doc["amount_refundable"]) == after
    bal = await balances(app)
    # the books: the refund's money is back at the PSP, the chargeback's is not
    assert bal[("expenses:disputes", "EUR")] == disputed
    assert bal[("assets:psp:simulator", "EUR")] == 2500 - 63 - disputed
