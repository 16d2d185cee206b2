"""What the PSP's word does to a refund (the caller holds the invoice's lock).

- ``pending → succeeded``: the invoice's ``amount_refunded`` grows (never beyond what was
  paid: a lost dispute may have given the same money back), its status follows
  (partially_refunded / refunded; a disputed invoice stays disputed), the refund is
  posted, ``RefundSucceeded`` is published (credit note, ``invoice.refunded``).
- ``pending → failed`` (Stripe's ``failed`` or ``canceled``): the reservation is released,
  ``RefundFailed`` is published.
- ``succeeded → failed``, the PSP's later word (the card was closed, the bank sent the
  money back): ``amount_refunded`` goes back down, the invoice's status back as the
  amounts say, the refund's entry is reversed, and ``RefundReversed`` is published (the
  credit note is cancelled, ``invoice.refund_failed`` is notified).
- ``pending`` (Stripe's ``pending`` or ``requires_action``) changes nothing.

A refund that stands books the fee the PSP returned (or charged) on it once it is known
(``book_fee``: the refund re-read with its balance transaction); its failure reverses it.
The PSP's refund that answers a reservation is recorded as its own (``adopt``); no answer
yet counts an attempt and asks again later (``later``, on ``REFUND_RETRY``).
"""

from __future__ import annotations

import datetime as dt

from payments import accounting, accounting_fees
from payments import repository as repo
from payments.events import RefundFailed, RefundReversed, RefundSucceeded
from payments.models import Invoice, Refund
from payments.providers.base import ProviderRefund
from payments.states import (
    LATER_WORD_WINS_NOTE,
    InvoiceStatus,
    RefundStatus,
    TransitionKind,
    can_invoice,
)
from payments.transitions import transition
from regie.kit.database import utcnow
from regie.kit.uow import UnitOfWork

_REFUNDED = frozenset({InvoiceStatus.refunded, InvoiceStatus.partially_refunded})
REFUND_RETRY = (
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
)


async def apply_status(
    uow: UnitOfWork, inv: Invoice, refund: Refund, status: str, failure: str | None, *, cause: str
) -> str:
    """Move a refund to what the PSP says; returns what happened."""
    if status == refund.status or status == RefundStatus.pending:
        return f"unchanged: refund {refund.status}"
    try:
        outcome = RefundStatus(status)
    except ValueError:
        return f"ignored: unknown refund status {status}"
    if refund.status == RefundStatus.succeeded and outcome == RefundStatus.failed:
        return await reverse(uow, inv, refund, failure, cause=cause)
    if refund.status != RefundStatus.pending:
        return f"ignored: refund already {refund.status}"
    refund.next_attempt_at = None
    if outcome == RefundStatus.failed:
        fail(uow, inv, refund, failure, cause=cause)
        return "refund failed"
    return await succeed(uow, inv, refund, cause=cause)


async def adopt(
    uow: UnitOfWork, inv: Invoice, refund: Refund, result: ProviderRefund, *, cause: str
) -> str:
    """The PSP's refund ``result`` is this reservation's: record its id and status. If
    an event already recorded it as a refund of its own (before matching by metadata),
    that row counts the money: this reservation is released, not counted twice."""
    holder = await repo.refund_by_provider_id(uow.session, refund.provider, result.id)
    if holder is not None and holder.id != refund.id:
        reason = f"recorded as {holder.id} from the PSP's event"
        fail(uow, inv, refund, reason, cause=cause, notify=False)  # not a failure
        return f"refund already recorded as {holder.id}"
    refund.provider_refund_id = result.id
    done = await apply_status(uow, inv, refund, result.status, result.failure_reason, cause=cause)
    return done + await book_fee(uow, inv, refund, result)


def later(refund: Refund, due_at: dt.datetime | None = None) -> None:
    """Count an attempt and schedule the next, unless another sweep did since ``due_at``."""
    if due_at is not None and refund.next_attempt_at != due_at:
        return
    refund.attempts += 1
    refund.next_attempt_at = (
        utcnow() + REFUND_RETRY[min(refund.attempts - 1, len(REFUND_RETRY) - 1)]
    )
    refund.updated_at = utcnow()


def fail(
    uow: UnitOfWork,
    inv: Invoice,
    refund: Refund,
    failure: str | None,
    *,
    cause: str,
    notify: bool = True,
) -> None:
    """A pending refund the PSP refused (or one never made): its reservation is released.
    ``notify=False`` for a reservation whose money another row already counts: nothing
    failed for the citizen, so no ``RefundFailed`` is published."""
    refund.next_attempt_at = None
    refund.failure_reason = (failure or "failed")[:200]
    event = RefundFailed(
        inv.id, inv.service_id, refund.amount, refund.currency, cause, refund.id, refund.payment_id
    )
    transition(
        uow, refund, RefundStatus.failed, invoice=inv, cause=cause,
        event=event if notify else None, at=utcnow(),
    )  # fmt: skip


