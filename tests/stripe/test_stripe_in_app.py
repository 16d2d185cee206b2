"""regie wired to Stripe (REGIE_PSP=stripe): checkout, signed webhook, worker, refund.

Stripe's API is answered by respx with Stripe's recorded objects (localstripe has no
Checkout Sessions); the webhook bodies are signed as Stripe signs them.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from sqlalchemy import func, select

from payments.models import Payment
from payments.providers.stripe.client import CHECKOUT_RETRIES
from receipts.models import Receipt
from tests.conftest import Keys, create_invoice, token_of
from tests.stripe.conftest import RESPX_BASE, RESPX_KEY, SECRETS, event_body, sign, stripe_object
from tests.stripe.stripe_payloads import CS_ID, PI_ID, expanded_intent, session
from webhooks.inbound.models import InboxEvent


@pytest.fixture
def settings(settings_factory):
    return settings_factory(
        psp="stripe",
        stripe_api_key=RESPX_KEY,
        stripe_webhook_secrets=",".join(SECRETS),
        stripe_api_base=RESPX_BASE,
    )


async def inbox_count(app) -> int:
    async with app.state.db.session() as s:
        return int((await s.execute(select(func.count()).select_from(InboxEvent))).scalar_one())


async def test_a_stripe_payment_end_to_end(
    client, app, keys: Keys, respx_mock: respx.MockRouter
) -> None:
    created: dict[str, Any] = {}

    def create_session(request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        created.update(form)
        return httpx.Response(
            200,
            json=session(
                metadata={"payment_id": form["client_reference_id"]},
                client_reference_id=form["client_reference_id"],
            ),
        )

    respx_mock.post(f"{RESPX_BASE}/v1/checkout/sessions").mock(side_effect=create_session)
    inv = await create_invoice(client, keys.urbanisme, amount=4500)
    r = await client.post(f"/pay/{token_of(inv)}/checkout")
    assert r.status_code == 303
    assert r.headers["location"] == f"https://checkout.stripe.com/c/pay/{CS_ID}"
    pay_id = created["client_reference_id"]
    assert pay_id.startswith("pay_") and created["metadata[invoice_id]"] == inv["id"]
    assert created["line_items[0][price_data][unit_amount]"] == "4500"

    paid_session = session(
        status="complete", payment_status="paid", payment_intent=PI_ID,
        metadata={"payment_id": pay_id}, client_reference_id=pay_id,
    )  # fmt: skip
    body = event_body(
        "checkout.session.completed", paid_session, event_id="evt_1RegieInApp000000000000"
    )
    r = await client.post(
        "/webhooks/stripe", content=body, headers=sign(body, SECRETS[1])
    )  # rotated secret
    assert r.status_code == 200 and r.json() == {
        "received": True,
        "duplicate": False,
        "ignored": False,
    }
    forged = await client.post(
        "/webhooks/stripe", content=body, headers=sign(body, "whsec_not_ours")
    )
    assert forged.status_code == 400

    # the worker re-reads the session from Stripe before it believes the event
    truth = session(
        status="complete", payment_status="paid", metadata={"payment_id": pay_id}, client_reference_id=pay_id,
        payment_intent=expanded_intent(metadata={"payment_id": pay_id}),
    )  # fmt: skip
    respx_mock.get(f"{RESPX_BASE}/v1/checkout/sessions/{CS_ID}").mock(
        return_value=httpx.Response(200, json=truth)
    )
    assert await app.state.applier.process_batch() == 1
    doc = (await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))).json()
    assert doc["status"] == "paid"
    (payment,) = doc["payments"]
    assert (payment["provider"], payment["fee"], payment["card"]) == (
        "stripe",
        93,
        {"brand": "mastercard", "last4": "4444"},
    )
    assert payment["provider_payment_id"] == PI_ID
    async with app.state.db.session() as s:
        assert (await s.execute(select(func.count()).select_from(Receipt))).scalar_one() == 1

    # a refund goes to Stripe with an idempotency key derived from regie's refund id
    def create_refund(request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        assert form["payment_intent"] == PI_ID and form["amount"] == "1000"
        assert request.headers["Idempotency-Key"].startswith("regie-refund-ref_")
        return httpx.Response(
            200,
            json=stripe_object(
                "refund",
                id="re_1RegieInApp",
                amount=1000,
                currency="eur",
                status="succeeded",
                payment_intent=PI_ID,
            ),
        )

    respx_mock.post(f"{RESPX_BASE}/v1/refunds").mock(side_effect=create_refund)
    r = await client.post(
        f"/v1/invoices/{inv['id']}/refunds", json={"amount": 1000}, headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 201, r.text
    assert r.json()["provider_refund_id"] == "re_1RegieInApp"


async def test_an_event_about_someone_elses_payment_is_acknowledged_and_not_stored(
    client, app, keys: Keys
) -> None:
    foreign = session(
        status="complete",
        payment_status="paid",
        payment_intent=PI_ID,
        metadata={"payment_id": "pay_01NOTREGIES00000000000000"},
        client_reference_id="x",
    )
    body = event_body("checkout.session.completed", foreign, event_id="evt_1RegieForeign0000000000")
    r = await client.post("/webhooks/stripe", content=body, headers=sign(body, SECRETS[0]))
    assert r.status_code == 200 and r.json()["ignored"] is True
    assert await inbox_count(app) == 0
    # and the simulator's endpoint is not open when regie runs on Stripe
    assert (await client.post("/webhooks/simulator", content=b"{}")).status_code == 404
    assert json.loads((await client.get("/readyz")).text) == {"status": "ready"}


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500, json={"error": {"type": "api_error", "message": "boom"}}),
        httpx.ConnectError("reset by peer"),
    ],
    ids=["stripe-500", "connection-reset"],
)
async def test_stripe_down_when_the_citizen_presses_pay(
    client, app, keys: Keys, respx_mock: respx.MockRouter, monkeypatch, failure
) -> None:
    provider = app.state.payments.provider
    for http in (provider._http, provider._checkout_http):  # retry at once
        monkeypatch.setattr(http, "_sleep_time_seconds", lambda num_retries: 0.0)
    route = respx_mock.post(f"{RESPX_BASE}/v1/checkout/sessions")
    if isinstance(failure, httpx.Response):
        route.mock(return_value=failure)
    else:
        route.mock(side_effect=failure)
    inv = await create_invoice(client, keys.urbanisme, amount=4500)
    r = await client.post(f"/pay/{token_of(inv)}/checkout")
    assert r.status_code == 502
    assert "ne répond pas" in r.text and "Traceback" not in r.text and RESPX_KEY not in r.text
    # the SDK's own retries (the Pay button's short budget: one), and no second layer
    assert route.call_count == 1 + CHECKOUT_RETRIES
    doc = (await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))).json()
    assert doc["status"] == "open"  # the citizen can simply try again
    assert [(p["status"], p["failure"]["code"]) for p in doc["payments"]] == [
        ("failed", "provider_unavailable")
    ]


async def test_catch_up_ignores_other_integrations_events(
    client, app, keys: Keys, respx_mock: respx.MockRouter, caplog
) -> None:
    """On a shared account, the catch-up lists only the types regie handles. A refund or
    a dispute cannot be told by its event (it may be of a payment of regie's whose success
    is not recorded yet): each is stored, read once with its PaymentIntent, and ignored."""
    foreign_pi = "pi_3SomeoneElsesIntent"
    listed = [
        json.loads(event_body(t, o, event_id=f"evt_1Foreign{n:016d}", created=1_900_000_000 + n))
        for n, (t, o) in enumerate(
            [
                ("charge.dispute.created", stripe_object("dispute", id="dp_1Foreign", payment_intent=foreign_pi)),
                ("charge.dispute.funds_withdrawn", stripe_object("dispute", id="dp_1Foreign", payment_intent=foreign_pi)),
                ("refund.updated", stripe_object("refund", id="re_1Foreign", payment_intent=foreign_pi)),
                ("payout.paid", stripe_object("payout", id="po_1Shared", amount=9000, currency="eur")),
            ]
        )
    ]  # fmt: skip
    events = respx_mock.get(f"{RESPX_BASE}/v1/events").mock(
        return_value=httpx.Response(
            200, json={"object": "list", "url": "/v1/events", "has_more": False, "data": listed}
        )
    )
    foreign_intent = stripe_object("payment_intent", id=foreign_pi, metadata={"order": "42"})
    foreign_dispute = stripe_object("dispute", id="dp_1Foreign", payment_intent=foreign_intent)
    disputes = respx_mock.get(url__regex=rf"{RESPX_BASE}/v1/disputes/.*").mock(
        return_value=httpx.Response(200, json=foreign_dispute)
    )
    refunds = respx_mock.get(url__regex=rf"{RESPX_BASE}/v1/refunds/.*").mock(
        return_value=httpx.Response(
            200, json=stripe_object("refund", id="re_1Foreign", payment_intent=foreign_intent)
        )
    )
    lines = respx_mock.get(f"{RESPX_BASE}/v1/balance_transactions").mock(
        return_value=httpx.Response(
            200,
            json={
                "object": "list",
                "url": "/v1/balance_transactions",
                "has_more": False,
                "data": [],
            },
        )
    )
    caplog.set_level(logging.WARNING, logger="regie.webhooks")
    assert await app.state.intake.catch_up() == 4  # the disputes, the refund and the payout
    (found,) = [r for r in caplog.records if r.name == "regie.webhooks"]
    assert (found.getMessage(), found.provider, found.count) == (
        "catch-up found events the webhooks had not delivered",
        "stripe",
        4,
    )
    assert any(k.startswith("types[") for k, _ in events.calls[0].request.url.params.multi_items())
    await app.state.applier.process_batch()
    assert (disputes.call_count, refunds.call_count) == (2, 1)
    assert refunds.calls[0].request.url.params["expand[0]"] == "payment_intent"
    assert disputes.calls[0].request.url.params["expand[1]"] == "payment_intent"
    async with app.state.db.session() as s:
        outcomes = {
            (row.event_type, row.status, row.outcome)
            for row in (await s.execute(select(InboxEvent))).scalars()
            if not row.event_type.startswith("payout")
        }
    assert outcomes == {
        ("refund.updated", "ignored", "ignored: refund of another integration's payment"),
        ("dispute.opened", "ignored", "ignored: dispute of another integration's payment"),
        ("dispute.funds_withdrawn", "ignored", "ignored: dispute of another integration's payment"),
    }
    assert lines.calls[0].request.url.params["payout"] == "po_1Shared"
    # nothing of regie's was in that payout: nothing is posted
    bal = {(b.account, b.currency): b.balance for b in await app.state.ledger.balances()}
    assert bal.get(("assets:bank:main", "EUR"), 0) == 0
    # and the same foreign dispute by webhook is acknowledged, stored, read once and ignored
    body = event_body(
        "charge.dispute.created", listed[0]["data"]["object"], event_id="evt_1ForeignHook"
    )
    r = await client.post("/webhooks/stripe", content=body, headers=sign(body, SECRETS[0]))
    assert r.status_code == 200 and r.json()["ignored"] is False
    await app.state.applier.process_batch()
    assert disputes.call_count == 3
    assert await inbox_count(app) == 5


async def start_checkout(
    client: httpx.AsyncClient, keys: Keys, respx_mock: respx.MockRouter
) -> dict[str, Any]:
    """An invoice of 4500 whose citizen pressed pay: a Checkout Session created, its
    metadata naming regie's payment (as Stripe copies it onto the PaymentIntent)."""

    def create_session(request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        ref = form["client_reference_id"]
        return httpx.Response(
            200, json=session(metadata={"payment_id": ref}, client_reference_id=ref)
        )

    respx_mock.post(f"{RESPX_BASE}/v1/checkout/sessions").mock(side_effect=create_session)
    inv = await create_invoice(client, keys.urbanisme, amount=4500)
    r = await client.post(f"/pay/{token_of(inv)}/checkout")
    assert r.status_code == 303
    return inv


async def test_a_dashboard_refund_before_the_payments_success_waits_for_it_on_a_shared_account(
    client, app, keys: Keys, respx_mock: respx.MockRouter
) -> None:
    """The success webhook of a regie payment is lost; an officer refunds 1000 from
    Stripe's dashboard (no regie metadata on the refund). Its event names a PaymentIntent
    regie does not know yet: it is stored, and its re-read (the intent expanded, whose
    metadata names regie's payment) defers it. The success, when it comes, applies both."""

    inv = await start_checkout(client, keys, respx_mock)
    async with app.state.db.session() as s:
        pay_id = (await s.execute(select(Payment.id))).scalar_one()
    dashboard_refund = stripe_object(
        "refund", id="re_1Dashboard", amount=1000, currency="eur", status="succeeded",
        payment_intent=PI_ID, metadata={},
    )  # fmt: skip
    refunds = respx_mock.get(f"{RESPX_BASE}/v1/refunds/re_1Dashboard").mock(
        return_value=httpx.Response(
            200,
            json={
                **dashboard_refund,
                "payment_intent": expanded_intent(metadata={"payment_id": pay_id}),
            },
        )
    )
    body = event_body("refund.created", dashboard_refund, event_id="evt_1EarlyRefund")
    r = await client.post("/webhooks/stripe", content=body, headers=sign(body, SECRETS[0]))
    assert r.status_code == 200 and r.json()["ignored"] is False  # stored, not dropped
    await app.state.applier.process_batch()
    assert refunds.calls[0].request.url.params["expand[0]"] == "payment_intent"
    async with app.state.db.session() as s:
        row = (await s.execute(select(InboxEvent))).scalar_one()
    assert row.status == "pending" and (row.last_error or "").startswith("deferred: ")

    paid = session(
        status="complete", payment_status="paid", metadata={"payment_id": pay_id},
        client_reference_id=pay_id, payment_intent=expanded_intent(metadata={"payment_id": pay_id}),
    )  # fmt: skip
    respx_mock.get(f"{RESPX_BASE}/v1/checkout/sessions/{CS_ID}").mock(
        return_value=httpx.Response(200, json=paid)
    )
    body = event_body(
        "checkout.session.completed", {**paid, "payment_intent": PI_ID}, event_id="evt_1LateSuccess"
    )
    r = await client.post("/webhooks/stripe", content=body, headers=sign(body, SECRETS[0]))
    assert r.status_code == 200 and r.json()["ignored"] is False
    assert await app.state.applier.process_batch() == 2  # the payment, then the refund
    doc = (await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))).json()
    assert (doc["status"], doc["amount_refunded"]) == ("partially_refunded", 1000)
    bal = {(b.account, b.currency): b.balance for b in await app.state.ledger.balances()}
    assert bal[("income:urbanisme", "EUR")] == -3500


