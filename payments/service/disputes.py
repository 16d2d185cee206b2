"""Disputes (chargebacks): opened, then won or lost, as the PSP reports them."""

from __future__ import annotations

from payments import accounting
from payments import repository as repo
from payments.events import DisputeClosed, InvoiceDisputed
from payments.providers.base import EVENT_DISPUTE_OPENED, ProviderEvent
from payments.states import InvoiceStatus, can_invoice
from payments.transitions import transition
from regie.kit.uow import UnitOfWork


async def apply_dispute(uow: UnitOfWork, event: ProviderEvent, cause: str) -> str:
    """Apply a dispute event inside the caller's unit of work; returns what happened.

    Opening moves a paid (or partly refunded) invoice to ``disputed`` and withdraws the
    funds; closing returns it to what it was (won: ``paid``, or ``partially_refunded`` if it
    was refunded in part before the dispute) or makes it ``refunded`` (lost)."""
    data = event.data
    ppid = str(data.get("provider_payment_id") or "")
    payment = await repo.payment_by_provider_id(uow.session, event.provider, ppid) if ppid else None
    if payment is None:
        return "ignored: dispute on an unknown payment"
    inv = await repo.get_invoice(uow.session, payment.invoice_id, lock=True)
    assert inv is not None
    dispute_id = str(data.get("dispute_id") or event.id)
    amount = int(data.get("amount") or payment.amount)
    if event.type == EVENT_DISPUTE_OPENED:
        if not can_invoice(InvoiceStatus(inv.status), InvoiceStatus.disputed):
            return f"ignored: a {inv.status} invoice cannot be disputed"
        transition(
            uow,
            inv,
            InvoiceStatus.disputed,
            cause=cause,
            note=dispute_id,
            event=InvoiceDisputed(
                inv.id, inv.service_id, amount, payment.currency, cause, payment.id, dispute_id
            ),
        )
        await accounting.dispute(uow.session, inv, payment, dispute_id, amount, opened=True)
        return "invoice disputed"
    if inv.status != InvoiceStatus.disputed:
        return f"ignored: invoice is {inv.status}, not disputed"
    won = data.get("status") == "won"
    if not won or inv.amount_refunded >= inv.amount_paid:
        target = InvoiceStatus.refunded
    elif inv.amount_refunded:
        target = InvoiceStatus.partially_refunded  # refunded in part before or during it
    else:
        target = InvoiceStatus.paid
    transition(
        uow,
        inv,
        target,
        cause=cause,
        note=dispute_id,
        event=DisputeClosed(
            inv.id, inv.service_id, amount, payment.currency, cause, payment.id, dispute_id, won
        ),
    )
    if won:
        await accounting.dispute(uow.session, inv, payment, dispute_id, amount, opened=False)
    else:
        inv.amount_refunded = inv.amount_paid
    return f"dispute {'won' if won else 'lost'}; invoice {target}"
