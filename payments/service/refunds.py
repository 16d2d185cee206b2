"""Refunds: reserve under the invoice's lock, ask the PSP outside any transaction, apply.

1. In one transaction, with the invoice row locked, the refund is checked against what is
   still refundable (paid - refunded - pending refunds) and written as ``pending``: that
   reservation is what keeps concurrent refunds from exceeding what was paid.
2. The PSP is asked with an idempotency key derived from the refund's id, so a retry after
   a timeout can never refund twice. The caller's ``Idempotency-Key`` stores the 202 with
   the reservation: whatever fails after it (a 503, a cancelled request, a crash), the same
   request replays this refund and the sweeper submits it; only a refusal (nothing
   refunded) gives the key back.
   The PSP also receives regie's refund id as metadata (``regie_refund_id``), so that an
   event that arrives before the answer (or instead of a lost one) settles this refund.
3. The PSP's answer (now, or later through its events or the sweeper) moves the refund
   (``refund_outcomes``). A refund first asked more than ``TAKEOVER_AFTER`` ago is not
   retried blind: the payment's refunds at the PSP are listed and the one that names it
   is taken over, or the reservation fails with the reason; that, a refund the PSP made
   after its reservation was released, and an overpayment's refund refused because the
   payment was refunded elsewhere are ``refund_recovery``'s.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from payments import repository as repo
from payments.balances import REFUNDABLE_STATES, refundable
from payments.models import Invoice, Payment, Refund
from payments.providers.base import ProviderError, ProviderRefund
from payments.providers.registry import ProviderRegistry
from payments.schemas import RefundCreate, RefundList
from payments.service import refund_events
from payments.service import refund_outcomes as outcomes
from payments.service.access import scope
from payments.service.refund_recovery import TAKEOVER_AFTER, RefundRecovery
from payments.service.views import Views, refund_out
from payments.states import InvoiceStatus, PaymentStatus, RefundStatus
from payments.transitions import record_new
from regie.kit.auth import Principal
from regie.kit.database import Database, utcnow
from regie.kit.errors import ApiError, Conflict, NotFound
from regie.kit.events import EventBus
from regie.kit.idempotency import Claim
from regie.kit.ids import new_id
from regie.kit.tenancy import Role
from regie.kit.uow import UnitOfWork, unit_of_work

log = logging.getLogger("regie.refunds")


class RefundService:
    def __init__(
        self, db: Database, bus: EventBus, providers: ProviderRegistry, views: Views
    ) -> None:
        self.db = db
        self.bus = bus
        self.providers = providers
        self.views = views  # refunds are shown with their credit notes
        self.recovery = RefundRecovery(db, bus, providers, self.reserve_overpayment_refund)

    # ------------------------------------------------------------------ API
    async def list(self, principal: Principal, invoice_id: str) -> RefundList:
        async with unit_of_work(self.db, self.bus) as uow:
            inv = await repo.get_invoice(uow.session, invoice_id, service_id=scope(principal))
            if inv is None:
                raise NotFound("invoice", "id")
            refunds = (await repo.refunds_of(uow.session, [inv.id]))[inv.id]
            notes = await self.views.credit_note_links(uow.session, [inv.id])
            return RefundList(
                data=[refund_out(r, notes.get(r.id)) for r in refunds],
                refundable_amount=refundable(inv, refunds),
            )

    async def create(
        self, principal: Principal, invoice_id: str, body: RefundCreate, claim: Claim | None
    ) -> tuple[int, Any]:
        if principal.role not in (Role.service, Role.admin):
            raise ApiError(403, "insufficient_role", "Refunds are made with a service key.")
        now = utcnow()
        async with unit_of_work(self.db, self.bus) as uow:
            s = uow.session
            inv = await repo.get_invoice(s, invoice_id, service_id=scope(principal), lock=True)
            if inv is None:
                raise NotFound("invoice", "id")
            if InvoiceStatus(inv.status) not in REFUNDABLE_STATES:
                raise Conflict(
                    "invoice_not_refundable", f"A {inv.status} invoice cannot be refunded."
                )
            refunds = (await repo.refunds_of(s, [inv.id]))[inv.id]
            available = refundable(inv, refunds)
            if (
                body.expected_refundable_amount is not None
                and body.expected_refundable_amount != available
            ):
                raise Conflict(
                    "refundable_amount_mismatch",
                    f"{available} is refundable, not {body.expected_refundable_amount}; nothing was refunded.",
                    "expected_refundable_amount",
                )
            amount = body.amount if body.amount is not None else available
            if amount <= 0 or amount > available:
                raise Conflict(
                    "amount_exceeds_refundable", f"At most {available} can be refunded.", "amount"
                )
            payment = await self._settling_payment(uow, inv)
            # one the PSP would refuse (Stripe: a KWD amount not ending in 0) is a 422 now
            refusal = self.providers.refund_refusal(payment.provider, amount, inv.currency)
            if refusal is not None:
                raise ApiError(422, refusal.code, refusal.message, param=refusal.param)
            refund = Refund(
                id=new_id("ref"), invoice_id=inv.id, payment_id=payment.id, service_id=inv.service_id,
                provider=payment.provider, amount=amount, currency=inv.currency,
                status=RefundStatus.pending, reason=body.reason, origin="api", next_attempt_at=now,
                created_at=now, updated_at=now,
            )  # fmt: skip
            s.add(refund)
            record_new(uow, refund, invoice=inv, cause="api:refund")
            if claim:
                # from this commit on, the key replays this refund, never a new one: after a
                # crash, a 5xx or a cancelled request below, the sweeper submits the
                # reservation under the PSP key made from its id (``submit``)
                await s.flush()
                await claim.complete(s, 202, refund_out(refund).model_dump(mode="json"))
            await uow.commit()  # the reservation exists before the PSP hears of it
        refund = await self.submit(refund.id)
        if refund.status == RefundStatus.failed:
            if claim:  # nothing was refunded (the failure is stored): the caller may try again
                async with self.db.session() as s:
                    await claim.release(s)
                    await s.commit()
            raise ApiError(
                502,
                "refund_failed",
                f"The payment provider refused the refund ({refund.failure_reason}); nothing was refunded.",
            )
        status = 201 if refund.status == RefundStatus.succeeded else 202
        async with self.db.session() as s:  # issued with its success, if it succeeded
            note = (await self.views.credit_note_links(s, [refund.invoice_id])).get(refund.id)
        body_out = refund_out(refund, note).model_dump(mode="json")
        if claim:
            await self._store(claim, status, body_out)
        return status, body_out

    async def _store(self, claim: Claim, status: int, body: Any) -> None:
        """The PSP's answer over the reservation's, which committed: the refund stands
        whatever this finds (``completion``, not ``complete``, which would refuse it)."""
        async with self.db.session() as s:
            await s.execute(claim.completion(status, body))
            await s.commit()

    async def _settling_payment(self, uow: UnitOfWork, inv: Invoice) -> Payment:
        pays = (await repo.payments_of(uow.session, [inv.id]))[inv.id]
        p = next(
            (x for x in pays if x.status == PaymentStatus.succeeded and not x.is_overpayment), None
        )
        if p is None or not p.provider_payment_id:
            raise Conflict(
                "invoice_not_refundable", "This invoice has no settled payment to refund."
            )
        return p

    # ---------------------------------------------------------- PSP side
    async def submit(self, refund_id: str) -> Refund:
        """Ask the PSP for a pending refund (first time or retry; same idempotency key).

        A refund the PSP has acknowledged (its id is known, from an answer or an event) is
        never asked again. One reserved more than ``TAKEOVER_AFTER`` ago is never retried
        blind (the PSP may have forgotten the key): it is looked up instead."""
        async with self.db.session() as s:
            refund = await repo.get_refund(s, refund_id)
            payment = await repo.get_payment(s, refund.payment_id) if refund else None
        assert refund is not None and payment is not None and payment.provider_payment_id
        if refund.status != RefundStatus.pending or refund.provider_refund_id:
            return refund
        due_at = refund.next_attempt_at
        provider = self.providers.get(payment.provider)
        if utcnow() - refund.created_at >= TAKEOVER_AFTER:
            return await self.recovery.take_over(refund, payment.provider_payment_id)
        key = f"regie-refund-{refund.id}"
        try:
            try:
                result: ProviderRefund | None = await provider.refund(
                    payment.provider_payment_id, refund.amount, key, regie_refund_id=refund.id
                )
            except ProviderError as exc:
                if exc.code != "idempotency_error":
                    raise
                # first sent (before regie sent metadata) with other parameters: the same
                # request again replays the PSP's first answer, never a second refund
                result = await provider.refund(payment.provider_payment_id, refund.amount, key)
            error: ProviderError | None = None
        except ProviderError as exc:
            result, error = None, exc
        refused = error is not None and not error.retryable and error.kind != "unavailable"
        at_psp: Sequence[ProviderRefund] | None = ()
        if refused and refund.origin == "overpayment":
            # refused, perhaps as already refunded elsewhere (the PSP's dashboard): look
            at_psp = await self.recovery.refunds_at_psp(refund, payment.provider_payment_id)
        async with unit_of_work(self.db, self.bus) as uow:
            inv, refund = await outcomes.lock(uow, refund_id)
            if refund.status != RefundStatus.pending:
                if result is not None and await self.recovery.released_but_made(
                    uow, refund, result
                ):
                    await uow.commit()
                return refund
            if result is not None:
                await outcomes.adopt(uow, inv, refund, result, cause="api:refund")
            elif error is not None and refused:
                if at_psp is None:
                    outcomes.later(refund, due_at)  # the PSP's refunds unreadable: look again
                elif not await self.recovery.refunded_elsewhere(
                    uow, inv, refund, payment, at_psp, cause="api:refund"
                ):
                    outcomes.fail(uow, inv, refund, error.kind, cause="api:refund")
            else:  # unknown outcome: retry later with the same idempotency key
                outcomes.later(refund, due_at)
                log.warning("refund outcome unknown; will retry", extra={"refund": refund.id})
            await uow.commit()
            return refund

    async def retry_due(self, limit: int = 50) -> int:
        """The sweeper: (re)submit pending refunds the PSP has not acknowledged. Each
        refund on its own: one that fails is logged and postponed, the others go on."""
        async with self.db.session() as s:
            due = await repo.refunds_due(s, utcnow(), limit)
        for refund_id, due_at in due:
            try:
                await self.submit(refund_id)
            except Exception:
                log.exception("refund submission failed; postponed", extra={"refund": refund_id})
                await self._postpone(refund_id, due_at)
        return len(due)

    async def _postpone(self, refund_id: str, due_at: dt.datetime | None) -> None:
        """Count the failed attempt and schedule the next, unless another sweep rescheduled
        the refund since it was found due (``due_at``): two at once count one attempt."""
        try:
            async with unit_of_work(self.db, self.bus) as uow:
                refund = await repo.get_refund(uow.session, refund_id, lock=True)
                if refund is not None and refund.status == RefundStatus.pending:
                    outcomes.later(refund, due_at)
                await uow.commit()
        except Exception:
            log.exception("cannot postpone the refund", extra={"refund": refund_id})

    async def reserve_overpayment_refund(
        self, uow: UnitOfWork, inv: Invoice, p: Payment, cause: str, amount: int | None = None
    ) -> None:
        """An overpayment is refunded automatically: reserved here, in the transaction that
        records it (with its audit row, under ``cause``: what found it owed); the sweeper
        asks the PSP right after commit. ``amount``: what is owed again after a won
        dispute (None: the whole payment)."""
        now = utcnow()
        refund = Refund(
            id=new_id("ref"), invoice_id=inv.id, payment_id=p.id, service_id=inv.service_id,
            provider=p.provider, amount=p.amount if amount is None else amount, currency=p.currency,
            status=RefundStatus.pending, reason="overpayment: the invoice was already settled",
            origin="overpayment", next_attempt_at=now, created_at=now, updated_at=now,
        )  # fmt: skip
        uow.session.add(refund)
        record_new(uow, refund, invoice=inv, cause=cause)

    async def apply_event(
        self,
        uow: UnitOfWork,
        provider: str,
        data: dict[str, Any],
        truth: ProviderRefund | None,
        cause: str,
    ) -> str:
        """A PSP refund event (``refund_events.apply_event``)."""
        return await refund_events.apply_event(uow, self.providers, provider, data, truth, cause)
