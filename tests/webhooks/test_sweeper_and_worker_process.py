"""What webhooks miss: the pending re-check, the events catch-up, and a worker killed mid-event."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

from ledger.models import JournalEntry
from payments.models import Payment, StateChange
from payments.service.psp_events import recheck_delay
from receipts.models import Receipt
from tests.conftest import Keys, create_invoice, pay, start_checkout
from tests.lock_waits import lock_waiters
from webhooks.inbound.models import InboxEvent

REGIE = str(Path(sys.executable).parent / "regie")


async def count(app, model, *where) -> int:
    async with app.state.db.session() as s:
        return int(
            (await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one()
        )


async def status_of(client, keys: Keys, invoice_id: str) -> str:
    r = await client.get(f"/v1/invoices/{invoice_id}", headers=Keys.h(keys.urbanisme))
    return str(r.json()["status"])


@pytest.fixture
def lost_webhooks(app, monkeypatch):
    """The PSP takes the money but its webhooks never arrive."""

    async def lost(event_id: str) -> bool:
        return False

    monkeypatch.setattr(app.state.payments.provider, "deliver", lost)


def test_recheck_backoff_is_5_minutes_1_hour_then_daily() -> None:
    assert [recheck_delay(n) for n in range(1, 5)] == [
        dt.timedelta(hours=1),
        dt.timedelta(days=1),
        dt.timedelta(days=1),
        dt.timedelta(days=1),
    ]
    assert recheck_delay(0) == dt.timedelta(minutes=5)


async def test_the_sweeper_finds_a_payment_whose_webhook_was_lost(
    client, app, keys: Keys, lost_webhooks, caplog: pytest.LogCaptureFixture
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    result = await pay(client, inv, apply=app)
    assert await count(app, InboxEvent) == 0
    assert await status_of(client, keys, inv["id"]) == "open"
    assert await app.state.payments.recheck_pending() == 0  # not due yet (5 minutes)
    async with app.state.db.session() as s:
        await s.execute(
            update(Payment).values(next_check_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        await s.commit()
    caplog.set_level(logging.INFO, logger="regie.payments")
    assert await app.state.payments.recheck_pending() == 1
    assert await status_of(client, keys, inv["id"]) == "paid"
    # the operator's line for what the sweep did, naming the payment
    (applied,) = [r for r in caplog.records if r.getMessage() == "recheck applied"]
    assert (applied.payment, applied.outcome) == (result.payment_id, "invoice paid")
    assert (
        await count(
            app,
            StateChange,
            StateChange.cause == "sweeper:recheck",
            StateChange.to_status == "paid",
        )
        == 1
    )
    assert await count(app, Receipt) == 1


async def test_a_still_pending_payment_is_rechecked_later(client, app, keys: Keys) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await start_checkout(client, inv)  # the citizen never pays
    async with app.state.db.session() as s:
        await s.execute(
            update(Payment).values(next_check_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        await s.commit()
    assert await app.state.payments.recheck_pending() == 0
    async with app.state.db.session() as s:
        p = (await s.execute(select(Payment))).scalar_one()
    assert (p.status, p.check_count) == ("pending", 1)
    assert p.next_check_at > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=59)


async def test_catch_up_pulls_the_events_a_outage_lost(
    client, app, keys: Keys, lost_webhooks
) -> None:
    invoices = [await create_invoice(client, keys.urbanisme, reference=f"L{i}") for i in range(3)]
    for inv in invoices:
        await pay(client, inv)
    assert await count(app, InboxEvent) == 0
    assert await app.state.intake.catch_up() == 3
    assert await app.state.intake.catch_up() == 0  # the inbox dedupes
    await app.state.applier.process_batch()
    assert [await status_of(client, keys, i["id"]) for i in invoices] == ["paid"] * 3


async def _wait(predicate, timeout: float = 30.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.2)
    return False


@pytest.mark.postgres
@pytest.mark.timeout(180)
async def test_a_worker_killed_mid_event_loses_nothing_and_applies_it_once(
    client, app, keys: Keys, settings
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv)  # the event waits in the inbox
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")}
    env.update(
        REGIE_DATABASE_URL=settings.database_url,
        REGIE_PSP="simulator",
        REGIE_BASE_URL="http://testserver",
        REGIE_WORKER_POLL_SECONDS="0.2",
        # the killed worker's claim on the event lapses after this
        REGIE_WORKER_LEASE_SECONDS="2",
    )
    db = app.state.db
    # Hold the invoice's row lock so that the worker gets stuck in the middle of the event,
    # after it claimed the inbox row and before it could commit anything.
    blocker = await db.engine.connect()
    await blocker.begin()
    await blocker.execute(
        text("SELECT id FROM invoices WHERE id = :id FOR UPDATE"), {"id": inv["id"]}
    )
    worker = subprocess.Popen(
        [REGIE, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:

        async def stuck() -> bool:
            return bool(await lock_waiters(db))

        assert await _wait(stuck), "the worker never reached the event"
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
        await blocker.rollback()
        await blocker.close()
    async with db.session() as s:
        row = (await s.execute(select(InboxEvent))).scalar_one()
    assert row.status == "pending"  # nothing half-done: the killed transaction rolled back
    assert await status_of(client, keys, inv["id"]) == "open"
    # a new worker applies it, exactly once, then stops cleanly on SIGTERM
    worker = subprocess.Popen(
        [REGIE, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:

        async def paid() -> bool:
            return await status_of(client, keys, inv["id"]) == "paid"

        assert await _wait(paid), "the restarted worker did not apply the event"
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    assert b"worker stopped" in worker.stderr.read()
    assert (
        await count(
            app, StateChange, StateChange.object == "invoice", StateChange.to_status == "paid"
        )
        == 1
    )
    assert await count(app, Receipt) == 1
    assert await count(app, JournalEntry, JournalEntry.kind == "payment_succeeded") == 1
