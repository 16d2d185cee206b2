"""The worker's drain of the inbox: apply due events to payments, one transaction each,
retry failures with backoff (``backoff``) and dead-letter what keeps failing."""

from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlmodel import col

from payments.providers.base import ProviderError, ProviderEvent
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


class EventApplier:
    def __init__(self, db: Database, payments: PaymentsService, *, max_attempts: int = 8) -> None:
        self.db = db
        self.payments = payments
        self.max_attempts = max_attempts

    async def process_batch(self, limit: int = 20) -> int:
        """Apply up to ``limit`` due events; returns how many were handled."""
        now = utcnow()
        async with self.db.session() as s:
            stmt = (
                select(col(InboxEvent.id))
                .where(col(InboxEvent.status) == "pending", col(InboxEvent.next_attempt_at) <= now)
                .order_by(col(InboxEvent.event_created_at), col(InboxEvent.received_at))
                .limit(limit)
            )
            ids = list((await s.execute(stmt)).scalars())
        handled = 0
        for inbox_id in ids:
            handled += await self.process_one(inbox_id)
        return handled

    async def process_one(self, inbox_id: str) -> bool:
        async with self.db.session() as s:
            row = await s.get(InboxEvent, inbox_id)
            if row is None or row.status != "pending":
                return False
            event = _event_from_row(row)
        try:
            # the PSP's truth is read outside any transaction (no lock held over the network)
            truth = await self.payments.fetch_truth(event)
            async with unit_of_work(self.db, self.payments.bus) as uow:
                stmt = select(InboxEvent).where(
                    col(InboxEvent.id) == inbox_id, col(InboxEvent.status) == "pending"
                )
                if self.db.is_postgres:
                    stmt = stmt.with_for_update(skip_locked=True)
                locked = (await uow.session.execute(stmt)).scalar_one_or_none()
                if locked is None:
                    return False  # another worker has it, or it is already done
                outcome = await self.payments.apply_provider_event(uow, event, truth)
                locked.status = "ignored" if outcome.startswith("ignored") else "done"
                locked.outcome, locked.processed_at = outcome[:200], utcnow()
                locked.attempts += 1
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
