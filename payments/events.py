"""Domain events published by ``payments`` inside its unit of work.

Other packages (webhooks' outbox, receipts, ledger postings) subscribe through the
composition root; ``payments`` never imports them.
"""

from __future__ import annotations

from dataclasses import dataclass

from regie.kit.events import DomainEvent


@dataclass(frozen=True)
class InvoiceEvent(DomainEvent):
    invoice_id: str
    service_id: str
    amount: int
    currency: str
    cause: str


@dataclass(frozen=True)
class InvoiceIssued(InvoiceEvent):
    pass


@dataclass(frozen=True)
class InvoicesIssued(DomainEvent):
    """A batch of invoices was created (one event for the batch, not one per invoice):
    its subscribers work per batch, e.g. the outbox checks the endpoints once."""

    batch_id: str
    service_id: str
    invoice_ids: tuple[str, ...]
    cause: str


@dataclass(frozen=True)
class InvoicePaid(InvoiceEvent):
    payment_id: str
    provider: str
    fee: int | None


@dataclass(frozen=True)
class PaymentFailed(InvoiceEvent):
    payment_id: str
    failure_code: str | None


@dataclass(frozen=True)
class InvoiceCanceled(InvoiceEvent):
    pass


@dataclass(frozen=True)
class InvoiceExpired(InvoiceEvent):
    pass


@dataclass(frozen=True)
class OverpaymentDetected(InvoiceEvent):
    payment_id: str
    provider: str


@dataclass(frozen=True)
class RefundSucceeded(InvoiceEvent):
    """A refund settled at the PSP. ``amount`` is this refund's; the invoice's status says
    whether it is now partially or fully refunded."""

    refund_id: str
    payment_id: str
    is_overpayment: bool


@dataclass(frozen=True)
class RefundFailed(InvoiceEvent):
    refund_id: str
    payment_id: str


@dataclass(frozen=True)
class RefundReversed(InvoiceEvent):
    """A refund the PSP confirmed, then reported failed (the card was closed and the bank
    sent the money back): the citizen was not refunded after all. ``amount`` is the
    refund's; its ledger entry is reversed and its credit note is to be cancelled."""

    refund_id: str
    payment_id: str
    is_overpayment: bool
    failure_reason: str


@dataclass(frozen=True)
class InvoiceDisputed(InvoiceEvent):
    payment_id: str
    dispute_id: str


@dataclass(frozen=True)
class DisputeClosed(InvoiceEvent):
    payment_id: str
    dispute_id: str
    won: bool
