"""Registrations of notification endpoints at once (PostgreSQL): a service has at most
``MAX_ENDPOINTS_PER_SERVICE`` endpoints, however many registrations arrive together.

Made deterministic: the first registration is held once it has counted the service's
endpoints, before it writes its own; the others run until they finish or wait on a lock;
then it goes on."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from regie.kit.idempotency import Claim
from tests.conftest import Keys
from tests.lock_waits import lock_waiters
from webhooks.outbound.endpoints import MAX_ENDPOINTS_PER_SERVICE
from webhooks.outbound.models import WebhookEndpoint

pytestmark = pytest.mark.postgres


async def _register(client: httpx.AsyncClient, key: str, n: int) -> httpx.Response:
    return await client.post(
        "/v1/webhook-endpoints",
        json={"url": f"http://127.0.0.1:9/limit-{n}"},
        headers=Keys.h(key, **{"Idempotency-Key": f"limit-{n}"}),
    )


async def _endpoints(app: Any) -> int:
    async with app.state.db.session() as s:
        return int(
            (await s.execute(select(func.count()).select_from(WebhookEndpoint))).scalar_one()
        )


async def test_registrations_at_once_never_exceed_the_limit(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(MAX_ENDPOINTS_PER_SERVICE - 1):
        assert (await _register(client, keys.urbanisme, n)).status_code == 201
    # one place is left; the first of these registrations has counted and is held there
    real = Claim.complete
    reached, go = asyncio.Event(), asyncio.Event()

    async def complete(self: Claim, *args: Any, **kwargs: Any) -> None:
        if not reached.is_set():
            reached.set()
            await go.wait()
        await real(self, *args, **kwargs)

    monkeypatch.setattr(Claim, "complete", complete)
    first = asyncio.create_task(_register(client, keys.urbanisme, 100))
    await asyncio.wait_for(reached.wait(), 10)
    others = [asyncio.create_task(_register(client, keys.urbanisme, 101 + n)) for n in range(4)]
    for _ in range(500):
        if sum(t.done() for t in others) + await lock_waiters(app.state.db) >= len(others):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the other registrations neither finished nor waited on a lock")
    go.set()
    answers = await asyncio.wait_for(asyncio.gather(first, *others), 10)

    assert sorted(r.status_code for r in answers) == [201] + [409] * 4, [r.text for r in answers]
    for r in answers:
        if r.status_code == 409:
            assert r.json()["error"]["code"] == "too_many_endpoints"
    assert await _endpoints(app) == MAX_ENDPOINTS_PER_SERVICE
    # another service has its own limit
    assert (await _register(client, keys.etat_civil, 0)).status_code == 201
