"""Notifications under concurrency: two delivery runs at once on PostgreSQL (SKIP LOCKED),
a slow receiver not holding up the worker, and the notification due first sent first."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from regie.composition import build_worker
from tests.conftest import Keys, create_invoice, pay
from tests.webhooks.notify_kit import (
    Receiver,
    count,
    register,
    rows,
)
from webhooks.outbound.models import WebhookDelivery, WebhookDeliveryAttempt


@pytest.mark.postgres
async def test_two_delivery_runs_at_once_send_each_notification_once(
    client: httpx.AsyncClient, app: Any, keys: Keys, receiver: Receiver, notifications: Any
) -> None:
    await register(client, keys.urbanisme, f"{receiver.url}/hook")
    for i in range(8):
        inv = await create_invoice(client, keys.urbanisme, reference=f"C{i}")
        await pay(client, inv, apply=app)
    assert len(await rows(app)) == 8
    receiver.delay = 0.05  # keep the runs overlapping
    notifications.batch_size = 3
    counts = await asyncio.gather(*(notifications.deliver_due() for _ in range(3)))
    assert sum(counts) == 8
    ids = [r.headers["regie-event-id"] for r in receiver.requests]
    assert len(ids) == 8 and len(set(ids)) == 8
    assert [r.status for r in await rows(app)] == ["delivered"] * 8
    assert await count(app, WebhookDeliveryAttempt) == 8


async def test_a_slow_receiver_does_not_hold_up_the_worker(
    client: httpx.AsyncClient, app: Any, keys: Keys, receiver: Receiver, notifications: Any
) -> None:
    await register(client, keys.urbanisme, f"{receiver.url}/hook")
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    receiver.gate = threading.Event()  # the receiver holds the request until released
    worker = build_worker(app.state.settings, app.state.services)
    try:
        # the tick starts the delivery run and goes on with its other jobs: it returns while
        # the receiver still holds the request (a tick that waited for the delivery would
        # return only once it timed out, and the row would be a failed attempt, never
        # delivered below)
        await worker.tick()
        assert await count(app, WebhookDelivery, WebhookDelivery.status == "delivered") == 0
    finally:
        receiver.gate.set()
    await notifications.wait_idle()
    assert await count(app, WebhookDelivery, WebhookDelivery.status == "delivered") == 1


async def test_the_notification_due_first_is_sent_first(
    client: httpx.AsyncClient, app: Any, keys: Keys, receiver: Receiver, notifications: Any
) -> None:
    """Of the notifications due, a run takes those due the longest first (a retry waiting
    since the morning goes before a fresh one), whatever order they were made in."""
    await register(client, keys.urbanisme, f"{receiver.url}/hook")
    first = await create_invoice(client, keys.urbanisme, reference="FIRST")
    await pay(client, first, apply=app)
    second = await create_invoice(client, keys.urbanisme, reference="SECOND")
    await pay(client, second, apply=app)
    made_first, made_second = await rows(app)
    now = dt.datetime.now(dt.UTC)
    async with app.state.db.session() as s:
        for row, due in ((made_first, now), (made_second, now - dt.timedelta(hours=1))):
            await s.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == row.id)
                .values(next_attempt_at=due)
            )
        await s.commit()
    assert await notifications.deliver_due(limit=1, now=now) == 1
    assert [r.doc["data"]["object"]["id"] for r in receiver.requests] == [second["id"]]
