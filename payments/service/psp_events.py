"""The PSP's word about payments: its events, and the re-check of payments left pending.

Events can arrive late, twice or out of order; what is applied is the PSP's current state
of the object (``fetch_truth``), read outside any transaction.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from payments import accounting, accounting_fees
from payments import repository as repo
from payments.events import InvoicePaid, OverpaymentDetected, PaymentFailed
from payments.models import Invoice, Payment
from payments.providers.base import (
    DISPUTE_EVENTS,
    EVENT_REFUND_UPDATED,
    PAYMENT_EVENTS,
    PAYOUT_EVENTS,
    ProviderDispute,
    ProviderError,
    ProviderEvent,
    ProviderPayment,
    ProviderRefund,
    ProviderTruth,
)
from payments.providers.registry import ProviderRegistry
from payments.service.closing import mark_others
from payments.service.config import PaymentsConfig
from payments.service.disputes import apply_dispute
from payments.service.payout_events import apply_payout, read_payout
from payments.service.refunds import RefundService
from payments.states import InvoiceStatus, PaymentStatus, TransitionKind, can_payment
from payments.transitions import transition
from regie.kit.database import Database, utcnow
from regie.kit.events import EventBus
from regie.kit.uow import UnitOfWork, unit_of_work

log = logging.getLogger("regie.payments")

RECHECK_BACKOFF = (dt.timedelta(minutes=5), dt.timedelta(hours=1), dt.timedelta(days=1))
RETURN_BUDGET = 10.0  # seconds the return page waits for the PSP before showing what it knows


def recheck_delay(check_count: int) -> dt.timedelta:
    """Delay before the next re-check after ``check_count`` checks (the first is at 5 min)."""
    return RECHECK_BACKOFF[min(check_count, len(RECHECK_BACKOFF) - 1)]


# events whose payment only their re-read tells regie's or not (see ``is_foreign``)
_READ_TO_TELL = DISPUTE_EVENTS | {EVENT_REFUND_UPDATED}


class PspMismatchError(RuntimeError):
    """The PSP's view of a payment contradicts regie's: never applied automatically."""


class PspEvents:
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        providers: ProviderRegistry,
        config: PaymentsConfig,
        refunds: RefundService,
    ) -> None:
        self.db = db
        self.bus = bus
        self.providers = providers
        self.config = config
        self.refunds = refunds

    async def knows_payment(self, event: ProviderEvent) -> bool:
        async with self.db.session() as s:
            p = await repo.find_payment_for_provider(
                s, event.provider, payment_ref=event.payment_ref, checkout_id=event.checkout_id
            )
            return p is not None

    async def is_foreign(self, event: ProviderEvent, *, shared_account: bool) -> bool:
        """The event is about a payment that is not regie's: by regie's id or the checkout
        when it names them, else (on an account other integrations share) by the PSP's
        payment id. Account-level events (payouts) are not. Nor is a refund or a dispute:
        it may come before the success of a payment of regie's (that event lost), whose PSP
        id regie does not know yet, and its event does not say whose payment it is; the
        worker's re-read of it (one call, with the payment's metadata) tells regie's, which
        waits for its payment, from another integration's, ignored."""
        if event.payment_ref or event.checkout_id:
            return not await self.knows_payment(event)
        if shared_account and event.provider_payment_id and event.type not in _READ_TO_TELL:
            async with self.db.session() as s:
                found = await repo.payment_by_provider_id(
                    s, event.provider, event.provider_payment_id
                )
            return found is None
        return False

    async def fetch_truth(self, event: ProviderEvent) -> ProviderTruth | None:
        """Re-read the object from the PSP (outside any transaction): events can arrive
        late, twice or out of order; the PSP's current state cannot."""
        provider = self.providers.get(event.provider)
        if event.type in PAYMENT_EVENTS:
            # a payment made through a checkout is what its checkout says: a declined card
            # fails a Stripe PaymentIntent, not its session, where the citizen may try again
            ref = event.checkout_id or await self._checkout_of(event) or event.provider_payment_id
            return await provider.retrieve_payment(ref) if ref else None
        if event.type == EVENT_REFUND_UPDATED and event.data.get("refund_id"):
            return await provider.retrieve_refund(str(event.data["refund_id"]))
        if event.type in DISPUTE_EVENTS and event.data.get("dispute_id"):
            return await provider.retrieve_dispute(str(event.data["dispute_id"]))
        if event.type in PAYOUT_EVENTS:
            return await read_payout(provider, event)
        return None

    async def _checkout_of(self, event: ProviderEvent) -> str | None:
        """The checkout of the payment an event names by regie's id or the PSP's."""
        async with self.db.session() as s:
            p = await repo.find_payment_for_provider(
                s, event.provider, payment_ref=event.payment_ref, checkout_id=None
            )
            if p is None and event.provider_payment_id:
                p = await repo.payment_by_provider_id(s, event.provider, event.provider_payment_id)
        return p.checkout_id if p is not None else None

    async def apply_provider_event(
        self, uow: UnitOfWork, event: ProviderEvent, truth: ProviderTruth | None
    ) -> str:
        """Apply one PSP event inside the caller's unit of work; returns what happened."""
        cause = f"psp:{event.id}"
        if event.type == EVENT_REFUND_UPDATED:
            refund_truth = truth if isinstance(truth, ProviderRefund) else None
            return await self.refunds.apply_event(
                uow, event.provider, dict(event.data), refund_truth, cause
            )
        if event.type in DISPUTE_EVENTS:
            dispute_truth = truth if isinstance(truth, ProviderDispute) else None
            reserve = (
                self.refunds.reserve_overpayment_refund
                if self.config.auto_refund_overpayments
                else None
            )
            shared = self.providers.get(event.provider).shared_account
            return await apply_dispute(
                uow, event, dispute_truth, cause, reserve, shared_account=shared
            )
        if event.type in PAYOUT_EVENTS:
            return await apply_payout(uow, event, truth, self.config.bank_account)
        if event.type not in PAYMENT_EVENTS:
            return f"ignored: {event.raw_type}"
        payment_truth = truth if isinstance(truth, ProviderPayment) else None
        s = uow.session
        p = await repo.find_payment_for_provider(
            s,
            event.provider,
            payment_ref=event.payment_ref or (payment_truth.payment_ref if payment_truth else None),
            checkout_id=event.checkout_id or (payment_truth.checkout_id if payment_truth else None),
        )
        if p is None:
            return "ignored: unknown payment"
        inv = await repo.get_invoice(
            s, p.invoice_id, lock=True
        )  # lock order: invoice, then payment
        assert inv is not None
        p = await repo.get_payment(s, p.id, lock=True)
        assert p is not None
        if payment_truth is None:
            return f"ignored: {event.type}"
        return await self.apply_truth(uow, inv, p, payment_truth, cause=cause)

    async def recheck_pending(self, limit: int = 50) -> int:
        """Re-ask the PSP about payments stuck in ``pending``: webhooks can be lost.

        Backoff per payment: 5 min, 1 h, then daily (``RECHECK_BACKOFF``); two workers'
        sweeps checking one payment at once count one check. Returns how many payments
        changed state.
        """
        now = utcnow()
        async with self.db.session() as s:
            due = await repo.pending_due_for_check(s, now, limit)
        changed = 0
        for payment_id in due:
            async with self.db.session() as s:
                p = await repo.get_payment(s, payment_id)
            if p is None or p.status != PaymentStatus.pending or p.checkout_id is None:
                continue
            try:
                truth = await self.providers.get(p.provider).retrieve_payment(p.checkout_id)
            except ProviderError as exc:
                log.warning("recheck failed", extra={"payment": payment_id, "kind": exc.kind})
                truth = None
            async with unit_of_work(self.db, self.bus) as uow:
                locked = await _lock_pending(uow, payment_id)
                if locked is None:
                    continue
                inv, p = locked
                outcome = "unchanged"
                if truth is not None:
                    try:
                        outcome = await self.apply_truth(
                            uow, inv, p, truth, cause="sweeper:recheck"
                        )
                    except PspMismatchError as exc:
                        # left for a human; asked again later, and the others go on (it
                        # raised before changing anything)
                        log.error(
                            "recheck: the PSP disagrees",
                            extra={"payment": payment_id, "reason": str(exc)},
                        )
                if p.status == PaymentStatus.pending:
                    # another worker's sweep that checked it meanwhile has rescheduled it
                    # (past ``now``): counted once, or the backoff would skip a step
                    if p.next_check_at is None or p.next_check_at <= now:
                        p.check_count += 1
                        p.next_check_at = utcnow() + recheck_delay(p.check_count)
                else:
                    changed += 1
                    log.info("recheck applied", extra={"payment": payment_id, "outcome": outcome})
                await uow.commit()
        return changed

    async def confirm_return(self, payment_id: str, checkout_id: str | None = None) -> None:
        """The citizen is on the return page of a payment still pending: ask the PSP about
        its checkout now (its event may come later) and apply what it says, so a decline
        the PSP has already made is shown at once. Only the checkout of that very payment
        is asked about (one the PSP named in the return address must be it; without one,
        the payment's own); the citizen never waits long for it."""
        async with self.db.session() as s:
            p = await repo.get_payment(s, payment_id)
        if p is None or p.status != PaymentStatus.pending or p.checkout_id is None:
            return
        if checkout_id is not None and p.checkout_id != checkout_id:
            return  # an address naming another checkout: not even looked up
        checkout_id = p.checkout_id
        try:
            async with asyncio.timeout(RETURN_BUDGET):
                truth = await self.providers.get(p.provider).retrieve_payment(checkout_id)
        except (ProviderError, TimeoutError) as exc:
            kind = exc.kind if isinstance(exc, ProviderError) else "timeout"
            log.warning("return page: no answer", extra={"payment": payment_id, "kind": kind})
            return
        async with unit_of_work(self.db, self.bus) as uow:
            locked = await _lock_pending(uow, payment_id)
            if locked is None:
                return
            try:
                await self.apply_truth(uow, *locked, truth, cause="citizen:return")
            except PspMismatchError as exc:
                log.error(
                    "return page: the PSP disagrees",
                    extra={"payment": payment_id, "reason": str(exc)},
                )
                return
            await uow.commit()

    async def apply_truth(
        self, uow: UnitOfWork, inv: Invoice, p: Payment, truth: ProviderPayment, *, cause: str
    ) -> str:
        """Move a payment (and its invoice) to what the PSP says. Caller holds both locks."""
        now = utcnow()
        current, target = PaymentStatus(p.status), PaymentStatus(truth.status)
        if target == PaymentStatus.pending and current == target and truth.processing:
            if p.processing_since is None:  # the payer is done; the money is on its way
                p.processing_since = p.updated_at = now
                p.provider_payment_id = truth.provider_payment_id or p.provider_payment_id
                return "payment processing"
        if target == current == PaymentStatus.succeeded:
            return await _fee_reported_late(uow, inv, p, truth)
        if target == current or target == PaymentStatus.pending:
            return f"unchanged: payment {p.status}"
        if not can_payment(current, target):
            return f"ignored: payment {p.status} cannot become {target}"
        if truth.amount != p.amount or truth.currency != p.currency:
            # never trust a mismatching amount: leave it for a human (and reconciliation)
            raise PspMismatchError(
                f"PSP reports {truth.amount} {truth.currency} for {p.amount} {p.currency}"
            )
        if _about_another_payment(p, truth):
            # a truth read for one checkout must never settle another payment
            raise PspMismatchError(
                f"PSP's answer is about {truth.payment_ref or truth.checkout_id}, not {p.id}"
            )
        failed = target == PaymentStatus.failed
        if failed:
            p.failure_code, p.failure_message = truth.failure_code, truth.failure_message
        transition(
            uow,
            p,
            target,
            invoice=inv,
            cause=cause,
            # a success after a failure, a cancellation or an expiry
            kind=TransitionKind.ordinary
            if current == PaymentStatus.pending
            else TransitionKind.later_word_wins,
            event=PaymentFailed(
                inv.id, inv.service_id, p.amount, p.currency, cause, p.id, p.failure_code
            )
            if failed
            else None,
            at=now,
        )
        p.next_check_at = None
        p.provider_payment_id = truth.provider_payment_id or p.provider_payment_id
        p.card_brand, p.card_last4 = (
            truth.card_brand or p.card_brand,
            truth.card_last4 or p.card_last4,
        )
        if failed:
            return "payment failed"
        if target != PaymentStatus.succeeded:
            return f"payment {target}"
        p.fee = truth.fee
        p.fee_currency = (truth.fee_currency or p.currency) if truth.fee is not None else None
        p.fee_exchange_rate = truth.fee_exchange_rate if truth.fee is not None else None
        p.failure_code = p.failure_message = None
        if inv.status in (InvoiceStatus.open, InvoiceStatus.expired):
            # an expired invoice was never paid otherwise: a payment that was on its way
            # when it expired (a SEPA debit) pays it; it is not given back as an overpayment
            late = inv.status == InvoiceStatus.expired
            if late:
                await accounting.invoice_reopened(uow.session, inv, now)
            inv.amount_paid = p.amount
            transition(
                uow,
                inv,
                InvoiceStatus.paid,
                cause=cause,
                kind=TransitionKind.paid_after_expiry if late else TransitionKind.ordinary,
                event=InvoicePaid(
                    inv.id, inv.service_id, p.amount, p.currency, cause, p.id, p.provider, p.fee
                ),
                at=now,
            )
            slug = await repo.service_slug(uow.session, inv.service_id)
            await accounting.payment_succeeded(uow.session, inv, p, slug, now)
            # its other checkouts are closed at their PSP once this commits (``closing``)
            await mark_others(uow, inv, p, now)
            return "invoice paid"
        p.is_overpayment = True
        if self.config.auto_refund_overpayments:
            await self.refunds.reserve_overpayment_refund(uow, inv, p, cause)
        slug = await repo.service_slug(uow.session, inv.service_id)
        await accounting.payment_succeeded(uow.session, inv, p, slug, now)
        uow.publish(
            OverpaymentDetected(
                inv.id, inv.service_id, p.amount, p.currency, cause, p.id, p.provider
            )
        )
        return f"overpayment: invoice already {inv.status}"


