"""regie wired to Stripe, on Stripe's checkout: the rarer paths of issue 9 ("Checkout").

Checkout Sessions are answered by ``RecordedCheckouts`` (Stripe's recorded object, kept
in the state Stripe would keep it in; localstripe has no Checkout Sessions); a declined
card's PaymentIntent and its signed ``payment_intent.payment_failed`` come from
localstripe. Events are signed as Stripe signs them and applied by the worker.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import select, update

from payments.models import Invoice, Refund, StateChange
from receipts.models import Receipt
from regie.kit.tenancy import Service
from tests.conftest import Keys, create_invoice, token_of
from tests.stripe.conftest import (
    API_KEY,
    RESPX_BASE,
    RESPX_KEY,
    SECRETS,
    WEBHOOK_SECRET,
    LocalStripe,
)
from tests.stripe.recorded_checkout import RecordedCheckouts, intent, signed_event
from webhooks.outbound.models import WebhookDelivery

pytestmark = pytest.mark.filterwarnings(
    "ignore:Use 'content=<...>' to upload raw bytes/text content:DeprecationWarning"
)


@pytest.fixture
def settings(settings_factory):
    return settings_factory(
        psp="stripe",
        stripe_api_key=RESPX_KEY,
        # localstripe signs its own deliveries with WEBHOOK_SECRET
        stripe_webhook_secrets=",".join([*SECRETS, WEBHOOK_SECRET]),
        stripe_api_base=RESPX_BASE,
    )


@pytest.fixture
def stripe(respx_mock: respx.MockRouter) -> RecordedCheckouts:
    return RecordedCheckouts(respx_mock)


# ------------------------------------------------------------------------ helpers
async def press_pay(client: httpx.AsyncClient, inv: dict[str, Any], lang: str = "") -> Any:
    return await client.post(f"/pay/{token_of(inv)}/checkout" + (f"?lang={lang}" if lang else ""))


async def deliver(
    client: httpx.AsyncClient, app: Any, event_type: str, obj: dict[str, Any], event_id: str
) -> None:
    """Stripe sends the event (its object as webhooks carry it); the worker applies it."""
    body, headers = signed_event(event_type, obj, SECRETS[0], event_id=event_id)
    r = await client.post("/webhooks/stripe", content=body, headers=headers)
    assert r.status_code == 200 and r.json()["ignored"] is False, r.text
    assert await app.state.applier.process_batch() == 1


def as_sent(session: dict[str, Any]) -> dict[str, Any]:
    """A session as a webhook carries it: its PaymentIntent as an id, not expanded."""
    pi = session.get("payment_intent")
    return {**session, "payment_intent": pi["id"] if isinstance(pi, dict) else pi}


async def invoice(client: httpx.AsyncClient, keys: Keys, invoice_id: str) -> dict[str, Any]:
    r = await client.get(f"/v1/invoices/{invoice_id}", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def listen(client: httpx.AsyncClient, keys: Keys) -> None:
    """The client service registers a notification endpoint (nothing is delivered here)."""
    r = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/hooks"},
        headers=Keys.h(keys.urbanisme),
    )
    assert r.status_code == 201, r.text


async def notified(app: Any) -> list[str]:
    async with app.state.db.session() as s:
        rows = (await s.execute(select(WebhookDelivery))).scalars().all()
    return [d.event_type for d in sorted(rows, key=lambda d: d.seq)]


async def balances(app: Any) -> dict[tuple[str, str], int]:
    return {
        (b.account, b.currency): b.balance for b in await app.state.ledger.balances() if b.balance
    }


async def past_due(app: Any, invoice_id: str) -> None:
    async with app.state.db.session() as s:
        await s.execute(
            update(Invoice)
            .where(Invoice.id == invoice_id)
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        await s.commit()


def pay_id_of(stripe: RecordedCheckouts) -> str:
    return stripe.forms[-1]["client_reference_id"]


# ======================================================= a declined card on Stripe's page
async def test_a_declined_card_fails_nothing_while_the_session_is_open(
    client, app, keys: Keys, stripe: RecordedCheckouts, respx_mock, localstripe: LocalStripe
) -> None:
    respx_mock.route(host="127.0.0.1").pass_through()  # localstripe itself
    await listen(client, keys)
    inv = await create_invoice(client, keys.urbanisme)
    assert (await press_pay(client, inv)).status_code == 303
    cs, pay_id = stripe.last(), pay_id_of(stripe)

    # the citizen's card is declined on Stripe's page (localstripe makes the PaymentIntent
    # and signs the event Stripe sends); Stripe keeps the citizen there to try another card
    pm = await localstripe.payment_method("4000000000000341")
    pi = await localstripe.payment_intent(2500, payment_ref=pay_id, payment_method=pm)
    failed = await asyncio.to_thread(
        localstripe.receiver.wait_for,
        lambda d: d["type"] == "payment_intent.payment_failed" and d["data"]["object"]["id"] == pi,
    )
    async with httpx.AsyncClient(base_url=localstripe.base_url, timeout=10) as ls:
        declined = (
            await ls.get(
                f"/v1/payment_intents/{pi}", headers={"Authorization": f"Bearer {API_KEY}"}
            )
        ).json()
    assert declined["status"] == "requires_payment_method" and declined["last_payment_error"]
    respx_mock.get(f"{RESPX_BASE}/v1/payment_intents/{pi}").mock(
        return_value=httpx.Response(200, json=declined)
    )
    stripe.set(cs, payment_intent=declined)  # the session is still open

    signature = next(v for k, v in failed.headers.items() if k.lower() == "stripe-signature")
    r = await client.post(
        "/webhooks/stripe",
        content=failed.body,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )
    assert r.status_code == 200 and r.json()["ignored"] is False, r.text
    assert await app.state.applier.process_batch() == 1

    doc = await invoice(client, keys, inv["id"])
    assert doc["status"] == "open"
    assert [p["status"] for p in doc["payments"]] == ["pending"]
    assert "invoice.payment_failed" not in await notified(app)

    # the citizen gives up; the session expires: the session's event decides
    await deliver(
        client, app, "checkout.session.expired", as_sent(stripe.set(cs, status="expired")),
        "evt_1RegieDeclinedThenExpired",
    )  # fmt: skip
    doc = await invoice(client, keys, inv["id"])
    assert doc["status"] == "open"
    assert [p["status"] for p in doc["payments"]] == ["expired"]
    assert "invoice.payment_failed" not in await notified(app)
    page = await client.get(f"/pay/{token_of(inv)}")
    assert f'action="/pay/{token_of(inv)}/checkout' in page.text  # they can pay again


async def test_a_delayed_payment_that_fails_is_a_failure_the_service_hears_of(
    client, app, keys: Keys, stripe: RecordedCheckouts
) -> None:
    await listen(client, keys)
    inv = await create_invoice(client, keys.urbanisme)
    await press_pay(client, inv)
    cs, pay_id = stripe.last(), pay_id_of(stripe)
    failed = intent(
        pay_id, 2500, "requires_payment_method",
        last_payment_error={"code": "insufficient_funds", "message": "Insufficient funds."},
    )  # fmt: skip
    session = stripe.set(cs, status="complete", payment_status="unpaid", payment_intent=failed)
    await deliver(
        client, app, "checkout.session.async_payment_failed", as_sent(session), "evt_1RegieAsyncKo"
    )
    doc = await invoice(client, keys, inv["id"])
    assert [(p["status"], p["failure"]["code"]) for p in doc["payments"]] == [
        ("failed", "insufficient_funds")
    ]
    assert await notified(app) == ["invoice.payment_failed"]


# ============================================================== delayed payment methods
async def _processing(
    client: httpx.AsyncClient, app: Any, keys: Keys, stripe: RecordedCheckouts
) -> tuple[dict[str, Any], str, str]:
    """The citizen completes the checkout with a SEPA debit: complete, but not paid yet."""
    inv = await create_invoice(client, keys.urbanisme)
    await press_pay(client, inv)
    cs, pay_id = stripe.last(), pay_id_of(stripe)
    session = stripe.set(
        cs, status="complete", payment_status="unpaid",
        payment_intent=intent(pay_id, 2500, "processing", id="pi_3RegieSepa"),
    )  # fmt: skip
    await deliver(client, app, "checkout.session.completed", as_sent(session), "evt_1RegieSepaDone")
    (payment,) = (await invoice(client, keys, inv["id"]))["payments"]
    assert payment["status"] == "pending" and payment["processing_since"] is not None
    # the citizen is told it is on its way, and not offered to pay again
    back = stripe.forms[-1]["success_url"].replace("{CHECKOUT_SESSION_ID}", cs)
    page = await client.get(back)
    assert "Paiement en cours" in page.text and "Votre banque traite ce paiement" in page.text
    assert 'data-state="pending"' not in page.text  # nothing to poll for days
    page = await client.get(f"/pay/{token_of(inv)}")
    assert "Votre banque traite ce paiement" in page.text
    assert f'action="/pay/{token_of(inv)}/checkout' not in page.text
    return inv, cs, pay_id


async def test_a_delayed_payment_outlives_its_invoice_and_its_success_settles_it(
    client, app, keys: Keys, stripe: RecordedCheckouts
) -> None:
    await listen(client, keys)
    inv, cs, pay_id = await _processing(client, app, keys, stripe)

    await past_due(app, inv["id"])
    assert await app.state.payments.expire_due() == 1
    doc = await invoice(client, keys, inv["id"])
    assert doc["status"] == "expired"
    assert [p["status"] for p in doc["payments"]] == ["pending"]  # not expired with it
    assert ("expire", cs) not in stripe.calls  # Stripe could not stop it anyway

    # days later the bank pays
    paid = stripe.set(
        cs, payment_status="paid", payment_intent=intent(pay_id, 2500, id="pi_3RegieSepa")
    )
    await deliver(
        client, app, "checkout.session.async_payment_succeeded", as_sent(paid), "evt_1RegieSepaOk"
    )
    doc = await invoice(client, keys, inv["id"])
    assert (doc["status"], doc["amount_paid"], doc["amount_due"]) == ("paid", 2500, 0)
    assert doc["paid_at"] is not None and doc["expired_at"] is not None
    (payment,) = doc["payments"]
    assert (payment["status"], payment["is_overpayment"]) == ("succeeded", False)
    async with app.state.db.session() as s:
        assert (await s.execute(select(Refund))).scalars().all() == []  # nothing given back
        assert len((await s.execute(select(Receipt))).scalars().all()) == 1
        change = (
            await s.execute(
                select(StateChange).where(
                    StateChange.object == "invoice", StateChange.from_status == "expired"
                )
            )
        ).scalar_one()
    assert change.to_status == "paid" and change.note
    bal = await balances(app)
    assert ("receivable:urbanisme", "EUR") not in bal  # owed, then paid: nothing owed
    assert ("liabilities:overpayments", "EUR") not in bal
    assert bal[("income:urbanisme", "EUR")] == -2500
    assert bal[("assets:psp:stripe", "EUR")] == 2500 - 90
    assert await notified(app) == ["invoice.expired", "invoice.paid"]


async def test_a_delayed_payment_that_fails_after_its_invoice_expired(
    client, app, keys: Keys, stripe: RecordedCheckouts
) -> None:
    await listen(client, keys)
    inv, cs, pay_id = await _processing(client, app, keys, stripe)
    await past_due(app, inv["id"])
    assert await app.state.payments.expire_due() == 1
    failed = stripe.set(
        cs, payment_intent=intent(
            pay_id, 2500, "requires_payment_method", id="pi_3RegieSepa",
            last_payment_error={"code": "insufficient_funds", "message": "Insufficient funds."},
        ),
    )  # fmt: skip
    await deliver(
        client, app, "checkout.session.async_payment_failed", as_sent(failed), "evt_1RegieSepaKo"
    )
    doc = await invoice(client, keys, inv["id"])
    assert doc["status"] == "expired"
    assert [p["status"] for p in doc["payments"]] == ["failed"]
    assert await notified(app) == ["invoice.expired", "invoice.payment_failed"]
    assert ("receivable:urbanisme", "EUR") not in await balances(app)


async def test_a_delayed_payment_of_a_canceled_invoice_is_still_given_back(
    client, app, keys: Keys, stripe: RecordedCheckouts
) -> None:
    inv, cs, pay_id = await _processing(client, app, keys, stripe)
    r = await client.post(f"/v1/invoices/{inv['id']}/cancel", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200 and r.json()["status"] == "canceled"
    paid = stripe.set(
        cs, payment_status="paid", payment_intent=intent(pay_id, 2500, id="pi_3RegieSepa")
    )
    await deliver(
        client, app, "checkout.session.async_payment_succeeded", as_sent(paid), "evt_1RegieLate"
    )
    doc = await invoice(client, keys, inv["id"])
    assert doc["status"] == "canceled"
    assert [(p["status"], p["is_overpayment"]) for p in doc["payments"]] == [("succeeded", True)]
    async with app.state.db.session() as s:
        (refund,) = (await s.execute(select(Refund))).scalars().all()
    assert (refund.origin, refund.amount) == ("overpayment", 2500)


# ======================================================= the session and the invoice's life
async def test_pay_is_refused_when_less_time_remains_than_stripes_shortest_session(
    client, app, keys: Keys, stripe: RecordedCheckouts
) -> None:
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30, seconds=20)
    inv = await create_invoice(client, keys.urbanisme, expires_at=soon.isoformat())
    page = await client.get(f"/pay/{token_of(inv)}")
    assert page.status_code == 200
    assert "expire dans moins de 31\u00a0minutes" in page.text
    assert f'action="/pay/{token_of(inv)}/checkout' not in page.text
    r = await press_pay(client, inv, lang="en")
    assert r.status_code == 409
    assert "expires in less than 31 minutes" in r.text and "Contact Mairie – Urbanisme" in r.text
    assert stripe.calls == []  # Stripe was never asked
    assert (await invoice(client, keys, inv["id"]))["payments"] == []


async def test_a_session_never_outlives_its_invoice(
    client, app, keys: Keys, stripe: RecordedCheckouts
) -> None:
    ends = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).replace(microsecond=0)
    inv = await create_invoice(client, keys.urbanisme, expires_at=ends.isoformat())
    assert (await press_pay(client, inv)).status_code == 303
    assert int(stripe.forms[-1]["expires_at"]) == int(ends.timestamp())


# ================================================================== pressing Pay again
async def test_pressing_pay_again_expires_the_open_session_first(
    client, app, keys: Keys, stripe: RecordedCheckouts
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    first = await press_pay(client, inv)
    cs1 = stripe.last()
    second = await press_pay(client, inv)  # another tab
    cs2 = stripe.last()
    assert cs1 != cs2 and second.headers["location"].endswith(cs2)
    assert first.headers["location"].endswith(cs1)
    assert stripe.calls == [("create", cs1), ("expire", cs1), ("create", cs2)]
    assert stripe.sessions[cs1]["status"] == "expired"  # the first tab can no longer pay
    doc = await invoice(client, keys, inv["id"])
    assert [p["status"] for p in doc["payments"]] == ["canceled", "pending"]


async def test_pressing_pay_again_after_paying_on_stripes_page_opens_nothing(
    client, app, keys: Keys, stripe: RecordedCheckouts
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await press_pay(client, inv)
    cs, pay_id = stripe.last(), pay_id_of(stripe)
    stripe.set(cs, status="complete", payment_status="paid", payment_intent=intent(pay_id, 2500))
    r = await press_pay(client, inv)  # the event has not arrived yet
    assert r.status_code == 303
    assert r.headers["location"].startswith(f"/pay/{token_of(inv)}/return?payment={pay_id}")
    assert stripe.created() == [cs]  # no second session
    page = await client.get(r.headers["location"])
    assert "Paiement accepté" in page.text
    doc = await invoice(client, keys, inv["id"])
    assert doc["status"] == "paid"
    assert [p["status"] for p in doc["payments"]] == ["succeeded"]


# ===================================================================== session options
async def test_the_session_carries_the_payers_email_its_id_and_the_services_suffix(
    client, app, keys: Keys, stripe: RecordedCheckouts
) -> None:
    async with app.state.db.session() as s:
        await s.execute(
            update(Service)
            .where(Service.slug == "urbanisme")
            .values(statement_descriptor_suffix="URBANISME")
        )
        await s.commit()
    inv = await create_invoice(client, keys.urbanisme)
    await press_pay(client, inv)
    sent, pay_id = stripe.forms[-1], pay_id_of(stripe)
    assert sent["customer_email"] == "camille@example.org"
    assert sent["payment_intent_data[statement_descriptor_suffix]"] == "URBANISME"
    assert sent["success_url"] == (
        f"http://testserver/pay/{token_of(inv)}/return?payment={pay_id}"
        "&session={CHECKOUT_SESSION_ID}"
    )

    other = await create_invoice(
        client, keys.etat_civil, reference="EC-1", payer={"name": "Sans courriel"}
    )
    await press_pay(client, other)
    sent = stripe.forms[-1]
    assert "customer_email" not in sent
    assert "payment_intent_data[statement_descriptor_suffix]" not in sent


async def test_the_return_page_asks_stripe_about_its_own_session(
    client, app, keys: Keys, stripe: RecordedCheckouts
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await press_pay(client, inv)
    cs, pay_id = stripe.last(), pay_id_of(stripe)
    stripe.set(cs, status="complete", payment_status="paid", payment_intent=intent(pay_id, 2500))
    back = stripe.forms[-1]["success_url"].replace("{CHECKOUT_SESSION_ID}", cs)

    # a session id that is not this payment's is not even looked up
    wrong = await client.get(back.replace(cs, "cs_test_someoneElses"))
    assert "Paiement en cours de confirmation" in wrong.text
    assert ("retrieve", "cs_test_someoneElses") not in stripe.calls

    page = await client.get(back)  # no webhook has arrived: the page asks Stripe
    assert "Paiement accepté" in page.text
    assert ("retrieve", cs) in stripe.calls
    assert (await invoice(client, keys, inv["id"]))["status"] == "paid"


# ============================================================================== errors
REFUSALS = {
    "amount-too-small": httpx.Response(
        400,
        json={
            "error": {
                "type": "invalid_request_error",
                "code": "amount_too_small",
                "param": "line_items[0][price_data][unit_amount]",
                "message": "The Checkout Session's total amount due must add up to at least €0.50 eur",
            }
        },
    ),
    "bad-key": httpx.Response(
        401,
        json={
            "error": {
                "type": "invalid_request_error",
                "message": "Invalid API Key provided: sk_test_51Re************************Leak",
            }
        },
    ),
}


@pytest.mark.parametrize("refusal", list(REFUSALS))
async def test_stripe_refusing_the_checkout_is_not_stripe_being_down(
    client, app, keys: Keys, stripe: RecordedCheckouts, caplog, refusal: str
) -> None:
    stripe.refuse_create = REFUSALS[refusal]
    inv = await create_invoice(client, keys.urbanisme)
    with caplog.at_level(logging.INFO):
        r = await press_pay(client, inv)
    assert r.status_code == 502
    assert "a refusé" in r.text and "ne répond pas" not in r.text
    assert "Mairie – Urbanisme" in r.text  # whom to contact: trying again will not help
    assert RESPX_KEY not in r.text and "Traceback" not in r.text
    doc = await invoice(client, keys, inv["id"])
    assert doc["status"] == "open"
    assert [(p["status"], p["failure"]["code"]) for p in doc["payments"]] == [
        ("failed", "provider_refused")
    ]
    messages = [rec.getMessage() for rec in caplog.records if rec.name == "regie.payments"]
    assert "checkout refused by the payment provider" in messages
    assert "payment provider unreachable at checkout" not in messages
    assert all(RESPX_KEY not in rec.getMessage() for rec in caplog.records)


async def test_stripe_unreachable_at_checkout_says_so_and_logs_so(
    client, app, keys: Keys, stripe: RecordedCheckouts, caplog, monkeypatch
) -> None:
    provider = app.state.payments.provider
    for http in (provider._http, provider._checkout_http):
        monkeypatch.setattr(http, "_sleep_time_seconds", lambda num_retries: 0.0)
    stripe.refuse_create = httpx.ConnectError("connection refused")
    inv = await create_invoice(client, keys.urbanisme)
    with caplog.at_level(logging.INFO):
        r = await press_pay(client, inv)
    assert r.status_code == 502
    assert "ne répond pas" in r.text and "a refusé" not in r.text
    doc = await invoice(client, keys, inv["id"])
    assert [(p["status"], p["failure"]["code"]) for p in doc["payments"]] == [
        ("failed", "provider_unavailable")
    ]
    messages = [rec.getMessage() for rec in caplog.records if rec.name == "regie.payments"]
    assert "payment provider unreachable at checkout" in messages
    assert "checkout refused by the payment provider" not in messages
