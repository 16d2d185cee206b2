"""The finance search over invoices: filters, a page with its total, and a stream for exports.

A finance or admin principal sees every service's invoices; any other sees its own
(``access.scope``), as in the API.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from payments import repository as repo
from payments.models import Invoice
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


class InvoiceSearch:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _filters(principal: Principal, query: InvoiceQuery) -> dict[str, Any]:
        return {
            "service_id": scope(principal),
            "text": query.text,
            "status": query.status,
            "service_slug": query.service,
            "created_gte": query.created_gte,
            "created_lt": query.created_lt,
        }

    async def page(
        self, principal: Principal, query: InvoiceQuery, *, offset: int, limit: int
    ) -> InvoicePage:
        filters = self._filters(principal, query)
        async with self.db.session() as s:
            total = await repo.count_invoices(s, **filters)
            found = await repo.search_invoices(s, limit=limit, offset=offset, **filters)
        return InvoicePage([_row(inv, slug) for inv, slug in found], total)

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
