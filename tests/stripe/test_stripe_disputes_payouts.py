"""Stripe disputes re-read (recorded Dispute objects from Stripe's published fixtures,
served by respx), their events, and a payout's balance transactions listed by payout."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from payments.providers.base import (
    EVENT_DISPUTE_FUNDS_REINSTATED,
    EVENT_DISPUTE_FUNDS_WITHDRAWN,
    EVENT_DISPUTE_OPENED,
    EVENT_PAYOUT_RECONCILED,
)
from payments.providers.stripe.client import StripeProvider
from tests.stripe.conftest import RESPX_BASE, SECRETS, event_body, sign, stripe_object

pytestmark = pytest.mark.filterwarnings(
    "ignore:Use 'content=<...>' to upload raw bytes/text content:DeprecationWarning"
)

PI_ID = "pi_3RegieDisputedIntent"
DP_ID = "dp_1Pgc71B7WZ01zgkWMevJiAUx"  # the fixture's id


def txn(amount: int, fee: int, category: str) -> dict[str, Any]:
    return stripe_object(
        "balance_transaction",
        id=f"txn_{category}_{amount}",
        type="adjustment",
        reporting_category=category,
        amount=amount,
        fee=fee,
        net=amount - fee,
        currency="eur",
        fee_details=[{"amount": fee, "currency": "eur", "type": "stripe_fee"}] if fee else [],
    )


def recorded_dispute(**changes: Any) -> dict[str, Any]:
    charge = stripe_object("charge", id="ch_3RegieDisputed", payment_intent=PI_ID)
    return stripe_object("dispute", currency="eur", amount=4500, charge=charge, **changes)


async def retrieve(
    respx_mock: respx.MockRouter, provider: StripeProvider, doc: dict[str, Any]
) -> Any:
    route = respx_mock.get(f"{RESPX_BASE}/v1/disputes/{DP_ID}").mock(
        return_value=httpx.Response(200, json=doc)
    )
    got = await provider.retrieve_dispute(DP_ID)
    params = route.calls[0].request.url.params
    assert (params["expand[0]"], params["expand[1]"]) == ("charge", "payment_intent")
    return got


async def test_the_published_dispute_is_an_inquiry_that_moves_nothing(
    respx_mock: respx.MockRouter, respx_provider: StripeProvider
) -> None:
    """Stripe's fixture as published: warning_needs_response, charge still refundable."""
    d = await retrieve(respx_mock, respx_provider, recorded_dispute())
    assert (d.id, d.provider_payment_id, d.amount, d.currency) == (DP_ID, PI_ID, 4500, "EUR")
    assert (d.status, d.withdrawn, d.reinstated, d.fee, d.closed) == (
        "warning_needs_response", 0, 0, 0, False,
    )  # fmt: skip
    assert d.charge_refundable


@pytest.mark.parametrize("status", ["warning_needs_response", "warning_under_review"])
async def test_an_inquiry_with_a_listed_transaction_still_moves_nothing(
    respx_mock: respx.MockRouter, respx_provider: StripeProvider, status: str
) -> None:
    doc = recorded_dispute(
        status=status,
        is_charge_refundable=False,
        balance_transactions=[txn(-4500, 1500, "dispute")],
    )
    d = await retrieve(respx_mock, respx_provider, doc)
    assert (d.withdrawn, d.fee) == (0, 0)


async def test_a_chargeback_whose_charge_is_still_refundable_books_what_it_withdrew(
    respx_mock: respx.MockRouter, respx_provider: StripeProvider
) -> None:
    """``is_charge_refundable`` says the payment may still be refunded (then nothing more is
    withdrawn), not that nothing was: the balance transactions say what moved. A chargeback
    (not a ``warning_*`` inquiry) still refundable, with its withdrawal listed, was read as
    an inquiry: the money and the fee Stripe took stayed out of the ledger."""
    doc = recorded_dispute(
        status="needs_response",
        is_charge_refundable=True,
        balance_transactions=[txn(-4500, 1500, "dispute")],
    )
    d = await retrieve(respx_mock, respx_provider, doc)
    assert (d.withdrawn, d.fee, d.fee_currency, d.closed) == (4500, 1500, "EUR", False)
    assert d.charge_refundable


