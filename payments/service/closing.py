"""Closing the checkouts of a paid invoice, so that a stale page cannot take a second payment.

A citizen may hold two checkouts of one invoice (two tabs pressed Pay at the same moment,
an old page left open). When one of them pays the invoice, the others are closed at their
PSP, whatever the PSP (the simulator's card page then refuses the card, as Stripe's page of
an expired Checkout Session does):

1. the transaction that pays the invoice marks its other pending payments
   (``mark_others``: ``close_checkout_at``), under the invoice's lock; no PSP is called;
2. the worker's drain (``CheckoutCloser.close_due``) claims each marked payment in a short
   transaction and asks its PSP to close the checkout, outside any transaction;
3. a second short transaction applies the answer: closed (or unknown to the PSP) → the
   payment is canceled (cause ``sweeper:close-checkout``, the note names the payment that
   paid); completed by the payer meanwhile → the PSP's truth is applied like any other (a
   success is an overpayment, refunded automatically); no answer or an error → asked again
   later (``CLOSE_RETRY``), the payment staying pending while its page may still take a
   card.

A payment whose money is already on its way (a delayed method, ``processing_since``) is not
marked: nothing can stop it, and its success will be an overpayment. The same closing is
done when a payment whose checkout was still being opened is recorded after the invoice was
paid (``CheckoutService.start_checkout``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import TYPE_CHECKING

from payments import repository as repo
from payments.models import Invoice, Payment
from payments.providers.base import ProviderError
from payments.providers.registry import ProviderRegistry
from payments.states import PaymentStatus
from payments.transitions import transition
from regie.kit.database import Database, utcnow
from regie.kit.events import EventBus
from regie.kit.uow import UnitOfWork, unit_of_work

if TYPE_CHECKING:
    from payments.service.psp_events import PspEvents

log = logging.getLogger("regie.payments")

CAUSE = "sweeper:close-checkout"
# when to ask the PSP again after the n-th attempt failed (then hourly: a checkout never
# outlives its invoice, and Stripe answers "expired" for one that ended on its own)
CLOSE_RETRY = (
    dt.timedelta(seconds=10),
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=1),
)
CLOSE_BUDGET = 10.0  # seconds one PSP call may take
# while one worker asks the PSP, the others leave the payment alone; if that worker dies,
# the next one takes it over after this
LEASE = dt.timedelta(minutes=2)


def retry_delay(attempts: int) -> dt.timedelta:
    """Delay before asking again after ``attempts`` attempts (the first retry is at 10 s)."""
    return CLOSE_RETRY[min(max(attempts, 1), len(CLOSE_RETRY)) - 1]


async def mark_others(uow: UnitOfWork, inv: Invoice, paid: Payment, now: dt.datetime) -> None:
    """``paid`` has just paid ``inv``: mark the invoice's other pending payments for their
    checkouts to be closed. The caller holds the invoice's lock (taken first)."""
    for other in await repo.pending_payments_of(uow.session, inv.id):
        if other.id == paid.id or other.processing_since is not None:
            continue
        locked = await repo.get_payment(uow.session, other.id, lock=True)
        if locked is None or locked.status != PaymentStatus.pending:
            continue
        locked.close_checkout_at, locked.close_attempts = now, 0


