"""The Stripe adapter, three ways.

1. Against **localstripe** (a fake Stripe server in a subprocess): PaymentIntent retrieval
   (card, declined, asynchronous SEPA, canceled), refunds, events, payouts, errors of a
   real HTTP server, and its signed webhook deliveries to a real local receiver.
2. Against **recorded Stripe payloads** (Stripe's canonical objects from
   ``fixtures/stripe_objects.json``) for what localstripe does not have: Checkout
   Sessions, balance transactions filtered by date, refund/dispute/checkout events, and
   every webhook mapping, signed here with the test's own secrets.
3. Against **respx** for faults: timeouts, 500/503, 429 with ``Retry-After``, connection
   resets, and the SDK's retries (one retry layer only).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import time
import urllib.parse
from typing import Any

import httpx
import pytest
import respx

from payments.providers.base import (
    EVENT_CHECKOUT_EXPIRED,
    EVENT_DISPUTE_CLOSED,
    EVENT_DISPUTE_OPENED,
    EVENT_IGNORED,
    EVENT_PAYMENT_FAILED,
    EVENT_PAYMENT_PROCESSING,
    EVENT_PAYMENT_SUCCEEDED,
    EVENT_PAYOUT_FAILED,
    EVENT_PAYOUT_PAID,
    EVENT_REFUND_UPDATED,
    CheckoutRequest,
    CheckoutUrls,
    PaymentProvider,
    ProviderError,
    SignatureError,
)
from payments.providers.stripe.client import StripeProvider
from tests.stripe.conftest import (
    API_KEY,
    RESPX_BASE,
    RESPX_KEY,
    SECRETS,
    WEBHOOK_SECRET,
    LocalStripe,
    event_body,
    sign,
    stripe_object,
)

# stripe's HTTPXClient passes the form body as ``data=<str>``, which httpx deprecates
pytestmark = pytest.mark.filterwarnings(
    "ignore:Use 'content=<...>' to upload raw bytes/text content:DeprecationWarning"
)

PAY_REF = "pay_01JREGIETESTPAYMENT0001"
INV_REF = "inv_01JREGIETESTINVOICE0001"
PI_ID = "pi_3RegieTestPaymentIntent"
CS_ID = "cs_test_a1RegieCheckoutSession"
CH_ID = "ch_3RegieTestCharge"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def form(request: httpx.Request) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(request.content.decode()))


def stripe_error(status: int, **error: Any) -> httpx.Response:
    return httpx.Response(status, json={"error": error})


def test_it_is_a_payment_provider() -> None:
    p = StripeProvider(RESPX_KEY, list(SECRETS), api_base=RESPX_BASE)
    assert isinstance(p, PaymentProvider)
    assert p.name == "stripe"
    assert RESPX_KEY not in repr(p)


def test_configuration_is_checked() -> None:
    with pytest.raises(ValueError):
        StripeProvider("", list(SECRETS))
    with pytest.raises(ValueError):
        StripeProvider(RESPX_KEY, ["", "  "])


# =====================================================================================
# 1. localstripe
# =====================================================================================
async def test_retrieve_succeeded_payment_intent(
    localstripe: LocalStripe, provider: StripeProvider
) -> None:
    pm = await localstripe.payment_method("4242424242424242")
    pi = await localstripe.payment_intent(4500, payment_ref=PAY_REF, payment_method=pm)

    truth = await provider.retrieve_payment(pi)

    assert truth.status == "succeeded"
    assert truth.provider_payment_id == pi
    assert truth.checkout_id is None
    assert (truth.amount, truth.currency) == (4500, "EUR")
    assert truth.payment_ref == PAY_REF
    assert truth.fee == 0  # localstripe's balance transactions carry no fee
    # localstripe's charges have no payment_method_details: last4 only if it gives it
    assert truth.card_last4 in (None, "4242")
    assert truth.failure_code is None


async def test_retrieve_declined_payment_intent(
    localstripe: LocalStripe, provider: StripeProvider
) -> None:
    pm = await localstripe.payment_method("4000000000000341")  # declined when charged
    pi = await localstripe.payment_intent(4500, payment_ref=PAY_REF, payment_method=pm)

    truth = await provider.retrieve_payment(pi)

    assert truth.status == "failed"
    assert truth.failure_code == "card_declined"
    assert truth.failure_message
    assert truth.fee is None


async def test_unconfirmed_then_canceled_payment_intent(
    localstripe: LocalStripe, provider: StripeProvider
) -> None:
    pm = await localstripe.payment_method()
    pi = await localstripe.payment_intent(
        1200, payment_ref=PAY_REF, payment_method=pm, confirm=False
    )
    assert (await provider.retrieve_payment(pi)).status == "pending"

    await localstripe.post(f"/v1/payment_intents/{pi}/cancel", {})
    assert (await provider.retrieve_payment(pi)).status == "canceled"


async def _sepa_payment(localstripe: LocalStripe, iban: str) -> str:
    r = await localstripe.post(
        "/v1/payment_methods", {"type": "sepa_debit", "sepa_debit[iban]": iban}
    )
    return await localstripe.payment_intent(
        3000, payment_ref=PAY_REF, payment_method=str(r.json()["id"])
    )


async def _settled(provider: StripeProvider, pi: str, done: Any) -> Any:
    for _ in range(50):
        truth = await provider.retrieve_payment(pi)
        if done(truth):
            return truth
        await asyncio.sleep(0.1)
    raise AssertionError(f"{pi} did not settle: {truth}")


async def test_asynchronous_debit_pending_then_failed(
    localstripe: LocalStripe, provider: StripeProvider
) -> None:
    # localstripe fails this IBAN half a second after confirmation
    pi = await _sepa_payment(localstripe, "DE62370400440532013001")

    assert (await provider.retrieve_payment(pi)).status == "pending"  # processing
    truth = await _settled(provider, pi, lambda t: t.status != "pending")
    assert truth.status == "failed"
    assert truth.failure_code == "card_declined"  # what localstripe reports


async def test_fee_is_unknown_until_the_balance_transaction_exists(
    localstripe: LocalStripe, provider: StripeProvider
) -> None:
    # localstripe says "succeeded" at once for a good IBAN (Stripe would say processing)
    # but creates the balance transaction half a second later
    pi = await _sepa_payment(localstripe, "DE89370400440532013000")

    first = await provider.retrieve_payment(pi)
    assert first.status == "succeeded"
    assert first.fee is None
    truth = await _settled(provider, pi, lambda t: t.fee is not None)
    assert truth.fee == 0


async def test_full_and_partial_refunds(localstripe: LocalStripe, provider: StripeProvider) -> None:
    pm = await localstripe.payment_method()
    pi = await localstripe.payment_intent(5000, payment_ref=PAY_REF, payment_method=pm)

    partial = await provider.refund(pi, 1500, idempotency_key=f"regie-refund-{PAY_REF}-1")
    assert (partial.amount, partial.currency, partial.status) == (1500, "EUR", "succeeded")
    assert partial.provider_payment_id == pi
    assert partial.id.startswith("re_")

    again = await provider.retrieve_refund(partial.id)
    # read with its PaymentIntent, whose metadata names regie's payment, and its balance
    # transaction (its fee: none on localstripe's refunds; the create's answer has it not)
    assert again == dataclasses.replace(partial, payment_ref=PAY_REF, fee=0, fee_currency="EUR")
    assert partial.fee is None

    rest = await provider.refund(pi, 3500, idempotency_key=f"regie-refund-{PAY_REF}-2")
    assert (rest.amount, rest.status) == (3500, "succeeded")
    assert rest.id != partial.id
    listed = await provider.list_refunds(pi)  # each with its balance transaction
    assert sorted((x.id, x.fee, x.fee_currency) for x in listed) == sorted(
        (x.id, 0, "EUR") for x in (partial, rest)
    )


async def test_refund_of_unknown_payment_is_not_found(provider: StripeProvider) -> None:
    with pytest.raises(ProviderError) as err:
        await provider.refund("pi_doesnotexist000000", 100, idempotency_key="regie-refund-x")
    assert err.value.kind == "not_found"
    assert not err.value.retryable


async def test_unknown_payment_intent_is_not_found(provider: StripeProvider) -> None:
    with pytest.raises(ProviderError) as err:
        await provider.retrieve_payment("pi_doesnotexist000000")
    assert err.value.kind == "not_found"


async def test_a_bad_key_is_an_authentication_error(localstripe: LocalStripe) -> None:
    p = StripeProvider("not_a_key", [WEBHOOK_SECRET], api_base=localstripe.base_url)
    try:
        with pytest.raises(ProviderError) as err:
            await p.retrieve_payment("pi_whatever00000000")
    finally:
        await p.aclose()
    assert err.value.kind == "authentication"
    assert not err.value.retryable
    assert "not_a_key" not in str(err.value)


async def test_shares_the_applications_http_client(localstripe: LocalStripe) -> None:
    async with httpx.AsyncClient() as shared:
        requests: list[httpx.Request] = []

        async def seen(request: httpx.Request) -> None:
            requests.append(request)

        shared.event_hooks["request"].append(seen)
        p = StripeProvider(
            API_KEY, [WEBHOOK_SECRET], api_base=localstripe.base_url, http_client=shared
        )
        pm = await localstripe.payment_method()
        pi = await localstripe.payment_intent(700, payment_ref=PAY_REF, payment_method=pm)
        assert (await p.retrieve_payment(pi)).status == "succeeded"
        await p.aclose()
        assert requests and requests[0].url.path == f"/v1/payment_intents/{pi}"
        assert not shared.is_closed  # the application owns it


async def test_list_events_from_localstripe(
    localstripe: LocalStripe, provider: StripeProvider
) -> None:
    since = now() - dt.timedelta(seconds=1)
    ok_pm = await localstripe.payment_method()
    ok = await localstripe.payment_intent(2500, payment_ref=PAY_REF, payment_method=ok_pm)
    bad_pm = await localstripe.payment_method("4000000000000341")
    bad = await localstripe.payment_intent(
        2500, payment_ref="pay_01JREGIETESTPAYMENT0002", payment_method=bad_pm
    )
    r = await localstripe.post(
        "/v1/payouts", {"amount": "9000", "currency": "eur", "status": "paid"}
    )
    payout = str(r.json()["id"])

    events = [e async for e in provider.list_events(since)]

    by_payment = {e.provider_payment_id: e for e in events if e.provider_payment_id}
    assert by_payment[ok].type == EVENT_PAYMENT_SUCCEEDED
    assert by_payment[ok].payment_ref == PAY_REF
    assert by_payment[bad].type == EVENT_PAYMENT_FAILED
    assert by_payment[bad].data["failure_code"] == "card_declined"
    paid = [e for e in events if e.type == EVENT_PAYOUT_PAID]
    assert [e.data["payout_id"] for e in paid] == [payout]
    assert paid[0].data["amount"] == 9000 and paid[0].data["currency"] == "EUR"
    assert dt.date.fromisoformat(paid[0].data["arrival_date"])
    created = [e.created for e in events]
    assert created == sorted(created)  # oldest first
    assert all(e.created >= since.replace(microsecond=0) for e in events)
    # only the types regie handles are listed: payout.created, which it ignores, is not
    assert not [e for e in events if e.raw_type == "payout.created"]
    assert not [e for e in events if e.type == EVENT_IGNORED]
    for e in events:
        json.dumps(dict(e.data))


async def test_signed_webhook_deliveries_from_localstripe(
    localstripe: LocalStripe, provider: StripeProvider
) -> None:
    pm = await localstripe.payment_method()
    pi = await localstripe.payment_intent(1800, payment_ref=PAY_REF, payment_method=pm)
    r = await localstripe.post(
        "/v1/payouts", {"amount": "1800", "currency": "eur", "status": "paid"}
    )
    payout = str(r.json()["id"])

    succeeded = await asyncio.to_thread(
        localstripe.receiver.wait_for,
        lambda d: d["type"] == "payment_intent.succeeded" and d["data"]["object"]["id"] == pi,
    )
    paid = await asyncio.to_thread(
        localstripe.receiver.wait_for,
        lambda d: d["type"] == "payout.paid" and d["data"]["object"]["id"] == payout,
    )

    event = provider.parse_event(succeeded.body, succeeded.headers)
    assert event.type == EVENT_PAYMENT_SUCCEEDED
    assert (event.provider_payment_id, event.payment_ref) == (pi, PAY_REF)
    assert event.id == succeeded.doc["id"]
    payout_event = provider.parse_event(paid.body, paid.headers)
    assert payout_event.type == EVENT_PAYOUT_PAID
    assert payout_event.data["payout_id"] == payout

    # the same deliveries, checked by a regie whose secret rotated: old one still accepted
    rotated = StripeProvider(API_KEY, ["whsec_new_one", WEBHOOK_SECRET], api_base="http://x")
    assert rotated.parse_event(succeeded.body, succeeded.headers).id == event.id
    # ...and refused by one that does not know the secret
    stranger = StripeProvider(API_KEY, ["whsec_someone_else"], api_base="http://x")
    with pytest.raises(SignatureError):
        stranger.parse_event(succeeded.body, succeeded.headers)
    # ...and refused when a single byte of the body changes
    tampered = succeeded.body.replace(b'"amount": 1800', b'"amount": 1')
    assert tampered != succeeded.body
    with pytest.raises(SignatureError):
        provider.parse_event(tampered, succeeded.headers)


async def test_declined_payment_webhook_from_localstripe(
    localstripe: LocalStripe, provider: StripeProvider
) -> None:
    pm = await localstripe.payment_method("4000000000000341")
    pi = await localstripe.payment_intent(
        900, payment_ref="pay_01JREGIETESTPAYMENT0003", payment_method=pm
    )
    failed = await asyncio.to_thread(
        localstripe.receiver.wait_for,
        lambda d: d["type"] == "payment_intent.payment_failed" and d["data"]["object"]["id"] == pi,
    )
    event = provider.parse_event(failed.body, failed.headers)
    assert event.type == EVENT_PAYMENT_FAILED
    assert event.payment_ref == "pay_01JREGIETESTPAYMENT0003"


# =====================================================================================
# 2. recorded payloads: Checkout Sessions (localstripe has none)
# =====================================================================================
def checkout_request(**changes: Any) -> CheckoutRequest:
    values: dict[str, Any] = dict(
        payment_id=PAY_REF,
        invoice_id=INV_REF,
        invoice_number="2025-000042",
        service_name="Mairie de Trifouilly",
        description="Cantine scolaire - mars",
        amount=4500,
        currency="EUR",
        lines=(("Repas", 10, 400), ("Goûter", 5, 100)),
        expires_at=now() + dt.timedelta(days=30),
        locale="fr",
    )
    values.update(changes)
    return CheckoutRequest(**values)


URLS = CheckoutUrls(
    success_url="https://regie.example/pay/tok/return?payment=" + PAY_REF,
    cancel_url="https://regie.example/pay/tok?canceled=1",
)


def session(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = dict(
        id=CS_ID,
        url=f"https://checkout.stripe.com/c/pay/{CS_ID}",
        amount_total=4500,
        amount_subtotal=4500,
        currency="eur",
        client_reference_id=PAY_REF,
        metadata={"payment_id": PAY_REF, "invoice_id": INV_REF, "invoice_number": "2025-000042"},
        payment_intent=None,
        status="open",
        payment_status="unpaid",
        locale="fr",
        expires_at=int(time.time()) + 3600,
        currency_conversion=None,  # no Adaptive Pricing (regie turns it off)
    )
    values.update(changes)
    return stripe_object("checkout.session", **values)


def expanded_intent(status: str = "succeeded", **changes: Any) -> dict[str, Any]:
    """A PaymentIntent with its latest charge and balance transaction expanded."""
    txn = stripe_object(
        "balance_transaction", id="txn_3RegieTest", amount=4500, fee=93, net=4407, currency="eur"
    )
    charge = stripe_object(
        "charge",
        id=CH_ID,
        amount=4500,
        currency="eur",
        payment_intent=PI_ID,
        balance_transaction=txn,
    )
    charge["payment_method_details"]["card"]["brand"] = "mastercard"
    charge["payment_method_details"]["card"]["last4"] = "4444"
    values: dict[str, Any] = dict(
        id=PI_ID,
        amount=4500,
        currency="eur",
        status=status,
        metadata={"payment_id": PAY_REF, "invoice_id": INV_REF},
        latest_charge=charge,
        last_payment_error=None,
    )
    values.update(changes)
    return stripe_object("payment_intent", **values)


async def test_create_checkout_session(
    respx_mock: respx.MockRouter, respx_provider: StripeProvider
) -> None:
    route = respx_mock.post(f"{RESPX_BASE}/v1/checkout/sessions").mock(
        return_value=httpx.Response(200, json=session())
    )
    before = now()

    created = await respx_provider.create_checkout(checkout_request(), URLS)

    assert created.id == CS_ID
    assert created.url == f"https://checkout.stripe.com/c/pay/{CS_ID}"
    assert created.expires_at.tzinfo is not None
    request = route.calls.last.request
    assert request.headers["Idempotency-Key"] == f"regie-checkout-{PAY_REF}"
    assert request.headers["Authorization"] == f"Bearer {RESPX_KEY}"
    sent = form(request)
    assert sent["mode"] == "payment"
    assert sent["client_reference_id"] == PAY_REF
    assert sent["success_url"] == URLS.success_url
    assert sent["cancel_url"] == URLS.cancel_url
    assert sent["locale"] == "fr"
    assert sent["adaptive_pricing[enabled]"] == "false"
    # captured at once: the charge's balance transaction (its fee) is there at its success,
    # not a moment later as under the asynchronous capture Stripe defaults to since 2024-04-10
    assert sent["payment_intent_data[capture_method]"] == "automatic"
    for prefix in ("metadata", "payment_intent_data[metadata]"):
        assert sent[f"{prefix}[payment_id]"] == PAY_REF
        assert sent[f"{prefix}[invoice_id]"] == INV_REF
        assert sent[f"{prefix}[invoice_number]"] == "2025-000042"
    assert sent["line_items[0][quantity]"] == "10"
    assert sent["line_items[0][price_data][unit_amount]"] == "400"
    assert sent["line_items[0][price_data][currency]"] == "eur"
    assert sent["line_items[0][price_data][product_data][name]"] == "Repas"
    assert sent["line_items[1][quantity]"] == "5"
    assert sent["line_items[1][price_data][unit_amount]"] == "100"
    assert sent["line_items[1][price_data][product_data][name]"] == "Goûter"
    assert "line_items[2][quantity]" not in sent
    # the invoice expires in 30 days: the session is capped just under Stripe's 24 hours
    expires = dt.datetime.fromtimestamp(int(sent["expires_at"]), dt.UTC)
    assert before + dt.timedelta(hours=23, minutes=58) <= expires <= now() + dt.timedelta(hours=24)


@pytest.mark.parametrize(
    ("invoice_expires_in", "low", "high"),
    [
        (dt.timedelta(hours=3), dt.timedelta(hours=3), dt.timedelta(hours=3)),
        (dt.timedelta(minutes=45), dt.timedelta(minutes=45), dt.timedelta(minutes=45)),
        (dt.timedelta(days=400), dt.timedelta(hours=23, minutes=58), dt.timedelta(hours=24)),
        # less than Stripe's 30 minutes left: refused, never extended past the invoice
        # (test_stripe_checkout.py)
    ],
)
async def test_checkout_expiry_stays_within_stripes_limits(
    respx_mock: respx.MockRouter,
    respx_provider: StripeProvider,
    invoice_expires_in: dt.timedelta,
    low: dt.timedelta,
    high: dt.timedelta,
) -> None:
    route = respx_mock.post(f"{RESPX_BASE}/v1/checkout/sessions").mock(
        return_value=httpx.Response(200, json=session())
    )
    start = now()
    wanted = (start + invoice_expires_in).replace(microsecond=0)
    await respx_provider.create_checkout(checkout_request(expires_at=wanted), URLS)
    expires = dt.datetime.fromtimestamp(int(form(route.calls.last.request)["expires_at"]), dt.UTC)
    assert start + low - dt.timedelta(seconds=1) <= expires <= now() + high


async def test_checkout_lines_that_do_not_add_up_become_one_line(
    respx_mock: respx.MockRouter,
    respx_provider: StripeProvider,
) -> None:
    route = respx_mock.post(f"{RESPX_BASE}/v1/checkout/sessions").mock(
        return_value=httpx.Response(200, json=session())
    )
    # the remaining amount of a partly paid invoice, and an unsupported negative line
    for lines in ((("Repas", 10, 400),), (("Repas", 10, 500), ("Remise", 1, -500))):
        await respx_provider.create_checkout(
            checkout_request(lines=lines, locale="en-GB", currency="EUR"), URLS
        )
        sent = form(route.calls.last.request)
        assert sent["line_items[0][quantity]"] == "1"
        assert sent["line_items[0][price_data][unit_amount]"] == "4500"
        assert sent["line_items[0][price_data][product_data][name]"] == "Cantine scolaire - mars"
        assert "line_items[1][quantity]" not in sent
        assert sent["locale"] == "en"


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        (
            {"status": "complete", "payment_status": "paid", "payment_intent": "EXPANDED"},
            "succeeded",
        ),
        ({"status": "open", "payment_status": "unpaid", "payment_intent": None}, "pending"),
        ({"status": "expired", "payment_status": "unpaid", "payment_intent": None}, "expired"),
        (
            {
                "status": "expired",
                "payment_status": "unpaid",
                "payment_intent": "CANCELED",
            },
            "expired",
        ),
        (  # the session not yet marked paid, but its PaymentIntent says the money is there
            {"status": "complete", "payment_status": "unpaid", "payment_intent": "EXPANDED"},
            "succeeded",
        ),
        (
            {"status": "complete", "payment_status": "unpaid", "payment_intent": "PROCESSING"},
            "pending",
        ),
        (
            {"status": "complete", "payment_status": "unpaid", "payment_intent": "FAILED"},
            "failed",
        ),
    ],
)
async def test_retrieve_checkout_session(
    respx_mock: respx.MockRouter,
    respx_provider: StripeProvider,
    changes: dict[str, Any],
    status: str,
) -> None:
    intents = {
        "EXPANDED": expanded_intent(),
        "PROCESSING": expanded_intent("processing", latest_charge=None),
        "CANCELED": expanded_intent("canceled", latest_charge=None),
        "FAILED": expanded_intent(
            "requires_payment_method",
            latest_charge=None,
            last_payment_error={
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "insufficient_funds",
                "message": "Your card has insufficient funds.",
            },
        ),
    }
    values = dict(changes)
    if values["payment_intent"] is not None:
        values["payment_intent"] = intents[values["payment_intent"]]
    route = respx_mock.get(f"{RESPX_BASE}/v1/checkout/sessions/{CS_ID}").mock(
        return_value=httpx.Response(200, json=session(**values))
    )

    truth = await respx_provider.retrieve_payment(CS_ID)

    params = route.calls.last.request.url.params
    assert params["expand[0]"] == "payment_intent.latest_charge.balance_transaction"
    assert truth.status == status
    assert truth.checkout_id == CS_ID
    assert (truth.amount, truth.currency, truth.payment_ref) == (4500, "EUR", PAY_REF)
    if status == "succeeded":
        assert truth.provider_payment_id == PI_ID
        assert (truth.card_brand, truth.card_last4, truth.fee) == ("mastercard", "4444", 93)
    else:
        assert truth.fee is None
    if status == "failed":
        assert truth.failure_code == "insufficient_funds"
        assert truth.failure_message == "Your card has insufficient funds."


async def test_payment_ref_falls_back_to_client_reference_id(
    respx_mock: respx.MockRouter,
    respx_provider: StripeProvider,
) -> None:
    respx_mock.get(f"{RESPX_BASE}/v1/checkout/sessions/{CS_ID}").mock(
        return_value=httpx.Response(200, json=session(metadata={}))
    )
    assert (await respx_provider.retrieve_payment(CS_ID)).payment_ref == PAY_REF


async def test_retrieve_payment_intent_carries_the_card_the_receipt_shows(
    respx_mock: respx.MockRouter, respx_provider: StripeProvider
) -> None:
    # a payment known by its PaymentIntent (a webhook, a recheck): the receipt and the
    # refund notice name the card by its brand and last 4 digits
    route = respx_mock.get(f"{RESPX_BASE}/v1/payment_intents/{PI_ID}").mock(
        return_value=httpx.Response(200, json=expanded_intent())
    )
    truth = await respx_provider.retrieve_payment(PI_ID)
    assert route.called
    assert (truth.status, truth.provider_payment_id, truth.payment_ref) == (
        "succeeded",
        PI_ID,
        PAY_REF,
    )
    assert (truth.card_brand, truth.card_last4, truth.fee) == ("mastercard", "4444", 93)


async def test_session_localised_by_adaptive_pricing_reports_the_source_amount(
    respx_mock: respx.MockRouter, respx_provider: StripeProvider
) -> None:
    localised = session(
        status="complete",
        payment_status="paid",
        amount_total=5120,
        currency="chf",
        currency_conversion={
            "amount_subtotal": 4500,
            "amount_total": 4500,
            "fx_rate": "1.1378",
            "source_currency": "eur",
        },
    )
    respx_mock.get(f"{RESPX_BASE}/v1/checkout/sessions/{CS_ID}").mock(
        return_value=httpx.Response(200, json=localised)
    )
    truth = await respx_provider.retrieve_payment(CS_ID)
    assert (truth.status, truth.amount, truth.currency) == ("succeeded", 4500, "EUR")


async def test_retrieve_refuses_ids_that_are_not_stripes(respx_provider: StripeProvider) -> None:
    with pytest.raises(ProviderError) as err:
        await respx_provider.retrieve_payment("pay_not_a_stripe_id")
    assert err.value.kind == "invalid_request"


async def test_cancel_checkout_expires_the_session(
    respx_mock: respx.MockRouter, respx_provider: StripeProvider
) -> None:
    route = respx_mock.post(f"{RESPX_BASE}/v1/checkout/sessions/{CS_ID}/expire").mock(
        return_value=httpx.Response(200, json=session(status="expired"))
    )
    await respx_provider.cancel_checkout(CS_ID)  # no error
    assert route.calls.last.request.headers["Idempotency-Key"] == f"regie-expire-{CS_ID}"


@pytest.mark.parametrize("state", ["complete", "expired"])
async def test_cancelling_a_finished_checkout_is_not_an_error(
    respx_mock: respx.MockRouter, respx_provider: StripeProvider, state: str
) -> None:
    respx_mock.post(f"{RESPX_BASE}/v1/checkout/sessions/{CS_ID}/expire").mock(
        return_value=stripe_error(
            400,
            type="invalid_request_error",
            message=f"Only Checkout Sessions with a status in [open] can be expired. This Checkout Session has a status of {state}.",
        )
    )
    respx_mock.get(f"{RESPX_BASE}/v1/checkout/sessions/{CS_ID}").mock(
        return_value=httpx.Response(200, json=session(status=state))
    )
    await respx_provider.cancel_checkout(CS_ID)  # no error


async def test_cancel_checkout_errors(
    respx_mock: respx.MockRouter, respx_provider: StripeProvider
) -> None:
    respx_mock.post(f"{RESPX_BASE}/v1/checkout/sessions/{CS_ID}/expire").mock(
        return_value=stripe_error(400, type="invalid_request_error", message="Nope.")
    )
    respx_mock.get(f"{RESPX_BASE}/v1/checkout/sessions/{CS_ID}").mock(
        return_value=httpx.Response(200, json=session(status="open"))
    )
    with pytest.raises(ProviderError) as err:
        await respx_provider.cancel_checkout(CS_ID)
    assert err.value.kind == "invalid_request"

    respx_mock.post(f"{RESPX_BASE}/v1/checkout/sessions/cs_test_gone/expire").mock(
        return_value=stripe_error(
            404,
            type="invalid_request_error",
            code="resource_missing",
            message="No such checkout.session: 'cs_test_gone'",
        )
    )
    with pytest.raises(ProviderError) as err:
        await respx_provider.cancel_checkout("cs_test_gone")
    assert err.value.kind == "not_found"


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


# =====================================================================================
# 2b. recorded payloads: every webhook mapping, signed here
# =====================================================================================
def _session_obj(**changes: Any) -> dict[str, Any]:
    return session(payment_intent=PI_ID, **changes)


def _charge_with_refund(status: str = "succeeded") -> dict[str, Any]:
    older = stripe_object(
        "refund", id="re_old", amount=500, currency="eur", payment_intent=PI_ID, created=100
    )
    latest = stripe_object(
        "refund", id="re_new", amount=1000, currency="eur", payment_intent=PI_ID, created=200
    )
    latest["status"] = status
    charge = stripe_object(
        "charge", id=CH_ID, payment_intent=PI_ID, amount=4500, currency="eur", amount_refunded=1500
    )
    charge["refunds"] = {"object": "list", "data": [latest, older], "has_more": False}
    return charge


CASES: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = [
    (
        "checkout.session.completed",
        _session_obj(status="complete", payment_status="paid"),
        EVENT_PAYMENT_SUCCEEDED,
        {},
    ),
    (
        "checkout.session.async_payment_succeeded",
        _session_obj(status="complete", payment_status="paid"),
        EVENT_PAYMENT_SUCCEEDED,
        {},
    ),
    (
        "checkout.session.async_payment_failed",
        _session_obj(status="complete", payment_status="unpaid"),
        EVENT_PAYMENT_FAILED,
        {},
    ),
    ("checkout.session.expired", _session_obj(status="expired"), EVENT_CHECKOUT_EXPIRED, {}),
    ("payment_intent.succeeded", expanded_intent(latest_charge=CH_ID), EVENT_PAYMENT_SUCCEEDED, {}),
    (
        "payment_intent.payment_failed",
        expanded_intent(
            "requires_payment_method",
            latest_charge=CH_ID,
            last_payment_error={"code": "card_declined", "message": "Your card was declined."},
        ),
        EVENT_PAYMENT_FAILED,
        {"failure_code": "card_declined"},
    ),
    (
        "charge.refunded",
        _charge_with_refund(),
        EVENT_REFUND_UPDATED,
        {
            "refund_id": "re_new",
            "provider_payment_id": PI_ID,
            "amount": 1000,
            "currency": "EUR",
            "status": "succeeded",
            "amount_refunded": 1500,
        },
    ),
    *[
        (
            kind,
            {
                **stripe_object(
                    "refund", id="re_1", amount=700, currency="eur", payment_intent=PI_ID
                ),
                "status": stripe_status,
            },
            EVENT_REFUND_UPDATED,
            {
                "refund_id": "re_1",
                "provider_payment_id": PI_ID,
                "amount": 700,
                "currency": "EUR",
                "status": status,
            },
        )
        for kind, stripe_status, status in [
            ("refund.created", "pending", "pending"),
            ("refund.updated", "succeeded", "succeeded"),
            ("refund.failed", "failed", "failed"),
        ]
    ],
    (
        "charge.dispute.created",
        stripe_object("dispute", id="dp_1", payment_intent=PI_ID, amount=4500, currency="eur"),
        EVENT_DISPUTE_OPENED,
        {"dispute_id": "dp_1", "provider_payment_id": PI_ID, "amount": 4500, "currency": "EUR"},
    ),
    *[
        (
            "charge.dispute.closed",
            stripe_object(
                "dispute",
                id="dp_1",
                payment_intent=PI_ID,
                amount=4500,
                currency="eur",
                status=stripe_status,
            ),
            EVENT_DISPUTE_CLOSED,
            {"dispute_id": "dp_1", "provider_payment_id": PI_ID, "status": status},
        )
        for stripe_status, status in [("won", "won"), ("lost", "lost"), ("warning_closed", "won")]
    ],
    *[
        (
            kind,
            stripe_object(
                "payout",
                id="po_1",
                amount=12_345,
                currency="eur",
                arrival_date=1_740_009_600,
                status=kind.split(".")[1],
            ),
            mapped,
            {
                "payout_id": "po_1",
                "amount": 12_345,
                "currency": "EUR",
                "arrival_date": "2025-02-20",
            },
        )
        for kind, mapped in [
            ("payout.paid", EVENT_PAYOUT_PAID),
            ("payout.failed", EVENT_PAYOUT_FAILED),
        ]
    ],
]


@pytest.mark.parametrize(
    ("event_type", "obj", "expected", "data"),
    CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)],
)
def test_every_handled_event_is_mapped(
    respx_provider: StripeProvider,
    event_type: str,
    obj: dict[str, Any],
    expected: str,
    data: dict[str, Any],
) -> None:
    body = event_body(event_type, obj, event_id="evt_1RegieMapping")

    event = respx_provider.parse_event(body, sign(body, SECRETS[0]))

    assert (event.id, event.provider, event.type, event.raw_type) == (
        "evt_1RegieMapping",
        "stripe",
        expected,
        event_type,
    )
    assert event.created.tzinfo is not None
    for key, value in data.items():
        assert event.data[key] == value, key
    encoded = json.dumps(dict(event.data))  # a small plain dict, not the Stripe object
    assert len(encoded) < 600
    if event_type.startswith("checkout.session."):
        assert (event.checkout_id, event.provider_payment_id, event.payment_ref) == (
            CS_ID,
            PI_ID,
            PAY_REF,
        )
    elif event_type.startswith("payment_intent."):
        assert (event.checkout_id, event.provider_payment_id, event.payment_ref) == (
            None,
            PI_ID,
            PAY_REF,
        )
    elif not event_type.startswith("payout."):
        assert event.provider_payment_id == PI_ID


def test_completed_but_unpaid_checkout_is_processing(respx_provider: StripeProvider) -> None:
    obj = _session_obj(status="complete", payment_status="unpaid")
    body = event_body("checkout.session.completed", obj)
    event = respx_provider.parse_event(body, sign(body, SECRETS[0]))
    assert event.type == EVENT_PAYMENT_PROCESSING  # a delayed method: its money on its way
    assert event.raw_type == "checkout.session.completed"
    assert event.checkout_id == CS_ID


def test_checkout_payment_ref_from_client_reference_id(respx_provider: StripeProvider) -> None:
    obj = _session_obj(status="expired", metadata={})
    body = event_body("checkout.session.expired", obj)
    event = respx_provider.parse_event(body, sign(body, SECRETS[0]))
    assert event.payment_ref == PAY_REF


def test_checkout_payment_ref_from_metadata_without_client_reference_id(
    respx_provider: StripeProvider,
) -> None:
    """regie's payment is named by the session's metadata; client_reference_id is only
    the fallback (the test above)."""
    obj = _session_obj(status="expired", client_reference_id=None)
    body = event_body("checkout.session.expired", obj)
    event = respx_provider.parse_event(body, sign(body, SECRETS[0]))
    assert event.payment_ref == PAY_REF


def test_charge_refunded_without_embedded_refunds(respx_provider: StripeProvider) -> None:
    charge = stripe_object(
        "charge", id=CH_ID, payment_intent=PI_ID, currency="eur", amount_refunded=4500
    )
    del charge["refunds"]  # API versions since 2022-11-15 do not embed them
    body = event_body("charge.refunded", charge)
    event = respx_provider.parse_event(body, sign(body, SECRETS[0]))
    assert event.type == EVENT_REFUND_UPDATED
    assert event.data["refund_id"] is None
    assert event.data["amount_refunded"] == 4500
    assert event.provider_payment_id == PI_ID


@pytest.mark.parametrize(
    "event_type", ["customer.created", "payment_intent.created", "plan.created", "payout.created"]
)
def test_other_events_are_ignored_with_their_type(
    respx_provider: StripeProvider, event_type: str
) -> None:
    body = event_body(event_type, stripe_object("payment_intent"))
    event = respx_provider.parse_event(body, sign(body, SECRETS[0]))
    assert event.type == EVENT_IGNORED
    assert event.raw_type == event_type
    json.dumps(dict(event.data))


# ------------------------------------------------------------------------ signatures
def _body() -> bytes:
    return event_body("payment_intent.succeeded", expanded_intent(latest_charge=CH_ID))


@pytest.mark.parametrize(("age", "accepted"), [(0, True), (299, True), (301, False), (3600, False)])
def test_signature_tolerance_is_300_seconds(
    respx_provider: StripeProvider, age: int, accepted: bool
) -> None:
    body = _body()
    headers = sign(body, SECRETS[0], timestamp=int(time.time()) - age)
    if accepted:
        assert respx_provider.parse_event(body, headers).type == EVENT_PAYMENT_SUCCEEDED
    else:
        with pytest.raises(SignatureError):
            respx_provider.parse_event(body, headers)


def test_signature_from_the_future_is_refused(respx_provider: StripeProvider) -> None:
    body = _body()
    with pytest.raises(SignatureError):
        respx_provider.parse_event(body, sign(body, SECRETS[0], timestamp=int(time.time()) + 600))


def test_every_configured_secret_is_accepted(respx_provider: StripeProvider) -> None:
    body = _body()
    for secret in SECRETS:  # during a rotation Stripe signs with the old and the new one
        assert respx_provider.parse_event(body, sign(body, secret)).id
    # one header carrying both signatures, as Stripe sends during a rotation
    t = int(time.time())
    v1_new = sign(body, "whsec_unknown_new", t)["Stripe-Signature"].split(",")[1]
    both = sign(body, SECRETS[1], t)["Stripe-Signature"] + "," + v1_new
    assert respx_provider.parse_event(body, {"stripe-signature": both}).id


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Stripe-Signature": ""},
        {"Stripe-Signature": "garbage"},
        {"Stripe-Signature": "t=1,v1=abc"},
        {"Stripe-Signature": f"t={int(time.time())},v0=deadbeef"},
    ],
)
def test_missing_or_malformed_signature_is_refused(
    respx_provider: StripeProvider, headers: dict[str, str]
) -> None:
    with pytest.raises(SignatureError):
        respx_provider.parse_event(_body(), headers)


def test_forged_signature_is_refused_without_details(respx_provider: StripeProvider) -> None:
    body = _body()
    with pytest.raises(SignatureError) as err:
        respx_provider.parse_event(body, sign(body, "whsec_attacker_guess"))
    message = str(err.value)
    assert all(secret not in message for secret in SECRETS)
    assert "whsec" not in message and "v1=" not in message
    assert err.value.__cause__ is None
    assert err.value.__context__ is None or err.value.__suppress_context__


def test_header_name_is_case_insensitive(respx_provider: StripeProvider) -> None:
    body = _body()
    header = sign(body, SECRETS[0])["Stripe-Signature"]
    for name in ("stripe-signature", "STRIPE-SIGNATURE", "Stripe-Signature"):
        assert respx_provider.parse_event(body, {name: header}).type == EVENT_PAYMENT_SUCCEEDED


def test_signed_garbage_is_refused(respx_provider: StripeProvider) -> None:
    for body in (b"not json", b'{"object": "charge", "id": "ch_1"}', b"[1,2]", b"\xff\xfe"):
        headers = (
            sign(body, SECRETS[0])
            if body != b"\xff\xfe"
            else {"Stripe-Signature": f"t={int(time.time())},v1=00"}
        )
        with pytest.raises(SignatureError):
            respx_provider.parse_event(body, headers)


# =====================================================================================
# 3. respx: faults, retries, error mapping
# =====================================================================================
RETRIES = 2  # respx_provider's max_network_retries


@pytest.mark.parametrize(
    "fault",
    [
        httpx.ReadTimeout("timed out"),
        httpx.ConnectTimeout("timed out"),
        httpx.ReadError("[Errno 104] Connection reset by peer"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ConnectError("[Errno 111] Connection refused"),
    ],
    ids=["read-timeout", "connect-timeout", "connection-reset", "disconnect", "refused"],
)
async def test_network_faults_are_retried_by_the_sdk_then_unavailable(
    respx_mock: respx.MockRouter, respx_provider: StripeProvider, fault: Exception
) -> None:
    route = respx_mock.get(f"{RESPX_BASE}/v1/payment_intents/{PI_ID}").mock(side_effect=fault)
    with pytest.raises(ProviderError) as err:
        await respx_provider.retrieve_payment(PI_ID)
    assert err.value.kind == "unavailable"
    assert err.value.retryable
    assert route.call_count == 1 + RETRIES
    assert RESPX_KEY not in err.value.message


@pytest.mark.parametrize(
    "response",
    [
        stripe_error(500, type="api_error", message="An unknown error occurred"),
        httpx.Response(503, text="<html>Service Unavailable</html>"),
        httpx.Response(502, text="Bad Gateway"),
    ],
    ids=["500-json", "503-html", "502-text"],
)
async def test_server_errors_are_retried_by_the_sdk_then_unavailable(
    respx_mock: respx.MockRouter, respx_provider: StripeProvider, response: httpx.Response
) -> None:
    route = respx_mock.post(f"{RESPX_BASE}/v1/refunds").mock(return_value=response)
    with pytest.raises(ProviderError) as err:
        await respx_provider.refund(PI_ID, 100, idempotency_key="regie-refund-5xx")
    assert (err.value.kind, err.value.retryable) == ("unavailable", True)
    assert route.call_count == 1 + RETRIES
    # every attempt is the same request: the same idempotency key, so Stripe refunds once
    keys = {call.request.headers["Idempotency-Key"] for call in route.calls}
    assert keys == {"regie-refund-5xx"}


async def test_429_with_retry_after_is_rate_limited(
    respx_mock: respx.MockRouter, respx_provider: StripeProvider
) -> None:
    route = respx_mock.get(f"{RESPX_BASE}/v1/payment_intents/{PI_ID}").mock(
        return_value=httpx.Response(
            429,
            headers={"Retry-After": "2"},
            json={
                "error": {
                    "type": "invalid_request_error",
                    "code": "rate_limit",
                    "message": "Too many requests",
                }
            },
        )
    )
    with pytest.raises(ProviderError) as err:
        await respx_provider.retrieve_payment(PI_ID)
    assert (err.value.kind, err.value.retryable) == ("rate_limited", True)
    assert "Retry-After: 2" in err.value.message
    # the SDK does not retry a plain 429, and the adapter adds no retry of its own
    assert route.call_count == 1


async def test_429_stripe_asks_to_retry_is_retried_by_the_sdk(
    respx_mock: respx.MockRouter,
    respx_provider: StripeProvider,
) -> None:
    route = respx_mock.get(f"{RESPX_BASE}/v1/payment_intents/{PI_ID}").mock(
        return_value=httpx.Response(
            429,
            headers={"Retry-After": "1", "Stripe-Should-Retry": "true"},
            json={"error": {"type": "invalid_request_error", "code": "lock_timeout"}},
        )
    )
    with pytest.raises(ProviderError) as err:
        await respx_provider.retrieve_payment(PI_ID)
    assert err.value.kind == "rate_limited"
    assert route.call_count == 1 + RETRIES


async def test_a_retry_that_succeeds_is_invisible(
    respx_mock: respx.MockRouter, respx_provider: StripeProvider
) -> None:
    refund = stripe_object("refund", id="re_ok", amount=100, currency="eur", payment_intent=PI_ID)
    route = respx_mock.post(f"{RESPX_BASE}/v1/refunds").mock(
        side_effect=[
            httpx.ReadError("[Errno 104] Connection reset by peer"),
            httpx.Response(200, json=refund),
        ]
    )
    result = await respx_provider.refund(PI_ID, 100, idempotency_key="regie-refund-r1")
    assert result.id == "re_ok"
    assert route.call_count == 2
    assert [c.request.headers["Idempotency-Key"] for c in route.calls] == ["regie-refund-r1"] * 2


@pytest.mark.parametrize("retries", [0, 1, 3])
async def test_exactly_one_retry_layer(
    respx_mock: respx.MockRouter, retries: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = StripeProvider(RESPX_KEY, list(SECRETS), api_base=RESPX_BASE, max_network_retries=retries)
    monkeypatch.setattr(p._http, "_sleep_time_seconds", lambda num_retries: 0.0)
    route = respx_mock.get(f"{RESPX_BASE}/v1/payment_intents/{PI_ID}").mock(
        side_effect=httpx.ReadTimeout("timed out")
    )
    try:
        with pytest.raises(ProviderError) as err:
            await p.retrieve_payment(PI_ID)
    finally:
        await p.aclose()
    assert err.value.retryable
    assert route.call_count == 1 + retries  # not (1 + retries) ** 2: nothing wraps the SDK


@pytest.mark.parametrize(
    ("status", "error", "kind", "code"),
    [
        (
            400,
            {"type": "invalid_request_error", "param": "amount", "message": "Invalid integer: x"},
            "invalid_request",
            None,
        ),
        (
            404,
            {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "message": f"No such payment_intent: '{PI_ID}'",
            },
            "not_found",
            "resource_missing",
        ),
        (
            401,
            {
                "type": "invalid_request_error",
                "message": "Invalid API Key provided: sk_test_51Re************************Leak",
            },
            "authentication",
            None,
        ),
        (
            403,
            {
                "type": "invalid_request_error",
                "message": "The provided key 'rk_test_51RespxRestricted' does not have access",
            },
            "authentication",
            None,
        ),
        (
            402,
            {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "insufficient_funds",
                "message": "Your card has insufficient funds.",
            },
            "declined",
            "insufficient_funds",
        ),
        (
            400,
            {
                "type": "idempotency_error",
                "message": "Keys for idempotent requests can only be used with the same parameters",
            },
            "invalid_request",
            "idempotency_error",
        ),
        (
            409,
            {"type": "api_error", "message": "a concurrent request with the same key"},
            "unavailable",
            None,
        ),
    ],
)
async def test_stripe_errors_map_to_port_kinds(
    respx_mock: respx.MockRouter,
    respx_provider: StripeProvider,
    status: int,
    error: dict[str, Any],
    kind: str,
    code: str | None,
) -> None:
    respx_mock.get(f"{RESPX_BASE}/v1/payment_intents/{PI_ID}").mock(
        return_value=stripe_error(status, **error)
    )
    with pytest.raises(ProviderError) as err:
        await respx_provider.retrieve_payment(PI_ID)
    assert err.value.kind == kind
    assert err.value.code == code
    assert err.value.retryable == (kind in ("unavailable", "rate_limited"))
    text = str(err.value)
    assert RESPX_KEY not in text and "sk_test_51Re" not in text and "rk_test_" not in text
    assert err.value.__cause__ is None and err.value.__suppress_context__


async def test_error_messages_never_carry_card_numbers(
    respx_mock: respx.MockRouter, respx_provider: StripeProvider
) -> None:
    respx_mock.post(f"{RESPX_BASE}/v1/refunds").mock(
        return_value=stripe_error(
            400,
            type="invalid_request_error",
            message="Sending card numbers like 4242 4242 4242 4242 or 4000000000000002 is unsafe",
        )
    )
    with pytest.raises(ProviderError) as err:
        await respx_provider.refund(PI_ID, 100, idempotency_key="k")
    assert "4242 4242" not in err.value.message
    assert "4000000000000002" not in err.value.message
    assert "[redacted]" in err.value.message
