"""Receipt PDFs, rendered after the commit that issued them.

The issuing transaction stores the receipt's number and frozen snapshot and queues it in
``receipt_renders``. The worker's drain (``render_due``) claims queued receipts with a
lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers share the queue),
renders them outside any transaction and stores each file with its SHA-256. A download
that comes first renders on the spot (``pdf_of``). Both store with ``INSERT … ON CONFLICT
DO NOTHING`` on the receipt's id and then serve the stored row, so two racing renders
store one file, and since rendering is deterministic from the snapshot, both made the
same bytes anyway.

The lease a claim set (the receipt's ``lease_until``) is also the claim's fencing token, as
in the inbox (``webhooks.inbound.apply``): a failed render is put off to its retry time only
while the row still holds that lease. A worker whose render outlived its lease, while
another worker took the receipt over, leaves the other's lease alone and logs ``receipt
render lease lost``. (A render that succeeded late is stored all the same, and its queue
entry removed: the file is what the other worker would store.)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from receipts.models import Receipt, ReceiptFile, ReceiptRender
from receipts.rendering import pdf_of_snapshot
from regie.kit.database import Database, utcnow

log = logging.getLogger("regie.receipts")

# a worker that died: another takes its receipts over then (REGIE_WORKER_LEASE_SECONDS)
LEASE = dt.timedelta(seconds=30)
RETRY = dt.timedelta(minutes=5)  # a render that failed is tried again after this


class ReceiptIntegrityError(RuntimeError):
    """A stored receipt no longer matches its SHA-256: never served."""


def queue(session: AsyncSession, receipt_id: str, now: dt.datetime) -> None:
    """Queue a receipt for rendering, in the transaction that issues it."""
    session.add(ReceiptRender(receipt_id=receipt_id, queued_at=now))


class ReceiptFiles:
    def __init__(self, db: Database, *, lease: dt.timedelta = LEASE) -> None:
        self.db = db
        self.lease = lease

    async def _store(self, s: AsyncSession, receipt_id: str, pdf: bytes) -> None:
        values = {
            "receipt_id": receipt_id,
            "sha256": hashlib.sha256(pdf).hexdigest(),
            "pdf": pdf,
            "rendered_at": utcnow(),
        }
        insert = postgresql.insert if self.db.is_postgres else sqlite.insert
        await s.execute(
            insert(ReceiptFile)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["receipt_id"])
        )

    async def _claim(self, limit: int) -> tuple[dt.datetime, list[tuple[str, dict[str, Any]]]]:
        """Claim up to ``limit`` due receipts; returns the lease it set, which is the claim's
        fencing token, and the receipts with their snapshots."""
        now = utcnow()
        lease = now + self.lease
        async with self.db.session() as s:
            due = (
                select(col(ReceiptRender.receipt_id))
                .where(
                    or_(
                        col(ReceiptRender.lease_until).is_(None),
                        col(ReceiptRender.lease_until) <= now,
                    )
                )
                .order_by(col(ReceiptRender.queued_at))
                .limit(limit)
            )
            if self.db.is_postgres:
                due = due.with_for_update(skip_locked=True)
            ids = list((await s.execute(due)).scalars())
            if not ids:
                await s.rollback()
                return lease, []
            await s.execute(
                update(ReceiptRender)
                .where(col(ReceiptRender.receipt_id).in_(ids))
                .values(lease_until=lease, attempts=col(ReceiptRender.attempts) + 1)
            )
            rows = await s.execute(
                select(col(Receipt.id), col(Receipt.document)).where(col(Receipt.id).in_(ids))
            )
            found = [(str(i), dict(d)) for i, d in rows.all()]
            await s.commit()
        # a later claim of these receipts is made once this lease lapsed, so sets a later one
        return lease, found

    async def render_due(self, limit: int = 20) -> int:
        """The worker's drain: render up to ``limit`` queued receipts; returns how many."""
        lease, claimed = await self._claim(limit)
        if not claimed:
            return 0
        rendered: list[tuple[str, bytes]] = []
        failed: list[str] = []
        for receipt_id, document in claimed:
            try:  # CPU-bound: off the event loop, outside any transaction
                rendered.append((receipt_id, await asyncio.to_thread(pdf_of_snapshot, document)))
            except Exception as exc:
                log.error(
                    "receipt render failed",
                    extra={"receipt": receipt_id, "error_class": type(exc).__name__},
                    exc_info=exc,
                )
                failed.append(receipt_id)
        async with self.db.session() as s:
            for receipt_id, pdf in rendered:
                await self._store(s, receipt_id, pdf)
            if rendered:
                done = [r for r, _ in rendered]
                await s.execute(
                    delete(ReceiptRender).where(col(ReceiptRender.receipt_id).in_(done))
                )
            lost: list[str] = []
            for receipt_id in failed:  # only while this claim's lease is still the row's
                put_off = await s.execute(
                    update(ReceiptRender)
                    .where(
                        col(ReceiptRender.receipt_id) == receipt_id,
                        col(ReceiptRender.lease_until) == lease,
                    )
                    .values(lease_until=utcnow() + RETRY)
                )
                if put_off.rowcount == 0:  # type: ignore[attr-defined]
                    lost.append(receipt_id)
            await s.commit()
        for receipt_id in lost:
            log.warning(
                "receipt render lease lost; left to the worker that took it over",
                extra={"receipt": receipt_id},
            )
        return len(claimed)

    async def pdf_of(self, receipt: Receipt) -> tuple[bytes, str]:
        """The receipt's PDF and SHA-256 as stored, checked against each other; rendered
        and stored first if no worker has done it yet."""
        if receipt.pdf is not None and receipt.sha256 is not None:  # issued before 0020
            return _checked(receipt.id, receipt.pdf, receipt.sha256)
        stored = await self._stored(receipt.id)
        if stored is None:
            pdf = await asyncio.to_thread(pdf_of_snapshot, receipt.document)
            async with self.db.session() as s:
                await self._store(s, receipt.id, pdf)
                await s.commit()
            stored = await self._stored(receipt.id)
            assert stored is not None
        return _checked(receipt.id, *stored)

    async def _stored(self, receipt_id: str) -> tuple[bytes, str] | None:
        async with self.db.session() as s:
            row = (
                await s.execute(
                    select(col(ReceiptFile.pdf), col(ReceiptFile.sha256)).where(
                        col(ReceiptFile.receipt_id) == receipt_id
                    )
                )
            ).first()
        return (bytes(row[0]), str(row[1])) if row is not None else None


def _checked(receipt_id: str, pdf: bytes, sha256: str) -> tuple[bytes, str]:
    if hashlib.sha256(pdf).hexdigest() != sha256:
        log.error("stored receipt does not match its hash", extra={"receipt": receipt_id})
        raise ReceiptIntegrityError(receipt_id)
    return pdf, sha256
