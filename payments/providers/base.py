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
    payer_email: str | None = None  # prefilled on the PSP's page when the service gave it
    # the service's words on the payer's card statement, after the account's prefix
    statement_descriptor_suffix: str | None = None


# In a success URL, the PSP puts its checkout's id in place of this (Stripe's placeholder;
# the simulator does the same), so the return page can ask the PSP about that checkout.
CHECKOUT_ID_PLACEHOLDER = "{CHECKOUT_SESSION_ID}"


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
    # the fee's currency: the settlement currency of the PSP's balance, which may differ
    # from the payment's (an XPF charge settled in EUR); None means the payment's currency
    fee_currency: str | None = None
    # the payment currency -> fee currency rate the PSP applied, as exact decimal text
    fee_exchange_rate: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    # pending, and the payer has done their part: a delayed method (a SEPA debit...) whose
    # money is on its way; the PSP's success or failure may come days later
    processing: bool = False


@dataclass(frozen=True)
class ProviderRefund:
    id: str
    provider_payment_id: str
    amount: int
    currency: str
    status: str  # pending | succeeded | failed
    failure_reason: str | None = None
    regie_refund_id: str | None = None  # regie's ref_… id, from the PSP's metadata
    # regie's pay_… id of the refunded payment, from that payment's metadata at the PSP
    # (None when the PSP did not say, or the payment is not regie's): a refund of a payment
    # whose success regie has not recorded yet is recognised as regie's by it
    payment_ref: str | None = None
    # the fee on the refund's balance transaction (negative: the PSP gave part of its fee
    # back; positive: it charged one), in that transaction's currency; None: not known
    fee: int | None = None
    fee_currency: str | None = None


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
    reporting_category: str | None = None  # Stripe's: charge, refund, dispute, fee, ...
    fee_details: tuple[tuple[str, int, str], ...] = ()  # (type, amount, currency) each
    exchange_rate: str | None = None  # as the PSP wrote it (a decimal string), never a float
    # the PSP object the line moves money for: a charge, refund, dispute or payout id
    source_id: str | None = None
    # a payout's line: the day the PSP expects the money at the bank (Stripe's payout
    # ``arrival_date``), which is not the day the line was created
    arrival_date: dt.date | None = None


@dataclass(frozen=True)
class ProviderPayoutLines:
    """The balance transactions one payout carried (the PSP's truth about a payout)."""

    payout_id: str
    lines: tuple[SettlementLine, ...]


@dataclass(frozen=True)
class ProviderDispute:
    """The PSP's current truth about one dispute (a chargeback, or an inquiry).

    ``withdrawn``: what left the PSP balance (0 for an inquiry, which takes nothing);
    ``reinstated``: what came back; ``fee`` / ``fee_returned``: the dispute fee charged and
    given back, in ``fee_currency`` (the balance's currency, not always the charge's).
    ``charge_refundable``: the charge can still be refunded (an inquiry, or a chargeback
    a refund would stop withdrawing more)."""

    id: str
    provider_payment_id: str | None
    amount: int
    currency: str
    status: str  # the PSP's own word (needs_response, won, lost, warning_closed, ...)
    withdrawn: int = 0
    reinstated: int = 0
    closed: bool = False
    won: bool = False
    fee: int = 0
    fee_returned: int = 0
    fee_currency: str | None = None
    charge_refundable: bool = False
    # regie's pay_… id of the disputed payment, from that payment's metadata at the PSP
    # (None when the PSP did not say, or the payment is not regie's): a dispute of a payment
    # whose success regie has not recorded yet is recognised as regie's by it, as a refund is
    payment_ref: str | None = None


# What ``fetch_truth`` re-reads from the PSP for one event.
ProviderTruth = ProviderPayment | ProviderRefund | ProviderDispute | ProviderPayoutLines