async def test_a_connected_accounts_payout_is_kept_for_the_record_and_books_nothing(
    client, app, keys: Keys, respx_mock: respx.MockRouter
) -> None:
    """An endpoint set up for Connect sends the events of connected accounts, each naming
    its ``account``: their money is not on regie's Stripe balance, and regie's key cannot
    read their objects (reading the payout's lines failed at every attempt until the event
    was dead-lettered). It is stored as ignored at once, nothing is asked of Stripe, and
    the ledger moves not."""
    lines = respx_mock.get(f"{RESPX_BASE}/v1/balance_transactions").mock(
        return_value=httpx.Response(404, json={"error": {"type": "invalid_request_error"}})
    )
    payout = stripe_object("payout", id="po_1Connected", amount=9000, currency="eur")
    event = json.loads(event_body("payout.paid", payout, event_id="evt_1ConnectedPayout0000"))
    event["account"] = "acct_1ConnectedTown00"
    body = json.dumps(event).encode()
    r = await client.post("/webhooks/stripe", content=body, headers=sign(body, SECRETS[0]))
    assert r.status_code == 200
    await app.state.applier.process_batch()
    async with app.state.db.session() as s:
        (row,) = (await s.execute(select(InboxEvent))).scalars()
    assert (row.raw_type, row.event_type, row.status) == ("payout.paid", "ignored", "ignored")
    assert row.data.get("connected_account") == "acct_1ConnectedTown00"
    assert not lines.called
    bal = {(b.account, b.currency): b.balance for b in await app.state.ledger.balances()}
    assert bal.get(("assets:bank:main", "EUR"), 0) == 0
    assert bal.get(("assets:psp:stripe", "EUR"), 0) == 0


