"""A chargeback of regie's own Stripe payment whose event comes before regie has recorded
that payment (its success webhook lost, the re-check not run yet), on an account other
integrations share. Nothing in a dispute's event says whose payment it is: it is stored,
re-read with its PaymentIntent (whose metadata names regie's payment), and waits for the
payment's success, then is applied once. It was answered 200 and dropped, by the webhook
and by the catch-up alike, so the withdrawal and the dispute fee were never booked.
Another integration's dispute is still ignored."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import select

from payments.models import Payment
from tests.conftest import Keys
from tests.stripe.conftest import RESPX_BASE, RESPX_KEY, SECRETS, event_body, sign, stripe_object
from tests.stripe.stripe_payloads import CH_ID, CS_ID, PI_ID, expanded_intent, session
from tests.stripe.test_stripe_in_app import start_checkout
from webhooks.inbound.models import InboxEvent

DP_ID = "dp_1EarlyChargeback"


@pytest.fixture
def settings(settings_factory):
    return settings_factory(
        psp="stripe",
        stripe_api_key=RESPX_KEY,
        stripe_webhook_secrets=",".join(SECRETS),
        stripe_api_base=RESPX_BASE,
    )


def withdrawn_dispute(intent: Any) -> dict[str, Any]:
    """A chargeback of 4500 whose funds were withdrawn, with a dispute fee of 1500."""
    txn = stripe_object(
        "balance_transaction", id="txn_1EarlyDispute", type="adjustment",
        reporting_category="dispute", amount=-4500, fee=1500, net=-6000, currency="eur",
    )  # fmt: skip
    return stripe_object(
        "dispute", id=DP_ID, amount=4500, currency="eur", status="needs_response",
        is_charge_refundable=False, balance_transactions=[txn],
        charge=stripe_object("charge", id=CH_ID, payment_intent=PI_ID),
        payment_intent=intent,
    )  # fmt: skip


async def rows(app: Any) -> list[InboxEvent]:
    async with app.state.db.session() as s:
        return list((await s.execute(select(InboxEvent).order_by(InboxEvent.event_id))).scalars())


@pytest.mark.parametrize("path", ["webhook", "catch-up"])
async def test_a_chargeback_before_its_payments_success_waits_for_it_on_a_shared_account(
    client, app, keys: Keys, respx_mock: respx.MockRouter, path: str
) -> None:
    inv = await start_checkout(client, keys, respx_mock)
    async with app.state.db.session() as s:
        pay_id = (await s.execute(select(Payment.id))).scalar_one()
    ours = expanded_intent(metadata={"payment_id": pay_id})
    disputes = respx_mock.get(f"{RESPX_BASE}/v1/disputes/{DP_ID}").mock(
        return_value=httpx.Response(200, json=withdrawn_dispute(ours))
    )
    body = event_body(
        "charge.dispute.funds_withdrawn", withdrawn_dispute(PI_ID), event_id="evt_1EarlyDispute"
    )
    if path == "webhook":
        r = await client.post("/webhooks/stripe", content=body, headers=sign(body, SECRETS[0]))
        assert r.status_code == 200 and r.json()["ignored"] is False  # stored, not dropped
    else:
        listed = {"object": "list", "url": "/v1/events", "has_more": False}
        listed["data"] = [json.loads(body)]
        respx_mock.get(f"{RESPX_BASE}/v1/events").mock(
            return_value=httpx.Response(200, json=listed)
        )
        assert await app.state.intake.catch_up() == 1
    await app.state.applier.process_batch()
    assert disputes.call_count == 1
    (row,) = await rows(app)
    assert (row.status, row.attempts) == ("pending", 0)
    assert (row.last_error or "").startswith("deferred: ")

    paid = session(
        status="complete", payment_status="paid", metadata={"payment_id": pay_id},
        client_reference_id=pay_id, payment_intent=ours,
    )  # fmt: skip
    respx_mock.get(f"{RESPX_BASE}/v1/checkout/sessions/{CS_ID}").mock(
        return_value=httpx.Response(200, json=paid)
    )
    body = event_body(
        "checkout.session.completed", {**paid, "payment_intent": PI_ID}, event_id="evt_1LateSuccess"
    )
    r = await client.post("/webhooks/stripe", content=body, headers=sign(body, SECRETS[0]))
    assert r.status_code == 200 and r.json()["ignored"] is False
    assert await app.state.applier.process_batch() == 2  # the payment, then the dispute
    doc = (await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))).json()
    assert doc["status"] == "disputed"
    dispute_row = next(x for x in await rows(app) if x.event_id == "evt_1EarlyDispute")
    assert dispute_row.status == "done"
    assert await app.state.applier.process_batch() == 0  # applied once
    bal = {(b.account, b.currency): b.balance for b in await app.state.ledger.balances()}
    assert bal[("expenses:disputes", "EUR")] == 4500
    assert bal[("expenses:dispute_fees", "EUR")] == 1500
    assert bal[("assets:psp:stripe", "EUR")] == 4500 - 93 - 4500 - 1500


async def test_another_integrations_chargeback_is_re_read_once_and_ignored(
    client, app, keys: Keys, respx_mock: respx.MockRouter
) -> None:
    """A dispute of a PaymentIntent regie does not know, whose metadata names no payment of
    regie's: stored (its event cannot tell), read once with its intent, and ignored."""
    foreign = stripe_object("payment_intent", id=PI_ID, metadata={"order": "42"})
    disputes = respx_mock.get(f"{RESPX_BASE}/v1/disputes/{DP_ID}").mock(
        return_value=httpx.Response(200, json=withdrawn_dispute(foreign))
    )
    body = event_body(
        "charge.dispute.funds_withdrawn", withdrawn_dispute(PI_ID), event_id="evt_1Foreign"
    )
    r = await client.post("/webhooks/stripe", content=body, headers=sign(body, SECRETS[0]))
    assert r.status_code == 200
    await app.state.applier.process_batch()
    assert disputes.call_count == 1
    (row,) = await rows(app)
    assert (row.status, row.outcome) == (
        "ignored",
        "ignored: dispute of another integration's payment",
    )
    bal = {(b.account, b.currency): b.balance for b in await app.state.ledger.balances()}
    assert not any(bal.values())
