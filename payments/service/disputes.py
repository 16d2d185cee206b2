"""Disputes (chargebacks and inquiries), applied from the PSP's current truth.

Every dispute event (opened, funds withdrawn, funds reinstated, closed) re-reads the
dispute and brings regie up to it: what was withdrawn, reinstated and charged as a fee is
posted once each (under the dispute's source keys), and the invoice moves to ``disputed``
while funds are withdrawn and back when the dispute closes. So the same events in any
order, late or twice, end in the same invoice state and the same books.

An inquiry withdraws nothing: it books nothing and leaves the invoice refundable.
"""

from __future__ import annotations

from payments import accounting
from payments import repository as repo
from payments.events import DisputeClosed, InvoiceDisputed
from payments.providers.base import ProviderDispute, ProviderEvent
from payments.states import InvoiceStatus, TransitionKind, can_invoice
from payments.transitions import transition
from regie.kit.uow import UnitOfWork


async def apply_dispute(
    uow: UnitOfWork, event: ProviderEvent, truth: ProviderDispute | None, cause: str
) -> str:
    """Apply a dispute event inside the caller's unit of work; returns what happened."""
    if truth is None:
        return "ignored: a dispute event without a dispute to re-read"
    ppid = truth.provider_payment_id or str(event.data.get("provider_payment_id") or "")
    payment = await repo.payment_by_provider_id(uow.session, event.provider, ppid) if ppid else None
    if payment is None:
        return "ignored: dispute on an unknown payment"
    if truth.currency != payment.currency:
        return f"ignored: dispute in {truth.currency} on a {payment.currency} payment"
    inv = await repo.get_invoice(uow.session, payment.invoice_id, lock=True)
    assert inv is not None
    s, did = uow.session, truth.id
    done: list[str] = []
    if truth.withdrawn > 0:
        if await accounting.dispute(s, inv, payment, did, truth.withdrawn, opened=True):
            done.append("funds withdrawn")
            if can_invoice(InvoiceStatus(inv.status), InvoiceStatus.disputed):
                transition(
                    uow,
                    inv,
                    InvoiceStatus.disputed,
                    cause=cause,
                    note=did,
                    event=InvoiceDisputed(
                        inv.id, inv.service_id, truth.withdrawn, payment.currency, cause,
                        payment.id, did,
                    ),
                )  # fmt: skip
    fee_currency = truth.fee_currency or payment.currency
    if truth.fee > 0:
        await accounting.dispute_fee(s, inv, payment, did, truth.fee, fee_currency, returned=False)
    if truth.fee_returned > 0:
        await accounting.dispute_fee(
            s, inv, payment, did, truth.fee_returned, fee_currency, returned=True
        )
    if truth.reinstated > 0 and await accounting.dispute(
        s, inv, payment, did, truth.reinstated, opened=False
    ):
        done.append("funds reinstated")
    if truth.closed and inv.status == InvoiceStatus.disputed:
        if not truth.won or inv.amount_refunded >= inv.amount_paid:
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
            kind=TransitionKind.dispute_closed,
            note=did,
            event=DisputeClosed(
                inv.id, inv.service_id, truth.amount, payment.currency, cause, payment.id, did,
                truth.won,
            ),
        )  # fmt: skip
        if not truth.won:
            inv.amount_refunded = inv.amount_paid
        done.append(f"dispute {'won' if truth.won else 'lost'}; invoice {target}")
    if not done:
        kind = "inquiry" if truth.withdrawn == 0 else "dispute"
        return f"unchanged: {kind} {did} is {truth.status}"
    return "; ".join(done)
