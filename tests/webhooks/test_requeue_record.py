"""A dead letter re-queued by an operator (``regie maintenance requeue``) goes from ``dead``
back to ``pending`` with its attempts back to zero: the stored event that explains the
change is a row of ``webhook_inbox_requeues`` (when, and what the event had been through:
its attempts and last error then), written in the transaction that re-queues it. Before,
only a log line said so, and the row itself, once applied, read ``done`` after one attempt:
nothing stored showed it had been dead-lettered after eight failures and taken back."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from webhooks.inbound.dead import requeue
from webhooks.inbound.models import InboxEvent, InboxRequeue

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)


def _row(n: int, status: str, attempts: int, error: str | None) -> InboxEvent:
    return InboxEvent(
        id=f"inb_{n}", provider="simulator", event_id=f"evt_{n}", event_type="refund.updated",
        raw_type="refund.updated", event_created_at=NOW, data={"refund_id": f"re_{n}"},
        status=status, attempts=attempts, next_attempt_at=NOW + dt.timedelta(days=9),
        last_error=error, received_at=NOW - dt.timedelta(hours=n),
    )  # fmt: skip


async def _requeues(app: Any) -> list[tuple[str, int, str | None]]:
    async with app.state.db.session() as s:
        stmt = select(InboxRequeue).order_by(col(InboxRequeue.id))
        return [
            (r.inbox_id, r.attempts_before, r.last_error_before)
            for r in (await s.execute(stmt)).scalars()
        ]


async def test_each_requeue_of_a_dead_letter_is_stored_with_what_it_had_been_through(
    app: Any,
) -> None:
    db = app.state.db
    async with db.session() as s:
        s.add(_row(1, "dead", 8, "ProviderError: unavailable"))
        s.add(_row(2, "pending", 2, "ProviderError: timeout"))
        s.add(_row(3, "done", 1, None))
        await s.commit()
    before = dt.datetime.now(dt.UTC)
    # only the dead letter changes, and only it is recorded
    assert await requeue(db, ["inb_1", "inb_2", "inb_3", "inb_nope"]) == ["inb_1"]
    assert await _requeues(app) == [("inb_1", 8, "ProviderError: unavailable")]
    async with db.session() as s:
        (record,) = (await s.execute(select(InboxRequeue))).scalars()
        row = await s.get(InboxEvent, "inb_1")
    assert row is not None and (row.status, row.attempts) == ("pending", 0)
    assert before <= record.at <= dt.datetime.now(dt.UTC)

    # dead again, re-queued again: a second record, the first kept
    async with db.session() as s:
        again = await s.get(InboxEvent, "inb_1")
        assert again is not None
        again.status, again.attempts, again.last_error = "dead", 8, "ProviderError: refused"
        await s.commit()
    assert await requeue(db, None) == ["inb_1"]
    assert await _requeues(app) == [
        ("inb_1", 8, "ProviderError: unavailable"),
        ("inb_1", 8, "ProviderError: refused"),
    ]
    # nothing dead: nothing re-queued, nothing recorded
    assert await requeue(db, None) == []
    assert len(await _requeues(app)) == 2
