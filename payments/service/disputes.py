"""Disputes (chargebacks and inquiries), applied from the PSP's current truth.

Every dispute event (opened, funds withdrawn, funds reinstated, closed) re-reads the
dispute and brings regie up to it: what was withdrawn and reinstated is posted once each
(under the dispute's source keys), each change of its fees (a fee added later, a fee given
back) once, and the invoice moves to ``disputed`` while funds are withdrawn and back when
the dispute closes. So the same events in any order, late or twice, end in the same invoice
state and the same books.

A lost dispute counts what the payer kept (withdrawn - reinstated) as refunded, never
more than was paid: a partial dispute leaves the rest refundable.

A dispute of an overpayment (the duplicate charge of an invoice paid twice) leaves the
invoice as it is: the payer's bank gave back what regie owed them, so it leaves
``liabilities:overpayments`` and the automatic refund not yet asked of the PSP is released
(a refund already paid makes the withdrawal a loss, in ``expenses:disputes``).

An inquiry withdraws nothing: it books nothing and leaves the invoice refundable.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from payments import accounting, accounting_fees
from payments import repository as repo
from payments.events import DisputeClosed, InvoiceDisputed
from payments.models import Invoice, Payment
from payments.providers.base import ProviderDispute, ProviderEvent
from payments.service import refund_outcomes as outcomes
from payments.service.deferral import NotYetApplicable
from payments.service.refund_events import wait_if_ours
from payments.states import (
    INVOICE_STEPS,
    InvoiceStatus,
    PaymentStatus,
    RefundStatus,
    TransitionKind,
    can_invoice,
)
from payments.transitions import transition
from regie.kit.database import utcnow
from regie.kit.uow import UnitOfWork

# reserves an automatic refund of an overpayment (under a cause, of ``amount``): what a won
# dispute gave back to regie is owed to the payer again (None:
# REGIE_AUTO_REFUND_OVERPAYMENTS=false)
ReserveRefund = Callable[[UnitOfWork, Invoice, Payment, str, int], Awaitable[None]]


async def apply_dispute(
    uow: UnitOfWork,
    event: ProviderEvent,
    truth: ProviderDispute | None,
    cause: str,
    reserve_refund: ReserveRefund | None = None,
    *,
    shared_account: bool = True,
) -> str:
    """Apply a dispute event inside the caller's unit of work; returns what happened.

    A dispute of a payment whose success regie has not recorded yet waits for it
    (``NotYetApplicable``): one regie knows by the PSP's id but still pending, or one it
    does not know by the PSP's id yet, as a refund does (``refund_events.wait_if_ours``:
    the payment's metadata at the PSP names regie's, or the account is regie's alone).
    Another integration's, on a shared account, is ignored."""
    if truth is None:
        return "ignored: a dispute event without a dispute to re-read"
    ppid = truth.provider_payment_id or str(event.data.get("provider_payment_id") or "")
    payment = await repo.payment_by_provider_id(uow.session, event.provider, ppid) if ppid else None
    if payment is None and not ppid and not truth.payment_ref:
        return "ignored: dispute on an unknown payment"
    if payment is None:
        await wait_if_ours(
            uow, event.provider, ppid, truth.payment_ref, f"dispute {truth.id}",
            shared_account=shared_account,
        )  # fmt: skip
        return "ignored: dispute of another integration's payment"
    if payment.status != PaymentStatus.succeeded:
        # known by the PSP's id (a delayed method reported processing), not yet paid: the
        # invoice still open could be neither disputed nor closed
        raise NotYetApplicable(
            f"dispute {truth.id} of {payment.id}, whose success regie has not recorded yet",
            provider_payment_id=ppid,
        )
    if truth.currency != payment.currency:
        return f"ignored: dispute in {truth.currency} on a {payment.currency} payment"
    inv = await repo.get_invoice(uow.session, payment.invoice_id, lock=True)
    assert inv is not None
    if payment.is_overpayment:
        done = await _overpayment(uow, inv, payment, truth, cause, reserve_refund)
    else:
        done = await _own_payment(uow, inv, payment, truth, cause)
    if not done:
        kind = "inquiry" if truth.withdrawn == 0 else "dispute"
        return f"unchanged: {kind} {truth.id} is {truth.status}"
    return "; ".join(done)


async def _fees(
    uow: UnitOfWork, inv: Invoice, payment: Payment, truth: ProviderDispute
) -> list[str]:
    """The dispute's fees as the PSP reports them now: each change since they were booked
    (a fee added later, a fee given back) is posted once (``accounting_fees.dispute_fees``)."""
    fee_currency = truth.fee_currency or payment.currency
    return await accounting_fees.dispute_fees(
        uow.session, inv, payment, truth.id, truth.fee, truth.fee_returned, fee_currency
    )