async def succeed(uow: UnitOfWork, inv: Invoice, refund: Refund, *, cause: str) -> str:
    now = utcnow()
    transition(uow, refund, RefundStatus.succeeded, invoice=inv, cause=cause, at=now)
    slug = await repo.service_slug(uow.session, inv.service_id)
    if refund.origin != "overpayment":
        # never more than was paid: a lost dispute may have given the same money back
        inv.amount_refunded = min(inv.amount_refunded + refund.amount, inv.amount_paid)
        target = (
            InvoiceStatus.refunded
            if inv.amount_refunded >= inv.amount_paid
            else InvoiceStatus.partially_refunded
        )
        # (a disputed invoice stays disputed: only the dispute's close leaves it)
        if target != inv.status and can_invoice(
            InvoiceStatus(inv.status), target, TransitionKind.ordinary
        ):
            transition(uow, inv, target, cause=cause, at=now)
        inv.updated_at = now
    await accounting.refund_succeeded(uow.session, inv, refund, slug, now)
    uow.publish(
        RefundSucceeded(
            inv.id, inv.service_id, refund.amount, refund.currency, cause, refund.id, refund.payment_id,
            refund.origin == "overpayment",
        )
    )  # fmt: skip
    return f"refund succeeded; invoice {inv.status}"


async def book_fee(uow: UnitOfWork, inv: Invoice, refund: Refund, truth: ProviderRefund) -> str:
    """The fee on the PSP's refund ``truth`` (its balance transaction's), for ``refund`` if it
    stands (succeeded, not failed since): booked once, dated with the refund's entry. A
    refund's answer may not carry it (Stripe's create does not expand it): the refund's
    events re-read it. What was booked, for the outcome ("" if nothing)."""
    if truth.fee is None or not truth.fee or refund.status != RefundStatus.succeeded:
        return ""
    currency = truth.fee_currency or refund.currency
    at = refund.succeeded_at or utcnow()
    posted = await accounting_fees.refund_fee(uow.session, inv, refund, truth.fee, currency, at)
    return "" if posted is None else f"; PSP fee {truth.fee:+d} {currency} booked"


async def reverse(
    uow: UnitOfWork, inv: Invoice, refund: Refund, failure: str | None, *, cause: str
) -> str:
    """A refund the PSP confirmed, then reported failed: the citizen was not refunded."""
    now = utcnow()
    reason = (failure or "failed")[:200]
    refund.failure_reason = reason
    transition(
        uow, refund, RefundStatus.failed, invoice=inv, cause=cause,
        kind=TransitionKind.later_word_wins,
        note=f"{refund.id}: failed after it succeeded ({reason}); {LATER_WORD_WINS_NOTE}",
        at=now,
    )  # fmt: skip
    if refund.origin != "overpayment":
        inv.amount_refunded = await _given_back(uow, inv, refund)
        target = (
            InvoiceStatus.paid
            if inv.amount_refunded == 0
            else InvoiceStatus.refunded
            if inv.amount_refunded >= inv.amount_paid
            else InvoiceStatus.partially_refunded
        )
        if inv.status in _REFUNDED and target != inv.status:
            # (a disputed invoice stays disputed: only its amounts change)
            transition(uow, inv, target, cause=cause, kind=TransitionKind.later_word_wins, at=now)
        inv.updated_at = now
    await accounting.refund_reversed(uow.session, refund, now)
    await accounting_fees.refund_fee_reversed(uow.session, refund, now)
    uow.publish(
        RefundReversed(
            inv.id, inv.service_id, refund.amount, refund.currency, cause, refund.id, refund.payment_id,
            refund.origin == "overpayment", reason,
        )
    )  # fmt: skip
    return f"refund failed after it succeeded ({reason}); reversed; invoice {inv.status}"


async def _given_back(uow: UnitOfWork, inv: Invoice, failed: Refund) -> int:
    """What the payer got back once ``failed`` is taken away: the refunds that stand and
    what a lost chargeback kept (counted from its close: a disputed invoice does not count
    it yet), never more than was paid. Not the refunded amount less ``failed``: that
    amount was capped at what was paid when a refund and a chargeback gave the same money
    back, and the chargeback's money stays with the payer."""
    return await given_back(
        uow, inv, failed.payment_id, without=failed.id, kept=inv.status != InvoiceStatus.disputed
    )


async def given_back(
    uow: UnitOfWork, inv: Invoice, payment_id: str, *, without: str | None = None, kept: bool
) -> int:
    """The refunds of ``inv`` that stand (but ``without``) and, with ``kept``, what the
    chargebacks of payment ``payment_id`` withdrew and did not reinstate, as booked;
    never more than was paid."""
    s = uow.session
    refunds = (await repo.refunds_of(s, [inv.id]))[inv.id]
    standing = sum(
        r.amount
        for r in refunds
        if r.id != without and r.status == RefundStatus.succeeded and r.origin != "overpayment"
    )
    charged_back = 0
    if kept:
        payment = await repo.get_payment(s, payment_id)
        assert payment is not None
        charged_back = max(await accounting.dispute_kept(s, inv, payment), 0)
    return min(standing + charged_back, inv.amount_paid)


async def lock(uow: UnitOfWork, refund_id: str) -> tuple[Invoice, Refund]:
    """The refund's invoice, then the refund, locked (the lock order)."""
    refund = await repo.get_refund(uow.session, refund_id)
    assert refund is not None
    inv = await repo.get_invoice(uow.session, refund.invoice_id, lock=True)
    refund = await repo.get_refund(uow.session, refund_id, lock=True)
    assert inv is not None and refund is not None
    return inv, refund
