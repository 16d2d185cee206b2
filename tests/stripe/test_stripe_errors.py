"""What each Stripe error becomes for the rest of regie (the port's kind, the text an
operator reads, whether the caller's schedule tries again, the code), one row per class."""

from __future__ import annotations

import pytest
import stripe

from payments.providers.stripe.errors import provider_error

ROWS = [
    (stripe.StripeError("x"), "unavailable", "unexpected Stripe error (StripeError)", False, None),
    (
        stripe.APIError("x", http_status=404, code="c"),
        "not_found",
        "Stripe has no such object (404)",
        False,
        "c",
    ),
    (
        stripe.APIError("x", http_status=400),
        "invalid_request",
        "Stripe refused the request (400)",
        False,
        None,
    ),
    (
        stripe.APIError("x", http_status=502),
        "unavailable",
        "Stripe answered with an error (502)",
        True,
        None,
    ),
    (
        stripe.APIError("x", http_status=409),
        "unavailable",
        "Stripe answered with an error (409)",
        True,
        None,
    ),
    (
        stripe.APIConnectionError("x"),
        "unavailable",
        "Stripe could not be reached (network error or timeout)",
        True,
        None,
    ),
    (
        stripe.IdempotencyError("x"),
        "invalid_request",
        "an idempotency key was reused with different parameters",
        False,
        "idempotency_error",
    ),
    (
        stripe.AuthenticationError("x"),
        "authentication",
        "Stripe refused the API key or its permissions (check STRIPE_API_KEY)",
        False,
        None,
    ),
]


@pytest.mark.parametrize(("exc", "kind", "message", "retryable", "code"), ROWS)
def test_each_stripe_error_class_maps_to_its_kind_and_text(
    exc: stripe.StripeError, kind: str, message: str, retryable: bool, code: str | None
) -> None:
    err = provider_error(exc)
    assert (err.kind, err.message, str(err), err.retryable, err.code) == (
        kind,
        message,
        message,
        retryable,
        code,
    )
