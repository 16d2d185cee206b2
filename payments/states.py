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


IS, PS = InvoiceStatus, PaymentStatus

INVOICE_TRANSITIONS: dict[InvoiceStatus, frozenset[InvoiceStatus]] = {
    IS.open: frozenset({IS.paid, IS.canceled, IS.expired}),
    IS.paid: frozenset({IS.partially_refunded, IS.refunded, IS.disputed}),
    IS.partially_refunded: frozenset({IS.refunded, IS.disputed}),
    IS.disputed: frozenset({IS.paid, IS.partially_refunded, IS.refunded}),  # won / lost
    IS.refunded: frozenset(),
    IS.canceled: frozenset(),
    IS.expired: frozenset(),
}

PAYMENT_TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PS.pending: frozenset({PS.succeeded, PS.failed, PS.canceled, PS.expired}),
    # the PSP's later word wins: money taken after a reported failure is still taken
    PS.failed: frozenset({PS.succeeded}),
    PS.canceled: frozenset({PS.succeeded}),
    PS.expired: frozenset({PS.succeeded}),
    PS.succeeded: frozenset(),
}

INVOICE_FINAL = frozenset(s for s, nxt in INVOICE_TRANSITIONS.items() if not nxt)
PAYMENT_FINAL = frozenset({PS.succeeded})


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