async def test_a_manual_payout_is_dead_lettered_at_once_with_its_reason(
    client, app, keys: Keys, respx_mock: respx.MockRouter
) -> None:
    """A payout made by hand ("Pay out now", an Instant Payout: ``automatic`` false) has no
    list of its transactions at Stripe (the list by ``payout`` is refused for it), so regie
    cannot tell its share of it on an account other integrations share. It is not asked
    for, again and again, until the event dies of a Stripe error: it is dead-lettered at
    once, saying why, for an operator (and its bank credit is left to reconciliation)."""
    lines = respx_mock.get(f"{RESPX_BASE}/v1/balance_transactions").mock(
        return_value=httpx.Response(
            400,
            json={"error": {"type": "invalid_request_error", "message": "Balance transaction "
                            "history can only be filtered on automatic transfers, not manual."}},
        )
    )  # fmt: skip
    payout = stripe_object(
        "payout", id="po_1ManualByHand", amount=9000, currency="eur", automatic=False
    )
    body = event_body("payout.paid", payout, event_id="evt_1ManualPayout00000000")
    r = await client.post("/webhooks/stripe", content=body, headers=sign(body, SECRETS[0]))
    assert r.status_code == 200
    await app.state.applier.process_batch()
    async with app.state.db.session() as s:
        (row,) = (await s.execute(select(InboxEvent))).scalars()
    assert (row.status, row.attempts) == ("dead", 1)
    assert "manual payout" in (row.last_error or "")
    assert not lines.called
    bal = {(b.account, b.currency): b.balance for b in await app.state.ledger.balances()}
    assert bal.get(("assets:bank:main", "EUR"), 0) == 0


