"""What an invoice still owes and what it can still give back. Pure arithmetic."""

from __future__ import annotations

from collections.abc import Iterable

from payments.models import Invoice, Refund
from payments.states import InvoiceStatus, RefundStatus

REFUNDABLE_STATES = frozenset({InvoiceStatus.paid, InvoiceStatus.partially_refunded})


def amount_due(inv: Invoice) -> int:
    """What the payer still has to pay: nothing once the invoice is no longer open."""
    return inv.amount_total - inv.amount_paid if inv.status == InvoiceStatus.open else 0


def refundable(inv: Invoice, refunds: Iterable[Refund]) -> int:
    """What can still be refunded: paid, minus refunded, minus refunds in flight (an
    overpayment's refund gives back money the invoice never counted as paid)."""
    pending = sum(
        r.amount for r in refunds if r.status == RefundStatus.pending and r.origin != "overpayment"
    )
    return max(inv.amount_paid - inv.amount_refunded - pending, 0)
