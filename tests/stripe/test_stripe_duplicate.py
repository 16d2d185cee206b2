"""Paying twice through a stale Checkout page (issue 11, "Money"), regie wired to Stripe.

Two tabs each opened a Checkout Session of one invoice. When the invoice is paid through
one, the worker expires the other at Stripe (``POST /v1/checkout/sessions/{id}/expire``),
asks again later when Stripe does not answer, and takes a session that was completed
meanwhile for what it is: a duplicate, refunded, whose return page says so.

Checkout Sessions are answered by ``RecordedCheckouts`` (localstripe has none).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from payments.models import Payment, Refund, StateChange
from regie.composition import build_worker
from tests.conftest import Keys, create_invoice, token_of
from tests.stripe.conftest import RESPX_BASE, RESPX_KEY, SECRETS, WEBHOOK_SECRET
from tests.stripe.recorded_checkout import RecordedCheckouts, intent, signed_event

pytestmark = pytest.mark.filterwarnings(
    "ignore:Use 'content=<...>' to upload raw bytes/text content:DeprecationWarning"
)


@pytest.fixture
def settings(settings_factory):
    return settings_factory(
        psp="stripe",
        stripe_api_key=RESPX_KEY,
        stripe_webhook_secrets=",".join([*SECRETS, WEBHOOK_SECRET]),
        stripe_api_base=RESPX_BASE,
    )


@pytest.fixture
def stripe(respx_mock) -> RecordedCheckouts:
    return RecordedCheckouts(respx_mock)


async def two_sessions_at_once(
    client: httpx.AsyncClient, app: Any, inv: dict[str, Any], stripe: RecordedCheckouts
) -> tuple[tuple[str, str], tuple[str, str]]:
    """Two tabs press Pay at the same moment: the second reads the invoice's checkouts
    while the first is being opened at Stripe, so it has none to expire. Each tab's
    (session id, payment id)."""
    provider = app.state.payments.provider
    real = provider.create_checkout
    pressed: list[httpx.Response] = []
    once: list[bool] = []

    async def the_other_tab_presses_meanwhile(*args: Any) -> Any:
        if not once:
            once.append(True)  # (the second press goes straight to Stripe)
            pressed.append(await client.post(f"/pay/{token_of(inv)}/checkout"))
        return await real(*args)

    provider.create_checkout = the_other_tab_presses_meanwhile
    try:
        first = await client.post(f"/pay/{token_of(inv)}/checkout")
    finally:
        del provider.create_checkout
    assert first.status_code == pressed[0].status_code == 303
    (cs_b, form_b), (cs_a, form_a) = zip(stripe.created(), stripe.forms, strict=True)
    assert first.headers["location"].endswith(cs_a)
    assert stripe.sessions[cs_a]["status"] == stripe.sessions[cs_b]["status"] == "open"
    return (cs_a, form_a["client_reference_id"]), (cs_b, form_b["client_reference_id"])


async def pay_on_stripe(
    client: httpx.AsyncClient, app: Any, stripe: RecordedCheckouts, cs: str, pay_id: str
) -> None:
    """The citizen pays on Stripe's page; Stripe sends checkout.session.completed."""
    session = stripe.set(
        cs, status="complete", payment_status="paid", payment_intent=intent(pay_id, 2500)
    )
    sent = {**session, "payment_intent": session["payment_intent"]["id"]}
    body, headers = signed_event(
        "checkout.session.completed", sent, SECRETS[0], event_id=f"evt_1Regie{cs[-8:]}"
    )
    r = await client.post("/webhooks/stripe", content=body, headers=headers)
    assert r.status_code == 200, r.text


async def run_worker_drains(app: Any) -> None:
    """What the worker does on every tick before its periodic jobs: its drains."""
    worker = build_worker(app.state.settings, app.state.services)
    for drain in worker.drains:
        await drain(20)


async def statuses(client: httpx.AsyncClient, keys: Keys, inv: dict[str, Any]) -> dict[str, str]:
    r = await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))
    return {p["id"]: p["status"] for p in r.json()["payments"]}


async def cancel_causes(app: Any, payment_id: str) -> list[tuple[str, str | None]]:
    async with app.state.db.session() as s:
        stmt = select(StateChange).where(
            StateChange.payment_id == payment_id, StateChange.to_status == "canceled"
        )
        return [(c.cause, c.note) for c in (await s.execute(stmt)).scalars()]


