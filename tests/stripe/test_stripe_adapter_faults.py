"""The Stripe adapter's faults, against respx: timeouts, 500/503, 429 with ``Retry-After``,
connection resets, the SDK's retries (one retry layer only), and Stripe's errors mapped onto
the port's kinds without a card number.
"""

from __future__ import annotations

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
    SECRETS,
    stripe_object,
)
from tests.stripe.stripe_payloads import (
    PI_ID,
    stripe_error,
)

# stripe's HTTPXClient passes the form body as ``data=<str>``, which httpx deprecates
pytestmark = pytest.mark.filterwarnings(
    "ignore:Use 'content=<...>' to upload raw bytes/text content:DeprecationWarning"
)


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
