"""A PSP's refund events (``refund.updated``) applied to regie's refunds.

An event settles the refund regie asked for (found by the PSP's id, or by the
``regie_refund_id`` regie sent as metadata when the event comes before the PSP's answer or
instead of a lost one), or records a refund made at the PSP (in its dashboard) as one of
the payment's. A refund of a payment whose success regie has not recorded yet (unknown
to regie by the PSP's id, or known but still pending) waits for it
(``NotYetApplicable``); one of another integration's payment, on a shared account, is
ignored. What the PSP's word then does to the refund is ``refund_outcomes``'.
"""

from __future__ import annotations

import logging
from typing import Any

from payments import repository as repo
from payments.models import Invoice, Payment, Refund
from payments.providers.base import ProviderRefund
from payments.providers.registry import ProviderRegistry
from payments.service import refund_outcomes as outcomes
from payments.service.deferral import NotYetApplicable
from payments.states import PaymentStatus, RefundStatus
from payments.transitions import record_new
from regie.kit.database import utcnow
from regie.kit.ids import new_id
from regie.kit.uow import UnitOfWork

log = logging.getLogger("regie.refunds")


async def apply_event(
    uow: UnitOfWork,
    providers: ProviderRegistry,
    provider: str,
    data: dict[str, Any],
    truth: ProviderRefund | None,
    cause: str,
) -> str:
    """A PSP refund event (``refund.updated``): for a refund regie asked for (found by
    the PSP's id, or by the ``regie_refund_id`` regie sent as metadata, when the event
    arrives before the PSP's answer or instead of a lost one), or made at the PSP."""
    s = uow.session
    refund_id = str(data.get("refund_id") or (truth.id if truth else ""))
    refund = await repo.refund_by_provider_id(s, provider, refund_id) if refund_id else None
    ppid = str(data.get("provider_payment_id") or (truth.provider_payment_id if truth else ""))
    if refund is None:
        regie_id = (truth.regie_refund_id if truth else None) or data.get("regie_refund_id")
        ours = await repo.get_refund(s, str(regie_id)) if regie_id else None
        if ours is not None and ours.status != RefundStatus.pending:
            # (a reservation already released: the money the PSP did move is recorded
            # below as a refund of its own, never lost behind a failed row)
            ours = None
        if ours is not None:
            mismatch = await _mismatch(uow, ours, provider, ppid, refund_id, truth)
            if mismatch:
                log.error("refund event names another refund", extra={"refund": ours.id})
                return f"ignored: {mismatch}"
            refund = ours
    if refund is None:
        payment = await repo.payment_by_provider_id(s, provider, ppid) if ppid else None
        if payment is not None and payment.status != PaymentStatus.succeeded:
            # known by the PSP's id (a delayed method reported processing) but its success
            # not recorded yet: counted now, the open invoice would not count it
            raise NotYetApplicable(
                f"refund {refund_id} of {payment.id}, whose success regie has not recorded yet",
                provider_payment_id=ppid,
            )
        if payment is None and truth is not None:
            await wait_if_ours(
                uow, provider, ppid, truth.payment_ref, f"refund {truth.id}",
                shared_account=providers.get(provider).shared_account,
            )  # fmt: skip
            return "ignored: refund of another integration's payment"
        if truth is None and not refund_id:
            # ``charge.refunded`` of API versions since 2022-11-15 names no refund: the
            # ``refund.*`` events of the same refund carry it, and are applied
            return "ignored: the event names no refund (its refund.* events carry it)"
        if payment is None or truth is None:
            return "ignored: refund of an unknown payment"
        inv, refund = await _made_at_psp(uow, provider, payment, truth, cause)
    else:
        inv, refund = await outcomes.lock(uow, refund.id)
        if refund.provider_refund_id is None and refund_id:
            if refund.status != RefundStatus.pending and truth is not None:
                # found by its metadata while pending, released while this waited for the
                # lock (a chargeback of the duplicate gave the money back): the money the
                # PSP did move is a refund of its own, as above, never hidden behind the
                # released row (which would keep the PSP's id: the sweeper's answer, then
                # finding it taken, would book nothing either)
                payment = await repo.get_payment(s, refund.payment_id)
                assert payment is not None
                inv, refund = await _made_at_psp(uow, provider, payment, truth, cause)
            else:
                refund.provider_refund_id = refund_id  # adopted: the retry will not ask again
                refund.next_attempt_at = None
    status = truth.status if truth else str(data.get("status", RefundStatus.pending))
    done = await outcomes.apply_status(
        uow, inv, refund, status, truth.failure_reason if truth else None, cause=cause
    )
    return done + (await outcomes.book_fee(uow, inv, refund, truth) if truth else "")


