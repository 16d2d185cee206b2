"""Queries of ``payments``. Never commits: the service owns the transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Executable, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from payments.models import Invoice, InvoiceLine, Payment, Refund
from payments.states import InvoiceStatus, PaymentStatus, RefundStatus
from regie.kit.tenancy import Service


async def get_invoice(
    s: AsyncSession, invoice_id: str, *, service_id: str | None = None, lock: bool = False
) -> Invoice | None:
    stmt = select(Invoice).where(col(Invoice.id) == invoice_id)
    if service_id is not None:
        stmt = stmt.where(col(Invoice.service_id) == service_id)
    if lock:  # the row as it is once locked, not a copy this session read before
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await s.execute(stmt)).scalar_one_or_none()


async def get_invoice_by_token(
    s: AsyncSession, token: str, *, lock: bool = False
) -> Invoice | None:
    stmt = select(Invoice).where(col(Invoice.pay_token) == token)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await s.execute(stmt)).scalar_one_or_none()


async def lines_of(s: AsyncSession, invoice_ids: Sequence[str]) -> dict[str, list[InvoiceLine]]:
    out: dict[str, list[InvoiceLine]] = {i: [] for i in invoice_ids}
    if not invoice_ids:
        return out
    stmt = (
        select(InvoiceLine)
        .where(col(InvoiceLine.invoice_id).in_(invoice_ids))
        .order_by(col(InvoiceLine.invoice_id), col(InvoiceLine.position))
    )
    for line in (await s.execute(stmt)).scalars():
        out[line.invoice_id].append(line)
    return out


async def payments_of(s: AsyncSession, invoice_ids: Sequence[str]) -> dict[str, list[Payment]]:
    out: dict[str, list[Payment]] = {i: [] for i in invoice_ids}
    if not invoice_ids:
        return out
    stmt = select(Payment).where(col(Payment.invoice_id).in_(invoice_ids)).order_by(col(Payment.id))
    for p in (await s.execute(stmt)).scalars():
        out[p.invoice_id].append(p)
    return out


async def service_slugs(s: AsyncSession, service_ids: Sequence[str]) -> dict[str, str]:
    if not service_ids:
        return {}
    stmt = select(col(Service.id), col(Service.slug)).where(col(Service.id).in_(set(service_ids)))
    return {row[0]: row[1] for row in (await s.execute(stmt)).all()}


async def get_service(s: AsyncSession, service_id: str) -> Service | None:
    return await s.get(Service, service_id)


async def service_slug(s: AsyncSession, service_id: str) -> str:
    """The slug of a service (its ledger accounts are named after it); its id if it is gone."""
    svc = await get_service(s, service_id)
    return svc.slug if svc else service_id


BOUNDED_PERIOD = dt.timedelta(days=92)  # a quarter


def _period_id_bounds(
    created_gte: dt.datetime | None, created_lt: dt.datetime | None
) -> list[ColumnElement[bool]]:
    """For a creation period read newest first (``ORDER BY id DESC LIMIT n``): ``id``
    between the lowest and the highest id of the period's invoices, so that PostgreSQL
    walks the primary key from the period's newest invoice to its oldest, not from the
    newest invoice of all (a February page read 838,000 invoices of a million, filtering
    on ``created_at``). Read from the index on (created_at, id) in the same statement (one
    snapshot), they change no result: ids are not derived from ``created_at`` (minted
    after it, a batch's ids over its import, the same millisecond across processes), so
    no bound is guessed from the period's dates. The derived table (``OFFSET 0``) keeps
    PostgreSQL from reading max(id) by the same walk. Only for a period closed at both
    ends and of at most ``BOUNDED_PERIOD``: the bounds read every id of the period (twice,
    about 25 ms for a month of a million-invoice year), while the walk over a wide period
    ending now finds its page at once (a whole year bounded took 450 ms, unbounded 1 ms)."""
    if created_gte is None or created_lt is None or created_lt - created_gte > BOUNDED_PERIOD:
        return []
    period = (
        select(col(Invoice.id).label("id"))
        .where(col(Invoice.created_at) >= created_gte, col(Invoice.created_at) < created_lt)
        .offset(0)
        .subquery()
    )
    lowest = select(func.min(period.c.id)).scalar_subquery()
    highest = select(func.max(period.c.id)).scalar_subquery()
    return [col(Invoice.id) >= lowest, col(Invoice.id) <= highest]


async def list_invoices(
    s: AsyncSession,
    *,
    service_id: str | None,
    limit: int,
    starting_after: str | None,
    status: str | None,
    reference: str | None,
    created_gte: dt.datetime | None,
    created_lt: dt.datetime | None,
    metadata_key: str | None,
    metadata_value: str | None,
) -> list[Invoice]:
    stmt = select(Invoice)
    if service_id is not None:
        stmt = stmt.where(col(Invoice.service_id) == service_id)
    if starting_after is not None:
        stmt = stmt.where(col(Invoice.id) < starting_after)
    if status is not None:
        stmt = stmt.where(col(Invoice.status) == status)
    if reference is not None:
        stmt = stmt.where(col(Invoice.reference) == reference)
    if created_gte is not None:
        stmt = stmt.where(col(Invoice.created_at) >= created_gte)
    if created_lt is not None:
        stmt = stmt.where(col(Invoice.created_at) < created_lt)
    stmt = stmt.where(*_period_id_bounds(created_gte, created_lt))
    if metadata_key is not None:
        column = Invoice.__table__.c.metadata  # type: ignore[attr-defined]
        if metadata_value is None:
            stmt = stmt.where(column[metadata_key].as_string().is_not(None))
        else:
            stmt = stmt.where(column[metadata_key].as_string() == metadata_value)
    stmt = stmt.order_by(col(Invoice.id).desc()).limit(limit)
    return list((await s.execute(stmt)).scalars())


async def get_payment(
    s: AsyncSession, payment_id: str, *, service_id: str | None = None, lock: bool = False
) -> Payment | None:
    stmt = select(Payment).where(col(Payment.id) == payment_id)
    if service_id is not None:
        stmt = stmt.where(col(Payment.service_id) == service_id)
    if lock:  # what the lock protects is re-read, not taken from the session's earlier read
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await s.execute(stmt)).scalar_one_or_none()


async def find_payment_for_provider(
    s: AsyncSession, provider: str, *, payment_ref: str | None, checkout_id: str | None
) -> Payment | None:
    if payment_ref:
        p = await get_payment(s, payment_ref)
        if p is not None and p.provider == provider:
            return p
    if checkout_id:
        stmt = select(Payment).where(
            col(Payment.provider) == provider, col(Payment.checkout_id) == checkout_id
        )
        return (await s.execute(stmt)).scalar_one_or_none()
    return None


async def pending_payments_of(s: AsyncSession, invoice_id: str) -> list[Payment]:
    stmt = select(Payment).where(
        col(Payment.invoice_id) == invoice_id, col(Payment.status) == PaymentStatus.pending
    )
    return list((await s.execute(stmt)).scalars())


async def pending_due_for_check(s: AsyncSession, now: dt.datetime, limit: int) -> list[str]:
    stmt = (
        select(col(Payment.id))
        .where(
            col(Payment.status) == PaymentStatus.pending,
            col(Payment.next_check_at) <= now,
            col(Payment.checkout_id).is_not(None),
        )
        .order_by(col(Payment.next_check_at))
        .limit(limit)
    )
    return list((await s.execute(stmt)).scalars())


async def checkouts_to_close(
    s: AsyncSession, now: dt.datetime, limit: int
) -> list[tuple[str, int]]:
    """Payments whose checkout is to be closed at the PSP now: (id, attempts so far)."""
    stmt = (
        select(col(Payment.id), col(Payment.close_attempts))
        .where(col(Payment.close_checkout_at) <= now)
        .order_by(col(Payment.close_checkout_at))
        .limit(limit)
    )
    return [(str(i), int(n)) for i, n in (await s.execute(stmt)).all()]


async def due_for_expiry(s: AsyncSession, now: dt.datetime, limit: int) -> list[str]:
    stmt = (
        select(col(Invoice.id))
        .where(col(Invoice.status) == InvoiceStatus.open, col(Invoice.expires_at) <= now)
        .order_by(col(Invoice.expires_at))
        .limit(limit)
    )
    return list((await s.execute(stmt)).scalars())


async def refunds_of(s: AsyncSession, invoice_ids: Sequence[str]) -> dict[str, list[Refund]]:
    out: dict[str, list[Refund]] = {i: [] for i in invoice_ids}
    if not invoice_ids:
        return out
    stmt = select(Refund).where(col(Refund.invoice_id).in_(invoice_ids)).order_by(col(Refund.id))
    for r in (await s.execute(stmt)).scalars():
        out[r.invoice_id].append(r)
    return out


async def get_refund(s: AsyncSession, refund_id: str, *, lock: bool = False) -> Refund | None:
    stmt = select(Refund).where(col(Refund.id) == refund_id)
    if lock:  # what the lock protects is re-read, not taken from the session's earlier read
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await s.execute(stmt)).scalar_one_or_none()


async def refund_by_provider_id(
    s: AsyncSession, provider: str, provider_refund_id: str
) -> Refund | None:
    stmt = select(Refund).where(
        col(Refund.provider) == provider, col(Refund.provider_refund_id) == provider_refund_id
    )
    return (await s.execute(stmt)).scalar_one_or_none()


async def payment_by_provider_id(
    s: AsyncSession, provider: str, provider_payment_id: str
) -> Payment | None:
    stmt = select(Payment).where(
        col(Payment.provider) == provider, col(Payment.provider_payment_id) == provider_payment_id
    )
    return (await s.execute(stmt)).scalars().first()


async def refunds_due(
    s: AsyncSession, now: dt.datetime, limit: int
) -> list[tuple[str, dt.datetime | None]]:
    """Pending refunds the PSP has not acknowledged yet, due for a (re)try: each id with
    the time it was due (a sweep that postpones it counts an attempt only if no other
    sweep rescheduled it since)."""
    stmt = (
        select(col(Refund.id), col(Refund.next_attempt_at))
        .where(
            col(Refund.status) == RefundStatus.pending,
            col(Refund.provider_refund_id).is_(None),
            col(Refund.next_attempt_at) <= now,
        )
        .order_by(col(Refund.next_attempt_at))
        .limit(limit)
    )
    return [(ref, at) for ref, at in (await s.execute(stmt)).all()]


async def known_provider_payment_ids(
    s: AsyncSession, provider: str, provider_payment_ids: Collection[str]
) -> set[str]:
    """Which of these PSP payment ids are regie's own payments."""
    if not provider_payment_ids:
        return set()
    stmt = select(col(Payment.provider_payment_id)).where(
        col(Payment.provider) == provider,
        col(Payment.provider_payment_id).in_(list(provider_payment_ids)),
    )
    return {str(x) for x in (await s.execute(stmt)).scalars() if x}


def _contains(column: Any, text: str) -> ColumnElement[bool]:
    """``text`` is in ``column``, in any case (a LIKE wildcard in it is a character)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")  # type: ignore[no-any-return]


def _search_conditions(
    *,
    service_id: str | None,
    text: str | None,
    status: str | None,
    service_slug: str | None,
    created_gte: dt.datetime | None,
    created_lt: dt.datetime | None,
    text_key: str | None = None,
) -> list[ColumnElement[bool]]:
    """The WHERE of the finance search: ``text`` (in NFC, the form the payer's name and the
    description are stored in) is found (case-insensitively) in those, ``text_key`` (the same
    text in NFKC, the form of references) in the number or the reference, or is the
    invoice's id (``text_key`` defaults to ``text``)."""
    conditions: list[ColumnElement[bool]] = []
    if service_id is not None:
        conditions.append(col(Invoice.service_id) == service_id)
    if service_slug is not None:
        slug_id = select(col(Service.id)).where(col(Service.slug) == service_slug)
        conditions.append(col(Invoice.service_id) == slug_id.scalar_subquery())
    if status is not None:
        conditions.append(col(Invoice.status) == status)
    if created_gte is not None:
        conditions.append(col(Invoice.created_at) >= created_gte)
    if created_lt is not None:
        conditions.append(col(Invoice.created_at) < created_lt)
    if text:
        text_key = text_key or text
        conditions.append(
            or_(
                col(Invoice.id) == text_key,
                *(_contains(c, text_key) for c in (col(Invoice.number), col(Invoice.reference))),
                *(_contains(c, text) for c in (col(Invoice.payer_name), col(Invoice.description))),
            )
        )
    return conditions


async def search_invoices(
    s: AsyncSession,
    *,
    limit: int,
    offset: int = 0,
    before_id: str | None = None,
    oldest_first: bool = False,
    **filters: Any,
) -> list[tuple[Invoice, str]]:
    """Invoices matching ``filters`` (see ``_search_conditions``) with their service's slug,
    newest first (or ``oldest_first``); a page by ``offset``, or the next batch after
    ``before_id``."""
    stmt = (
        select(Invoice, col(Service.slug))
        .join(Service, col(Service.id) == col(Invoice.service_id))
        .where(*_search_conditions(**filters))
    )
    if before_id is not None:  # an export's next batch: the walk starts in the period
        stmt = stmt.where(col(Invoice.id) < before_id)
    else:
        stmt = stmt.where(*_period_id_bounds(filters["created_gte"], filters["created_lt"]))
    order = col(Invoice.id).asc() if oldest_first else col(Invoice.id).desc()
    stmt = stmt.order_by(order).offset(offset).limit(limit)
    return [(row[0], row[1]) for row in (await s.execute(stmt)).all()]


async def count_invoices(s: AsyncSession, **filters: Any) -> int:
    stmt = select(func.count()).select_from(Invoice).where(*_search_conditions(**filters))
    return int((await s.execute(stmt)).scalar_one())


# --- the hot path of invoice creation: Core statements, no unit of work -------------------
def invoice_writes(invoice: dict[str, Any], lines: Sequence[dict[str, Any]]) -> list[Executable]:
    """The INSERTs of a new invoice and its lines (rows as stored), for the caller to send
    with its other writes (``regie.kit.bulk.write_together``)."""
    return [  # single-row INSERTs: cached compiled forms (see ledger.new_entry_writes)
        insert(Invoice.__table__).values(invoice),  # type: ignore[attr-defined]
        *(insert(InvoiceLine.__table__).values(row) for row in lines),  # type: ignore[attr-defined]
    ]
