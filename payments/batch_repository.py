"""Queries of invoice batches: many invoices in one transaction (Core, COPY on
PostgreSQL). Never commits: the service owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from payments.models import Invoice, InvoiceBatch, InvoiceLine
from regie.kit.bulk import bulk_insert
from regie.kit.database import row_of


async def references_taken(
    s: AsyncSession, service_id: str, references: Sequence[str], chunk: int = 500
) -> set[str]:
    """Which of these references the service already used.

    PostgreSQL: one query joining the references (one array parameter) to the unique
    index, row by row. An ``IN (…1,000 parameters)`` list was planned, once the prepared
    statement went generic, as a scan of the service's invoices testing each against the
    list: 4 s then 10 s for the second and third batches of 10,000 (the bench's rounds).
    """
    if (await s.connection()).dialect.name == "postgresql":
        rows = await s.execute(
            text(
                "SELECT i.reference FROM unnest(CAST(:refs AS varchar[])) AS r(reference) "
                "JOIN invoices AS i ON i.service_id = :service AND i.reference = r.reference"
            ),
            {"refs": list(references), "service": service_id},
        )
        return {str(x) for x in rows.scalars()}
    taken: set[str] = set()
    for i in range(0, len(references), chunk):
        stmt = select(col(Invoice.reference)).where(
            col(Invoice.service_id) == service_id,
            col(Invoice.reference).in_(references[i : i + chunk]),
        )
        taken.update(str(x) for x in (await s.execute(stmt)).scalars())
    return taken


async def insert_batch(s: AsyncSession, batch: InvoiceBatch) -> None:
    """The batch row: a plain INSERT, which also begins the transaction (the COPYs that
    follow run inside it)."""
    await s.execute(insert(InvoiceBatch.__table__), [row_of(batch)])  # type: ignore[attr-defined]


async def insert_invoices(
    s: AsyncSession, invoices: Sequence[dict[str, Any]], lines: Sequence[dict[str, Any]]
) -> None:
    """The batch's invoices, already numbered, then their lines, in bulk."""
    await bulk_insert(s, Invoice.__table__, invoices)  # type: ignore[attr-defined]
    await bulk_insert(s, InvoiceLine.__table__, lines)  # type: ignore[attr-defined]


async def set_batch_numbers(s: AsyncSession, batch: InvoiceBatch) -> None:
    batches = InvoiceBatch.__table__  # type: ignore[attr-defined]
    await s.execute(
        update(batches)
        .where(batches.c.id == batch.id)
        .values(first_number=batch.first_number, last_number=batch.last_number)
    )


async def get_batch(s: AsyncSession, batch_id: str, service_id: str | None) -> InvoiceBatch | None:
    stmt = select(InvoiceBatch).where(col(InvoiceBatch.id) == batch_id)
    if service_id is not None:
        stmt = stmt.where(col(InvoiceBatch.service_id) == service_id)
    return (await s.execute(stmt)).scalar_one_or_none()


async def batch_items(
    s: AsyncSession, batch_id: str, *, limit: int, starting_after: str | None
) -> list[tuple[str, str, str, str]]:
    """(id, number, reference, pay_token) of a batch's invoices, in batch order (by id)."""
    table = Invoice.__table__  # type: ignore[attr-defined]
    stmt = select(table.c.id, table.c.number, table.c.reference, table.c.pay_token).where(
        table.c.batch_id == batch_id
    )
    if starting_after is not None:
        stmt = stmt.where(table.c.id > starting_after)
    stmt = stmt.order_by(table.c.id).limit(limit)
    return [(r[0], r[1], r[2], r[3]) for r in (await s.execute(stmt)).all()]


async def invoices_by_ids(s: AsyncSession, ids: Sequence[str], chunk: int = 1000) -> list[Invoice]:
    out: list[Invoice] = []
    for i in range(0, len(ids), chunk):
        stmt = select(Invoice).where(col(Invoice.id).in_(ids[i : i + chunk]))
        out.extend((await s.execute(stmt)).scalars())
    out.sort(key=lambda inv: inv.id)
    return out
