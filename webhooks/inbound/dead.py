"""The inbox's dead letters: PSP events that kept failing (``REGIE_WORKER_MAX_ATTEMPTS``) or
waited a week for an event that never came (``backoff.DEFER_FOR``), listed for an operator
and re-queued once the cause is fixed (``regie maintenance dead-events``, ``… requeue``).

A re-queued event is pending again, due now, with its attempts back to zero: the whole
retry schedule again, as for an event just received (its last error stays until the next
attempt replaces it). Each re-queue is stored (``InboxRequeue``: when, and the attempts and
last error it leaves behind) in the transaction that re-queues it: the record says it was dead-lettered
and taken back. One that still waits for another event is dead again at once, with the
same reason: it has waited past the week already. The next drain of a running worker
applies what was re-queued, exactly once, as any event.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlmodel import col

from regie.kit.database import Database, utcnow
from webhooks.inbound.models import InboxEvent, InboxRequeue

log = logging.getLogger("regie.webhooks")


async def dead_events(db: Database, limit: int = 1000) -> list[InboxEvent]:
    """The dead letters, oldest received first (at most ``limit``)."""
    async with db.session() as s:
        stmt = (
            select(InboxEvent)
            .where(col(InboxEvent.status) == "dead")
            .order_by(col(InboxEvent.received_at), col(InboxEvent.id))
            .limit(limit)
        )
        return list((await s.execute(stmt)).scalars())


async def requeue(db: Database, inbox_ids: Sequence[str] | None) -> list[str]:
    """Re-queues the dead letters of ``inbox_ids`` (None: every one); returns those
    re-queued, in order. An id that is not a dead letter (unknown, done, or pending
    already) is left as it is, and not returned. Each re-queue is stored
    (``InboxRequeue``: when, the attempts and last error it leaves behind) in the
    transaction that makes the change."""
    async with db.session() as s:
        dead = select(InboxEvent).where(col(InboxEvent.status) == "dead")
        if inbox_ids is not None:
            dead = dead.where(col(InboxEvent.id).in_(list(inbox_ids)))
        if db.is_postgres:
            # (a worker dead-lettering one meanwhile waits, then is seen as pending here)
            dead = dead.with_for_update()
        rows = sorted((await s.execute(dead)).scalars(), key=lambda r: r.id)
        now = utcnow()
        for row in rows:
            s.add(
                InboxRequeue(
                    inbox_id=row.id, attempts_before=row.attempts,
                    last_error_before=row.last_error, at=now,
                )
            )  # fmt: skip
            row.status, row.attempts, row.next_attempt_at = "pending", 0, now
        done = [(row.id, row.event_id) for row in rows]
        await s.commit()
    for inbox_id, event_id in done:
        log.warning("webhook re-queued", extra={"inbox": inbox_id, "event": event_id})
    return [inbox_id for inbox_id, _ in done]
