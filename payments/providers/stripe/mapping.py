"""Between the port and Stripe's objects (pure, no I/O, no SDK).

Outbound: a ``CheckoutRequest`` becomes Checkout Session parameters (an expiry Stripe
accepts that never outlives the invoice, ``price_data`` lines that always add up to the
amount and that Stripe accepts, the locale).
Inbound: Checkout Sessions, PaymentIntents and Refunds, as plain dicts (``to_dict()``),
become the port's ``ProviderPayment`` and ``ProviderRefund``. The small field readers at
the end are shared by ``events`` and ``settlement``: Stripe's JSON is read defensively
(an expandable field may be an id or an object, anything may be missing).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from payments.providers.base import (
    CheckoutRequest,
    ProviderDispute,
    ProviderError,
    ProviderPayment,
    ProviderRefund,
)
from payments.providers.stripe import currencies

if TYPE_CHECKING:  # types only: this module never calls the SDK
    from stripe.params.checkout import SessionCreateParamsLineItem

# Stripe accepts a Checkout Session's expires_at between 30 minutes and 24 hours from its
# creation; a minute of margin on each side absorbs clock skew and request latency.
MAX_SESSION = dt.timedelta(hours=24) - dt.timedelta(minutes=1)
MIN_SESSION = dt.timedelta(minutes=30) + dt.timedelta(minutes=1)

REFUND_STATUS = {
    "pending": "pending",
    "requires_action": "pending",
    "succeeded": "succeeded",
    "failed": "failed",
    "canceled": "failed",
}

_KEYLIKE = re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z*]+|\bwhsec_[0-9A-Za-z]+")
_CARDLIKE = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")


# ---------------------------------------------------------------------- checkout
def session_expiry(wanted: dt.datetime, now: dt.datetime) -> dt.datetime:
    """The invoice's expiry, capped at what Stripe accepts (24 hours). A session is never
    made to outlive its invoice: less than Stripe's 30 minutes left is refused."""
    if wanted.tzinfo is None:
        wanted = wanted.replace(tzinfo=dt.UTC)
    if wanted < now + MIN_SESSION:
        raise ProviderError(
            "invalid_request",
            "the invoice expires before Stripe's shortest Checkout Session would",
            code="checkout_expires_too_soon",
        )
    return min(wanted, now + MAX_SESSION)


