"""Invoice, payment and refund state machines: one table of allowed transitions each. Pure.

Every allowed step has a kind. Most are ``ordinary``; three are named apart. The PSP's
later word wins. A payment the PSP reports as succeeded after it reported a failure (or a
cancellation, or an expiry) moves to ``succeeded``; a refund the PSP reports as failed
after it reported it succeeded (the card was closed, the bank sent the money back) moves
to ``failed``, and its invoice back from ``refunded``/``partially_refunded`` as the amounts
say. The audit trail keeps both, and the row of that step carries ``LATER_WORD_WINS_NOTE``.
Only a dispute's close takes an invoice out of ``disputed``. And an expired invoice is
paid by a payment that succeeds after its deadline (a delayed method, a SEPA debit, whose
money was on its way when the invoice expired): nothing else paid it, since an invoice
expires only unpaid, so it is settled, not refunded as an overpayment; its row carries
``PAID_AFTER_EXPIRY_NOTE``. ``payments.transitions`` applies these tables; nothing here
does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any


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


class RefundStatus(StrEnum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"


class TransitionKind(StrEnum):
    ordinary = "ordinary"
    later_word_wins = "later_word_wins"  # the PSP's later word wins over its earlier one
    dispute_closed = "dispute_closed"  # only a dispute's close takes an invoice out of dispute
    paid_after_expiry = "paid_after_expiry"  # a payment that succeeded after the deadline


LATER_WORD_WINS_NOTE = "PSP's later word wins"
PAID_AFTER_EXPIRY_NOTE = "paid after its expiry (the payment was on its way)"

IS, PS, RS = InvoiceStatus, PaymentStatus, RefundStatus
_ORD, _LATER = TransitionKind.ordinary, TransitionKind.later_word_wins
_CLOSED = TransitionKind.dispute_closed
_LATE = TransitionKind.paid_after_expiry

INVOICE_STEPS: dict[InvoiceStatus, dict[InvoiceStatus, TransitionKind]] = {
    IS.open: {IS.paid: _ORD, IS.canceled: _ORD, IS.expired: _ORD},
    IS.paid: {IS.partially_refunded: _ORD, IS.refunded: _ORD, IS.disputed: _ORD},
    # the PSP's later word wins: a refund that failed after it succeeded gives the money back
    IS.partially_refunded: {IS.refunded: _ORD, IS.disputed: _ORD, IS.paid: _LATER},
    # won / lost: a refund applied during the dispute never takes the invoice out of it
    IS.disputed: {IS.paid: _CLOSED, IS.partially_refunded: _CLOSED, IS.refunded: _CLOSED},
    IS.refunded: {IS.partially_refunded: _LATER, IS.paid: _LATER},
    IS.canceled: {},
    # a payment on its way when the deadline passed (a SEPA debit) settles it; a canceled
    # invoice is never paid (its late payment is an overpayment, given back)
    IS.expired: {IS.paid: _LATE},
}

PAYMENT_STEPS: dict[PaymentStatus, dict[PaymentStatus, TransitionKind]] = {
    PS.pending: {PS.succeeded: _ORD, PS.failed: _ORD, PS.canceled: _ORD, PS.expired: _ORD},
    # the PSP's later word wins: money taken after a reported failure is still taken
    PS.failed: {PS.succeeded: _LATER},
    PS.canceled: {PS.succeeded: _LATER},
    PS.expired: {PS.succeeded: _LATER},
    PS.succeeded: {},
}

REFUND_STEPS: dict[RefundStatus, dict[RefundStatus, TransitionKind]] = {
    RS.pending: {RS.succeeded: _ORD, RS.failed: _ORD},
    # the PSP's later word wins: a refund can fail after it succeeded (the card is closed
    # and the bank returns the money); the citizen was not refunded after all
    RS.succeeded: {RS.failed: _LATER},
    RS.failed: {},
}

INVOICE_TRANSITIONS: dict[InvoiceStatus, frozenset[InvoiceStatus]] = {
    s: frozenset(nxt) for s, nxt in INVOICE_STEPS.items()
}
PAYMENT_TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    s: frozenset(nxt) for s, nxt in PAYMENT_STEPS.items()
}
REFUND_TRANSITIONS: dict[RefundStatus, frozenset[RefundStatus]] = {
    s: frozenset(nxt) for s, nxt in REFUND_STEPS.items()
}


def _final(steps: Mapping[Any, Mapping[Any, TransitionKind]]) -> frozenset[Any]:
    """States left only by the PSP's later word (or not at all)."""
    return frozenset(s for s, nxt in steps.items() if _ORD not in nxt.values())


INVOICE_FINAL: frozenset[InvoiceStatus] = _final(INVOICE_STEPS)
PAYMENT_FINAL = frozenset({PS.succeeded})
REFUND_FINAL: frozenset[RefundStatus] = _final(REFUND_STEPS)

# the status each object is created in
INITIAL: dict[str, InvoiceStatus | PaymentStatus | RefundStatus] = {
    "invoice": IS.open,
    "payment": PS.pending,
    "refund": RS.pending,
}


class InvalidTransition(ValueError):
    def __init__(self, kind: str, current: str | None, target: str, note: str = "") -> None:
        super().__init__(f"{kind} cannot go from {current} to {target}{note}")
        self.kind, self.current, self.target = kind, current, target


STEPS: dict[str, Mapping[Any, Mapping[Any, TransitionKind]]] = {
    "invoice": INVOICE_STEPS,
    "payment": PAYMENT_STEPS,
    "refund": REFUND_STEPS,
}


def require_step(
    obj: str, current: str, target: str, kind: TransitionKind = TransitionKind.ordinary
) -> None:
    """Raise ``InvalidTransition`` unless ``current → target`` is in ``obj``'s table *as a
    step of this kind*: a later-word-wins step is never taken by an ordinary caller, nor the
    other way round."""
    found = STEPS[obj].get(current, {}).get(target)
    if found is None:
        raise InvalidTransition(obj, current, target)
    if found != kind:
        raise InvalidTransition(obj, current, target, f" as a {kind} transition (it is {found})")


def can_invoice(
    current: InvoiceStatus, target: InvoiceStatus, kind: TransitionKind | None = None
) -> bool:
    """``current → target`` is in the table (as a step of ``kind`` when one is given)."""
    found = INVOICE_STEPS[current].get(target)
    return found is not None and (kind is None or found == kind)


def can_payment(current: PaymentStatus, target: PaymentStatus) -> bool:
    return target in PAYMENT_TRANSITIONS[current]


def can_refund(current: RefundStatus, target: RefundStatus) -> bool:
    return target in REFUND_TRANSITIONS[current]


def invoice_transition(current: InvoiceStatus, target: InvoiceStatus) -> InvoiceStatus:
    if not can_invoice(current, target):
        raise InvalidTransition("invoice", current, target)
    return target


def payment_transition(current: PaymentStatus, target: PaymentStatus) -> PaymentStatus:
    if not can_payment(current, target):
        raise InvalidTransition("payment", current, target)
    return target


def refund_transition(current: RefundStatus, target: RefundStatus) -> RefundStatus:
    if not can_refund(current, target):
        raise InvalidTransition("refund", current, target)
    return target