# Normalised event types. An adapter maps its PSP's events onto these (Stripe's
# checkout.session.completed with payment_status=paid -> payment.succeeded, ...).
EVENT_PAYMENT_SUCCEEDED = "payment.succeeded"  # checkout_id and/or provider_payment_id set
EVENT_PAYMENT_FAILED = "payment.failed"
EVENT_CHECKOUT_EXPIRED = "checkout.expired"
# the payer completed the checkout with a delayed method: the money is on its way
EVENT_PAYMENT_PROCESSING = "payment.processing"
# something of a payment changed that is not its state: what the PSP took of it (a fee it
# reports after the success, Stripe's ``charge.updated`` with the balance transaction)
EVENT_PAYMENT_UPDATED = "payment.updated"
EVENT_REFUND_UPDATED = (
    "refund.updated"  # data: refund_id, provider_payment_id, amount, currency, status
)
EVENT_DISPUTE_OPENED = "dispute.opened"  # data: dispute_id, provider_payment_id, amount, currency
EVENT_DISPUTE_CLOSED = "dispute.closed"  # data: ..., status ("won" | "lost")
EVENT_DISPUTE_FUNDS_WITHDRAWN = "dispute.funds_withdrawn"  # data: dispute_id, ...
EVENT_DISPUTE_FUNDS_REINSTATED = "dispute.funds_reinstated"
DISPUTE_EVENTS = frozenset(
    {
        EVENT_DISPUTE_OPENED,
        EVENT_DISPUTE_CLOSED,
        EVENT_DISPUTE_FUNDS_WITHDRAWN,
        EVENT_DISPUTE_FUNDS_REINSTATED,
    }
)
EVENT_PAYOUT_PAID = "payout.paid"  # data: payout_id, amount, currency, arrival_date (ISO date)
EVENT_PAYOUT_FAILED = "payout.failed"
EVENT_PAYOUT_RECONCILED = "payout.reconciled"  # its balance transactions are all listed
PAYOUT_EVENTS = frozenset({EVENT_PAYOUT_PAID, EVENT_PAYOUT_FAILED, EVENT_PAYOUT_RECONCILED})
EVENT_IGNORED = "ignored"  # stored in the inbox for the record, never applied
PAYMENT_EVENTS = frozenset(
    {
        EVENT_PAYMENT_SUCCEEDED,
        EVENT_PAYMENT_FAILED,
        EVENT_CHECKOUT_EXPIRED,
        EVENT_PAYMENT_PROCESSING,
        EVENT_PAYMENT_UPDATED,
    }
)


@dataclass(frozen=True)
class AmountRefusal:
    """Why a PSP cannot charge an amount of a currency (``check_amount``): the invoice's
    parameter at fault (``amount`` or ``currency``), a code, a sentence for the client."""

    param: str
    code: str
    message: str


class ProviderError(Exception):
    """A PSP call failed. ``kind``: declined, invalid_request, authentication,
    rate_limited, unavailable, not_found. ``unreachable``: the PSP did not answer (or
    asked to be called later), so the same request may work later; otherwise the PSP
    answered and refused it, and sending it again will not help."""

    def __init__(
        self, kind: str, message: str, *, retryable: bool = False, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retryable = retryable
        self.code = code

    @property
    def unreachable(self) -> bool:
        return self.kind in UNREACHABLE_KINDS


UNREACHABLE_KINDS = frozenset({"unavailable", "rate_limited"})


class SignatureError(ValueError):
    """The webhook's signature is missing, forged or outside the tolerance window."""


class MalformedEventError(SignatureError):
    """A correctly signed body that is not a well-formed event (``data`` not an object, a
    ``created`` no clock holds...). Refused like a bad signature (400, never stored), with
    its own error code."""


# what parsing a signed body may raise when its shape is wrong
MALFORMED = (ValueError, KeyError, TypeError, AttributeError, OverflowError, OSError)


@runtime_checkable
class PaymentProvider(Protocol):
    """The port. Optional besides these: ``check_amount(amount, currency) ->
    AmountRefusal | None``, asked by the invoice service (for the default provider) when an
    invoice is created, so that an amount the PSP cannot charge is refused then; and
    ``check_refund_amount(amount, currency) -> AmountRefusal | None``, asked by the refund
    service (for the payment's provider) before a refund is reserved."""

    name: str
    # True when the PSP account may carry other integrations' payments (Stripe): their
    # events are acknowledged and dropped; False: such an event is refused (simulator).
    shared_account: bool
    # the shortest life the PSP gives a checkout (Stripe: 30 minutes, and a minute's
    # margin): with less time left before the invoice expires, a checkout would outlive it
    min_checkout_life: dt.timedelta

    async def create_checkout(
        self, request: CheckoutRequest, urls: CheckoutUrls
    ) -> CheckoutSession:
        """Open a hosted checkout that ends by ``request.expires_at``; the citizen waits
        for this call, so an adapter keeps it short (Stripe: about 10 s in all)."""
        ...

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

    async def cancel_checkout(self, checkout_id: str) -> bool:
        """Close a checkout so that nothing more can be paid through it. True when no
        payment can come from it any more (it was open and is now closed, or it had
        ended unpaid); False when the payer completed it (its payment succeeded or is on
        its way)."""
        ...

    def parse_event(self, raw_body: bytes, headers: Mapping[str, str]) -> ProviderEvent: ...

    def list_events(self, since: dt.datetime) -> AsyncIterator[ProviderEvent]: ...

    def list_settlement_lines(
        self, since: dt.datetime, until: dt.datetime
    ) -> AsyncIterator[SettlementLine]: ...

    def list_payout_lines(self, payout_id: str) -> AsyncIterator[SettlementLine]:
        """The balance transactions a payout carried, each line naming that payout."""
        ...

    async def retrieve_dispute(self, dispute_id: str) -> ProviderDispute: ...
