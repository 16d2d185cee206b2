"""A notification attempt whose lease lapsed while it was in flight, and the attempt of the
worker that took the notification over: two attempts, numbered 1 and 2 in its history, not
twice 1 (each claim numbers the attempt it starts)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlmodel import col

from tests.conftest import Keys
from tests.webhooks.notify_kit import one_canceled_notification
from webhooks.outbound.models import WebhookDelivery, WebhookDeliveryAttempt


async def test_an_attempt_taken_over_after_its_lease_lapsed_is_numbered_after_it(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    pump = app.state.outbox
    row = await one_canceled_notification(client, app, keys)
    calls: list[int] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        calls.append(len(calls) + 1)
        if len(calls) == 1:
            # the first attempt outlives its lease (a receiver slower than the lease, a
            # paused worker): another run takes the notification over meanwhile
            async with app.state.db.session() as s:
                past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
                await s.execute(update(WebhookDelivery).values(claimed_until=past))
                await s.commit()
            assert await pump.deliver_due(limit=1) == 1
        return httpx.Response(200)

    mock = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    monkeypatch.setattr(pump, "client", mock)
    try:
        assert await pump.deliver_due(limit=1) == 1
    finally:
        await mock.aclose()
    assert calls == [1, 2]
    async with app.state.db.session() as s:
        after = await s.get(WebhookDelivery, row.seq)
        attempts = list(
            (
                await s.execute(
                    select(WebhookDeliveryAttempt)
                    .where(col(WebhookDeliveryAttempt.delivery_id) == row.id)
                    .order_by(col(WebhookDeliveryAttempt.started_at))
                )
            ).scalars()
        )
    assert after is not None
    # both posts are in the history, each under its own number: the first started first
    assert [(a.number, a.outcome) for a in attempts] == [(1, "delivered"), (2, "delivered")]
    assert (after.status, after.attempts, after.claim_token) == ("delivered", 2, None)