async def _own_payment(
    uow: UnitOfWork, inv: Invoice, payment: Payment, truth: ProviderDispute, cause: str
) -> list[str]:
    """A dispute of the invoice's own payment: the invoice is ``disputed`` while funds are
    withdrawn; a close counts what the payer kept (withdrawn - reinstated) as refunded."""
    s, did = uow.session, truth.id
    done: list[str] = []
    if truth.withdrawn > 0:
        if await accounting.dispute(s, inv, payment, did, truth.withdrawn, opened=True) is not None:
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
    fees = await _fees(uow, inv, payment, truth)
    if truth.reinstated > 0 and (
        await accounting.dispute(s, inv, payment, did, truth.reinstated, opened=False) is not None
    ):
        done.append("funds reinstated")
    if truth.closed and inv.status == InvoiceStatus.disputed:
        # what went back to the payer through their bank, as the ledger keeps it in
        # expenses:disputes; never more than was paid (a refund may have given it back too)
        kept = max(truth.withdrawn - truth.reinstated, 0)
        inv.amount_refunded = min(inv.amount_refunded + kept, inv.amount_paid)
        if inv.amount_refunded >= inv.amount_paid:
            target = InvoiceStatus.refunded
        elif inv.amount_refunded:
            target = InvoiceStatus.partially_refunded  # refunded or disputed in part
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
        done.append(f"dispute {'won' if truth.won else 'lost'}; invoice {target}")
    elif truth.closed and truth.withdrawn > 0 and inv.status in _REFUNDED:
        moved = await _recount(uow, inv, payment, truth, cause)
        if moved:
            done.append(moved)
    return done + fees


_REFUNDED = frozenset({InvoiceStatus.refunded, InvoiceStatus.partially_refunded})


async def _recount(
    uow: UnitOfWork, inv: Invoice, payment: Payment, truth: ProviderDispute, cause: str
) -> str | None:
    """A dispute closed on an invoice it never put in dispute (refunded when the funds were
    withdrawn): what the invoice counts as given back is counted again, as the books now
    say it. A refund that failed while the dispute was open counted the withdrawal as
    given back; won, it is not (the payer got nothing back), so the invoice is paid again
    (or partially refunded by what stands) and refundable."""
    given = await outcomes.given_back(uow, inv, payment.id, kept=True)
    if given == inv.amount_refunded:
        return None
    inv.amount_refunded, inv.updated_at = given, utcnow()
    target = (
        InvoiceStatus.paid
        if given == 0
        else InvoiceStatus.refunded
        if given >= inv.amount_paid
        else InvoiceStatus.partially_refunded
    )
    if target != inv.status:
        transition(
            uow, inv, target, cause=cause, kind=INVOICE_STEPS[InvoiceStatus(inv.status)][target],
            note=truth.id,
            event=DisputeClosed(
                inv.id, inv.service_id, truth.amount, payment.currency, cause, payment.id,
                truth.id, truth.won,
            ),
        )  # fmt: skip
    return f"dispute {'won' if truth.won else 'lost'}; invoice {target}, {given} given back"


async def _overpayment(
    uow: UnitOfWork,
    inv: Invoice,
    payment: Payment,
    truth: ProviderDispute,
    cause: str,
    reserve_refund: ReserveRefund | None,
) -> list[str]:
    """A dispute of an overpayment (a duplicate charge): the invoice's own payment is not
    disputed, so the invoice keeps its state and amounts. The payer's bank gave the money
    back: what regie still owed them leaves ``liabilities:overpayments`` (the rest, already
    refunded to them, is a loss), and the automatic refund not yet made is released."""
    s, did = uow.session, truth.id
    done: list[str] = []
    if truth.withdrawn > 0:
        refunds = [
            r for r in (await repo.refunds_of(s, [inv.id]))[inv.id] if r.payment_id == payment.id
        ]
        refunded = sum(r.amount for r in refunds if r.status == RefundStatus.succeeded)
        owed = min(payment.amount - refunded, await accounting.overpayment_owed(s, inv))
        settled = await accounting.dispute(
            s, inv, payment, did, truth.withdrawn, opened=True, owed=max(owed, 0)
        )
        if settled is not None:
            done.append(f"funds withdrawn ({settled} of them owed to the payer)")
            released = False
            for r in refunds:
                if r.status == RefundStatus.pending and not r.provider_refund_id:
                    # not yet asked of the PSP: the bank gave the money back instead (one
                    # already asked is the PSP's to settle; paid, it is booked as a loss)
                    locked = await repo.get_refund(s, r.id, lock=True)
                    if locked is not None and locked.status == RefundStatus.pending:
                        reason = f"not needed: dispute {did} gave the money back to the payer"
                        outcomes.fail(uow, inv, locked, reason, cause=cause, notify=False)
                        done.append(f"refund {r.id} released")
                        released = True
            if released and owed > settled and reserve_refund is not None:
                # a dispute of part of it: the rest is still owed back, once, whatever
                # number of refunds it replaces
                await reserve_refund(uow, inv, payment, cause, owed - settled)
                done.append(f"refund of {owed - settled} reserved")
    fees = await _fees(uow, inv, payment, truth)
    if truth.reinstated > 0:
        owed_again = await accounting.dispute(s, inv, payment, did, truth.reinstated, opened=False)
        if owed_again is not None:
            done.append("funds reinstated")
            if owed_again and reserve_refund is not None:
                await reserve_refund(uow, inv, payment, cause, owed_again)  # owed back again
                done.append(f"refund of {owed_again} reserved")
    if truth.closed and done:
        done.append(f"dispute of an overpayment {'won' if truth.won else 'lost'}")
    return done + fees
