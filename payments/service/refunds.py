"""Refunds: reserve under the invoice's lock, ask the PSP outside any transaction, apply.

1. In one transaction, with the invoice row locked, the refund is checked against what is
   still refundable (paid - refunded - pending refunds) and written as ``pending``: that
   reservation is what keeps concurrent refunds from exceeding what was paid.
2. The PSP is asked with an idempotency key derived from the refund's id, so a retry after
   a timeout can never refund twice.
3. The PSP's answer (now, or later through its events or the sweeper) moves the refund to
   ``succeeded`` (ledger entry, invoice partially_refunded/refunded, credit note,
   notification) or ``failed`` (the reservation is released).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from payments import accounting
from payments import repository as repo
from payments.balances import REFUNDABLE_STATES, refundable
from payments.events import RefundFailed, RefundSucceeded
from payments.models import Invoice, Payment, Refund
from payments.providers.base import ProviderError, ProviderRefund
from payments.providers.registry import ProviderRegistry
from payments.schemas import RefundCreate, RefundList
from payments.service.access import scope
from payments.service.views import refund_out
from payments.states import InvoiceStatus, PaymentStatus, RefundStatus, can_invoice
from payments.transitions import record_new, transition
from regie.kit.auth import Principal
from regie.kit.database import Database, utcnow
from regie.kit.errors import ApiError, Conflict, NotFound
from regie.kit.events import EventBus
from regie.kit.idempotency import Claim
from regie.kit.ids import new_id
from regie.kit.tenancy import Role
from regie.kit.uow import UnitOfWork, unit_of_work

log = logging.getLogger("regie.refunds")

REFUND_RETRY = (
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
)


class RefundService:
    def __init__(self, db: Database, bus: EventBus, providers: ProviderRegistry) -> None:
        self.db = db
        self.bus = bus
        self.providers = providers

    # ------------------------------------------------------------------ API
    async def list(self, principal: Principal, invoice_id: str) -> RefundList:
        async with unit_of_work(self.db, self.bus) as uow:
            inv = await repo.get_invoice(uow.session, invoice_id, service_id=scope(principal))
            if inv is None:
                raise NotFound("invoice", "id")
            refunds = (await repo.refunds_of(uow.session, [inv.id]))[inv.id]
            return RefundList(
                data=[refund_out(r) for r in refunds], refundable_amount=refundable(inv, refunds)
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
            refund = Refund(
                id=new_id("ref"), invoice_id=inv.id, payment_id=payment.id, service_id=inv.service_id,
                provider=payment.provider, amount=amount, currency=inv.currency,
                status=RefundStatus.pending, reason=body.reason, origin="api", next_attempt_at=now,
                created_at=now, updated_at=now,
            )  # fmt: skip
            s.add(refund)
            record_new(uow, refund, invoice=inv, cause="api:refund")
            if claim:  # a retry after a crash from here on replays this refund, never a new one
                await s.flush()
                await claim.complete(s, 202, refund_out(refund).model_dump(mode="json"))
            await uow.commit()  # the reservation exists before the PSP hears of it
        refund = await self.submit(refund.id)
        if refund.status == RefundStatus.failed:
            err = ApiError(
                502,
                "refund_failed",
                f"The payment provider refused the refund ({refund.failure_reason}); nothing was refunded.",
            )
            raise err  # 5xx: the key is released, so the caller may try again
        status = 201 if refund.status == RefundStatus.succeeded else 202
        body_out = refund_out(refund).model_dump(mode="json")
        if claim:
            await self._store(claim, status, body_out)
        return status, body_out

    async def _store(self, claim: Claim, status: int, body: Any) -> None:
        async with self.db.session() as s:
            await claim.complete(s, status, body)
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
        """Ask the PSP for a pending refund (first time or retry; same idempotency key)."""
        async with self.db.session() as s:
            refund = await repo.get_refund(s, refund_id)
            payment = await repo.get_payment(s, refund.payment_id) if refund else None
        assert refund is not None and payment is not None and payment.provider_payment_id
        try:
            result: ProviderRefund | None = await self.providers.get(payment.provider).refund(
                payment.provider_payment_id, refund.amount, f"regie-refund-{refund.id}"
            )
            error: ProviderError | None = None
        except ProviderError as exc:
            result, error = None, exc
        async with unit_of_work(self.db, self.bus) as uow:
            refund = await repo.get_refund(uow.session, refund_id)
            assert refund is not None
            inv = await repo.get_invoice(uow.session, refund.invoice_id, lock=True)
            refund = await repo.get_refund(uow.session, refund_id, lock=True)
            assert inv is not None and refund is not None
            if refund.status != RefundStatus.pending:
                return refund
            if result is not None:
                refund.provider_refund_id = result.id
                await self.apply_status(
                    uow, inv, refund, result.status, result.failure_reason, cause="api:refund"
                )
            elif error is not None and not error.retryable and error.kind != "unavailable":
                await self.apply_status(
                    uow, inv, refund, RefundStatus.failed, error.kind, cause="api:refund"
                )
            else:  # unknown outcome: retry later with the same idempotency key
                refund.attempts += 1
                refund.next_attempt_at = (
                    utcnow() + REFUND_RETRY[min(refund.attempts - 1, len(REFUND_RETRY) - 1)]
                )
                refund.updated_at = utcnow()
                log.warning("refund outcome unknown; will retry", extra={"refund": refund.id})
            await uow.commit()
            return refund

    async def retry_due(self, limit: int = 50) -> int:
        """The sweeper: (re)submit pending refunds the PSP has not acknowledged."""
        async with self.db.session() as s:
            due = await repo.refunds_due(s, utcnow(), limit)
        for refund_id in due:
            await self.submit(refund_id)
        return len(due)

    async def apply_status(
        self,
        uow: UnitOfWork,
        inv: Invoice,
        refund: Refund,
        status: str,
        failure: str | None,
        *,
        cause: str,
    ) -> str:
        """Move a refund to what the PSP says. Caller holds the invoice lock."""
        if status == refund.status or status == RefundStatus.pending:
            return f"unchanged: refund {refund.status}"
        if refund.status != RefundStatus.pending:
            return f"ignored: refund already {refund.status}"
        try:
            outcome = RefundStatus(status)
        except ValueError:
            return f"ignored: unknown refund status {status}"
        now = utcnow()
        refund.next_attempt_at = None
        if outcome == RefundStatus.failed:
            refund.failure_reason = (failure or "failed")[:200]
            transition(
                uow,
                refund,
                RefundStatus.failed,
                invoice=inv,
                cause=cause,
                event=RefundFailed(
                    inv.id,
                    inv.service_id,
                    refund.amount,
                    refund.currency,
                    cause,
                    refund.id,
                    refund.payment_id,
                ),
                at=now,
            )
            return "refund failed"
        transition(uow, refund, RefundStatus.succeeded, invoice=inv, cause=cause, at=now)
        slug = await repo.service_slug(uow.session, inv.service_id)
        if refund.origin != "overpayment":
            inv.amount_refunded += refund.amount
            target = (
                InvoiceStatus.refunded
                if inv.amount_refunded >= inv.amount_paid
                else InvoiceStatus.partially_refunded
            )
            # a disputed invoice stays disputed until the dispute closes (the table allows
            # disputed -> partially_refunded/refunded only as the dispute's own close)
            if (
                inv.status != InvoiceStatus.disputed
                and target != inv.status
                and can_invoice(InvoiceStatus(inv.status), target)
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

    async def reserve_overpayment_refund(self, uow: UnitOfWork, inv: Invoice, p: Payment) -> None:
        """An overpayment is refunded automatically: reserved here, in the transaction that
        records it; the sweeper asks the PSP right after commit."""
        now = utcnow()
        uow.session.add(
            Refund(
                id=new_id("ref"), invoice_id=inv.id, payment_id=p.id, service_id=inv.service_id,
                provider=p.provider, amount=p.amount, currency=p.currency,
                status=RefundStatus.pending, reason="overpayment: the invoice was already settled",
                origin="overpayment", next_attempt_at=now, created_at=now, updated_at=now,
            )
        )  # fmt: skip

    async def apply_event(
        self,
        uow: UnitOfWork,
        provider: str,
        data: dict[str, Any],
        truth: ProviderRefund | None,
        cause: str,
    ) -> str:
        """A PSP refund event (``refund.updated``), possibly for a refund made at the PSP."""
        s = uow.session
        refund_id = str(data.get("refund_id") or (truth.id if truth else ""))
        refund = await repo.refund_by_provider_id(s, provider, refund_id) if refund_id else None
        if refund is None:
            ppid = str(
                data.get("provider_payment_id") or (truth.provider_payment_id if truth else "")
            )
            payment = await repo.payment_by_provider_id(s, provider, ppid) if ppid else None
            if payment is None or truth is None:
                return "ignored: refund of an unknown payment"
            inv = await repo.get_invoice(s, payment.invoice_id, lock=True)
            assert inv is not None
            now = utcnow()
            refund = Refund(
                id=new_id("ref"), invoice_id=inv.id, payment_id=payment.id, service_id=inv.service_id,
                provider=provider, amount=truth.amount, currency=truth.currency,
                status=RefundStatus.pending, reason="made at the payment provider",
                origin="overpayment" if payment.is_overpayment else "psp",
                provider_refund_id=truth.id, created_at=now, updated_at=now,
            )  # fmt: skip
            s.add(refund)
            await s.flush()
        else:
            inv = await repo.get_invoice(s, refund.invoice_id, lock=True)
            assert inv is not None
            refund = await repo.get_refund(s, refund.id, lock=True)
            assert refund is not None
        status = truth.status if truth else str(data.get("status", RefundStatus.pending))
        return await self.apply_status(
            uow, inv, refund, status, truth.failure_reason if truth else None, cause=cause
        )
