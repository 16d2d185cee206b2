"""Invoice and payment state machines: one table of allowed transitions each. Pure.

The PSP's later word wins: a payment the PSP reports as succeeded after it reported a
failure (or an expiry) moves to ``succeeded``; the audit trail keeps both.
"""

from __future__ import annotations

from enum import StrEnum


class InvoiceStatus(StrEnum):
    open = "open"
    paid = "paid"
    partially_refunded = "partially_refunded"
    refunded = "refunded"
    canceled = "canceled"
    expired = "expired"
    disputed = "disputed"


class PaymentStatus(StrEnum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"
    canceled = "canceled"
    expired = "expired"


I, P = InvoiceStatus, PaymentStatus

INVOICE_TRANSITIONS: dict[InvoiceStatus, frozenset[InvoiceStatus]] = {
    I.open: frozenset({I.paid, I.canceled, I.expired}),
    I.paid: frozenset({I.partially_refunded, I.refunded, I.disputed}),
    I.partially_refunded: frozenset({I.refunded, I.disputed}),
    I.disputed: frozenset({I.paid, I.refunded}),
    I.refunded: frozenset(),
    I.canceled: frozenset(),
    I.expired: frozenset(),
}

PAYMENT_TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    P.pending: frozenset({P.succeeded, P.failed, P.canceled, P.expired}),
    # the PSP's later word wins: money taken after a reported failure is still taken
    P.failed: frozenset({P.succeeded}),
    P.canceled: frozenset({P.succeeded}),
    P.expired: frozenset({P.succeeded}),
    P.succeeded: frozenset(),
}

INVOICE_FINAL = frozenset(s for s, nxt in INVOICE_TRANSITIONS.items() if not nxt)
PAYMENT_FINAL = frozenset({P.succeeded})


class InvalidTransition(ValueError):
    def __init__(self, kind: str, current: str, target: str) -> None:
        super().__init__(f"{kind} cannot go from {current} to {target}")
        self.kind, self.current, self.target = kind, current, target


def can_invoice(current: InvoiceStatus, target: InvoiceStatus) -> bool:
    return target in INVOICE_TRANSITIONS[current]


def can_payment(current: PaymentStatus, target: PaymentStatus) -> bool:
    return target in PAYMENT_TRANSITIONS[current]


def invoice_transition(current: InvoiceStatus, target: InvoiceStatus) -> InvoiceStatus:
    if not can_invoice(current, target):
        raise InvalidTransition("invoice", current, target)
    return target


def payment_transition(current: PaymentStatus, target: PaymentStatus) -> PaymentStatus:
    if not can_payment(current, target):
        raise InvalidTransition("payment", current, target)
    return target