async def test_a_charge_refunded_that_names_no_refund_says_so(
    client, app, keys: Keys, respx_mock: respx.MockRouter
) -> None:
    """Since API version 2022-11-15 ``charge.refunded`` embeds no refund: its refund comes
    with the ``refund.*`` events. Of a payment regie knows, it is ignored saying that, not
    as the refund of an unknown payment, which would send an operator looking for one."""
    inv = await start_checkout(client, keys, respx_mock)
    async with app.state.db.session() as s:
        (pay,) = (await s.execute(select(Payment).where(Payment.invoice_id == inv["id"]))).scalars()
    paid = session(
        status="complete", payment_status="paid", metadata={"payment_id": pay.id},
        client_reference_id=pay.id,
        payment_intent=expanded_intent(metadata={"payment_id": pay.id}),
    )  # fmt: skip
    respx_mock.get(f"{RESPX_BASE}/v1/checkout/sessions/{CS_ID}").mock(
        return_value=httpx.Response(200, json=paid)
    )
    done = {**paid, "payment_intent": PI_ID}
    body = event_body("checkout.session.completed", done, event_id="evt_1RegiePaidFirst0000000")
    assert (await client.post("/webhooks/stripe", content=body, headers=sign(body, SECRETS[0]))).status_code == 200  # fmt: skip
    await app.state.applier.process_batch()
    charge = stripe_object("charge", id="ch_3RegieRefunded", payment_intent=PI_ID, refunds=None)
    body = event_body("charge.refunded", charge, event_id="evt_1RegieChargeRefunded00")
    assert (await client.post("/webhooks/stripe", content=body, headers=sign(body, SECRETS[0]))).status_code == 200  # fmt: skip
    await app.state.applier.process_batch()
    async with app.state.db.session() as s:
        row = (
            await s.execute(select(InboxEvent).where(InboxEvent.raw_type == "charge.refunded"))
        ).scalar_one()
    assert (row.status, row.outcome) == (
        "ignored",
        "ignored: the event names no refund (its refund.* events carry it)",
    )
