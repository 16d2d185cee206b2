"""The finance search over invoices: filters, a page with its total, and a stream for exports.

A finance or admin principal sees every service's invoices; any other sees its own
(``access.scope``), as in the API.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from payments import repository as repo
from payments.models import Invoice
from payments.schemas import reference_key
from payments.service.access import scope
from regie.kit.auth import Principal
from regie.kit.database import Database

EXPORT_BATCH = 500


@dataclass(frozen=True)
class InvoiceQuery:
    text: str | None = None  # in the number, reference, payer's name or description; or the id
    status: str | None = None
    service: str | None = None  # a service's slug
    created_gte: dt.datetime | None = None
    created_lt: dt.datetime | None = None


@dataclass(frozen=True)
class InvoiceRow:
    id: str
    number: str
    service: str
    reference: str
    description: str
    payer_name: str
    status: str
    currency: str
    amount_total: int
    amount_paid: int
    amount_refunded: int
    created_at: dt.datetime
    paid_at: dt.datetime | None


@dataclass(frozen=True)
class InvoicePage:
    rows: list[InvoiceRow]
    total: int
    number: int  # this page's, from 1 (a page past the last is the last)
    pages: int  # at least 1


def _row(inv: Invoice, slug: str) -> InvoiceRow:
    return InvoiceRow(
        id=inv.id,
        number=inv.number,
        service=slug,
        reference=inv.reference,
        description=inv.description,
        payer_name=inv.payer_name,
        status=inv.status,
        currency=inv.currency,
        amount_total=inv.amount_total,
        amount_paid=inv.amount_paid,
        amount_refunded=inv.amount_refunded,
        created_at=inv.created_at,
        paid_at=inv.paid_at,
    )


def page_window(total: int, number: int, size: int) -> tuple[int, int, bool]:
    """How to read page ``number`` of ``size`` rows of ``total`` ordered newest first: the
    rows to skip, how many to read, and whether from the oldest end. A page nearer the end is
    read from the oldest end (then turned round), so at most half the rows are skipped."""
    skip = (number - 1) * size  # newest first
    after = total - skip  # the rows from this page's first to the oldest
    if skip <= after:
        return skip, size, False
    return max(0, after - size), min(size, after), True


class InvoiceSearch:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _filters(principal: Principal, query: InvoiceQuery) -> dict[str, Any]:
        text = query.text or None
        return {
            "service_id": scope(principal),
            # compared in the forms stored (payments.schemas, migration 0039): a decomposed
            # "é" or a fullwidth "７" typed finds what it looks like
            "text": unicodedata.normalize("NFC", text) if text else None,
            "text_key": (reference_key(text) or text) if text else None,
            "status": query.status,
            "service_slug": query.service,
            "created_gte": query.created_gte,
            "created_lt": query.created_lt,
        }

    async def page(
        self, principal: Principal, query: InvoiceQuery, *, number: int, size: int
    ) -> InvoicePage:
        """Page ``number`` (from 1; one past the last is the last) of ``size`` invoices,
        newest first. A page in the older half is read from the oldest end and turned round:
        the database skips the rows before a page one by one, so the last page of a million
        invoices would walk past all the others (``page_window``)."""
        filters = self._filters(principal, query)
        async with self.db.session() as s:
            total = await repo.count_invoices(s, **filters)
            pages = max(1, -(-total // size))
            number = min(max(number, 1), pages)
            offset, limit, oldest_first = page_window(total, number, size)
            found = await repo.search_invoices(
                s, limit=limit, offset=offset, oldest_first=oldest_first, **filters
            )
        if oldest_first:
            found.reverse()
        return InvoicePage([_row(inv, slug) for inv, slug in found], total, number, pages)

    async def stream(self, principal: Principal, query: InvoiceQuery) -> AsyncIterator[InvoiceRow]:
        """Every matching invoice, newest first, read in batches (one short read each)."""
        filters = self._filters(principal, query)
        before: str | None = None
        while True:
            async with self.db.session() as s:
                found = await repo.search_invoices(
                    s, limit=EXPORT_BATCH, before_id=before, **filters
                )
            for inv, slug in found:
                yield _row(inv, slug)
            if len(found) < EXPORT_BATCH:
                return
            before = found[-1][0].id
