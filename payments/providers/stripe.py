"""The Stripe adapter: Checkout Sessions for the hosted flow, PaymentIntents and refunds
underneath, balance transactions for settlement.

This is the only module of regie that imports the ``stripe`` SDK (import-linter enforces
it); everything it returns is one of the port's frozen dataclasses or a small plain dict.

Choices worth knowing:

- **One retry layer.** Network errors, timeouts, 409 and 5xx are retried by the SDK
  (``max_network_retries``, exponential backoff with jitter, the same ``Idempotency-Key``
  on every attempt). This module never retries by itself; what is still failing after
  the SDK's attempts surfaces as ``ProviderError(retryable=True)`` and the caller's
  durable schedule (worker, sweeper) takes over. The SDK does not retry a plain 429
  (only when Stripe adds ``Stripe-Should-Retry: true``), nor does this module.
- **Idempotency.** Every POST carries a key derived from regie's own ids
  (``regie-checkout-{payment_id}``, ``regie-expire-{checkout_id}``, the caller's refund
  key), so a retried request can never create a second session or refund.
- **No module state.** No ``stripe.api_key``: each ``StripeProvider`` owns a
  ``stripe.StripeClient`` built with the SDK's httpx client (sharing the application's
  ``httpx.AsyncClient`` when one is given) and uses only the ``*_async`` methods.
- **Errors** are mapped to the port's ``ProviderError`` kinds; messages are scrubbed of
  anything that looks like an API key, a webhook secret or a card number, and the Stripe
  exception is not chained (``from None``) so its raw body never reaches a log.
- **Webhooks.** ``Stripe-Signature`` is checked against every configured secret (for
  rotation) with a 300 s tolerance, in both directions (the SDK only bounds the past).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import httpx
import stripe
from stripe.params.checkout import SessionCreateParams, SessionCreateParamsLineItem

from payments.providers.base import (
    EVENT_CHECKOUT_EXPIRED,
    EVENT_DISPUTE_CLOSED,
    EVENT_DISPUTE_OPENED,
    EVENT_IGNORED,
    EVENT_PAYMENT_FAILED,
    EVENT_PAYMENT_SUCCEEDED,
    EVENT_PAYOUT_FAILED,
    EVENT_PAYOUT_PAID,
    EVENT_REFUND_UPDATED,
    CheckoutRequest,
    CheckoutSession,
    CheckoutUrls,
    ProviderError,
    ProviderEvent,
    ProviderPayment,
    ProviderRefund,
    SettlementLine,
    SignatureError,
)

log = logging.getLogger("regie.stripe")

T = TypeVar("T")

SIGNATURE_HEADER = "stripe-signature"
SIGNATURE_TOLERANCE = 300  # seconds
DEFAULT_TIMEOUT = 30.0  # seconds, per attempt
# Stripe accepts a Checkout Session's expires_at between 30 minutes and 24 hours from its
# creation; a minute of margin on each side absorbs clock skew and request latency.
MAX_SESSION = dt.timedelta(hours=24) - dt.timedelta(minutes=1)
MIN_SESSION = dt.timedelta(minutes=30) + dt.timedelta(minutes=1)
PAGE_SIZE = 100
PAYMENT_EXPAND = "latest_charge.balance_transaction"
SESSION_EXPAND = "payment_intent.latest_charge.balance_transaction"

_KEYLIKE = re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z*]+|\bwhsec_[0-9A-Za-z]+")
_CARDLIKE = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")

_REFUND_STATUS = {
    "pending": "pending",
    "requires_action": "pending",
    "succeeded": "succeeded",
    "failed": "failed",
    "canceled": "failed",
}
_SETTLEMENT_TYPES = {
    "charge": "charge",
    "payment": "charge",
    "refund": "refund",
    "payment_refund": "refund",
    "refund_failure": "refund",
    "payment_failure_refund": "refund",
    "payment_reversal": "refund",
    "payout": "payout",
    "payout_cancel": "payout",
    "payout_failure": "payout",
    "stripe_fee": "fee",
    "stripe_fx_fee": "fee",
    "tax_fee": "fee",
    "network_cost": "fee",
    "application_fee": "fee",
    "application_fee_refund": "fee",
}
_REFUND_EVENTS = frozenset(
    {"refund.created", "refund.updated", "refund.failed", "charge.refund.updated"}
)
_PAYOUT_EVENTS = {"payout.paid": EVENT_PAYOUT_PAID, "payout.failed": EVENT_PAYOUT_FAILED}
_SESSION_EVENTS = {
    "checkout.session.async_payment_succeeded": EVENT_PAYMENT_SUCCEEDED,
    "checkout.session.async_payment_failed": EVENT_PAYMENT_FAILED,
    "checkout.session.expired": EVENT_CHECKOUT_EXPIRED,
}


class _SharedHTTPXClient(stripe.HTTPXClient):
    """The SDK's httpx client, sending through an ``httpx.AsyncClient`` the application
    owns (its connection pool, limits and proxies). The application closes it."""

    def __init__(self, client: httpx.AsyncClient, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self._client_async = client

    async def close_async(self) -> None:
        return None


class StripeProvider:
    name = "stripe"
    shared_account = True  # an account may serve other integrations too

    def __init__(
        self,
        api_key: str,
        webhook_secrets: list[str],
        api_base: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        max_network_retries: int = 2,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not api_key:
            raise ValueError("a Stripe API key is required (STRIPE_API_KEY)")
        secrets = [s.strip() for s in webhook_secrets if s and s.strip()]
        if not secrets:
            raise ValueError("at least one webhook secret is required (STRIPE_WEBHOOK_SECRETS)")
        if max_network_retries < 0:
            raise ValueError("max_network_retries cannot be negative")
        self._secrets = tuple(secrets)
        self._http: stripe.HTTPXClient = (
            _SharedHTTPXClient(http_client, timeout)
            if http_client is not None
            else stripe.HTTPXClient(timeout=timeout)
        )
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base.rstrip("/")} if api_base else None,
            max_network_retries=max_network_retries,
            http_client=self._http,
        )
        self.max_network_retries = max_network_retries

    def __repr__(self) -> str:  # never shows the key
        return f"StripeProvider(secrets={len(self._secrets)}, retries={self.max_network_retries})"

    async def aclose(self) -> None:
        """Close the HTTP client if this provider built it (a shared one is left open)."""
        await self._http.close_async()

    # ------------------------------------------------------------------ port
    async def create_checkout(
        self, request: CheckoutRequest, urls: CheckoutUrls
    ) -> CheckoutSession:
        now = dt.datetime.now(dt.UTC)
        expires = _session_expiry(request.expires_at, now)
        metadata = {
            "payment_id": request.payment_id,
            "invoice_id": request.invoice_id,
            "invoice_number": request.invoice_number,
        }
        params: SessionCreateParams = {
            "mode": "payment",
            "line_items": _line_items(request),
            "client_reference_id": request.payment_id,
            "metadata": metadata,
            "payment_intent_data": {"metadata": dict(metadata)},
            "success_url": urls.success_url,
            "cancel_url": urls.cancel_url,
            "expires_at": int(expires.timestamp()),
            "locale": _locale(request.locale),
            "submit_type": "pay",
            # public revenue is due in the invoice's currency, to the cent: no conversion
            # into the payer's currency (the truth's amount must match the payment's)
            "adaptive_pricing": {"enabled": False},
        }
        session = await self._guard(
            self._client.v1.checkout.sessions.create_async(
                params, {"idempotency_key": f"regie-checkout-{request.payment_id}"}
            )
        )
        if not session.url:
            raise ProviderError(
                "invalid_request", "Stripe returned a Checkout Session without a URL"
            )
        return CheckoutSession(id=session.id, url=session.url, expires_at=_ts(session.expires_at))

    async def retrieve_payment(self, provider_ref: str) -> ProviderPayment:
        """The current truth, by Checkout Session id (``cs_…``) or PaymentIntent id (``pi_…``)."""
        if provider_ref.startswith("cs_"):
            session = await self._guard(
                self._client.v1.checkout.sessions.retrieve_async(
                    provider_ref, {"expand": [SESSION_EXPAND]}
                )
            )
            return _payment_from_session(session.to_dict())
        if provider_ref.startswith("pi_"):
            intent = await self._guard(
                self._client.v1.payment_intents.retrieve_async(
                    provider_ref, {"expand": [PAYMENT_EXPAND]}
                )
            )
            return _payment_from_intent(intent.to_dict())
        raise ProviderError(
            "invalid_request", "not a Stripe Checkout Session or PaymentIntent id", code="bad_id"
        )

    async def refund(
        self, provider_payment_id: str, amount: int, idempotency_key: str
    ) -> ProviderRefund:
        if amount <= 0:
            raise ProviderError("invalid_request", "a refund amount must be positive")
        refund = await self._guard(
            self._client.v1.refunds.create_async(
                {"payment_intent": provider_payment_id, "amount": amount},
                {"idempotency_key": idempotency_key},
            )
        )
        return _refund(refund.to_dict(), provider_payment_id)

    async def retrieve_refund(self, refund_id: str) -> ProviderRefund:
        refund = await self._guard(self._client.v1.refunds.retrieve_async(refund_id))
        return _refund(refund.to_dict(), None)

    async def cancel_checkout(self, checkout_id: str) -> None:
        """Expire an open Checkout Session. One already completed or expired is fine."""
        try:
            await self._client.v1.checkout.sessions.expire_async(
                checkout_id, options={"idempotency_key": f"regie-expire-{checkout_id}"}
            )
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404:
                raise _provider_error(exc) from None
            # Stripe refuses to expire a session that is not open: look at why.
            session = await self._guard(
                self._client.v1.checkout.sessions.retrieve_async(checkout_id)
            )
            if session.status in ("complete", "expired"):
                return
            raise _provider_error(exc) from None
        except stripe.StripeError as exc:
            raise _provider_error(exc) from None

    def parse_event(self, raw_body: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        """Verify ``Stripe-Signature`` (any configured secret, 300 s) and normalise."""
        try:
            payload = raw_body.decode("utf-8")
        except UnicodeDecodeError:
            raise SignatureError("the webhook body is not UTF-8") from None
        self._verify(payload, _header(headers, SIGNATURE_HEADER))
        try:
            doc = json.loads(payload)
            if not isinstance(doc, dict) or doc.get("object") != "event":
                raise ValueError("not an event")
            return _event(doc)
        except (ValueError, KeyError, TypeError):
            raise SignatureError("the signed body is not a Stripe event") from None

    async def list_events(self, since: dt.datetime) -> AsyncIterator[ProviderEvent]:
        """Stripe's events created at or after ``since``, oldest first, normalised as
        ``parse_event`` does (no signature: they come from the API itself).

        Stripe lists newest first and keeps 30 days of events; they are read in full, then
        yielded by creation time (same-second events in Stripe's order), so the caller
        applies them in the order they happened."""
        first = self._client.v1.events.list_async(
            {"created": {"gte": _unix(since)}, "limit": PAGE_SIZE}
        )
        events = [_event(doc) async for doc in self._pages(first)]
        events.reverse()
        events.sort(key=lambda e: e.created)  # stable: same-second events keep Stripe's order
        for event in events:
            yield event

    async def list_settlement_lines(
        self, since: dt.datetime, until: dt.datetime
    ) -> AsyncIterator[SettlementLine]:
        """Balance transactions created in ``[since, until)`` (newest first, as Stripe
        lists them), with their source expanded to find the PaymentIntent."""
        first = self._client.v1.balance_transactions.list_async(
            {
                "created": {"gte": _unix(since), "lt": _unix(until)},
                "limit": PAGE_SIZE,
                "expand": ["data.source"],
            }
        )
        async for doc in self._pages(first):
            yield _settlement_line(doc)

    # --------------------------------------------------------------- helpers
    async def _guard(self, call: Awaitable[T]) -> T:
        """Await one SDK call, mapping Stripe's errors onto the port's."""
        try:
            return await call
        except stripe.StripeError as exc:
            raise _provider_error(exc) from None

    async def _pages(self, first: Awaitable[Any]) -> AsyncIterator[dict[str, Any]]:
        """Every object of a list, following Stripe's pagination (errors mapped)."""
        page = await self._guard(first)
        items = page.auto_paging_iter()
        while True:
            try:
                item = await items.__anext__()
            except StopAsyncIteration:
                return
            except stripe.StripeError as exc:
                raise _provider_error(exc) from None
            yield item.to_dict()

    def _verify(self, payload: str, header: str | None) -> None:
        refused = SignatureError("the Stripe-Signature header is missing, invalid or too old")
        if not header:
            raise refused
        for secret in self._secrets:
            try:
                stripe.WebhookSignature.verify_header(
                    payload, header, secret, tolerance=SIGNATURE_TOLERANCE
                )
            except stripe.SignatureVerificationError:
                continue
            # The SDK only refuses timestamps too far in the past; a future one is refused
            # here too, so a captured delivery cannot be replayed later by pre-dating it.
            if _signed_at(header) > time.time() + SIGNATURE_TOLERANCE:
                raise refused
            return
        raise refused


# ---------------------------------------------------------------------- checkout
def _session_expiry(wanted: dt.datetime, now: dt.datetime) -> dt.datetime:
    """The invoice's expiry, within what Stripe accepts (30 minutes to 24 hours)."""
    if wanted.tzinfo is None:
        wanted = wanted.replace(tzinfo=dt.UTC)
    return max(min(wanted, now + MAX_SESSION), now + MIN_SESSION)


def _line_items(request: CheckoutRequest) -> list[SessionCreateParamsLineItem]:
    """``price_data`` lines from the invoice. When the lines do not add up to the amount
    asked (or cannot be expressed: no lines, a negative line), one line carries it all,
    so that Stripe's total always equals the payment's amount."""
    currency = request.currency.lower()
    lines = request.lines
    fits = (
        bool(lines)
        and all(quantity > 0 and unit >= 0 for _, quantity, unit in lines)
        and sum(quantity * unit for _, quantity, unit in lines) == request.amount
    )
    if not fits:
        lines = ((request.description or request.invoice_number, 1, request.amount),)
    return [
        {
            "quantity": quantity,
            "price_data": {
                "currency": currency,
                "unit_amount": unit,
                "product_data": {"name": (description or request.invoice_number)[:250]},
            },
        }
        for description, quantity, unit in lines
    ]


def _locale(locale: str) -> Literal["fr", "en", "auto"]:
    tag = (locale or "").lower()
    if tag.startswith("fr"):
        return "fr"
    if tag.startswith("en"):
        return "en"
    return "auto"


# ---------------------------------------------------------------------- payments
def _payment_from_session(session: Mapping[str, Any]) -> ProviderPayment:
    intent = _obj(session.get("payment_intent"))
    charge = _obj(intent.get("latest_charge")) if intent else None
    intent_status = intent.get("status") if intent else None
    if session.get("payment_status") == "paid" or intent_status == "succeeded":
        status = "succeeded"
    elif session.get("status") == "expired":
        status = "expired"  # Stripe cancels the PaymentIntent of an expired session
    elif intent_status == "canceled":
        status = "canceled"
    elif intent is not None and _failed(intent):
        status = "failed"
    else:
        status = "pending"
    amount = _int(session.get("amount_total"))
    if amount is None:
        amount = _int(intent.get("amount")) if intent else None
    currency = session.get("currency") or (intent.get("currency") if intent else None)
    conversion = _obj(session.get("currency_conversion"))
    if conversion and _str(conversion.get("source_currency")):
        # Adaptive Pricing localised the session: the amount asked is the source one
        amount, currency = _int(conversion.get("amount_total")), conversion["source_currency"]
    metadata = _obj(session.get("metadata")) or {}
    brand, last4 = _card(charge)
    code, message = _failure(intent) if status == "failed" and intent else (None, None)
    return ProviderPayment(
        checkout_id=str(session["id"]),
        provider_payment_id=_id(session.get("payment_intent")),
        status=status,
        amount=amount or 0,
        currency=_upper(currency),
        payment_ref=_str(metadata.get("payment_id")) or _str(session.get("client_reference_id")),
        card_brand=brand,
        card_last4=last4,
        fee=_fee(charge) if status == "succeeded" else None,
        failure_code=code,
        failure_message=message,
    )


def _payment_from_intent(intent: Mapping[str, Any]) -> ProviderPayment:
    charge = _obj(intent.get("latest_charge"))
    raw = intent.get("status")
    if raw == "succeeded":
        status = "succeeded"
    elif raw == "canceled":
        status = "canceled"
    elif _failed(intent):
        status = "failed"
    else:
        status = "pending"  # processing, requires_action, requires_confirmation, ...
    metadata = _obj(intent.get("metadata")) or {}
    brand, last4 = _card(charge)
    code, message = _failure(intent) if status == "failed" else (None, None)
    return ProviderPayment(
        checkout_id=None,
        provider_payment_id=str(intent["id"]),
        status=status,
        amount=_int(intent.get("amount")) or 0,
        currency=_upper(intent.get("currency")),
        payment_ref=_str(metadata.get("payment_id")),
        card_brand=brand,
        card_last4=last4,
        fee=_fee(charge) if status == "succeeded" else None,
        failure_code=code,
        failure_message=message,
    )


def _failed(intent: Mapping[str, Any]) -> bool:
    return intent.get("status") == "requires_payment_method" and bool(
        intent.get("last_payment_error")
    )


def _failure(intent: Mapping[str, Any]) -> tuple[str | None, str | None]:
    error = _obj(intent.get("last_payment_error")) or {}
    code = _str(error.get("decline_code")) or _str(error.get("code"))
    message = _str(error.get("message"))
    return (code[:64] if code else None), (_scrub(message)[:500] if message else None)


def _card(charge: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    details = _obj(charge.get("payment_method_details")) if charge else None
    card = _obj(details.get("card")) if details else None
    if card is None:
        return None, None
    brand, last4 = _str(card.get("brand")), _str(card.get("last4"))
    return (brand[:20] if brand else None), (
        last4 if last4 and len(last4) == 4 and last4.isdigit() else None
    )


def _fee(charge: Mapping[str, Any] | None) -> int | None:
    txn = _obj(charge.get("balance_transaction")) if charge else None
    return _int(txn.get("fee")) if txn else None


def _refund(refund: Mapping[str, Any], provider_payment_id: str | None) -> ProviderRefund:
    return ProviderRefund(
        id=str(refund["id"]),
        provider_payment_id=_id(refund.get("payment_intent")) or provider_payment_id or "",
        amount=_int(refund.get("amount")) or 0,
        currency=_upper(refund.get("currency")),
        status=_REFUND_STATUS.get(str(refund.get("status")), "pending"),
        failure_reason=_str(refund.get("failure_reason")),
    )


# ------------------------------------------------------------------------ events
@dataclass(frozen=True)
class _Mapped:
    """What one Stripe event means for regie (before the envelope is added)."""

    type: str
    data: dict[str, Any]
    checkout_id: str | None = None
    provider_payment_id: str | None = None
    payment_ref: str | None = None


def _event(doc: Mapping[str, Any]) -> ProviderEvent:
    """Normalise one Stripe event (from a webhook or from the API)."""
    raw_type = str(doc["type"])
    data = _obj(doc.get("data")) or {}
    mapped = _map(raw_type, _obj(data.get("object")) or {})
    return ProviderEvent(
        id=str(doc["id"]),
        provider="stripe",
        type=mapped.type,
        raw_type=raw_type,
        created=_ts(doc["created"]),
        checkout_id=mapped.checkout_id,
        provider_payment_id=mapped.provider_payment_id,
        payment_ref=mapped.payment_ref,
        data=mapped.data,
    )


def _map(raw_type: str, obj: Mapping[str, Any]) -> _Mapped:
    if raw_type.startswith("checkout.session."):
        return _session_event(raw_type, obj)
    if raw_type in ("payment_intent.succeeded", "payment_intent.payment_failed"):
        succeeded = raw_type == "payment_intent.succeeded"
        metadata = _obj(obj.get("metadata")) or {}
        code, message = (None, None) if succeeded else _failure(obj)
        return _Mapped(
            EVENT_PAYMENT_SUCCEEDED if succeeded else EVENT_PAYMENT_FAILED,
            {
                "status": _str(obj.get("status")),
                "amount": _int(obj.get("amount")),
                "currency": _upper(obj.get("currency")) or None,
                "failure_code": code,
                "failure_message": message,
            },
            provider_payment_id=_str(obj.get("id")),
            payment_ref=_str(metadata.get("payment_id")),
        )
    if raw_type in _REFUND_EVENTS:
        data = _refund_data(obj, _id(obj.get("payment_intent")))
        return _Mapped(EVENT_REFUND_UPDATED, data, provider_payment_id=data["provider_payment_id"])
    if raw_type == "charge.refunded":
        data = _charge_refunded(obj)
        return _Mapped(EVENT_REFUND_UPDATED, data, provider_payment_id=data["provider_payment_id"])
    if raw_type in ("charge.dispute.created", "charge.dispute.closed"):
        closed = raw_type == "charge.dispute.closed"
        data = _dispute_data(obj, closed=closed)
        return _Mapped(
            EVENT_DISPUTE_CLOSED if closed else EVENT_DISPUTE_OPENED,
            data,
            provider_payment_id=data["provider_payment_id"],
        )
    if raw_type in _PAYOUT_EVENTS:
        arrival = _int(obj.get("arrival_date"))
        return _Mapped(
            _PAYOUT_EVENTS[raw_type],
            {
                "payout_id": _str(obj.get("id")),
                "amount": _int(obj.get("amount")),
                "currency": _upper(obj.get("currency")) or None,
                "arrival_date": _ts(arrival).date().isoformat() if arrival is not None else None,
                "status": _str(obj.get("status")),
                "failure_code": _str(obj.get("failure_code")),
            },
        )
    return _Mapped(EVENT_IGNORED, {"object": _str(obj.get("object")), "id": _str(obj.get("id"))})


def _session_event(raw_type: str, session: Mapping[str, Any]) -> _Mapped:
    if raw_type == "checkout.session.completed":
        # completed but unpaid: an asynchronous method (SEPA debit...) is still running;
        # async_payment_succeeded or async_payment_failed will follow
        paid = session.get("payment_status") == "paid"
        kind = EVENT_PAYMENT_SUCCEEDED if paid else EVENT_IGNORED
    else:
        kind = _SESSION_EVENTS.get(raw_type, EVENT_IGNORED)
    metadata = _obj(session.get("metadata")) or {}
    return _Mapped(
        kind,
        {
            "session_status": _str(session.get("status")),
            "payment_status": _str(session.get("payment_status")),
            "amount": _int(session.get("amount_total")),
            "currency": _upper(session.get("currency")) or None,
        },
        checkout_id=_str(session.get("id")),
        provider_payment_id=_id(session.get("payment_intent")),
        payment_ref=_str(metadata.get("payment_id")) or _str(session.get("client_reference_id")),
    )


def _refund_data(refund: Mapping[str, Any], provider_payment_id: str | None) -> dict[str, Any]:
    return {
        "refund_id": _str(refund.get("id")),
        "provider_payment_id": provider_payment_id,
        "amount": _int(refund.get("amount")),
        "currency": _upper(refund.get("currency")) or None,
        "status": _REFUND_STATUS.get(str(refund.get("status")), "pending"),
        "failure_reason": _str(refund.get("failure_reason")),
    }


def _charge_refunded(charge: Mapping[str, Any]) -> dict[str, Any]:
    """``charge.refunded`` names the charge; its latest refund is the news. Since API
    version 2022-11-15 a charge no longer embeds its refunds: then ``refund_id`` is None
    and only the cumulative ``amount_refunded`` is known (``refund.*`` events carry the
    refund itself: subscribe to them too)."""
    payment_id = _id(charge.get("payment_intent"))
    refunds = _obj(charge.get("refunds")) or {}
    listed = [r for r in refunds.get("data") or [] if isinstance(r, Mapping)]
    if listed:
        latest = max(listed, key=lambda r: _int(r.get("created")) or 0)
        data = _refund_data(latest, _id(latest.get("payment_intent")) or payment_id)
    else:
        data = {
            "refund_id": None,
            "provider_payment_id": payment_id,
            "amount": None,
            "currency": _upper(charge.get("currency")) or None,
            "status": None,
            "failure_reason": None,
        }
    data["amount_refunded"] = _int(charge.get("amount_refunded"))
    return data


def _dispute_data(dispute: Mapping[str, Any], *, closed: bool) -> dict[str, Any]:
    raw = _str(dispute.get("status"))
    status = raw
    if closed:
        # warning_closed: an inquiry closed without a chargeback, the funds stay ours
        status = "won" if raw in ("won", "warning_closed") else "lost"
    return {
        "dispute_id": _str(dispute.get("id")),
        "provider_payment_id": _id(dispute.get("payment_intent")),
        "charge_id": _id(dispute.get("charge")),
        "amount": _int(dispute.get("amount")),
        "currency": _upper(dispute.get("currency")) or None,
        "status": status,
        "stripe_status": raw,
        "reason": _str(dispute.get("reason")),
    }


# -------------------------------------------------------------------- settlement
def _settlement_line(txn: Mapping[str, Any]) -> SettlementLine:
    source = _obj(txn.get("source"))
    source_id = _id(txn.get("source")) or ""
    source_object = _str(source.get("object")) if source else None
    raw_type = str(txn.get("type") or "")
    kind = _SETTLEMENT_TYPES.get(raw_type, "adjustment")
    if kind == "adjustment" and (
        txn.get("reporting_category") in ("dispute", "dispute_reversal")
        or source_object == "dispute"
        or source_id.startswith("dp_")
    ):
        kind = "dispute"
    payment_id = None
    if source is not None and source_object in ("charge", "refund", "dispute"):
        payment_id = _id(source.get("payment_intent"))
    payout_id = source_id if source_object == "payout" or source_id.startswith("po_") else None
    amount, fee = _int(txn.get("amount")) or 0, _int(txn.get("fee")) or 0
    net = _int(txn.get("net"))
    return SettlementLine(
        id=str(txn["id"]),
        type=kind,
        provider_payment_id=payment_id,
        amount=amount,
        fee=fee,
        net=net if net is not None else amount - fee,
        currency=_upper(txn.get("currency")),
        payout_id=payout_id,
        created=_ts(txn.get("created")),
    )


# ------------------------------------------------------------------------ errors
def _provider_error(exc: stripe.StripeError) -> ProviderError:
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
            _scrub(exc.user_message or "The card was declined."),
            code=_str(decline) or code,
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
        message = _scrub(exc.user_message or "Stripe refused the request")
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


def _scrub(text: str) -> str:
    """Drop anything that looks like a key, a webhook secret or a card number."""
    return _CARDLIKE.sub("[redacted]", _KEYLIKE.sub("[redacted]", text))[:500]


# ------------------------------------------------------------------------- small
def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def _signed_at(header: str) -> int:
    for item in header.split(","):
        key, _, value = item.partition("=")
        if key.strip() == "t" and value.strip().isdigit():
            return int(value)
    return 0


def _obj(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def _id(value: Any) -> str | None:
    """The id of an expandable field, expanded or not."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, Mapping):
        return _str(value.get("id"))
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _upper(value: Any) -> str:
    return value.upper() if isinstance(value, str) else ""


def _unix(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp())


def _ts(value: Any) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(value or 0), dt.UTC)