def line_items(request: CheckoutRequest) -> list[SessionCreateParamsLineItem]:
    """``price_data`` lines from the invoice. When the lines do not add up to the amount
    asked (or cannot be expressed: no lines, a negative line, or, in a three-decimal
    currency, a unit amount whose last digit is not 0, which Stripe refuses as it refuses
    such a charge), one line carries it all, so that Stripe's total always equals the
    payment's amount."""
    currency = request.currency.lower()
    lines = request.lines
    tens = currencies.stripe_exponent(request.currency) == 3
    fits = (
        bool(lines)
        and all(quantity > 0 and unit >= 0 for _, quantity, unit in lines)
        and not (tens and any(unit % 10 for _, _, unit in lines))
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


def locale(tag: str) -> Literal["fr", "en", "auto"]:
    tag = (tag or "").lower()
    if tag.startswith("fr"):
        return "fr"
    if tag.startswith("en"):
        return "en"
    return "auto"


# ---------------------------------------------------------------------- payments
def payment_from_session(session: Mapping[str, Any]) -> ProviderPayment:
    intent = obj(session.get("payment_intent"))
    charge = obj(intent.get("latest_charge")) if intent else None
    intent_status = intent.get("status") if intent else None
    complete = session.get("status") == "complete"
    if session.get("payment_status") == "paid" or intent_status == "succeeded":
        status = "succeeded"
    elif session.get("status") == "expired":
        status = "expired"  # Stripe cancels the PaymentIntent of an expired session
    elif intent_status == "canceled":
        status = "canceled"
    elif complete and intent is not None and _failed(intent):
        status = "failed"  # a delayed method failed (async_payment_failed)
    else:
        # open: whatever its PaymentIntent says (a declined card), the citizen is still
        # on Stripe's page and may try another card; complete and unpaid: the money of a
        # delayed method (a SEPA debit) is on its way
        status = "pending"
    amount = integer(session.get("amount_total"))
    if amount is None:
        amount = integer(intent.get("amount")) if intent else None
    currency = session.get("currency") or (intent.get("currency") if intent else None)
    conversion = obj(session.get("currency_conversion"))
    if conversion and text(conversion.get("source_currency")):
        # Adaptive Pricing localised the session: the amount asked is the source one
        amount, currency = integer(conversion.get("amount_total")), conversion["source_currency"]
    metadata = obj(session.get("metadata")) or {}
    brand, last4 = _card(charge)
    code, message = failure(intent) if status == "failed" and intent else (None, None)
    return ProviderPayment(
        checkout_id=str(session["id"]),
        provider_payment_id=ident(session.get("payment_intent")),
        status=status,
        amount=amount or 0,
        currency=upper(currency),
        payment_ref=text(metadata.get("payment_id")) or text(session.get("client_reference_id")),
        card_brand=brand,
        card_last4=last4,
        **(_fee(charge) if status == "succeeded" else {}),
        failure_code=code,
        failure_message=message,
        processing=complete and status == "pending",
    )


def payment_from_intent(intent: Mapping[str, Any]) -> ProviderPayment:
    charge = obj(intent.get("latest_charge"))
    raw = intent.get("status")
    if raw == "succeeded":
        status = "succeeded"
    elif raw == "canceled":
        status = "canceled"
    elif _failed(intent):
        status = "failed"
    else:
        status = "pending"  # processing, requires_action, requires_confirmation, ...
    metadata = obj(intent.get("metadata")) or {}
    brand, last4 = _card(charge)
    code, message = failure(intent) if status == "failed" else (None, None)
    return ProviderPayment(
        checkout_id=None,
        provider_payment_id=str(intent["id"]),
        status=status,
        amount=integer(intent.get("amount")) or 0,
        currency=upper(intent.get("currency")),
        payment_ref=text(metadata.get("payment_id")),
        card_brand=brand,
        card_last4=last4,
        **(_fee(charge) if status == "succeeded" else {}),
        failure_code=code,
        failure_message=message,
        processing=raw == "processing",
    )


def _failed(intent: Mapping[str, Any]) -> bool:
    return intent.get("status") == "requires_payment_method" and bool(
        intent.get("last_payment_error")
    )


def failure(intent: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The decline code and the (scrubbed) message of a PaymentIntent's last error."""
    error = obj(intent.get("last_payment_error")) or {}
    code = text(error.get("decline_code")) or text(error.get("code"))
    message = text(error.get("message"))
    return (code[:64] if code else None), (scrub(message)[:500] if message else None)


def _card(charge: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    details = obj(charge.get("payment_method_details")) if charge else None
    card = obj(details.get("card")) if details else None
    if card is None:
        return None, None
    brand, last4 = text(card.get("brand")), text(card.get("last4"))
    return (brand[:20] if brand else None), (
        last4 if last4 and len(last4) == 4 and last4.isdigit() else None
    )


def _fee(charge: Mapping[str, Any] | None) -> dict[str, Any]:
    """The fee from the charge's balance transaction, in *its* currency (the account's
    settlement currency, not necessarily the charge's), with the rate Stripe applied."""
    txn = obj(charge.get("balance_transaction")) if charge else None
    if not txn or integer(txn.get("fee")) is None:
        return {"fee": None}
    return {
        "fee": integer(txn.get("fee")),
        "fee_currency": upper(txn.get("currency")) or None,
        "fee_exchange_rate": rate(txn.get("exchange_rate")),
    }


def rate(value: Any) -> str | None:
    """An exchange rate as exact decimal text (never a float in regie's tables)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str) or value == "":
        return None
    try:
        return str(Decimal(str(value)))
    except ArithmeticError:
        return None


def refund(doc: Mapping[str, Any], provider_payment_id: str | None) -> ProviderRefund:
    return ProviderRefund(
        id=str(doc["id"]),
        provider_payment_id=ident(doc.get("payment_intent")) or provider_payment_id or "",
        amount=integer(doc.get("amount")) or 0,
        currency=upper(doc.get("currency")),
        status=REFUND_STATUS.get(str(doc.get("status")), "pending"),
        failure_reason=refund_failure(doc),
        regie_refund_id=regie_refund_id(doc),
        payment_ref=_intent_payment_ref(doc),
        **_refund_fee(doc),
    )


def _refund_fee(refund: Mapping[str, Any]) -> dict[str, Any]:
    """The fee on the refund's balance transaction when it is expanded (``retrieve_refund``,
    ``list_refunds``): negative when Stripe gives part of its fee back, in the
    transaction's (settlement) currency. Not expanded (a create's answer): not known."""
    txn = obj(refund.get("balance_transaction"))
    fee = integer(txn.get("fee")) if txn else None
    if txn is None or fee is None:
        return {}
    return {"fee": fee, "fee_currency": upper(txn.get("currency")) or None}


def _intent_payment_ref(refund: Mapping[str, Any]) -> str | None:
    """regie's ``pay_…`` id from the metadata of the refund's PaymentIntent, when it is
    expanded (``retrieve_refund``): Checkout copies the session's metadata onto it."""
    return _metadata_payment_ref(refund.get("payment_intent"))


# ------------------------------------------------------------------- key mode
LIVE_KEY_PREFIXES = ("sk_live_", "rk_live_")


def key_livemode(api_key: str) -> bool:
    """True for a live-mode secret or restricted key, False for a test-mode one."""
    return api_key.startswith(LIVE_KEY_PREFIXES)


def livemode_mismatch(doc: Mapping[str, Any], livemode: bool) -> bool:
    """An object or event that says it belongs to the other mode than the key's. One
    that does not say (no ``livemode`` field) is not refused for it."""
    value = doc.get("livemode")
    return isinstance(value, bool) and value != livemode


def check_livemode(doc: Mapping[str, Any], livemode: bool) -> Mapping[str, Any]:
    """``doc`` when it is in the key's mode; ``ProviderError`` otherwise."""
    if livemode_mismatch(doc, livemode):
        mode = "live" if livemode else "test"
        raise ProviderError(
            "invalid_request",
            f"Stripe returned an object of the other mode than the {mode}-mode key",
            code="livemode_mismatch",
        )
    return doc


def refund_failure(doc: Mapping[str, Any]) -> str | None:
    """Why a refund failed; a canceled refund (Stripe gives no reason) says so."""
    reason = text(doc.get("failure_reason"))
    if reason is None and doc.get("status") == "canceled":
        return "canceled"
    return reason


def regie_refund_id(doc: Mapping[str, Any]) -> str | None:
    """regie's ``ref_…`` id, sent as ``metadata[regie_refund_id]`` with every refund."""
    metadata = obj(doc.get("metadata")) or {}
    return text(metadata.get("regie_refund_id"))


# -------------------------------------------------------------- field readers
def scrub(message: str) -> str:
    """Drop anything that looks like a key, a webhook secret or a card number."""
    return _CARDLIKE.sub("[redacted]", _KEYLIKE.sub("[redacted]", message))[:500]


def obj(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def ident(value: Any) -> str | None:
    """The id of an expandable field, expanded or not."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, Mapping):
        return text(value.get("id"))
    return None


def text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def upper(value: Any) -> str:
    return value.upper() if isinstance(value, str) else ""


def unix(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp())


def ts(value: Any) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(value or 0), dt.UTC)


# ---------------------------------------------------------------------- disputes
_INQUIRY_STATUSES = frozenset({"warning_needs_response", "warning_under_review", "warning_closed"})
_CLOSED = frozenset({"won", "lost", "warning_closed"})


def dispute(doc: Mapping[str, Any]) -> ProviderDispute:
    """A Dispute (``charge`` expanded or not) as the port's truth. Its balance transactions
    say what moved: a negative amount withdrew the funds, a positive one reinstated them;
    their fees are the dispute fee (negative: given back). An inquiry (``warning_*``) moves
    nothing and books nothing. A charge still refundable (``is_charge_refundable``) is not
    an inquiry: it says a refund would stop further withdrawals, not that none was made."""
    status = str(doc.get("status") or "")
    amount = integer(doc.get("amount")) or 0
    inquiry = status in _INQUIRY_STATUSES
    withdrawn = reinstated = fee = fee_returned = 0
    fee_currency: str | None = None
    for txn in doc.get("balance_transactions") or []:
        if inquiry or not isinstance(txn, Mapping):
            continue
        moved, txn_fee = integer(txn.get("amount")) or 0, integer(txn.get("fee")) or 0
        if moved < 0:
            withdrawn = amount
        elif moved > 0:
            reinstated = amount
        if txn_fee > 0:
            fee += txn_fee
        elif txn_fee < 0:
            fee_returned -= txn_fee
        fee_currency = fee_currency or upper(txn.get("currency")) or None
    charge = obj(doc.get("charge")) or {}
    return ProviderDispute(
        id=str(doc.get("id") or ""),
        provider_payment_id=ident(doc.get("payment_intent")) or ident(charge.get("payment_intent")),
        amount=amount,
        currency=upper(doc.get("currency")),
        status=status,
        withdrawn=withdrawn,
        reinstated=reinstated,
        closed=status in _CLOSED,
        won=status in ("won", "warning_closed"),
        fee=fee,
        fee_returned=fee_returned,
        fee_currency=fee_currency,
        charge_refundable=bool(doc.get("is_charge_refundable")),
        payment_ref=_metadata_payment_ref(doc.get("payment_intent"))
        or _metadata_payment_ref(charge.get("payment_intent")),
    )


def _metadata_payment_ref(intent: Any) -> str | None:
    """regie's ``pay_…`` id from an expanded PaymentIntent's metadata (Checkout copies the
    session's metadata onto it); None when it is not expanded or names none."""
    metadata = obj(intent.get("metadata")) if isinstance(intent, Mapping) else None
    return text(metadata.get("payment_id")) if metadata else None
