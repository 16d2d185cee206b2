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

from ledger import posting as acc
from ledger.service import post
from payments import repository as repo
from payments.events import RefundFailed, RefundSucceeded
from payments.models import Invoice, Payment, Refund
from payments.providers.base import ProviderError, ProviderRefund
from payments.schemas import RefundCreate, RefundList, RefundOut
from payments.states import InvoiceStatus, PaymentStatus, can_invoice
from regie.kit.auth import Principal
from regie.kit.database import utcnow
from regie.kit.errors import ApiError, Conflict, NotFound
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
REFUNDABLE_STATES = frozenset({InvoiceStatus.paid, InvoiceStatus.partially_refunded})


def refund_out(r: Refund) -> RefundOut:
    return RefundOut(
        id=r.id,
        invoice=r.invoice_id,
        payment=r.payment_id,
        amount=r.amount,
        currency=r.currency,
        status=r.status,
        reason=r.reason,
        origin=r.origin,
        failure_reason=r.failure_reason,
        provider_refund_id=r.provider_refund_id,
        created_at=r.created_at,
        succeeded_at=r.succeeded_at,
    )


def refundable(inv: Invoice, refunds: list[Refund]) -> int:
    """What can still be refunded: paid, minus refunded, minus refunds in flight."""
    pending = sum(r.amount for r in refunds if r.status == "pending" and r.origin != "overpayment")
    return max(inv.amount_paid - inv.amount_refunded - pending, 0)


class RefundService:
    def __init__(self, payments: Any) -> None:  # payments.service.PaymentsService
        self.p = payments

    # ------------------------------------------------------------------ API
    async def list(self, principal: Principal, invoice_id: str) -> RefundList:
        async with unit_of_work(self.p.db, self.p.bus) as uow:
            inv = await repo.get_invoice(
                uow.session, invoice_id, service_id=self.p._scope(principal)
            )
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
        async with unit_of_work(self.p.db, self.p.bus) as uow:
            s = uow.session
            inv = await repo.get_invoice(
                s, invoice_id, service_id=self.p._scope(principal), lock=True
            )
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
                provider=payment.provider, amount=amount, currency=inv.currency, status="pending",
                reason=body.reason, origin="api", next_attempt_at=now, created_at=now, updated_at=now,
            )  # fmt: skip
            s.add(refund)
            self.p._audit(
                uow,
                inv,
                obj="refund",
                from_status=None,
                to_status="pending",
                cause="api:refund",
                note=refund.id,
            )
            if claim:  # a retry after a crash from here on replays this refund, never a new one
                await s.flush()
                await claim.complete(s, 202, refund_out(refund).model_dump(mode="json"))
            await uow.commit()  # the reservation exists before the PSP hears of it
        refund = await self.submit(refund.id)
        if refund.status == "failed":
            err = ApiError(
                502,
                "refund_failed",
                f"The payment provider refused the refund ({refund.failure_reason}); nothing was refunded.",
            )
            raise err  # 5xx: the key is released, so the caller may try again
        status = 201 if refund.status == "succeeded" else 202
        body_out = refund_out(refund).model_dump(mode="json")
        if claim:
            await self._store(claim, status, body_out)
        return status, body_out

    async def _store(self, claim: Claim, status: int, body: Any) -> None:
        async with self.p.db.session() as s:
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
        async with self.p.db.session() as s:
            refund = await repo.get_refund(s, refund_id)
            payment = await repo.get_payment(s, refund.payment_id) if refund else None
        assert refund is not None and payment is not None and payment.provider_payment_id
        try:
            result: ProviderRefund | None = await self.p.providers.get(payment.provider).refund(
                payment.provider_payment_id, refund.amount, f"regie-refund-{refund.id}"
            )
            error: ProviderError | None = None
        except ProviderError as exc:
            result, error = None, exc
        async with unit_of_work(self.p.db, self.p.bus) as uow:
            refund = await repo.get_refund(uow.session, refund_id)
            assert refund is not None
            inv = await repo.get_invoice(uow.session, refund.invoice_id, lock=True)
            refund = await repo.get_refund(uow.session, refund_id, lock=True)
            assert inv is not None and refund is not None
            if refund.status != "pending":
                return refund
            if result is not None:
                refund.provider_refund_id = result.id
                await self.apply_status(
                    uow, inv, refund, result.status, result.failure_reason, cause="api:refund"
                )
            elif error is not None and not error.retryable and error.kind != "unavailable":
                await self.apply_status(uow, inv, refund, "failed", error.kind, cause="api:refund")
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
        async with self.p.db.session() as s:
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
        if status == refund.status or status == "pending":
            return f"unchanged: refund {refund.status}"
        if refund.status != "pending":
            return f"ignored: refund already {refund.status}"
        now = utcnow()
        self.p._audit(
            uow,
            inv,
            obj="refund",
            from_status=refund.status,
            to_status=status,
            cause=cause,
            note=refund.id,
        )
        refund.status, refund.updated_at, refund.next_attempt_at = status, now, None
        if status == "failed":
            refund.failure_reason = (failure or "failed")[:200]
            uow.publish(
                RefundFailed(
                    inv.id,
                    inv.service_id,
                    refund.amount,
                    refund.currency,
                    cause,
                    refund.id,
                    refund.payment_id,
                )
            )
            return "refund failed"
        refund.succeeded_at = now
        slug = await self.p._slug(uow, inv)
        if refund.origin == "overpayment":
            postings = acc.transfer(
                acc.OVERPAYMENTS, acc.psp(refund.provider), refund.amount, refund.currency
            )
            kind = "overpayment_refunded"
        else:
            postings = acc.transfer(
                acc.income(slug), acc.psp(refund.provider), refund.amount, refund.currency
            )
            kind = "refund_succeeded"
            inv.amount_refunded += refund.amount
            target = (
                InvoiceStatus.refunded
                if inv.amount_refunded >= inv.amount_paid
                else InvoiceStatus.partially_refunded
            )
            if target != inv.status and can_invoice(InvoiceStatus(inv.status), target):
                # (a disputed invoice stays disputed until the dispute closes)
                self.p._audit(
                    uow, inv, obj="invoice", from_status=inv.status, to_status=target, cause=cause
                )
                inv.status = target
            inv.updated_at = now
        await post(
            uow.session, source_key=f"refund:{refund.id}:succeeded", kind=kind, postings=postings,
            effective_at=now, service_id=inv.service_id, invoice_id=inv.id, description=f"refund {refund.id}",
        )  # fmt: skip
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
                provider=p.provider, amount=p.amount, currency=p.currency, status="pending",
                reason="overpayment: the invoice was already settled", origin="overpayment",
                next_attempt_at=now, created_at=now, updated_at=now,
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
                provider=provider, amount=truth.amount, currency=truth.currency, status="pending",
                reason="made at the payment provider", origin="overpayment" if payment.is_overpayment else "psp",
                provider_refund_id=truth.id, created_at=now, updated_at=now,
            )  # fmt: skip
            s.add(refund)
            await s.flush()
        else:
            inv = await repo.get_invoice(s, refund.invoice_id, lock=True)
            assert inv is not None
            refund = await repo.get_refund(s, refund.id, lock=True)
            assert refund is not None
        status = truth.status if truth else str(data.get("status", "pending"))
        return await self.apply_status(
            uow, inv, refund, status, truth.failure_reason if truth else None, cause=cause
        )
