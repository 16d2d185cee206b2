"""A notification re-sent by its service while a delivery attempt of it is in flight: the
resend's fresh schedule holds, whatever that older attempt's outcome (it is recorded in the
history all the same)."""

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
from webhooks.outbound.rules import RETRY_SCHEDULE


async def test_a_resend_during_the_last_attempt_is_not_undone_by_its_failure(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    pump = app.state.outbox
    row = await one_canceled_notification(client, app, keys)
    async with app.state.db.session() as s:
        # the receiver has been down for days: this is the last scheduled attempt
        await s.execute(
            update(WebhookDelivery).values(
                failures=len(RETRY_SCHEDULE), next_attempt_at=dt.datetime.now(dt.UTC)
            )
        )
        await s.commit()
    resent: list[int] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        # meanwhile, the service's operator presses "send again"
        answer = await client.post(
            f"/v1/webhook-deliveries/{row.id}/resend", headers=Keys.h(keys.urbanisme)
        )
        resent.append(answer.status_code)
        return httpx.Response(503)

    mock = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    monkeypatch.setattr(pump, "client", mock)
    try:
        # (one attempt: the resent row is due again at once, for the run's next round)
        assert await pump.deliver_due(limit=1) == 1
    finally:
        await mock.aclose()
    assert resent == [200]
    async with app.state.db.session() as s:
        after = await s.get(WebhookDelivery, row.seq)
        attempts = list(
            (
                await s.execute(
                    select(WebhookDeliveryAttempt).where(
                        col(WebhookDeliveryAttempt.delivery_id) == row.id
                    )
                )
            ).scalars()
        )
    assert after is not None
    assert [(a.outcome, a.status_code) for a in attempts] == [("failed", 503)]  # kept
    # the resend asked for it again, on a fresh schedule: not given up by the older attempt
    assert (after.status, after.failures) == ("pending", 0)
    assert after.claim_token is None
