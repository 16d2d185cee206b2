"""A chargeback of an invoice already refunded in full (the payer disputed it all the
same), then the refund fails after it succeeded (the card was closed), then the dispute is
won: the payer got nothing back, neither through the refund nor through their bank. The
invoice must say so (paid, refundable again), as the books do; it stayed ``refunded``."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest

from payments.providers.base import ProviderRefund
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


def fail_at_psp(app: Any, monkeypatch: Any, refund_id: str) -> None:
    """The PSP now reports this refund ``failed`` (after ``succeeded``), the others as they are."""
    provider = app.state.payments.provider
    real = provider.retrieve_refund

    async def retrieve_refund(rid: str) -> ProviderRefund:
        found = await real(rid)
        if rid != refund_id:
            return found
        return dataclasses.replace(
            found, status="failed", failure_reason="expired_or_canceled_card"
        )

    monkeypatch.setattr(provider, "retrieve_refund", retrieve_refund)


@pytest.mark.parametrize(
    ("refunds", "after_won", "after_lost"),
    [
        ((2500,), ("paid", 0, 2500), ("refunded", 2500, 0)),
        ((1000, 1500), ("partially_refunded", 1500, 1000), ("refunded", 2500, 0)),
    ],
)
@pytest.mark.parametrize("outcome", ["won", "lost"])
async def test_a_dispute_closing_after_the_refund_of_a_refunded_invoice_failed(
    client: httpx.AsyncClient,
    app: Any,
    keys: Keys,
    paid: dict[str, Any],  # noqa: F811 - the fixture
    monkeypatch: Any,
    refunds: tuple[int, ...],
    after_won: tuple[str, int, int],
    after_lost: tuple[str, int, int],
    outcome: str,
) -> None:
    made = [await psp_refund(app, paid["ppid"], amount) for amount in refunds]
    await apply_all(app, made)
    assert (await invoice(client, keys.urbanisme, paid["invoice"]))["status"] == "refunded"
    sim, body = (
        app.state.payments.provider,
        {"dispute_id": "dp_rr", "provider_payment_id": paid["ppid"]},
    )
    sim.set_dispute(truth(paid, "dp_rr"))  # the whole payment charged back, still open
    await apply_all(app, [event("dispute.funds_withdrawn", **body)])
    fail_at_psp(app, monkeypatch, str(made[0].data["refund_id"]))
    await apply_all(app, [event("refund.updated", **made[0].data)])
    won = outcome == "won"
    sim.set_dispute(
        truth(paid, "dp_rr", status=outcome, closed=True, won=won, reinstated=2500 if won else 0)
    )
    await apply_all(app, [event("dispute.closed", **body)])
    doc = await invoice(client, keys.urbanisme, paid["invoice"])
    assert (doc["status"], doc["amount_refunded"], doc["amount_refundable"]) == (
        after_won if won else after_lost
    )
    bal = await balances(app)
    # the books already say it: what stands of the refunds, and of the chargeback if lost
    assert bal[("expenses:disputes", "EUR")] == (0 if won else 2500)
    assert bal[("income:urbanisme", "EUR")] == -(2500 - sum(refunds[1:]))