async def _made_at_psp(
    uow: UnitOfWork, provider: str, payment: Payment, truth: ProviderRefund, cause: str
) -> tuple[Invoice, Refund]:
    """A refund made at the PSP (its dashboard), recorded as one of ``payment``'s under its
    invoice's lock; the invoice and the refund, locked. Looked up again once that lock is
    held: the PSP reports one refund by several events at once (Stripe: ``refund.created``,
    ``charge.refunded``, ``refund.updated``), and another worker applying another of them
    may have recorded it while this one waited (a second row failed on the unique index:
    the event's attempt spent, an error logged, the event put off)."""
    s = uow.session
    inv = await repo.get_invoice(s, payment.invoice_id, lock=True)
    assert inv is not None
    recorded = await repo.refund_by_provider_id(s, provider, truth.id)
    if recorded is not None:
        return await outcomes.lock(uow, recorded.id)
    now = utcnow()
    refund = Refund(
        id=new_id("ref"), invoice_id=inv.id, payment_id=payment.id, service_id=inv.service_id,
        provider=provider, amount=truth.amount, currency=truth.currency,
        status=RefundStatus.pending, reason="made at the payment provider",
        origin="overpayment" if payment.is_overpayment else "psp",
        provider_refund_id=truth.id, created_at=now, updated_at=now,
    )  # fmt: skip
    s.add(refund)
    record_new(uow, refund, invoice=inv, cause=cause)
    await s.flush()
    return inv, refund


async def wait_if_ours(
    uow: UnitOfWork,
    provider: str,
    ppid: str,
    payment_ref: str | None,
    what: str,
    *,
    shared_account: bool,
) -> None:
    """A refund or a dispute (``what``) of a payment regie does not know by the PSP's id
    ``ppid``: ``NotYetApplicable`` when it is regie's all the same (``payment_ref``, the
    payment's metadata at the PSP, names one of regie's, whose success is not recorded
    yet; or, on an account only regie uses, any payment), so that it waits for that
    payment instead of being dropped. One of another integration's payment (on a shared
    account) returns: it is ignored."""
    ours = await repo.get_payment(uow.session, payment_ref) if payment_ref else None
    if ours is not None and ours.provider == provider:
        if ours.provider_payment_id and ours.provider_payment_id != ppid:
            # never settled on another payment: a failure an operator sees
            raise RuntimeError(
                f"the PSP's {what} of {ppid} names {ours.id}, which is {ours.provider_payment_id}"
            )
        raise NotYetApplicable(
            f"{what} of {ours.id}, whose payment regie has not recorded yet",
            provider_payment_id=ppid or None,
        )
    if not shared_account:
        raise NotYetApplicable(
            f"{what} of {ppid or 'a payment'} regie does not know yet",
            provider_payment_id=ppid or None,
        )


async def _mismatch(
    uow: UnitOfWork,
    refund: Refund,
    provider: str,
    ppid: str,
    provider_refund_id: str,
    truth: ProviderRefund | None,
) -> str | None:
    """Why an event's refund cannot be regie's ``refund`` although its metadata says so."""
    payment = await repo.get_payment(uow.session, refund.payment_id)
    if refund.provider != provider or payment is None or payment.provider_payment_id != ppid:
        return f"{refund.id} refunds another payment"
    if refund.provider_refund_id and refund.provider_refund_id != provider_refund_id:
        return f"{refund.id} is already {refund.provider_refund_id}"
    if truth is not None and truth.amount != refund.amount:
        return f"{refund.id} is of {refund.amount}, not {truth.amount}"
    return None
