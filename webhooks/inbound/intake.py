"""Webhook intake: verify, store once, answer fast; and the catch-up that pulls from each
PSP the events its webhooks did not deliver."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col

from payments.providers.base import (
    MalformedEventError,
    PaymentProvider,
    ProviderError,
    ProviderEvent,
    SignatureError,
)
from payments.service import PaymentsService
from regie.kit.database import Database, utcnow
from regie.kit.errors import ApiError
from regie.kit.ids import new_id
from webhooks.inbound import shape
from webhooks.inbound.models import InboxEvent

log = logging.getLogger("regie.webhooks")


class EventIntake:
    def __init__(self, db: Database, payments: PaymentsService) -> None:
        self.db = db
        self.payments = payments

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
        except MalformedEventError:
            raise _malformed("The signed body is not a well-formed event.") from None
        except SignatureError:
            raise ApiError(
                400, "invalid_signature", "The webhook signature is missing, invalid or too old."
            ) from None
        why = shape.problem(event)
        if why is not None:  # never stored: it would fail at every attempt to apply it
            raise _malformed(f"The event is malformed: {why}.")
        if await self.payments.is_foreign(event, shared_account=provider.shared_account):
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
        are ignored by the inbox's unique index. Returns how many new events were stored.

        Each PSP is pulled on its own: one that is down is logged and tried again at the
        next run, and does not keep the others' lost events out of the inbox."""
        stored = 0
        for provider in self.payments.providers:
            try:
                stored += await self._catch_up_one(provider, overlap, max_age)
            except ProviderError as exc:
                log.warning(
                    "catch-up failed; will try again",
                    extra={"provider": provider.name, "kind": exc.kind},
                )
        return stored

    async def catch_up_from(self, since: dt.datetime) -> int:
        """Pull every PSP's events since ``since`` into the inbox, whatever was received
        since (reconciliation's healing of money the ledger never recorded)."""
        stored = 0
        for provider in self.payments.providers:
            stored += await self._pull(provider, since)
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
        return await self._pull(provider, since)

    async def _pull(self, provider: PaymentProvider, since: dt.datetime) -> int:
        stored = 0
        async for event in provider.list_events(since):
            why = shape.problem(event)
            if why is not None:
                log.error(
                    "catch-up: malformed event skipped",
                    extra={"provider": provider.name, "event": str(event.id)[:255], "why": why},
                )
                continue
            if await self.payments.is_foreign(event, shared_account=provider.shared_account):
                continue  # another integration's event on the same PSP account
            stored += await self.store(event)
        if stored:
            log.warning(
                "catch-up found events the webhooks had not delivered",
                extra={"provider": provider.name, "count": stored},
            )
        return stored


def _malformed(message: str) -> ApiError:
    # 400: the PSP stops retrying an event it will never get right
    return ApiError(400, "invalid_event", message)
