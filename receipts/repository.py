"""Queries of ``receipts``. Never commits: the caller's session, the caller's transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from payments.documents import CreditNoteRef
from receipts.models import CreditNoteCancellation, Receipt


async def issued_for(s: AsyncSession, source_key: str) -> bool:
    """Whether a receipt or credit note was issued for this payment or refund
    (``payment:<id>``, ``refund:<id>``): one is issued once."""
    stmt = select(col(Receipt.id)).where(col(Receipt.source_key) == source_key)
    return (await s.execute(stmt)).first() is not None


async def by_source(s: AsyncSession, source_key: str) -> Receipt | None:
    stmt = select(Receipt).where(col(Receipt.source_key) == source_key)
    return (await s.execute(stmt)).scalar_one_or_none()


async def receipt_of(s: AsyncSession, invoice_id: str) -> Receipt | None:
    """An invoice's receipt (its first, should there ever be two)."""
    stmt = (
        select(Receipt)
        .where(col(Receipt.invoice_id) == invoice_id, col(Receipt.kind) == "receipt")
        .order_by(col(Receipt.issued_at))
        .limit(1)
    )
    return (await s.execute(stmt)).scalar_one_or_none()


async def number_of(s: AsyncSession, invoice_id: str) -> tuple[str, dt.datetime] | None:
    """The number and issue time of an invoice's receipt, without its document."""
    stmt = (
        select(col(Receipt.number), col(Receipt.issued_at))
        .where(col(Receipt.invoice_id) == invoice_id, col(Receipt.kind) == "receipt")
        .order_by(col(Receipt.issued_at))
        .limit(1)
    )
    row = (await s.execute(stmt)).first()
    return (str(row[0]), row[1]) if row is not None else None


async def by_number(s: AsyncSession, number: str, issuer: str | None) -> Sequence[Receipt]:
    """The receipts and credit notes of this number (of this issuer, when given)."""
    stmt = select(Receipt).where(col(Receipt.number) == number)
    if issuer is not None:
        stmt = stmt.where(col(Receipt.issuer) == issuer)
    return (await s.execute(stmt)).scalars().all()


async def cancellation_of(s: AsyncSession, receipt_id: str) -> CreditNoteCancellation | None:
    stmt = select(CreditNoteCancellation).where(
        col(CreditNoteCancellation.credit_note_id) == receipt_id
    )
    return (await s.execute(stmt)).scalar_one_or_none()


async def credit_notes_of(s: AsyncSession, invoice_id: str) -> list[Receipt]:
    """An invoice's credit notes, in number order."""
    stmt = (
        select(Receipt)
        .where(col(Receipt.invoice_id) == invoice_id, col(Receipt.kind) == "credit_note")
        .order_by(col(Receipt.number))
    )
    return list((await s.execute(stmt)).scalars())


async def credit_note_refs(s: AsyncSession, invoice_ids: Sequence[str]) -> list[CreditNoteRef]:
    """The credit notes of these invoices, in number order, read in the caller's session:
    what ``payments`` shows of them (plugged into its views by the shell)."""
    if not invoice_ids:
        return []
    stmt = (
        select(Receipt, col(CreditNoteCancellation.id))
        .outerjoin(
            CreditNoteCancellation,
            col(CreditNoteCancellation.credit_note_id) == col(Receipt.id),
        )
        .where(col(Receipt.invoice_id).in_(list(invoice_ids)), col(Receipt.kind) == "credit_note")
        .order_by(col(Receipt.number))
    )
    return [
        CreditNoteRef(
            number=r.number, refund_id=r.source_key.removeprefix("refund:"),
            invoice_id=r.invoice_id, amount=r.amount, currency=r.currency,
            canceled=canceled is not None,
        )
        for r, canceled in (await s.execute(stmt)).all()
    ]  # fmt: skip
