"""Webhook intake (store once, answer fast) and the worker that applies inbox events."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col

from payments.providers.base import (
    PaymentProvider,
    ProviderError,
    ProviderEvent,
    SignatureError,
)
from payments.service import PaymentsService
from regie.kit.database import Database, utcnow
from regie.kit.errors import ApiError
from regie.kit.ids import new_id
from regie.kit.uow import unit_of_work
from webhooks.backoff import next_delay
from webhooks.models import InboxEvent

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


class WebhookService:
    def __init__(self, db: Database, payments: PaymentsService, *, max_attempts: int = 8) -> None:
        self.db = db
        self.payments = payments
        self.max_attempts = max_attempts

    # ------------------------------------------------------------------ intake
    async def receive(
        self, provider_name: str, raw_body: bytes, headers: Mapping[str, str]
    ) -> bool | None:
        """Verify and store one event. Returns False when it was already stored, None when
        it is about a payment that is not regie's (stored nothing)."""
        provider = self.payments.providers.find(provider_name)
        if provider is None:
            raise ApiError(
                404, "unknown_provider", f"This regie does not take events from {provider_name!r}."
            )
        try:
            event = provider.parse_event(raw_body, headers)
        except SignatureError:
            raise ApiError(
                400, "invalid_signature", "The webhook signature is missing, invalid or too old."
            ) from None
        if (event.payment_ref or event.checkout_id) and not await self.payments.knows_payment(
            event
        ):
            if not provider.shared_account:
                raise ApiError(
                    404, "unknown_payment", "The event refers to a payment regie does not know."
                )
            # Another integration's payment on a shared account: answer 200 so the PSP does
            # not retry (and eventually disable the endpoint), and store nothing.
            log.info("webhook for a foreign payment ignored", extra={"event": event.id})
            return None
        return await self.store(event)

    async def store(self, event: ProviderEvent) -> bool:
        """Insert the event into the inbox once; False when it was already there."""
        now = utcnow()
        values = dict(
            id=new_id("evt"),
            provider=event.provider,
            event_id=event.id,
            event_type=event.type,
            raw_type=event.raw_type[:100],
            payment_ref=event.payment_ref,
            checkout_id=event.checkout_id,
            provider_payment_id=event.provider_payment_id,
            event_created_at=event.created,
            data=dict(event.data),
            status="pending",
            attempts=0,
            next_attempt_at=now,
            received_at=now,
        )
        table = InboxEvent.__table__  # type: ignore[attr-defined]
        # INSERT … ON CONFLICT DO NOTHING: concurrent duplicates race on the unique index
        dialect_insert = postgresql.insert if self.db.is_postgres else sqlite.insert
        stmt = (
            dialect_insert(table)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["provider", "event_id"])
        )
        async with self.db.session() as s:
            result = await s.execute(stmt)
            await s.commit()
        inserted = bool(result.rowcount)  # type: ignore[attr-defined]
        log.info(
            "webhook received",
            extra={
                "provider": event.provider,
                "event": event.id,
                "type": event.raw_type,
                "duplicate": not inserted,
            },
        )
        return inserted

    async def catch_up(
        self,
        overlap: dt.timedelta = dt.timedelta(hours=1),
        max_age: dt.timedelta = dt.timedelta(days=30),
    ) -> int:
        """Pull each registered PSP's events since the last one received from it (minus an
        overlap) into the inbox: after an outage, lost webhooks are found here. Duplicates
        are ignored by the inbox's unique index. Returns how many new events were stored."""
        stored = 0
        for provider in self.payments.providers:
            stored += await self._catch_up_one(provider, overlap, max_age)
        return stored

    async def _catch_up_one(
        self, provider: PaymentProvider, overlap: dt.timedelta, max_age: dt.timedelta
    ) -> int:
        async with self.db.session() as s:
            last = (
                await s.execute(
                    select(func.max(col(InboxEvent.event_created_at))).where(
                        col(InboxEvent.provider) == provider.name
                    )
                )
            ).scalar_one_or_none()
        now = utcnow()
        since = max(last - overlap, now - max_age) if last is not None else now - max_age
        stored = 0
        async for event in provider.list_events(since):
            if (event.payment_ref or event.checkout_id) and not await self.payments.knows_payment(
                event
            ):
                continue  # another integration's event on the same PSP account
            stored += await self.store(event)
        if stored:
            log.warning(
                "catch-up found events the webhooks had not delivered",
                extra={"provider": provider.name, "count": stored},
            )
        return stored

    # ------------------------------------------------------------------ worker
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
