"""Stripe's events: webhook signatures, and what each event means for regie.

``Stripe-Signature`` is checked against every configured secret (for rotation) with a
300 s tolerance, in both directions (the SDK only bounds the past). A verified event, or
one listed from the API by ``list_events`` (the catch-up), is normalised onto the port's
``EVENT_*`` types; anything else is kept as ``EVENT_IGNORED``.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import stripe

from payments.providers.base import (
    EVENT_CHECKOUT_EXPIRED,
    EVENT_DISPUTE_CLOSED,
    EVENT_DISPUTE_FUNDS_REINSTATED,
    EVENT_DISPUTE_FUNDS_WITHDRAWN,
    EVENT_DISPUTE_OPENED,
    EVENT_IGNORED,
    EVENT_PAYMENT_FAILED,
    EVENT_PAYMENT_PROCESSING,
    EVENT_PAYMENT_SUCCEEDED,
    EVENT_PAYMENT_UPDATED,
    EVENT_PAYOUT_FAILED,
    EVENT_PAYOUT_PAID,
    EVENT_PAYOUT_RECONCILED,
    EVENT_REFUND_UPDATED,
    MALFORMED,
    MalformedEventError,
    ProviderEvent,
    SignatureError,
)
from payments.providers.stripe.errors import pages
from payments.providers.stripe.mapping import (
    REFUND_STATUS,
    failure,
    ident,
    integer,
    livemode_mismatch,
    obj,
    refund_failure,
    regie_refund_id,
    text,
    ts,
    unix,
    upper,
)

SIGNATURE_HEADER = "stripe-signature"
SIGNATURE_TOLERANCE = 300  # seconds
PAGE_SIZE = 100

_REFUND_EVENTS = frozenset(
    {"refund.created", "refund.updated", "refund.failed", "charge.refund.updated"}
)
_PAYOUT_EVENTS = {
    "payout.paid": EVENT_PAYOUT_PAID,
    "payout.failed": EVENT_PAYOUT_FAILED,
    "payout.reconciliation_completed": EVENT_PAYOUT_RECONCILED,
}
_DISPUTE_EVENTS = {
    "charge.dispute.created": EVENT_DISPUTE_OPENED,
    "charge.dispute.updated": EVENT_DISPUTE_OPENED,  # re-read: it moves nothing by itself
    "charge.dispute.funds_withdrawn": EVENT_DISPUTE_FUNDS_WITHDRAWN,
    "charge.dispute.funds_reinstated": EVENT_DISPUTE_FUNDS_REINSTATED,
    "charge.dispute.closed": EVENT_DISPUTE_CLOSED,
}
_SESSION_EVENTS = {
    "checkout.session.async_payment_succeeded": EVENT_PAYMENT_SUCCEEDED,
    "checkout.session.async_payment_failed": EVENT_PAYMENT_FAILED,
    "checkout.session.expired": EVENT_CHECKOUT_EXPIRED,
}

# Every Stripe event type regie applies: the catch-up asks Stripe for these only (its
# ``types`` filter takes at most 20), so other integrations' traffic is never listed.
HANDLED_TYPES: tuple[str, ...] = tuple(
    sorted(
        {
            "checkout.session.completed",
            *_SESSION_EVENTS,
            "payment_intent.succeeded",
            "payment_intent.payment_failed",
            "charge.updated",
            *_REFUND_EVENTS,
            "charge.refunded",
            *_DISPUTE_EVENTS,
            *_PAYOUT_EVENTS,
        }
    )
)
assert len(HANDLED_TYPES) <= 20, "Stripe's `types` filter takes at most 20 event types"


# ------------------------------------------------------------------ webhooks
def parse_event(
    raw_body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    livemode: bool | None = None,
) -> ProviderEvent:
    """Verify ``Stripe-Signature`` (any of ``secrets``, 300 s) and normalise. With
    ``livemode`` (the key's mode), an event of the other mode is refused like a bad
    signature: a test event must never move live money, nor a live one test books."""
    try:
        payload = raw_body.decode("utf-8")
    except UnicodeDecodeError:
        raise SignatureError("the webhook body is not UTF-8") from None
    verify(payload, _header(headers, SIGNATURE_HEADER), secrets)
    try:
        doc = json.loads(payload)
        if not isinstance(doc, dict) or doc.get("object") != "event":
            raise ValueError("not an event")
        if not isinstance(obj(doc.get("data")), Mapping):
            raise TypeError("the event's data is not an object")
        parsed = event(doc)
    except MALFORMED:
        raise MalformedEventError("the signed body is not a Stripe event") from None
    if livemode is not None and _other_mode(doc, livemode):
        mode = "live" if livemode else "test"
        raise SignatureError(f"a Stripe event of the other mode than the {mode}-mode key")
    return parsed


def _other_mode(doc: Mapping[str, Any], livemode: bool) -> bool:
    """The event, or the object it carries, says it is of the other mode."""
    data = obj(doc.get("data")) or {}
    inner = obj(data.get("object")) or {}
    return livemode_mismatch(doc, livemode) or livemode_mismatch(inner, livemode)


def verify(payload: str, header: str | None, secrets: Sequence[str]) -> None:
    refused = SignatureError("the Stripe-Signature header is missing, invalid or too old")
    if not header or not header.isascii():  # the SDK's compare_digest: TypeError outside ASCII
        raise refused
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(
                payload, header, secret, tolerance=SIGNATURE_TOLERANCE
            )
        except stripe.SignatureVerificationError:
            continue
        # The SDK only refuses timestamps too far in the past; a future one is refused
        # here too, so a captured delivery cannot be replayed later by pre-dating it.
        signed_at = _signed_at(header)
        if signed_at is None or signed_at > time.time() + SIGNATURE_TOLERANCE:
            raise refused
        return
    raise refused


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def _signed_at(header: str) -> int | None:
    """The ``t=`` the SDK verified (its first part keyed exactly ``t``) when written in plain
    digits; None otherwise, and the header is refused: the SDK reads ``t=+1767225900`` or
    ``t=1767225900=`` as that instant too, which must not slip past the future bound."""
    for item in header.split(","):
        key, _, value = item.partition("=")
        if key == "t":
            return int(value) if value.strip().isdigit() else None
    return None


# ------------------------------------------------------------------- catch-up
async def list_events(
    client: stripe.StripeClient, since: dt.datetime, livemode: bool | None = None
) -> list[ProviderEvent]:
    """Stripe's events created at or after ``since``, oldest first, normalised as
    ``parse_event`` does (no signature: they come from the API itself).

    Stripe lists newest first and keeps 30 days of events; they are read in full, then
    sorted by creation time (same-second events in Stripe's order), so the caller
    applies them in the order they happened. Only the types regie handles are asked for;
    events of the other mode than the key's (``livemode``) are dropped."""
    first = client.v1.events.list_async(
        {"created": {"gte": unix(since)}, "limit": PAGE_SIZE, "types": list(HANDLED_TYPES)}
    )
    events = [
        event(doc)
        async for doc in pages(first)
        if livemode is None or not _other_mode(doc, livemode)
    ]
    events.reverse()
    events.sort(key=lambda e: e.created)  # stable: same-second events keep Stripe's order
    return events


# -------------------------------------------------------------- normalising
@dataclass(frozen=True)
class _Mapped:
    """What one Stripe event means for regie (before the envelope is added)."""

    type: str
    data: dict[str, Any]
    checkout_id: str | None = None
    provider_payment_id: str | None = None
    payment_ref: str | None = None


def event(doc: Mapping[str, Any]) -> ProviderEvent:
    """Normalise one Stripe event (from a webhook or from the API)."""
    raw_type = str(doc["type"])
    data = obj(doc.get("data")) or {}
    inner = obj(data.get("object")) or {}
    account = doc.get("account")
    if isinstance(account, str) and account:
        # a connected account's event (an endpoint set up for Connect sends them): its
        # money is on that account's balance, not regie's, and none of it is regie's to book
        mapped = _Mapped(
            EVENT_IGNORED,
            {"object": text(inner.get("object")), "id": text(inner.get("id")),
             "connected_account": account[:255]},
        )  # fmt: skip
    else:
        mapped = _map(raw_type, inner)
    return ProviderEvent(
        id=str(doc["id"]),
        provider="stripe",
        type=mapped.type,
        raw_type=raw_type,
        created=ts(doc["created"]),
        checkout_id=mapped.checkout_id,
        provider_payment_id=mapped.provider_payment_id,
        payment_ref=mapped.payment_ref,
        data=mapped.data,
    )


def _map(raw_type: str, doc: Mapping[str, Any]) -> _Mapped:
    if raw_type.startswith("checkout.session."):
        return _session_event(raw_type, doc)
    if raw_type in ("payment_intent.succeeded", "payment_intent.payment_failed"):
        succeeded = raw_type == "payment_intent.succeeded"
        metadata = obj(doc.get("metadata")) or {}
        code, message = (None, None) if succeeded else failure(doc)
        return _Mapped(
            EVENT_PAYMENT_SUCCEEDED if succeeded else EVENT_PAYMENT_FAILED,
            {
                "status": text(doc.get("status")),
                "amount": integer(doc.get("amount")),
                "currency": upper(doc.get("currency")) or None,
                "failure_code": code,
                "failure_message": message,
            },
            provider_payment_id=text(doc.get("id")),
            payment_ref=text(metadata.get("payment_id")),
        )
    if raw_type == "charge.updated":
        return _charge_updated(doc)
    if raw_type in _REFUND_EVENTS:
        data = _refund_data(doc, ident(doc.get("payment_intent")))
        return _Mapped(EVENT_REFUND_UPDATED, data, provider_payment_id=data["provider_payment_id"])
    if raw_type == "charge.refunded":
        data = _charge_refunded(doc)
        return _Mapped(EVENT_REFUND_UPDATED, data, provider_payment_id=data["provider_payment_id"])
    if raw_type in _DISPUTE_EVENTS:
        # the body says which dispute; what is applied is the dispute re-read from Stripe
        data = _dispute_data(doc, closed=raw_type == "charge.dispute.closed")
        return _Mapped(
            _DISPUTE_EVENTS[raw_type], data, provider_payment_id=data["provider_payment_id"]
        )
    if raw_type in _PAYOUT_EVENTS:
        arrival = integer(doc.get("arrival_date"))
        return _Mapped(
            _PAYOUT_EVENTS[raw_type],
            {
                "payout_id": text(doc.get("id")),
                "amount": integer(doc.get("amount")),
                "currency": upper(doc.get("currency")) or None,
                "arrival_date": ts(arrival).date().isoformat() if arrival is not None else None,
                "status": text(doc.get("status")),
                "failure_code": text(doc.get("failure_code")),
                # False: paid out by hand (the dashboard, an Instant Payout), not Stripe's
                # automatic payout, and Stripe lists no transactions of it
                "automatic": doc.get("automatic")
                if isinstance(doc.get("automatic"), bool)
                else None,
            },
        )
    return _Mapped(EVENT_IGNORED, {"object": text(doc.get("object")), "id": text(doc.get("id"))})


def _session_event(raw_type: str, session: Mapping[str, Any]) -> _Mapped:
    if raw_type == "checkout.session.completed":
        # completed but unpaid: a delayed method (SEPA debit...) is still running, its
        # money on the way; async_payment_succeeded or async_payment_failed will follow
        paid = session.get("payment_status") == "paid"
        kind = EVENT_PAYMENT_SUCCEEDED if paid else EVENT_PAYMENT_PROCESSING
    else:
        kind = _SESSION_EVENTS.get(raw_type, EVENT_IGNORED)
    metadata = obj(session.get("metadata")) or {}
    return _Mapped(
        kind,
        {
            "session_status": text(session.get("status")),
            "payment_status": text(session.get("payment_status")),
            "amount": integer(session.get("amount_total")),
            "currency": upper(session.get("currency")) or None,
        },
        checkout_id=text(session.get("id")),
        provider_payment_id=ident(session.get("payment_intent")),
        payment_ref=text(metadata.get("payment_id")) or text(session.get("client_reference_id")),
    )


def _charge_updated(charge: Mapping[str, Any]) -> _Mapped:
    """``charge.updated`` of a charge with its balance transaction: Stripe attaches it (and
    with it the fee) after the charge succeeded when the capture is asynchronous (its
    default since API version 2024-04-10), and says so with this event. The payment is
    re-read by its PaymentIntent: a fee regie booked the success without is booked then.
    Any other update of a charge (no balance transaction yet, not a PaymentIntent's charge)
    moves nothing."""
    intent = ident(charge.get("payment_intent"))
    if not intent or not charge.get("balance_transaction") or charge.get("status") != "succeeded":
        return _Mapped(EVENT_IGNORED, {"object": "charge", "id": text(charge.get("id"))})
    metadata = obj(charge.get("metadata")) or {}
    return _Mapped(
        EVENT_PAYMENT_UPDATED,
        {
            "charge_id": text(charge.get("id")),
            "amount": integer(charge.get("amount")),
            "currency": upper(charge.get("currency")) or None,
        },
        provider_payment_id=intent,
        payment_ref=text(metadata.get("payment_id")),
    )


def _refund_data(refund: Mapping[str, Any], provider_payment_id: str | None) -> dict[str, Any]:
    return {
        "refund_id": text(refund.get("id")),
        "provider_payment_id": provider_payment_id,
        "amount": integer(refund.get("amount")),
        "currency": upper(refund.get("currency")) or None,
        "status": REFUND_STATUS.get(str(refund.get("status")), "pending"),
        "failure_reason": refund_failure(refund),
        "regie_refund_id": regie_refund_id(refund),
    }


def _charge_refunded(charge: Mapping[str, Any]) -> dict[str, Any]:
    """``charge.refunded`` names the charge; its latest refund is the news. Since API
    version 2022-11-15 a charge no longer embeds its refunds: then ``refund_id`` is None
    and only the cumulative ``amount_refunded`` is known (``refund.*`` events carry the
    refund itself: subscribe to them too)."""
    payment_id = ident(charge.get("payment_intent"))
    refunds = obj(charge.get("refunds")) or {}
    listed = [r for r in refunds.get("data") or [] if isinstance(r, Mapping)]
    if listed:
        latest = max(listed, key=lambda r: integer(r.get("created")) or 0)
        data = _refund_data(latest, ident(latest.get("payment_intent")) or payment_id)
    else:
        data = {
            "refund_id": None,
            "provider_payment_id": payment_id,
            "amount": None,
            "currency": upper(charge.get("currency")) or None,
            "status": None,
            "failure_reason": None,
            "regie_refund_id": None,
        }
    data["amount_refunded"] = integer(charge.get("amount_refunded"))
    return data


def _dispute_data(dispute: Mapping[str, Any], *, closed: bool) -> dict[str, Any]:
    raw = text(dispute.get("status"))
    status = raw
    if closed:
        # warning_closed: an inquiry closed without a chargeback, the funds stay ours
        status = "won" if raw in ("won", "warning_closed") else "lost"
    return {
        "dispute_id": text(dispute.get("id")),
        "provider_payment_id": ident(dispute.get("payment_intent")),
        "charge_id": ident(dispute.get("charge")),
        "amount": integer(dispute.get("amount")),
        "currency": upper(dispute.get("currency")) or None,
        "status": status,
        "stripe_status": raw,
        "reason": text(dispute.get("reason")),
    }
