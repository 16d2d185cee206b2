"""A worker whose claim on an event outlives its lease (a slow fetch of the PSP's truth)
while another worker takes the event over (PostgreSQL, two workers).

The lease lapsing is simulated by moving the event's next attempt to now (what the clock
would do after ``REGIE_WORKER_LEASE_SECONDS``), never by sleeping. Only the worker that
holds the event's current lease may record what became of it: the one that lost it does
nothing (and logs so), so that a failure is counted once, the backoff takes its steps in
order, and an event is never dead-lettered early or applied by a worker that lost it."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import func, select, update

from payments.models import Payment
from regie.kit.database import utcnow
from tests.conftest import Keys, create_invoice, pay
from webhooks.inbound.apply import EventApplier
from webhooks.inbound.models import InboxEvent

pytestmark = pytest.mark.postgres


async def one_event(client, app, keys: Keys) -> None:
    await pay(client, await create_invoice(client, keys.urbanisme, reference="L001"))


async def the_row(app) -> InboxEvent:
    async with app.state.db.session() as s:
        return (await s.execute(select(InboxEvent))).scalar_one()


async def lapse_leases(app) -> None:
    """Every claim on the inbox lapses now (as if its lease's time had passed)."""
    async with app.state.db.session() as s:
        await s.execute(update(InboxEvent).values(next_attempt_at=utcnow()))
        await s.commit()


async def succeeded(app) -> int:
    async with app.state.db.session() as s:
        stmt = select(func.count()).select_from(Payment).where(Payment.status == "succeeded")
        return int((await s.execute(stmt)).scalar_one())


async def test_a_failure_seen_by_a_worker_that_outlived_its_lease_is_counted_once(
    client, app, keys: Keys, monkeypatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="regie.webhooks")
    await one_event(client, app, keys)
    # two attempts dead-letter the event: a failure counted twice would kill it at once
    slow, other = (EventApplier(app.state.db, app.state.payments, max_attempts=2) for _ in "ab")
    fetches: list[str] = []
    after_other: list[InboxEvent] = []

    async def psp_times_out(event):
        fetches.append(event.id)
        if len(fetches) == 1:  # the slow worker's fetch, which outlives its lease
            await lapse_leases(app)
            assert await other.process_batch() == 0  # takes the event over, and fails
            after_other.append(await the_row(app))
        raise RuntimeError("PSP timeout")

    monkeypatch.setattr(app.state.payments, "fetch_truth", psp_times_out)
    assert await slow.process_batch() == 0
    (seen,) = after_other
    assert len(fetches) == 2
    assert (seen.status, seen.attempts) == ("pending", 1)
    row = await the_row(app)
    # the worker that lost the event records nothing: one failure, the first backoff step
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.next_attempt_at == seen.next_attempt_at
    lost = [r for r in caplog.records if r.getMessage().startswith("webhook lease lost")]
    assert [r.event for r in lost] == [row.event_id]


async def test_a_worker_that_outlived_its_lease_leaves_the_event_to_the_one_that_took_it(
    client, app, keys: Keys, monkeypatch
) -> None:
    # applying is exactly once whoever does it (the inbox row locked and still pending), but
    # the worker that lost the lease must not apply (nor mark done) what the other now holds
    await one_event(client, app, keys)
    slow, other = (EventApplier(app.state.db, app.state.payments) for _ in "ab")
    real = app.state.payments.fetch_truth
    slow_fetching, other_fetching, slow_finished = (asyncio.Event() for _ in range(3))

    async def fetch(event):
        if not slow_fetching.is_set():
            slow_fetching.set()
            await other_fetching.wait()  # the PSP answers after the lease lapsed
        else:
            other_fetching.set()
            await slow_finished.wait()
        return await real(event)

    monkeypatch.setattr(app.state.payments, "fetch_truth", fetch)
    first = asyncio.create_task(slow.process_batch())
    await asyncio.wait_for(slow_fetching.wait(), 20)
    await lapse_leases(app)
    second = asyncio.create_task(other.process_batch())
    try:
        assert await asyncio.wait_for(first, 20) == 0
        row = await the_row(app)
        assert (row.status, row.attempts) == ("pending", 0)  # still the other worker's
        assert row.next_attempt_at > utcnow()
        assert await succeeded(app) == 0
    finally:
        slow_finished.set()
        handled = await asyncio.wait_for(second, 20)
    assert handled == 1
    row = await the_row(app)
    assert (row.status, row.attempts) == ("done", 1)
    assert await succeeded(app) == 1
