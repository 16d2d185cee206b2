"""Queries of invoice batches: many invoices in one transaction (Core, COPY on
PostgreSQL). Never commits: the service owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from payments.models import Invoice, InvoiceBatch, InvoiceLine
from regie.kit.bulk import bulk_insert
from regie.kit.database import row_of


async def references_taken(
    s: AsyncSession, service_id: str, references: Sequence[str], chunk: int = 1000
) -> set[str]:
    """Which of these references the service already used."""
    taken: set[str] = set()
    for i in range(0, len(references), chunk):
        stmt = select(col(Invoice.reference)).where(
            col(Invoice.service_id) == service_id,
            col(Invoice.reference).in_(references[i : i + chunk]),
        )
        taken.update(str(x) for x in (await s.execute(stmt)).scalars())
    return taken


async def insert_batch(
    s: AsyncSession,
    batch: InvoiceBatch,
    invoices: Sequence[dict[str, Any]],
    lines: Sequence[dict[str, Any]],
) -> None:
    """The batch row (a plain INSERT, which also begins the transaction), then its
    invoices and their lines in bulk."""
    await s.execute(insert(InvoiceBatch.__table__), [row_of(batch)])  # type: ignore[attr-defined]
    await bulk_insert(s, Invoice.__table__, invoices)  # type: ignore[attr-defined]
    await bulk_insert(s, InvoiceLine.__table__, lines)  # type: ignore[attr-defined]


async def set_batch_numbers(
    s: AsyncSession, batch: InvoiceBatch, ids: Sequence[str], numbers: Sequence[str]
) -> None:
    """Give the batch's invoices their gap-free numbers: one statement on PostgreSQL
    (``UPDATE … FROM unnest(ids, numbers)``), an executemany elsewhere."""
    table = Invoice.__table__  # type: ignore[attr-defined]
    batches = InvoiceBatch.__table__  # type: ignore[attr-defined]
    await s.execute(
        update(batches)
        .where(batches.c.id == batch.id)
        .values(first_number=batch.first_number, last_number=batch.last_number)
    )
    if (await s.connection()).dialect.name == "postgresql":
        await s.execute(
            text(
                "UPDATE invoices AS i SET number = v.number "
                "FROM unnest(CAST(:ids AS varchar[]), CAST(:numbers AS varchar[])) "
                "AS v(id, number) WHERE i.id = v.id"
            ),
            {"ids": list(ids), "numbers": list(numbers)},
        )
        return
    await s.execute(
        update(table).where(table.c.id == bindparam("b_id")).values(number=bindparam("b_number")),
        [{"b_id": i, "b_number": n} for i, n in zip(ids, numbers, strict=True)],
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
