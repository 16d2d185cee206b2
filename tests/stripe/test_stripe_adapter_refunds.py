"""The Stripe adapter's refunds, balance transactions and listed events, against Stripe's
recorded payloads: refund errors and statuses, settlement lines filtered by date, events
paged oldest first.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import pytest
import respx

from payments.providers.base import (
    EVENT_PAYMENT_SUCCEEDED,
    ProviderError,
)
from payments.providers.stripe.client import StripeProvider
from tests.stripe.conftest import (
    RESPX_BASE,
    event_body,
    stripe_object,
)
from tests.stripe.stripe_payloads import (
    CH_ID,
    PI_ID,
    expanded_intent,
    form,
    stripe_error,
)

# stripe's HTTPXClient passes the form body as ``data=<str>``, which httpx deprecates
pytestmark = pytest.mark.filterwarnings(
    "ignore:Use 'content=<...>' to upload raw bytes/text content:DeprecationWarning"
)


async def test_over_refund_is_an_invalid_request(
    respx_mock: respx.MockRouter, respx_provider: StripeProvider
) -> None:
    # localstripe accepts refunds above the charge; Stripe refuses them like this
    route = respx_mock.post(f"{RESPX_BASE}/v1/refunds").mock(
        return_value=stripe_error(
            400,
            type="invalid_request_error",
            param="amount",
            message="Refund amount (€60.00) is greater than unrefunded amount on charge (€45.00)",
        )
    )
    with pytest.raises(ProviderError) as err:
        await respx_provider.refund(PI_ID, 6000, idempotency_key="regie-refund-over")
    assert err.value.kind == "invalid_request"
    assert not err.value.retryable
    assert "greater than unrefunded amount" in err.value.message
    assert route.call_count == 1  # a 4xx is never retried
    assert form(route.calls.last.request) == {"payment_intent": PI_ID, "amount": "6000"}


@pytest.mark.parametrize(
    ("stripe_status", "status"),
    [
        ("pending", "pending"),
        ("requires_action", "pending"),
        ("succeeded", "succeeded"),
        ("failed", "failed"),
        ("canceled", "failed"),
    ],
)
async def test_refund_status_mapping(
    respx_mock: respx.MockRouter, respx_provider: StripeProvider, stripe_status: str, status: str
) -> None:
    refund = stripe_object(
        "refund", id="re_3RegieRefund", amount=1000, currency="eur", payment_intent=PI_ID
    )
    refund["status"] = stripe_status
    if stripe_status == "failed":
        refund["failure_reason"] = "expired_or_canceled_card"
    respx_mock.post(f"{RESPX_BASE}/v1/refunds").mock(return_value=httpx.Response(200, json=refund))
    respx_mock.get(f"{RESPX_BASE}/v1/refunds/re_3RegieRefund").mock(
        return_value=httpx.Response(200, json=refund)
    )

    created = await respx_provider.refund(PI_ID, 1000, idempotency_key="k")
    fetched = await respx_provider.retrieve_refund("re_3RegieRefund")

    assert created == fetched
    assert (created.status, created.amount, created.currency) == (status, 1000, "EUR")
    assert created.provider_payment_id == PI_ID
    if stripe_status == "failed":
        assert created.failure_reason == "expired_or_canceled_card"


async def test_refund_amount_must_be_positive(respx_provider: StripeProvider) -> None:
    with pytest.raises(ProviderError) as err:
        await respx_provider.refund(PI_ID, 0, idempotency_key="k")
    assert err.value.kind == "invalid_request"


# --------------------------------------------------------------- settlement lines
def _txn(txn_id: str, kind: str, amount: int, fee: int, source: Any, **more: Any) -> dict[str, Any]:
    return stripe_object(
        "balance_transaction",
        id=txn_id,
        type=kind,
        reporting_category=more.pop("reporting_category", kind),
        amount=amount,
        fee=fee,
        net=amount - fee,
        currency="eur",
        created=1_740_000_000,
        source=source,
        **more,
    )


async def test_settlement_lines_from_balance_transactions(
    respx_mock: respx.MockRouter,
    respx_provider: StripeProvider,
) -> None:
    charge = stripe_object("charge", id=CH_ID, payment_intent=PI_ID, amount=4500)
    refund = stripe_object("refund", id="re_1", payment_intent=PI_ID, amount=1000)
    dispute = stripe_object("dispute", id="dp_1", payment_intent="pi_other", amount=4500)
    # Stripe's payout: the day it is expected at the bank (midnight UTC), not its line's day
    payout = stripe_object("payout", id="po_1", amount=10_000, arrival_date=1_740_182_400)
    page1 = [
        _txn("txn_charge", "charge", 4500, 93, charge),
        _txn("txn_refund", "refund", -1000, 0, refund),
        _txn("txn_dispute", "adjustment", -4500, 1500, dispute, reporting_category="dispute"),
    ]
    page2 = [
        _txn("txn_payout", "payout", -10_000, 0, payout),
        _txn("txn_fee", "stripe_fee", -200, 0, None, reporting_category="fee"),
        _txn("txn_adj", "adjustment", 50, 0, "ia_1", reporting_category="other_adjustment"),
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        after = request.url.params.get("starting_after")
        data, more = (page1, True) if after is None else (page2, False)
        assert after in (None, "txn_dispute")
        body = {"object": "list", "url": "/v1/balance_transactions", "has_more": more}
        return httpx.Response(200, json={**body, "data": data})

    route = respx_mock.get(f"{RESPX_BASE}/v1/balance_transactions").mock(side_effect=answer)
    since = dt.datetime(2025, 2, 1, tzinfo=dt.UTC)
    until = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)

    lines = [line async for line in respx_provider.list_settlement_lines(since, until)]

    params = route.calls[0].request.url.params
    assert params["created[gte]"] == str(int(since.timestamp()))
    assert params["created[lt]"] == str(int(until.timestamp()))
    assert params["expand[0]"] == "data.source"
    assert route.call_count == 2
    got = {line.id: line for line in lines}
    assert [line.id for line in lines] == [t["id"] for t in page1 + page2]
    c = got["txn_charge"]
    assert (c.type, c.provider_payment_id, c.amount, c.fee, c.net) == (
        "charge",
        PI_ID,
        4500,
        93,
        4407,
    )
    assert (c.currency, c.payout_id) == ("EUR", None)
    assert c.created == dt.datetime.fromtimestamp(1_740_000_000, dt.UTC)
    assert (got["txn_refund"].type, got["txn_refund"].provider_payment_id) == ("refund", PI_ID)
    assert got["txn_refund"].amount == -1000
    assert (got["txn_dispute"].type, got["txn_dispute"].provider_payment_id) == (
        "dispute",
        "pi_other",
    )
    assert (got["txn_payout"].type, got["txn_payout"].payout_id) == ("payout", "po_1")
    assert got["txn_payout"].arrival_date == dt.date(2025, 2, 22)
    assert c.arrival_date is None  # only a payout's line has one
    assert got["txn_fee"].type == "fee"
    assert got["txn_adj"].type == "adjustment"


async def test_list_events_pages_and_returns_oldest_first(
    respx_mock: respx.MockRouter,
    respx_provider: StripeProvider,
) -> None:
    def evt(n: int, created: int) -> dict[str, Any]:
        pi = expanded_intent(id=f"pi_{n}", latest_charge=None)
        return json.loads(
            event_body("payment_intent.succeeded", pi, event_id=f"evt_{n}", created=created)
        )

    pages = {None: ([evt(4, 400), evt(3, 300)], True), "evt_3": ([evt(2, 300), evt(1, 100)], False)}

    def answer(request: httpx.Request) -> httpx.Response:
        data, more = pages[request.url.params.get("starting_after")]
        return httpx.Response(
            200, json={"object": "list", "url": "/v1/events", "data": data, "has_more": more}
        )

    route = respx_mock.get(f"{RESPX_BASE}/v1/events").mock(side_effect=answer)
    since = dt.datetime.fromtimestamp(100, dt.UTC)

    events = [e async for e in respx_provider.list_events(since)]

    params = route.calls[0].request.url.params
    assert params["created[gte]"] == "100"
    # only the event types regie handles are asked for (Stripe's ``types`` filter)
    asked = {v for k, v in params.multi_items() if k.startswith("types[")}
    assert {"checkout.session.completed", "charge.dispute.funds_withdrawn", "payout.paid"} <= asked
    assert "customer.created" not in asked and "invoice.paid" not in asked
    assert 0 < len(asked) <= 20
    assert [e.id for e in events] == ["evt_1", "evt_2", "evt_3", "evt_4"]
    assert {e.type for e in events} == {EVENT_PAYMENT_SUCCEEDED}
    assert [e.provider_payment_id for e in events] == ["pi_1", "pi_2", "pi_3", "pi_4"]
