"""The inbox drain in batches: claims with a lease that other workers skip, and several
workers draining one inbox apply every event exactly once (issue 12)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import func, select, update

from ledger.models import JournalEntry
from payments.models import Payment, StateChange
from receipts.models import Receipt
from regie.kit.database import utcnow
from tests.conftest import Keys, create_invoice, pay
from webhooks.inbound.apply import EventApplier
from webhooks.inbound.models import InboxEvent


async def count(app, model, *where) -> int:
    async with app.state.db.session() as s:
        return int(
            (await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one()
        )


async def fill_inbox(client, app, keys: Keys, n: int) -> None:
    """``n`` citizens pay on the simulator while no worker runs: ``n`` events wait."""
    for i in range(n):
        await pay(client, await create_invoice(client, keys.urbanisme, reference=f"B{i:03d}"))
    assert await count(app, InboxEvent, InboxEvent.status == "pending") == n


async def test_a_claimed_event_is_skipped_until_its_lease_lapses(client, app, keys: Keys) -> None:
    await fill_inbox(client, app, keys, 3)
    first = EventApplier(app.state.db, app.state.payments)
    claimed = await first.claim(2)
    assert len(claimed) == 2
    other = EventApplier(app.state.db, app.state.payments)
    rest = await other.claim(10)  # another worker gets only what is not claimed
    assert [i for i, _ in rest] and not {i for i, _ in rest} & {i for i, _ in claimed}
    assert await other.claim(10) == []
    assert await other.process_batch(10) == 0  # nothing due: all of it is claimed
    # the first worker died: once its lease lapses, its events are due again
    async with app.state.db.session() as s:
        await s.execute(update(InboxEvent).values(next_attempt_at=utcnow()))
        await s.commit()
    assert await other.process_batch(10) == 3
    assert await count(app, InboxEvent, InboxEvent.status == "done") == 3
    # the dead worker's claim applies nothing twice
    for inbox_id, event in claimed:
        assert await first.process_one(inbox_id) is False
    assert await count(app, Payment, Payment.status == "succeeded") == 3


async def test_one_event_applied_by_its_id_is_applied_once(
    client, app, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="regie.webhooks")
    await fill_inbox(client, app, keys, 1)
    async with app.state.db.session() as s:
        row = (await s.execute(select(InboxEvent))).scalar_one()
    applier = EventApplier(app.state.db, app.state.payments)
    assert await applier.process_one(row.id) is True
    assert await applier.process_one(row.id) is False  # done: not again
    assert await count(app, InboxEvent, InboxEvent.status == "done") == 1
    assert await count(app, Payment, Payment.status == "succeeded") == 1
    (applied,) = [r for r in caplog.records if r.getMessage() == "webhook applied"]
    assert (applied.event, applied.outcome) == (row.event_id, "invoice paid")


async def test_a_truth_that_cannot_be_read_fails_only_its_event(
    client, app, keys: Keys, monkeypatch
) -> None:
    await fill_inbox(client, app, keys, 3)
    real = app.state.payments.fetch_truth
    async with app.state.db.session() as s:
        unlucky = (
            (await s.execute(select(InboxEvent.event_id).order_by(InboxEvent.event_created_at)))
            .scalars()
            .first()
        )

    async def flaky(event):
        if event.id == unlucky:
            raise RuntimeError("PSP timeout")
        return await real(event)

    monkeypatch.setattr(app.state.payments, "fetch_truth", flaky)
    assert await app.state.applier.process_batch(10) == 2
    async with app.state.db.session() as s:
        row = (
            await s.execute(select(InboxEvent).where(InboxEvent.event_id == unlucky))
        ).scalar_one()
    assert row.status == "pending" and row.attempts == 1 and "PSP timeout" in (row.last_error or "")
    assert row.next_attempt_at > utcnow()  # backs off (10 s) rather than waiting its lease


@pytest.mark.postgres
async def test_a_claim_takes_the_other_due_events_while_one_is_row_locked(
    client, app, keys: Keys
) -> None:
    # a worker applying an event holds its row lock: another worker's claim must not wait
    # behind it (FOR UPDATE SKIP LOCKED) but take the other due events at once
    await fill_inbox(client, app, keys, 3)
    async with app.state.db.session() as s:
        ids = (
            (await s.execute(select(InboxEvent.id).order_by(InboxEvent.event_created_at)))
            .scalars()
            .all()
        )
    locked, others = ids[0], set(ids[1:])
    applier = EventApplier(app.state.db, app.state.payments)
    async with app.state.db.session() as holder:
        await holder.execute(select(InboxEvent.id).where(InboxEvent.id == locked).with_for_update())
        claim = asyncio.create_task(applier.claim(10))
        try:
            # a liveness guard, not a timing assertion: a claim that waits for the lock
            # is still waiting here, and takes the locked row too once it is released
            await asyncio.wait({claim}, timeout=10)
        finally:
            await holder.rollback()
    claimed = {inbox_id for inbox_id, _ in await claim}
    assert claimed == others


@pytest.mark.postgres
@pytest.mark.timeout(300)
async def test_two_workers_draining_one_inbox_apply_every_event_exactly_once(
    client, app, keys: Keys
) -> None:
    n = 30
    await fill_inbox(client, app, keys, n)
    workers = [EventApplier(app.state.db, app.state.payments) for _ in range(2)]
    handled: list[list[int]] = [[], []]

    async def drain(i: int) -> None:
        while claimed := await workers[i].process_batch(4):
            handled[i].append(claimed)

    await asyncio.gather(drain(0), drain(1))
    assert sum(handled[0]) + sum(handled[1]) == n
    assert handled[0] and handled[1]  # both took a share
    async with app.state.db.session() as s:
        rows = (await s.execute(select(InboxEvent))).scalars().all()
    assert {(r.status, r.attempts) for r in rows} == {("done", 1)}
    paid = StateChange.object == "invoice", StateChange.to_status == "paid"
    assert await count(app, StateChange, *paid) == n
    assert await count(app, Payment, Payment.status == "succeeded") == n
    assert await count(app, JournalEntry, JournalEntry.kind == "payment_succeeded") == n
    async with app.state.db.session() as s:
        numbers = (await s.execute(select(Receipt.number))).scalars().all()
    assert sorted(int(x[-6:]) for x in numbers) == list(range(1, n + 1))  # gap-free
