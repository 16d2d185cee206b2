"""The worker's drain of the inbox: claim due events in batches (with a lease, so several
workers share the inbox), re-read the PSP's truth of a batch concurrently outside any
transaction, apply each event in its own short transaction, retry failures with backoff
(``backoff``) and dead-letter what keeps failing."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from sqlalchemy import select, update
from sqlmodel import col

from payments.providers.base import ProviderError, ProviderEvent, ProviderTruth
from payments.service import PaymentsService
from regie.kit.database import Database, utcnow
from regie.kit.uow import unit_of_work
from webhooks.inbound.backoff import next_delay
from webhooks.inbound.models import InboxEvent

log = logging.getLogger("regie.webhooks")


def _event_from_row(row: InboxEvent) -> ProviderEvent:
    return ProviderEvent(
        id=row.event_id,
        provider=row.provider,
        type=row.event_type,
        raw_type=row.raw_type,
        created=row.event_created_at,
        checkout_id=row.checkout_id,
        provider_payment_id=row.provider_payment_id,
        payment_ref=row.payment_ref,
        data=row.data,
    )


#: How long a claimed event is left to the worker that claimed it: another worker skips it
#: meanwhile, and takes it over only if that worker died (``REGIE_WORKER_LEASE_SECONDS``).
LEASE = dt.timedelta(seconds=30)
#: How many truth fetches of a batch are in flight at once.
FETCHES_AT_ONCE = 8


class EventApplier:
    def __init__(
        self,
        db: Database,
        payments: PaymentsService,
        *,
        max_attempts: int = 8,
        fetches_at_once: int = FETCHES_AT_ONCE,
        lease: dt.timedelta = LEASE,
    ) -> None:
        self.lease = lease
        self.db = db
        self.payments = payments
        self.max_attempts = max_attempts
        self.fetches_at_once = fetches_at_once

    async def claim(self, limit: int) -> list[tuple[str, ProviderEvent]]:
        """Claim up to ``limit`` due events in one short transaction: their next attempt is
        moved a lease ahead, so that another worker's claim skips them (``FOR UPDATE SKIP
        LOCKED`` on PostgreSQL keeps two claims from taking the same rows)."""
        now = utcnow()
        async with self.db.session() as s:
            due = (
                select(InboxEvent)
                .where(col(InboxEvent.status) == "pending", col(InboxEvent.next_attempt_at) <= now)
                .order_by(col(InboxEvent.event_created_at), col(InboxEvent.received_at))
                .limit(limit)
            )
            if self.db.is_postgres:
                due = due.with_for_update(skip_locked=True)
            rows = list((await s.execute(due)).scalars())
            if not rows:
                await s.rollback()
                return []
            claimed = [(row.id, _event_from_row(row)) for row in rows]
            await s.execute(
                update(InboxEvent)
                .where(col(InboxEvent.id).in_([i for i, _ in claimed]))
                .values(next_attempt_at=now + self.lease)
                .execution_options(synchronize_session=False)
            )
            await s.commit()
        return claimed

    async def process_batch(self, limit: int = 20) -> int:
        """Apply up to ``limit`` due events; returns how many were handled. The batch is
        claimed at once, the PSP's truth of every event is re-read concurrently outside any
        transaction, then each event is applied in its own short transaction."""
        claimed = await self.claim(limit)
        if not claimed:
            return 0
        bound = asyncio.Semaphore(self.fetches_at_once)

        async def fetch(event: ProviderEvent) -> ProviderTruth | None:
            async with bound:
                return await self.payments.fetch_truth(event)

        truths = await asyncio.gather(
            *(fetch(event) for _, event in claimed), return_exceptions=True
        )
        handled = 0
        for (inbox_id, event), truth in zip(claimed, truths, strict=True):
            if isinstance(truth, BaseException):
                if not isinstance(truth, Exception):
                    raise truth  # a cancellation, not the PSP's answer
                await self._record_failure(inbox_id, truth)
                continue
            handled += await self._apply(inbox_id, event, truth)
        return handled

    async def process_one(self, inbox_id: str) -> bool:
        """Apply one event by its inbox id (claimed or not): the truth first, outside any
        transaction, then the event under its row lock."""
        async with self.db.session() as s:
            row = await s.get(InboxEvent, inbox_id)
            if row is None or row.status != "pending":
                return False
            event = _event_from_row(row)
        try:
            # the PSP's truth is read outside any transaction (no lock held over the network)
            truth = await self.payments.fetch_truth(event)
        except Exception as exc:  # noqa: BLE001 - recorded on the row, retried with backoff
            await self._record_failure(inbox_id, exc)
            return False
        return await self._apply(inbox_id, event, truth)

    async def _apply(
        self, inbox_id: str, event: ProviderEvent, truth: ProviderTruth | None
    ) -> bool:
        """One event in its own transaction: the inbox row locked and still pending, or
        nothing happens (exactly once, whatever the other workers do)."""
        try:
            async with unit_of_work(self.db, self.payments.bus) as uow:
                stmt = select(col(InboxEvent.attempts)).where(
                    col(InboxEvent.id) == inbox_id, col(InboxEvent.status) == "pending"
                )
                if self.db.is_postgres:
                    stmt = stmt.with_for_update(skip_locked=True)
                if (await uow.session.execute(stmt)).first() is None:
                    return False  # another worker has it, or it is already done
                outcome = await self.payments.apply_provider_event(uow, event, truth)
                await uow.session.execute(
                    update(InboxEvent)
                    .where(col(InboxEvent.id) == inbox_id)
                    .values(
                        status="ignored" if outcome.startswith("ignored") else "done",
                        outcome=outcome[:200],
                        processed_at=utcnow(),
                        attempts=col(InboxEvent.attempts) + 1,
                    )
                    .execution_options(synchronize_session=False)
                )
                await uow.commit()
            log.info("webhook applied", extra={"event": event.id, "outcome": outcome})
            return True
        except Exception as exc:  # noqa: BLE001 - recorded on the row, retried with backoff
            await self._record_failure(inbox_id, exc)
            return False

    async def _record_failure(self, inbox_id: str, exc: Exception) -> None:
        kind = exc.kind if isinstance(exc, ProviderError) else type(exc).__name__
        message = f"{kind}: {exc}"[:1000]
        async with self.db.session() as s:
            row = await s.get(InboxEvent, inbox_id, with_for_update=True)
            if row is None or row.status != "pending":
                return
            row.attempts += 1
            row.last_error = message
            if row.attempts >= self.max_attempts:
                row.status = "dead"
                log.error(
                    "webhook dead-lettered", extra={"event": row.event_id, "attempts": row.attempts}
                )
            else:
                row.next_attempt_at = utcnow() + next_delay(row.attempts)
                log.warning(
                    "webhook failed; will retry",
                    extra={"event": row.event_id, "attempts": row.attempts},
                )
            await s.commit()

    async def retry_dead(self, inbox_id: str) -> None:
        async with self.db.session() as s:
            await s.execute(
                update(InboxEvent)
                .where(col(InboxEvent.id) == inbox_id, col(InboxEvent.status) == "dead")
                .values(status="pending", next_attempt_at=utcnow())
            )
            await s.commit()
