"""The worker's drain of the inbox: claim due events in batches (with a lease, so several
workers share the inbox), re-read the PSP's truth of a batch concurrently outside any
transaction, apply each event in its own short transaction, retry failures with backoff
(``backoff``) and dead-letter what keeps failing.

The lease is the event's ``next_attempt_at`` as the claim set it, and it is also the
claim's fencing token: whatever a worker records of an event (applied, failed, deferred)
is recorded only if the event's ``next_attempt_at`` is still the one its claim set. A
worker that outlived its lease (a slow fetch of the truth) while another worker took the
event over records nothing and logs ``webhook lease lost``: a failure is counted once, by
the worker that holds the event, and the event is applied by that worker alone.

An event that is regie's but cannot be applied yet (``NotYetApplicable``: a refund or a
dispute whose payment's success has not come) stays pending and is tried again
(``backoff.defer_delay``)
until ``backoff.DEFER_FOR``, then dead-lettered. When a payment's event is applied, the
deferred events about that payment are woken and applied right after it."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from payments.providers.base import ProviderError, ProviderEvent, ProviderPayment, ProviderTruth
from payments.service import NeverApplicable, NotYetApplicable, PaymentsService
from regie.kit.database import Database, utcnow
from regie.kit.logging import mask
from regie.kit.uow import unit_of_work
from webhooks.inbound.backoff import DEFER_FOR, defer_delay, next_delay
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
#: meanwhile, and takes it over once it lapses (``REGIE_WORKER_LEASE_SECONDS``): the worker
#: died, or is still waiting for the PSP, and then what it finds is not recorded.
LEASE = dt.timedelta(seconds=30)
#: How many truth fetches of a batch are in flight at once.
FETCHES_AT_ONCE = 8
#: What the inbox says of an event waiting for another (``last_error``'s prefix).
DEFERRED = "deferred: "


class EventApplier:
    def __init__(
        self,
        db: Database,
        payments: PaymentsService,
        *,
        max_attempts: int = 8,
        fetches_at_once: int = FETCHES_AT_ONCE,
        lease: dt.timedelta = LEASE,
        defer_for: dt.timedelta = DEFER_FOR,
    ) -> None:
        self.lease = lease
        self.defer_for = defer_for
        self.db = db
        self.payments = payments
        self.max_attempts = max_attempts
        self.fetches_at_once = fetches_at_once

    async def claim(self, limit: int) -> list[tuple[str, ProviderEvent]]:
        """Claim up to ``limit`` due events in one short transaction: their next attempt is
        moved a lease ahead, so that another worker's claim skips them (``FOR UPDATE SKIP
        LOCKED`` on PostgreSQL keeps two claims from taking the same rows)."""
        return (await self._claim(limit))[1]

    async def _claim(
        self, limit: int, inbox_id: str | None = None
    ) -> tuple[dt.datetime, list[tuple[str, ProviderEvent]]]:
        """``claim``, and the lease it set (the events' new ``next_attempt_at``), which is
        the claim's fencing token; only the event ``inbox_id`` if given."""
        now = utcnow()
        lease = now + self.lease
        async with self.db.session() as s:
            due = (
                select(InboxEvent)
                .where(col(InboxEvent.status) == "pending", col(InboxEvent.next_attempt_at) <= now)
                .order_by(col(InboxEvent.event_created_at), col(InboxEvent.received_at))
                .limit(limit)
            )
            if inbox_id is not None:
                due = due.where(col(InboxEvent.id) == inbox_id)
            if self.db.is_postgres:
                due = due.with_for_update(skip_locked=True)
            rows = list((await s.execute(due)).scalars())
            if not rows:
                await s.rollback()
                return lease, []
            claimed = [(row.id, _event_from_row(row)) for row in rows]
            await s.execute(
                update(InboxEvent)
                .where(col(InboxEvent.id).in_([i for i, _ in claimed]))
                .values(next_attempt_at=lease)
                .execution_options(synchronize_session=False)
            )
            await s.commit()
        # a later claim of these events is made once this lease lapsed, so sets a later one:
        # the lease a claim set is never set again by another
        return lease, claimed

    async def process_batch(self, limit: int = 20) -> int:
        """Apply up to ``limit`` due events; returns how many were handled. The batch is
        claimed at once, the PSP's truth of every event is re-read concurrently outside any
        transaction, then each event is applied in its own short transaction."""
        lease, claimed = await self._claim(limit)
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
        woken: list[str] = []
        for (inbox_id, event), truth in zip(claimed, truths, strict=True):
            if isinstance(truth, BaseException):
                if not isinstance(truth, Exception):
                    raise truth  # a cancellation, not the PSP's answer
                await self._record_failure(inbox_id, lease, truth)
                continue
            handled += await self._apply(inbox_id, lease, event, truth, woken)
        # the events that waited for a payment just recorded, right after it
        for inbox_id in woken:
            handled += await self.process_one(inbox_id)
        return handled

    async def process_one(self, inbox_id: str) -> bool:
        """Apply one event by its inbox id: claimed first (if it is pending and no other
        worker's lease on it is running, or nothing happens), then the truth, outside any
        transaction, then the event under its row lock."""
        lease, claimed = await self._claim(1, inbox_id)
        if not claimed:
            return False
        ((_, event),) = claimed
        try:
            # the PSP's truth is read outside any transaction (no lock held over the network)
            truth = await self.payments.fetch_truth(event)
        except Exception as exc:  # noqa: BLE001 - recorded on the row, retried with backoff
            await self._record_failure(inbox_id, lease, exc)
            return False
        woken: list[str] = []
        applied = await self._apply(inbox_id, lease, event, truth, woken)
        for other in woken:
            await self.process_one(other)
        return applied

    async def _apply(
        self,
        inbox_id: str,
        lease: dt.datetime,
        event: ProviderEvent,
        truth: ProviderTruth | None,
        woken: list[str],
    ) -> bool:
        """One event in its own transaction: the inbox row locked, still pending and still
        leased to this claim (``lease``), or nothing happens (exactly once, whatever the
        other workers do). The deferred events about the payment it records are made due,
        and their ids added to ``woken``."""
        try:
            async with unit_of_work(self.db, self.payments.bus) as uow:
                stmt = select(col(InboxEvent.next_attempt_at)).where(
                    col(InboxEvent.id) == inbox_id, col(InboxEvent.status) == "pending"
                )
                if self.db.is_postgres:
                    stmt = stmt.with_for_update(skip_locked=True)
                held = (await uow.session.execute(stmt)).scalar_one_or_none()
                if held is None:
                    return False  # another worker is applying it, or it is already done
                if held != lease:
                    _lost(event.id)
                    return False
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
                ready = await self._wake(uow.session, inbox_id, event, truth)
                await uow.commit()
            woken.extend(ready)
            log.info("webhook applied", extra={"event": event.id, "outcome": outcome})
            return True
        except NotYetApplicable as exc:
            await self._record_deferral(inbox_id, lease, str(exc), exc.provider_payment_id)
            return False
        except Exception as exc:  # noqa: BLE001 - recorded on the row, retried with backoff
            await self._record_failure(inbox_id, lease, exc)
            return False

    async def _wake(
        self, s: AsyncSession, inbox_id: str, event: ProviderEvent, truth: ProviderTruth | None
    ) -> list[str]:
        """The deferred events about the payment ``event`` just recorded (by the PSP's id
        of it), made due now, in the transaction that recorded it."""
        ppid = truth.provider_payment_id if isinstance(truth, ProviderPayment) else None
        if not ppid:
            return []
        waiting = list(
            (
                await s.execute(
                    select(col(InboxEvent.id)).where(
                        col(InboxEvent.provider) == event.provider,
                        col(InboxEvent.provider_payment_id) == ppid,
                        col(InboxEvent.status) == "pending",
                        col(InboxEvent.last_error).startswith(DEFERRED),
                        col(InboxEvent.id) != inbox_id,
                    )
                )
            ).scalars()
        )
        if waiting:
            await s.execute(
                update(InboxEvent)
                .where(col(InboxEvent.id).in_(waiting))
                .values(next_attempt_at=utcnow())
                .execution_options(synchronize_session=False)
            )
        return waiting

    async def _record_deferral(
        self, inbox_id: str, lease: dt.datetime, reason: str, provider_payment_id: str | None
    ) -> None:
        """The event is regie's but waits for another: still pending, tried again later
        (its attempts are not spent: they count failures), and marked with the PSP's id of
        the payment it waits for (woken when that payment is recorded); dead-lettered past
        ``defer_for`` since it was received, for an operator to see, never dropped. Only
        while ``lease`` is still the event's: otherwise another worker has it."""
        async with self.db.session() as s:
            row = await s.get(InboxEvent, inbox_id, with_for_update=True)
            if row is None or row.status != "pending":
                return
            if row.next_attempt_at != lease:
                _lost(row.event_id)
                return
            now = utcnow()
            row.provider_payment_id = row.provider_payment_id or provider_payment_id
            waited = now - row.received_at
            row.last_error = f"{DEFERRED}{reason}"[:1000]
            if waited >= self.defer_for:
                row.status = "dead"
                log.error("webhook dead-lettered: still waiting", extra={"event": row.event_id})
            else:
                row.next_attempt_at = now + defer_delay(waited)
                log.info("webhook deferred", extra={"event": row.event_id, "why": reason})
            await s.commit()

    async def _record_failure(self, inbox_id: str, lease: dt.datetime, exc: Exception) -> None:
        """A failed attempt, counted once: only while ``lease`` is still the event's (a
        worker that outlived its lease leaves the count to the one that took it over)."""
        kind = exc.kind if isinstance(exc, ProviderError) else type(exc).__name__
        # kept on the row, which the dead-letters API and CLI show: masked as a log line is
        message = mask(f"{kind}: {exc}")[:1000]
        async with self.db.session() as s:
            row = await s.get(InboxEvent, inbox_id, with_for_update=True)
            if row is None or row.status != "pending":
                return
            if row.next_attempt_at != lease:
                _lost(row.event_id)
                return
            row.attempts += 1
            row.last_error = message
            # (one that can never apply is not tried again: the same failure each time)
            if row.attempts >= self.max_attempts or isinstance(exc, NeverApplicable):
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


def _lost(event_id: str) -> None:
    """What a worker whose lease on an event lapsed, and was taken by another, says."""
    log.warning(
        "webhook lease lost; left to the worker that took it over", extra={"event": event_id}
    )
