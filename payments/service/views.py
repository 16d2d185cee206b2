"""Reading ``payments``: the API views (the ``*_out`` renderers) and the reads behind them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from payments import repository as repo
from payments.balances import amount_due, refundable
from payments.documents import CreditNoteReader, CreditNoteRef, credit_note_url, no_credit_notes
from payments.models import Invoice, InvoiceLine, Payment, Refund
from payments.schemas import (
    Card,
    CreditNoteLink,
    CreditNoteOut,
    InvoiceList,
    InvoiceOut,
    LineOut,
    PayerOut,
    PaymentFailure,
    PaymentOut,
    RefundOut,
)
from payments.service.access import scope
from regie.kit.auth import Principal
from regie.kit.database import Database
from regie.kit.errors import NotFound
from regie.kit.events import EventBus
from regie.kit.uow import UnitOfWork, unit_of_work


def payment_out(p: Payment) -> PaymentOut:
    return PaymentOut(
        id=p.id,
        invoice=p.invoice_id,
        status=p.status,
        provider=p.provider,
        amount=p.amount,
        currency=p.currency,
        fee=p.fee,
        fee_currency=p.fee_currency,
        card=Card(brand=p.card_brand, last4=p.card_last4) if p.card_last4 else None,
        failure=PaymentFailure(code=p.failure_code, message=p.failure_message)
        if p.failure_code
        else None,
        provider_payment_id=p.provider_payment_id,
        is_overpayment=p.is_overpayment,
        processing_since=p.processing_since,
        created_at=p.created_at,
        succeeded_at=p.succeeded_at,
    )


def refund_out(r: Refund, credit_note: CreditNoteLink | None = None) -> RefundOut:
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
        credit_note=credit_note,
        created_at=r.created_at,
        succeeded_at=r.succeeded_at,
    )


def payer_out(inv: Invoice) -> PayerOut:
    return PayerOut(
        name=inv.payer_name,
        email=inv.payer_email,
        address=inv.payer_address,
        company_id=inv.payer_company_id,
        vat_number=inv.payer_vat_number,
    )


def invoice_out(
    inv: Invoice,
    lines: list[InvoiceLine],
    payments: list[Payment],
    slug: str,
    *,
    base_url: str,
    refunds: list[Refund] | None = None,
    credit_notes: list[CreditNoteRef] | None = None,
) -> InvoiceOut:
    return InvoiceOut(
        id=inv.id,
        number=inv.number,
        service=slug,
        status=inv.status,
        currency=inv.currency,
        amount_total=inv.amount_total,
        amount_paid=inv.amount_paid,
        amount_refunded=inv.amount_refunded,
        amount_due=amount_due(inv),
        amount_refundable=refundable(inv, refunds or []),
        lines=[
            LineOut(
                description=x.description,
                quantity=x.quantity,
                unit_amount=x.unit_amount,
                amount=x.amount,
            )
            for x in lines
        ],
        reference=inv.reference,
        description=inv.description,
        payer=payer_out(inv),
        metadata=dict(inv.metadata_ or {}),
        locale=inv.locale,
        expires_at=inv.expires_at,
        return_url=inv.return_url,
        payment_url=f"{base_url}/pay/{inv.pay_token}",
        payments=[payment_out(p) for p in payments],
        credit_notes=[
            CreditNoteOut(
                number=n.number,
                refund=n.refund_id,
                amount=n.amount,
                currency=n.currency,
                status="canceled" if n.canceled else "issued",
                url=credit_note_url(base_url, inv.id, n.number),
            )
            for n in credit_notes or []
        ],
        created_at=inv.created_at,
        updated_at=inv.updated_at,
        paid_at=inv.paid_at,
        canceled_at=inv.canceled_at,
        expired_at=inv.expired_at,
    )


class Views:
    """The reads of ``payments``; ``render`` also serves the writers' responses."""

    def __init__(self, db: Database, bus: EventBus, base_url: str) -> None:
        self.db = db
        self.bus = bus
        self.base_url = base_url
        # the credit notes of refunds: receipts issues them, the shell plugs its reader in
        self.credit_notes: CreditNoteReader = no_credit_notes

    async def credit_note_links(
        self, session: AsyncSession, invoice_ids: Sequence[str]
    ) -> dict[str, CreditNoteLink]:
        """The credit note of each refund of these invoices that has one, by refund id."""
        return {
            n.refund_id: CreditNoteLink(
                number=n.number, url=credit_note_url(self.base_url, n.invoice_id, n.number)
            )
            for n in await self.credit_notes(session, invoice_ids)
        }

    def invoice_out(
        self,
        inv: Invoice,
        lines: list[InvoiceLine],
        payments: list[Payment],
        slug: str,
        refunds: list[Refund] | None = None,
        credit_notes: list[CreditNoteRef] | None = None,
    ) -> InvoiceOut:
        return invoice_out(
            inv, lines, payments, slug, base_url=self.base_url, refunds=refunds,
            credit_notes=credit_notes,
        )  # fmt: skip

    async def render(self, uow: UnitOfWork, invoices: list[Invoice]) -> list[InvoiceOut]:
        ids = [i.id for i in invoices]
        lines = await repo.lines_of(uow.session, ids)
        pays = await repo.payments_of(uow.session, ids)
        slugs = await repo.service_slugs(uow.session, [i.service_id for i in invoices])
        paid = [i.id for i in invoices if i.amount_paid]
        refunds = await repo.refunds_of(uow.session, paid)
        notes: dict[str, list[CreditNoteRef]] = {}
        for note in await self.credit_notes(uow.session, paid) if paid else []:
            notes.setdefault(note.invoice_id, []).append(note)
        return [
            self.invoice_out(
                i, lines[i.id], pays[i.id], slugs.get(i.service_id, ""), refunds.get(i.id),
                notes.get(i.id, []),
            )
            for i in invoices
        ]  # fmt: skip

    async def invoice_view(self, uow: UnitOfWork, invoice_id: str) -> InvoiceOut:
        """The API view of an invoice, read inside the caller's unit of work (so that an
        outbox row written by a subscriber shows the state being committed)."""
        await uow.session.flush()
        inv = await repo.get_invoice(uow.session, invoice_id)
        if inv is None:
            raise NotFound("invoice", "id")
        return (await self.render(uow, [inv]))[0]

    async def get_invoice(self, principal: Principal, invoice_id: str) -> InvoiceOut:
        async with unit_of_work(self.db, self.bus) as uow:
            inv = await repo.get_invoice(uow.session, invoice_id, service_id=scope(principal))
            if inv is None:
                raise NotFound("invoice", "id")
            return (await self.render(uow, [inv]))[0]

    async def list_invoices(
        self, principal: Principal, *, limit: int, **filters: Any
    ) -> InvoiceList:
        async with unit_of_work(self.db, self.bus) as uow:
            rows = await repo.list_invoices(
                uow.session, service_id=scope(principal), limit=limit + 1, **filters
            )
            has_more = len(rows) > limit
            rows = rows[:limit]
            data = await self.render(uow, rows)
        return InvoiceList(
            data=data, has_more=has_more, next_starting_after=rows[-1].id if has_more else None
        )

    async def get_payment(self, principal: Principal, payment_id: str) -> PaymentOut:
        async with unit_of_work(self.db, self.bus) as uow:
            p = await repo.get_payment(uow.session, payment_id, service_id=scope(principal))
            if p is None:
                raise NotFound("payment", "id")
            return payment_out(p)