@pytest.mark.parametrize("left", ["open", "expired"])
async def test_paying_one_session_expires_the_other_at_stripe(
    client, app, keys: Keys, stripe: RecordedCheckouts, left: str
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    (cs_a, pay_a), (cs_b, pay_b) = await two_sessions_at_once(client, app, inv, stripe)
    if left == "expired":  # it ended on its own before regie came to it: Stripe's 400
        stripe.set(cs_b, status="expired")
    await pay_on_stripe(client, app, stripe, cs_a, pay_a)
    await run_worker_drains(app)  # the event pays the invoice
    await run_worker_drains(app)

    assert ("expire", cs_b) in stripe.calls
    assert ("expire", cs_a) not in stripe.calls  # the paid one is left alone
    assert stripe.sessions[cs_b]["status"] == "expired"  # the other tab can no longer pay
    assert await statuses(client, keys, inv) == {pay_a: "succeeded", pay_b: "canceled"}
    ((cause, note),) = await cancel_causes(app, pay_b)
    assert cause == "sweeper:close-checkout" and note and pay_a in note


async def test_stripe_down_when_expiring_is_retried_later(
    client, app, keys: Keys, stripe: RecordedCheckouts, monkeypatch
) -> None:
    provider = app.state.payments.provider
    monkeypatch.setattr(provider._http, "_sleep_time_seconds", lambda num_retries: 0.0)
    inv = await create_invoice(client, keys.urbanisme)
    (cs_a, pay_a), (cs_b, pay_b) = await two_sessions_at_once(client, app, inv, stripe)
    stripe.refuse_expire = httpx.ConnectError("connection refused")
    await pay_on_stripe(client, app, stripe, cs_a, pay_a)
    await run_worker_drains(app)
    await run_worker_drains(app)
    tried = stripe.calls.count(("expire", cs_b))
    assert tried >= 1  # (the SDK's own retries included)
    assert stripe.sessions[cs_b]["status"] == "open"
    assert await statuses(client, keys, inv) == {pay_a: "succeeded", pay_b: "pending"}

    stripe.refuse_expire = None  # Stripe is back
    await run_worker_drains(app)
    assert stripe.calls.count(("expire", cs_b)) == tried  # postponed, not hammered
    async with app.state.db.session() as s:
        await s.execute(  # the retry's time has come
            update(Payment)
            .where(Payment.id == pay_b)
            .values(close_checkout_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        await s.commit()
    await run_worker_drains(app)
    assert stripe.sessions[cs_b]["status"] == "expired"
    assert await statuses(client, keys, inv) == {pay_a: "succeeded", pay_b: "canceled"}


async def test_a_session_completed_before_it_could_be_expired_is_a_refunded_duplicate(
    client, app, keys: Keys, stripe: RecordedCheckouts
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    (cs_a, pay_a), (cs_b, pay_b) = await two_sessions_at_once(client, app, inv, stripe)
    await pay_on_stripe(client, app, stripe, cs_a, pay_a)
    await run_worker_drains(app)
    # the second tab's card was taken at the same moment; its event has not come yet
    stripe.set(cs_b, status="complete", payment_status="paid", payment_intent=intent(pay_b, 2500))
    await run_worker_drains(app)

    assert ("expire", cs_b) in stripe.calls  # Stripe said no: it is complete
    assert await statuses(client, keys, inv) == {pay_a: "succeeded", pay_b: "succeeded"}
    async with app.state.db.session() as s:
        (refund,) = (await s.execute(select(Refund))).scalars().all()
        dup = await s.get(Payment, pay_b)
    assert dup is not None and dup.is_overpayment
    assert (refund.payment_id, refund.origin, refund.amount) == (pay_b, "overpayment", 2500)
    assert await cancel_causes(app, pay_b) == []

    back = next(f["success_url"] for f in stripe.forms if f["client_reference_id"] == pay_b)
    page = await client.get(back.replace("{CHECKOUT_SESSION_ID}", cs_b))
    assert "Paiement en double" in page.text and "Paiement accepté" not in page.text
    assert "Ce second paiement de 25,00\u00a0€ vous est remboursé en totalité" in page.text


async def test_a_payment_of_a_canceled_bill_says_it_was_not_owed(
    client, app, keys: Keys, stripe: RecordedCheckouts
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await client.post(f"/pay/{token_of(inv)}/checkout")
    cs, pay_id = stripe.last(), stripe.forms[-1]["client_reference_id"]
    # a SEPA debit: the payer is done, the money on its way when the bill is canceled
    session = stripe.set(
        cs, status="complete", payment_status="unpaid",
        payment_intent=intent(pay_id, 2500, "processing", id="pi_3RegieSepaDup"),
    )  # fmt: skip
    sent = {**session, "payment_intent": "pi_3RegieSepaDup"}
    body, headers = signed_event(
        "checkout.session.completed", sent, SECRETS[0], event_id="evt_1RegieSepaDup"
    )
    assert (await client.post("/webhooks/stripe", content=body, headers=headers)).is_success
    await run_worker_drains(app)
    r = await client.post(f"/v1/invoices/{inv['id']}/cancel", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200
    stripe.set(
        cs, payment_status="paid", payment_intent=intent(pay_id, 2500, id="pi_3RegieSepaDup")
    )
    back = stripe.forms[-1]["success_url"].replace("{CHECKOUT_SESSION_ID}", cs)
    page = await client.get(back)  # the return page asks Stripe: it succeeded
    assert "Paiement non dû" in page.text and "Paiement accepté" not in page.text
    assert "Cette facture avait été annulée" in page.text
    assert "Ce paiement de 25,00\u00a0€ vous est remboursé en totalité" in page.text
    assert "Le remboursement est en cours" in page.text