async def test_a_chargeback_withdrawn_then_won_with_its_fee(
    respx_mock: respx.MockRouter, respx_provider: StripeProvider
) -> None:
    withdrawn = txn(-4500, 1500, "dispute")
    doc = recorded_dispute(
        status="needs_response", is_charge_refundable=False, balance_transactions=[withdrawn]
    )
    d = await retrieve(respx_mock, respx_provider, doc)
    assert (d.withdrawn, d.reinstated, d.fee, d.fee_currency, d.closed) == (
        4500, 0, 1500, "EUR", False,
    )  # fmt: skip
    respx_mock.reset()
    doc = recorded_dispute(
        status="won",
        is_charge_refundable=False,
        balance_transactions=[withdrawn, txn(4500, 0, "dispute_reversal")],
    )
    d = await retrieve(respx_mock, respx_provider, doc)
    assert (d.withdrawn, d.reinstated, d.fee, d.fee_returned, d.closed, d.won) == (
        4500, 4500, 1500, 0, True, True,
    )  # fmt: skip


async def test_a_lost_chargeback(
    respx_mock: respx.MockRouter, respx_provider: StripeProvider
) -> None:
    doc = recorded_dispute(
        status="lost",
        is_charge_refundable=False,
        balance_transactions=[txn(-4500, 1500, "dispute")],
    )
    d = await retrieve(respx_mock, respx_provider, doc)
    assert (d.withdrawn, d.reinstated, d.closed, d.won) == (4500, 0, True, False)


@pytest.mark.parametrize(
    ("raw", "mapped"),
    [
        ("charge.dispute.created", EVENT_DISPUTE_OPENED),
        ("charge.dispute.funds_withdrawn", EVENT_DISPUTE_FUNDS_WITHDRAWN),
        ("charge.dispute.funds_reinstated", EVENT_DISPUTE_FUNDS_REINSTATED),
    ],
)
def test_dispute_fund_events_are_mapped(
    respx_provider: StripeProvider, raw: str, mapped: str
) -> None:
    body = event_body(raw, stripe_object("dispute", id=DP_ID, payment_intent=PI_ID))
    event = respx_provider.parse_event(body, sign(body, SECRETS[0]))
    assert (event.type, event.data["dispute_id"], event.provider_payment_id) == (
        mapped, DP_ID, PI_ID,
    )  # fmt: skip


async def test_a_payouts_lines_are_listed_by_payout_and_carry_it(
    respx_mock: respx.MockRouter, respx_provider: StripeProvider
) -> None:
    charge = stripe_object("charge", id="ch_1", payment_intent=PI_ID)
    dispute = stripe_object("dispute", id=DP_ID, payment_intent=PI_ID)
    data = [
        {**txn(4500, 93, "charge"), "type": "charge", "source": charge, "exchange_rate": 1.0837},
        {**txn(-4500, 1500, "dispute"), "source": dispute},
        {**txn(-2907, 0, "payout"), "type": "payout", "source": "po_1Regie"},
    ]
    route = respx_mock.get(f"{RESPX_BASE}/v1/balance_transactions").mock(
        return_value=httpx.Response(
            200,
            json={
                "object": "list",
                "url": "/v1/balance_transactions",
                "has_more": False,
                "data": data,
            },
        )
    )
    lines = [line async for line in respx_provider.list_payout_lines("po_1Regie")]
    params = route.calls[0].request.url.params
    assert (params["payout"], params["expand[0]"]) == ("po_1Regie", "data.source")
    assert [x.payout_id for x in lines] == ["po_1Regie"] * 3
    c, d, p = lines
    assert (c.type, c.provider_payment_id, c.net, c.reporting_category, c.exchange_rate) == (
        "charge", PI_ID, 4407, "charge", "1.0837",
    )  # fmt: skip
    assert c.fee_details == (("stripe_fee", 93, "EUR"),)
    assert (d.type, d.provider_payment_id, d.fee, d.net) == ("dispute", PI_ID, 1500, -6000)
    assert (p.type, p.exchange_rate) == ("payout", None)


def test_a_payouts_reconciliation_is_mapped(respx_provider: StripeProvider) -> None:
    payout = stripe_object("payout", id="po_1Regie", amount=2907, currency="eur")
    body = event_body("payout.reconciliation_completed", payout)
    event = respx_provider.parse_event(body, sign(body, SECRETS[0]))
    assert (event.type, event.data["payout_id"], event.data["amount"]) == (
        EVENT_PAYOUT_RECONCILED, "po_1Regie", 2907,
    )  # fmt: skip
