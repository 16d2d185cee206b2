"""The Stripe adapter's Checkout Sessions, against Stripe's recorded payloads (localstripe has
none): the session's form, its expiry and lines, reading it back, the card, Adaptive
Pricing, and cancelling it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
import respx

from payments.providers.base import (
    ProviderError,
)
from payments.providers.stripe.client import StripeProvider
from tests.stripe.conftest import (
    RESPX_BASE,
    RESPX_KEY,
)
from tests.stripe.stripe_payloads import (
    CS_ID,
    INV_REF,
    PAY_REF,
    PI_ID,
    URLS,
    checkout_request,
    expanded_intent,
    form,
    now,
    session,
    stripe_error,
)

# stripe's HTTPXClient passes the form body as ``data=<str>``, which httpx deprecates
pytestmark = pytest.mark.filterwarnings(
    "ignore:Use 'content=<...>' to upload raw bytes/text content:DeprecationWarning"
)


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