async def _lock_pending(uow: UnitOfWork, payment_id: str) -> tuple[Invoice, Payment] | None:
    """A payment still pending and its invoice, locked (invoice first), or None."""
    p = await repo.get_payment(uow.session, payment_id)
    if p is None or p.status != PaymentStatus.pending:
        return None
    inv = await repo.get_invoice(uow.session, p.invoice_id, lock=True)
    p = await repo.get_payment(uow.session, payment_id, lock=True)
    assert inv is not None and p is not None
    return (inv, p) if p.status == PaymentStatus.pending else None


async def _fee_reported_late(
    uow: UnitOfWork, inv: Invoice, p: Payment, truth: ProviderPayment
) -> str:
    """A payment booked succeeded without its fee (the PSP did not report one yet: Stripe
    attaches the charge's balance transaction a moment after an asynchronous capture)
    whose re-read now shows it: the fee is recorded on the payment and booked, once
    (``accounting_fees.payment_fee_late``). A fee already known is never changed (the PSP's
    balance transaction does not change): a later re-read, or the same event twice, books
    nothing more."""
    if p.fee is not None or truth.fee is None or _about_another_payment(p, truth):
        return f"unchanged: payment {p.status}"
    p.fee = truth.fee
    p.fee_currency = truth.fee_currency or p.currency
    p.fee_exchange_rate = truth.fee_exchange_rate
    p.updated_at = utcnow()
    posted = await accounting_fees.payment_fee_late(uow.session, inv, p)
    return f"payment fee {p.fee} booked" if posted else f"payment fee {p.fee} recorded"


def _about_another_payment(p: Payment, truth: ProviderPayment) -> bool:
    """The truth names another payment: regie's id (the PSP's metadata), the checkout, or
    the PSP's payment id, whichever both sides know."""
    return any(
        mine and theirs and mine != theirs
        for mine, theirs in (
            (p.id, truth.payment_ref),
            (p.checkout_id, truth.checkout_id),
            (p.provider_payment_id, truth.provider_payment_id),
        )
    )
