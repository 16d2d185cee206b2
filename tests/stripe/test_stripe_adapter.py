"""The Stripe adapter against **localstripe** (a fake Stripe server in a subprocess):
PaymentIntent retrieval (card, declined, asynchronous SEPA, canceled), refunds, events,
payouts, errors of a real HTTP server, and its signed webhook deliveries to a real local
receiver.

What localstripe does not have is tested against Stripe's recorded payloads
(``fixtures/stripe_objects.json``): Checkout Sessions (``test_stripe_adapter_checkout``),
refunds, balance transactions and listed events (``test_stripe_adapter_refunds``), every
webhook mapping and signature (``test_stripe_adapter_events``); faults (timeouts, 5xx, 429,
the SDK's one retry layer) against respx (``test_stripe_adapter_faults``). Their shared
builders are ``stripe_payloads``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
from typing import Any

import httpx
import pytest

from payments.providers.base import (
    EVENT_IGNORED,
    EVENT_PAYMENT_FAILED,
    EVENT_PAYMENT_SUCCEEDED,
    EVENT_PAYOUT_PAID,
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
)
from tests.stripe.stripe_payloads import (
    PAY_REF,
    now,
)

# stripe's HTTPXClient passes the form body as ``data=<str>``, which httpx deprecates
pytestmark = pytest.mark.filterwarnings(
    "ignore:Use 'content=<...>' to upload raw bytes/text content:DeprecationWarning"
)


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
