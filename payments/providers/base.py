"""The PSP port: what the domain sees of a payment service provider.

Adapters (``simulator``, ``stripe``) implement ``PaymentProvider`` and speak only these
frozen dataclasses; no PSP SDK type crosses this line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class CheckoutRequest:
    """What an adapter needs to open a hosted checkout for one payment of an invoice."""

    payment_id: str
    invoice_id: str
    invoice_number: str
    service_name: str
    description: str
    amount: int
    currency: str
    lines: tuple[tuple[str, int, int], ...]  # description, quantity, unit_amount
    expires_at: dt.datetime
    locale: str


@dataclass(frozen=True)
class CheckoutUrls:
    success_url: str
    cancel_url: str


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class ProviderPayment:
    """The PSP's current truth about one payment."""

    checkout_id: str | None
    provider_payment_id: str | None
    status: str  # a payments.states.PaymentStatus value
    amount: int
    currency: str
    payment_ref: str | None = None  # regie's pay_… id, from the PSP's metadata
    card_brand: str | None = None
    card_last4: str | None = None
    fee: int | None = None
    failure_code: str | None = None
    failure_message: str | None = None


@dataclass(frozen=True)
class ProviderRefund:
    id: str
    provider_payment_id: str
    amount: int
    currency: str
    status: str  # pending | succeeded | failed
    failure_reason: str | None = None
    regie_refund_id: str | None = None  # regie's ref_… id, from the PSP's metadata


@dataclass(frozen=True)
class ProviderEvent:
    """A verified PSP event, normalised. ``type`` is one of the EVENT_* constants."""

    id: str
    provider: str
    type: str
    raw_type: str
    created: dt.datetime
    checkout_id: str | None = None
    provider_payment_id: str | None = None
    payment_ref: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SettlementLine:
    id: str
    type: str  # charge | refund | dispute | payout | fee | adjustment
    provider_payment_id: str | None
    amount: int
    fee: int
    net: int
    currency: str
    payout_id: str | None
    created: dt.datetime


# Normalised event types. An adapter maps its PSP's events onto these (Stripe's
# checkout.session.completed with payment_status=paid -> payment.succeeded, ...).
EVENT_PAYMENT_SUCCEEDED = "payment.succeeded"  # checkout_id and/or provider_payment_id set
EVENT_PAYMENT_FAILED = "payment.failed"
EVENT_CHECKOUT_EXPIRED = "checkout.expired"
EVENT_REFUND_UPDATED = (
    "refund.updated"  # data: refund_id, provider_payment_id, amount, currency, status
)
EVENT_DISPUTE_OPENED = "dispute.opened"  # data: dispute_id, provider_payment_id, amount, currency
EVENT_DISPUTE_CLOSED = "dispute.closed"  # data: ..., status ("won" | "lost")
EVENT_PAYOUT_PAID = "payout.paid"  # data: payout_id, amount, currency, arrival_date (ISO date)
EVENT_PAYOUT_FAILED = "payout.failed"
EVENT_IGNORED = "ignored"  # stored in the inbox for the record, never applied
PAYMENT_EVENTS = frozenset({EVENT_PAYMENT_SUCCEEDED, EVENT_PAYMENT_FAILED, EVENT_CHECKOUT_EXPIRED})


class ProviderError(Exception):
    """A PSP call failed. ``kind``: declined, invalid_request, authentication,
    rate_limited, unavailable, not_found."""

    def __init__(
        self, kind: str, message: str, *, retryable: bool = False, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retryable = retryable
        self.code = code


class SignatureError(ValueError):
    """The webhook's signature is missing, forged or outside the tolerance window."""


@runtime_checkable
class PaymentProvider(Protocol):
    name: str
    # True when the PSP account may carry other integrations' payments (Stripe): their
    # events are acknowledged and dropped; False: such an event is refused (simulator).
    shared_account: bool

    async def create_checkout(
        self, request: CheckoutRequest, urls: CheckoutUrls
    ) -> CheckoutSession: ...

    async def retrieve_payment(self, provider_ref: str) -> ProviderPayment:
        """The current truth, by checkout id or by the PSP's payment id."""
        ...

    async def refund(
        self,
        provider_payment_id: str,
        amount: int,
        idempotency_key: str,
        *,
        regie_refund_id: str | None = None,
    ) -> ProviderRefund:
        """Refund ``amount`` of a payment. ``regie_refund_id`` is stored with the refund at
        the PSP (metadata) so that its events, and ``list_refunds``, name regie's refund."""
        ...

    async def retrieve_refund(self, refund_id: str) -> ProviderRefund: ...

    async def list_refunds(self, provider_payment_id: str) -> list[ProviderRefund]:
        """Every refund of one payment at the PSP (to find one whose answer was lost)."""
        ...

    async def cancel_checkout(self, checkout_id: str) -> None: ...

    def parse_event(self, raw_body: bytes, headers: Mapping[str, str]) -> ProviderEvent: ...

    def list_events(self, since: dt.datetime) -> AsyncIterator[ProviderEvent]: ...

    def list_settlement_lines(
        self, since: dt.datetime, until: dt.datetime
    ) -> AsyncIterator[SettlementLine]: ...
