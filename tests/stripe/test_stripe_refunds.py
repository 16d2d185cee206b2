"""Stripe's rare refund paths (issue 9).

- localstripe: ``metadata[regie_refund_id]`` goes with every refund and comes back from
  ``retrieve_refund`` and ``list_refunds`` (the 23 h take-over reads it);
- recorded refund objects (respx): ``canceled``, ``requires_action``, ``failed`` after
  ``succeeded``, and regie wired to Stripe end to end for each, with signed webhooks;
- a lost response: Stripe refunded, the answer never came, the ``refund.created`` webhook
  comes first and settles regie's pending refund.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import select

from ledger.models import JournalEntry
from payments.models import Refund
from payments.providers.base import EVENT_REFUND_UPDATED
from payments.providers.stripe.client import StripeProvider
from tests.conftest import Keys, create_invoice, token_of
from tests.stripe.conftest import (
    RESPX_BASE,
    RESPX_KEY,
    SECRETS,
    LocalStripe,
    event_body,
    sign,
    stripe_object,
)
from tests.stripe.stripe_payloads import CS_ID, PI_ID, expanded_intent, session

pytestmark = pytest.mark.filterwarnings(
    "ignore:Use 'content=<...>' to upload raw bytes/text content:DeprecationWarning"
)
REF = "ref_01JREGIETESTREFUND000001"


def form(request: httpx.Request) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(request.content.decode()))


def refund_object(status: str, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = dict(
        id="re_3RegieRare", amount=1000, currency="eur", payment_intent=PI_ID, status=status,
        metadata={"regie_refund_id": REF},
    )  # fmt: skip
    values.update(changes)
    return stripe_object("refund", **values)


# --------------------------------------------------------------- localstripe
async def test_regies_refund_id_goes_with_the_refund_and_is_listed(
    localstripe: LocalStripe, provider: StripeProvider
) -> None:
    pm = await localstripe.payment_method()
    pi = await localstripe.payment_intent(
        5000, payment_ref="pay_01JREGIETESTLISTREFUNDS0", payment_method=pm
    )
    made = await provider.refund(pi, 1200, f"regie-refund-{REF}", regie_refund_id=REF)
    other = await provider.refund(pi, 300, "dashboard-refund")  # made without regie's id
    assert (made.regie_refund_id, other.regie_refund_id) == (REF, None)
    assert (await provider.retrieve_refund(made.id)).regie_refund_id == REF
    listed = {r.id: r for r in await provider.list_refunds(pi)}
    assert set(listed) == {made.id, other.id}
    assert (listed[made.id].regie_refund_id, listed[made.id].amount) == (REF, 1200)
    assert listed[made.id].status == "succeeded" and listed[made.id].provider_payment_id == pi


# ----------------------------------------------------------- recorded objects
@pytest.mark.parametrize(
    ("stripe_status", "status", "reason"),
    [
        ("canceled", "failed", "canceled"),  # a failure that releases the reservation
        ("requires_action", "pending", None),  # the customer must act: still pending
        ("failed", "failed", "expired_or_canceled_card"),
    ],
)
async def test_rare_refund_statuses_and_the_metadata_are_read(
    respx_mock: respx.MockRouter,
    respx_provider: StripeProvider,
    stripe_status: str,
    status: str,
    reason: str | None,
) -> None:
    obj = refund_object(stripe_status)
    if stripe_status == "failed":
        obj["failure_reason"] = "expired_or_canceled_card"
    route = respx_mock.post(f"{RESPX_BASE}/v1/refunds").mock(
        return_value=httpx.Response(200, json=obj)
    )
    made = await respx_provider.refund(PI_ID, 1000, f"regie-refund-{REF}", regie_refund_id=REF)
    assert form(route.calls[0].request)["metadata[regie_refund_id]"] == REF
    assert (made.status, made.failure_reason, made.regie_refund_id) == (status, reason, REF)

    event = respx_provider.parse_event(
        body := event_body(f"refund.{'failed' if stripe_status == 'failed' else 'updated'}", obj),
        sign(body, SECRETS[0]),
    )
    assert event.type == EVENT_REFUND_UPDATED
    assert (event.data["status"], event.data["failure_reason"]) == (status, reason)
    assert event.data["regie_refund_id"] == REF


async def test_list_refunds_reads_every_page(
    respx_mock: respx.MockRouter, respx_provider: StripeProvider
) -> None:
    first = refund_object("succeeded", id="re_new")
    second = refund_object("pending", id="re_old", metadata={})
    route = respx_mock.get(f"{RESPX_BASE}/v1/refunds").mock(
        side_effect=[
            httpx.Response(200, json={"object": "list", "url": "/v1/refunds", "has_more": True, "data": [first]}),
            httpx.Response(200, json={"object": "list", "url": "/v1/refunds", "has_more": False, "data": [second]}),
        ]
    )  # fmt: skip
    listed = await respx_provider.list_refunds(PI_ID)
    assert [(r.id, r.regie_refund_id) for r in listed] == [("re_new", REF), ("re_old", None)]
    asked = [dict(urllib.parse.parse_qsl(c.request.url.query.decode())) for c in route.calls]
    assert asked[0]["payment_intent"] == PI_ID
    assert asked[1]["starting_after"] == "re_new"


# ---------------------------------------------------------- regie on Stripe
@pytest.fixture
def settings(settings_factory: Any) -> Any:
    return settings_factory(
        psp="stripe",
        stripe_api_key=RESPX_KEY,
        stripe_webhook_secrets=",".join(SECRETS),
        stripe_api_base=RESPX_BASE,
    )


async def balances(app: Any) -> dict[tuple[str, str], int]:
    return {
        (b.account, b.currency): b.balance for b in await app.state.ledger.balances() if b.balance
    }


async def webhook(
    client: httpx.AsyncClient, app: Any, event_type: str, obj: dict[str, Any], eid: str
) -> None:
    body = event_body(event_type, obj, event_id=eid)
    r = await client.post("/webhooks/stripe", content=body, headers=sign(body, SECRETS[0]))
    assert r.status_code == 200, r.text
    assert await app.state.applier.process_batch() == 1


async def paid_on_stripe(
    client: httpx.AsyncClient, app: Any, keys: Keys, respx_mock: respx.MockRouter
) -> str:
    """An EUR 45.00 invoice paid through Stripe Checkout (as in test_stripe_in_app)."""
    created: dict[str, str] = {}

    def create_session(request: httpx.Request) -> httpx.Response:
        created.update(form(request))
        ref = created["client_reference_id"]
        return httpx.Response(
            200, json=session(metadata={"payment_id": ref}, client_reference_id=ref)
        )

    respx_mock.post(f"{RESPX_BASE}/v1/checkout/sessions").mock(side_effect=create_session)
    inv = await create_invoice(client, keys.urbanisme, amount=4500)
    assert (await client.post(f"/pay/{token_of(inv)}/checkout")).status_code == 303
    ref = created["client_reference_id"]
    meta = {"payment_id": ref}
    respx_mock.get(f"{RESPX_BASE}/v1/checkout/sessions/{CS_ID}").mock(
        return_value=httpx.Response(200, json=session(
            status="complete", payment_status="paid", metadata=meta, client_reference_id=ref,
            payment_intent=expanded_intent(metadata=meta),
        ))
    )  # fmt: skip
    paid = session(
        status="complete", payment_status="paid", payment_intent=PI_ID, metadata=meta,
        client_reference_id=ref,
    )  # fmt: skip
    await webhook(client, app, "checkout.session.completed", paid, "evt_1RegieRarePaid000000000")
    return str(inv["id"])


def stripe_refunds(respx_mock: respx.MockRouter, status: str, **changes: Any) -> list[str]:
    """Stripe answers the refund (echoing regie's metadata); returns the ids it was sent."""
    sent: list[str] = []

    def create(request: httpx.Request) -> httpx.Response:
        sent.append(form(request)["metadata[regie_refund_id]"])
        return httpx.Response(
            200, json=refund_object(status, metadata={"regie_refund_id": sent[-1]}, **changes)
        )

    respx_mock.post(f"{RESPX_BASE}/v1/refunds").mock(side_effect=create)
    return sent


def stripe_now_says(
    respx_mock: respx.MockRouter, status: str, regie_id: str, **changes: Any
) -> dict[str, Any]:
    obj = refund_object(status, metadata={"regie_refund_id": regie_id}, **changes)
    respx_mock.get(f"{RESPX_BASE}/v1/refunds/{obj['id']}").mock(
        return_value=httpx.Response(200, json=obj)
    )
    return obj


async def test_on_stripe_a_refund_failed_after_it_succeeded_is_reversed(
    client: httpx.AsyncClient, app: Any, keys: Keys, respx_mock: respx.MockRouter
) -> None:
    invoice_id = await paid_on_stripe(client, app, keys, respx_mock)
    before = await balances(app)
    sent = stripe_refunds(respx_mock, "succeeded")
    r = await client.post(
        f"/v1/invoices/{invoice_id}/refunds", json={"amount": 1000}, headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 201, r.text
    assert sent == [r.json()["id"]]  # regie's id went to Stripe as metadata
    obj = stripe_now_says(respx_mock, "failed", sent[0], failure_reason="expired_or_canceled_card")
    await webhook(client, app, "refund.failed", obj, "evt_1RegieRareRefundFailed0")
    doc = (await client.get(f"/v1/invoices/{invoice_id}", headers=Keys.h(keys.urbanisme))).json()
    assert (doc["status"], doc["amount_refunded"], doc["amount_refundable"]) == ("paid", 0, 4500)
    assert await balances(app) == before
    async with app.state.db.session() as s:
        (row,) = (await s.execute(select(Refund))).scalars().all()
        kinds = [e.kind for e in (await s.execute(select(JournalEntry))).scalars()]
    assert (row.status, row.failure_reason) == ("failed", "expired_or_canceled_card")
    assert kinds.count("refund_reversed") == 1


@pytest.mark.parametrize("later", ["canceled", "succeeded"])
async def test_on_stripe_requires_action_stays_pending_until_stripe_decides(
    client: httpx.AsyncClient, app: Any, keys: Keys, respx_mock: respx.MockRouter, later: str
) -> None:
    invoice_id = await paid_on_stripe(client, app, keys, respx_mock)
    sent = stripe_refunds(respx_mock, "requires_action")
    r = await client.post(
        f"/v1/invoices/{invoice_id}/refunds", json={"amount": 1000}, headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 202 and r.json()["status"] == "pending", r.text
    assert await app.state.payments.refunds.retry_due() == 0  # acknowledged: never re-sent
    doc = (await client.get(f"/v1/invoices/{invoice_id}", headers=Keys.h(keys.urbanisme))).json()
    assert (doc["status"], doc["amount_refundable"]) == ("paid", 3500)  # reserved
    obj = stripe_now_says(respx_mock, later, sent[0])
    await webhook(client, app, "refund.updated", obj, "evt_1RegieRareRefundLater00")
    doc = (await client.get(f"/v1/invoices/{invoice_id}", headers=Keys.h(keys.urbanisme))).json()
    async with app.state.db.session() as s:
        (row,) = (await s.execute(select(Refund))).scalars().all()
    if later == "canceled":  # a failure: the reservation is released, and says why
        assert (row.status, row.failure_reason) == ("failed", "canceled")
        assert (doc["status"], doc["amount_refundable"]) == ("paid", 4500)
    else:
        assert row.status == "succeeded"
        assert (doc["status"], doc["amount_refunded"]) == ("partially_refunded", 1000)


async def test_on_stripe_a_lost_response_is_settled_by_the_webhook_that_came_first(
    client: httpx.AsyncClient, app: Any, keys: Keys, respx_mock: respx.MockRouter, monkeypatch: Any
) -> None:
    invoice_id = await paid_on_stripe(client, app, keys, respx_mock)
    provider = app.state.payments.provider
    monkeypatch.setattr(provider._http, "_sleep_time_seconds", lambda num_retries: 0.0)
    sent: list[str] = []

    def lost(request: httpx.Request) -> httpx.Response:
        sent.append(form(request)["metadata[regie_refund_id]"])
        raise httpx.ReadTimeout("the answer was lost", request=request)

    create = respx_mock.post(f"{RESPX_BASE}/v1/refunds").mock(side_effect=lost)
    r = await client.post(
        f"/v1/invoices/{invoice_id}/refunds", json={"amount": 1000}, headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 202, r.text
    obj = stripe_now_says(respx_mock, "succeeded", r.json()["id"])
    await webhook(client, app, "refund.created", obj, "evt_1RegieRareRefundLost000")
    async with app.state.db.session() as s:
        (row,) = (await s.execute(select(Refund))).scalars().all()
    assert (row.id, row.status, row.provider_refund_id) == (r.json()["id"], "succeeded", obj["id"])
    calls = create.call_count
    assert await app.state.payments.refunds.retry_due() == 0  # nothing left to ask Stripe
    assert create.call_count == calls and set(sent) == {row.id}
    doc = (await client.get(f"/v1/invoices/{invoice_id}", headers=Keys.h(keys.urbanisme))).json()
    assert (doc["status"], doc["amount_refunded"]) == ("partially_refunded", 1000)
