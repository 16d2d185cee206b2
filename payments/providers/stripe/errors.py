"""Stripe's errors, as the port's ``ProviderError``.

``guard`` awaits one SDK call and ``pages`` walks a list; both map ``stripe.StripeError``
onto the port's kinds. Messages are scrubbed of anything that looks like an API key, a
webhook secret or a card number, and the Stripe exception is not chained (``from None``)
so its raw body never reaches a log. ``retryable`` means the same request may succeed
later: the SDK has already spent its own retries (see ``client``), the caller's durable
schedule (worker, sweeper) takes over.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import stripe

from payments.providers.base import ProviderError
from payments.providers.stripe.mapping import scrub, text

log = logging.getLogger("regie.stripe")

T = TypeVar("T")


async def guard(call: Awaitable[T]) -> T:
    """Await one SDK call, mapping Stripe's errors onto the port's."""
    try:
        return await call
    except stripe.StripeError as exc:
        raise provider_error(exc) from None


async def pages(first: Awaitable[Any]) -> AsyncIterator[dict[str, Any]]:
    """Every object of a list, following Stripe's pagination (errors mapped)."""
    page = await guard(first)
    items = page.auto_paging_iter()
    while True:
        try:
            item = await items.__anext__()
        except StopAsyncIteration:
            return
        except stripe.StripeError as exc:
            raise provider_error(exc) from None
        yield item.to_dict()


def provider_error(exc: stripe.StripeError) -> ProviderError:
    """Map a Stripe error onto the port's kinds. ``retryable`` means: the same request
    may succeed later (the SDK has already spent its own retries)."""
    status, code = exc.http_status, exc.code
    log.warning(
        "stripe call failed",
        extra={
            "error_class": type(exc).__name__,
            "status": status,
            "code": code,
            "request_id": exc.request_id,
        },
    )
    if isinstance(exc, stripe.CardError):
        decline = getattr(exc.error, "decline_code", None) if exc.error else None
        return ProviderError(
            "declined",
            scrub(exc.user_message or "The card was declined."),
            code=text(decline) or code,
        )
    if isinstance(exc, stripe.RateLimitError):
        after = (exc.headers or {}).get("retry-after")
        hint = f" (Retry-After: {after} s)" if after and str(after).isdigit() else ""
        return ProviderError(
            "rate_limited", f"Stripe is rate limiting requests{hint}", retryable=True, code=code
        )
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        return ProviderError(
            "authentication",
            "Stripe refused the API key or its permissions (check STRIPE_API_KEY)",
            code=code,
        )
    if isinstance(exc, stripe.IdempotencyError):
        return ProviderError(
            "invalid_request",
            "an idempotency key was reused with different parameters",
            code="idempotency_error",
        )
    if isinstance(exc, stripe.InvalidRequestError):
        message = scrub(exc.user_message or "Stripe refused the request")
        if status == 404 or code == "resource_missing":
            return ProviderError("not_found", message, code=code)
        return ProviderError("invalid_request", message, code=code)
    if isinstance(exc, stripe.APIConnectionError):
        return ProviderError(
            "unavailable", "Stripe could not be reached (network error or timeout)", retryable=True
        )
    if isinstance(exc, stripe.APIError):
        if status is None or status >= 500 or status == 409:
            return ProviderError(
                "unavailable", f"Stripe answered with an error ({status})", retryable=True
            )
        if status == 404:
            return ProviderError("not_found", "Stripe has no such object (404)", code=code)
        return ProviderError("invalid_request", f"Stripe refused the request ({status})", code=code)
    return ProviderError("unavailable", f"unexpected Stripe error ({type(exc).__name__})")