class CheckoutCloser:
    def __init__(
        self, db: Database, bus: EventBus, providers: ProviderRegistry, psp: PspEvents
    ) -> None:
        self.db = db
        self.bus = bus
        self.providers = providers
        self.psp = psp

    async def close_due(self, limit: int = 20) -> int:
        """The worker's drain: close the checkouts marked for it that are due; returns how
        many it asked a PSP about. One failing is logged and left for its retry."""
        async with self.db.session() as s:
            due = await repo.checkouts_to_close(s, utcnow(), limit)
        asked = 0
        for payment_id, attempts in due:
            try:
                asked += await self._close(payment_id, attempts)
            except Exception:
                # (its lease runs out and the next drain takes it again)
                log.exception("closing a checkout failed", extra={"payment": payment_id})
        return asked

    async def _close(self, payment_id: str, attempts: int) -> bool:
        claimed = await self._claim(payment_id, attempts)
        if claimed is None:
            return False
        provider_name, checkout_id = claimed
        provider = self.providers.get(provider_name)
        try:
            async with asyncio.timeout(CLOSE_BUDGET):
                closed = await provider.cancel_checkout(checkout_id)
        except (ProviderError, TimeoutError) as exc:
            if not (isinstance(exc, ProviderError) and exc.kind == "not_found"):
                await self._postpone(payment_id, attempts + 1, exc)
                return True
            closed = True  # the PSP has no such checkout: nothing can be paid through it
        if closed:
            await self._canceled(payment_id)
        else:
            await self._completed(payment_id, provider_name, checkout_id)
        return True

    async def _claim(self, payment_id: str, attempts: int) -> tuple[str, str] | None:
        """Take the payment for one attempt (``close_attempts`` moves on, so a second
        worker that read the same row finds it taken); None when there is nothing to ask."""
        now = utcnow()
        async with unit_of_work(self.db, self.bus) as uow:
            p = await repo.get_payment(uow.session, payment_id, lock=True)
            if p is None or p.close_checkout_at is None or p.close_attempts != attempts:
                return None
            if p.status != PaymentStatus.pending:  # settled meanwhile (its PSP's word)
                p.close_checkout_at = None
                claimed = None
            elif p.checkout_id is None:  # still being opened: its Pay press ends first
                p.close_attempts += 1
                p.close_checkout_at = now + retry_delay(p.close_attempts)
                claimed = None
            else:
                p.close_attempts += 1
                p.close_checkout_at = now + LEASE
                claimed = (p.provider, p.checkout_id)
            await uow.commit()
        return claimed

    async def _postpone(
        self, payment_id: str, attempts: int, exc: ProviderError | TimeoutError
    ) -> None:
        kind = exc.kind if isinstance(exc, ProviderError) else "timeout"
        extra = {"payment": payment_id, "kind": kind, "attempts": attempts}
        if isinstance(exc, ProviderError) and not exc.unreachable:
            log.error("the PSP refused to close a checkout; will ask again", extra=extra)
        else:
            log.warning("the PSP did not answer to close a checkout; will ask again", extra=extra)
        async with unit_of_work(self.db, self.bus) as uow:
            p = await repo.get_payment(uow.session, payment_id, lock=True)
            if p is not None and p.close_checkout_at is not None and p.close_attempts == attempts:
                p.close_checkout_at = utcnow() + retry_delay(attempts)
            await uow.commit()

    async def _canceled(self, payment_id: str) -> None:
        """The checkout is closed: its payment is canceled, with the payment that paid."""
        async with unit_of_work(self.db, self.bus) as uow:
            locked = await _lock(uow, payment_id)
            if locked is None:
                return
            inv, p = locked
            p.close_checkout_at = None
            if p.status == PaymentStatus.pending:
                paid_by = next(
                    (
                        o.id
                        for o in (await repo.payments_of(uow.session, [inv.id]))[inv.id]
                        if o.status == PaymentStatus.succeeded and not o.is_overpayment
                    ),
                    "another payment",
                )
                note = f"the invoice was paid by {paid_by}: this checkout was closed at the PSP"
                transition(uow, p, PaymentStatus.canceled, invoice=inv, cause=CAUSE, note=note)
                p.next_check_at = None
            await uow.commit()
        log.info("checkout of a paid invoice closed", extra={"payment": payment_id})

    async def _completed(self, payment_id: str, provider_name: str, checkout_id: str) -> None:
        """The payer completed the checkout before it could be closed: its payment is what
        the PSP says (a success is an overpayment, given back by the existing path). What
        cannot be read or applied now is left to the re-check of pending payments, at once."""
        try:
            async with asyncio.timeout(CLOSE_BUDGET):
                truth = await self.providers.get(provider_name).retrieve_payment(checkout_id)
            async with unit_of_work(self.db, self.bus) as uow:
                locked = await _lock(uow, payment_id)
                if locked is None:
                    return
                inv, p = locked
                p.close_checkout_at = None
                outcome = f"unchanged: payment {p.status}"
                if p.status == PaymentStatus.pending:
                    outcome = await self.psp.apply_truth(uow, inv, p, truth, cause=CAUSE)
                await uow.commit()
            log.info(
                "the payer completed a checkout of a paid invoice",
                extra={"payment": payment_id, "outcome": outcome},
            )
            return
        except Exception as exc:  # noqa: BLE001 - logged; the re-check takes it over
            # (a PSP that does not answer, or a truth that contradicts regie's: a human's)
            unread = isinstance(exc, ProviderError | TimeoutError)
            log.log(
                logging.WARNING if unread else logging.ERROR,
                "a completed checkout's payment was not settled; the re-check will ask",
                extra={"payment": payment_id, "error_class": type(exc).__name__},
            )
        async with unit_of_work(self.db, self.bus) as uow:
            left = await repo.get_payment(uow.session, payment_id, lock=True)
            if left is not None:
                left.close_checkout_at = None
                if left.status == PaymentStatus.pending:
                    left.next_check_at = utcnow()
            await uow.commit()


async def _lock(uow: UnitOfWork, payment_id: str) -> tuple[Invoice, Payment] | None:
    """A payment and its invoice, locked in the house order (invoice, then payment)."""
    p = await repo.get_payment(uow.session, payment_id)
    if p is None:
        return None
    inv = await repo.get_invoice(uow.session, p.invoice_id, lock=True)
    p = await repo.get_payment(uow.session, payment_id, lock=True)
    return (inv, p) if inv is not None and p is not None else None
