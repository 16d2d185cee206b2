"""Two management calls on one notification endpoint at once (PostgreSQL: row locks).

The worst caller sends a rotation, a disable or an enable while another request deletes or
rotates the same endpoint. Each call read the row, then wrote it: whatever the order they
run in, the endpoint must end as if they had run one after the other (a deleted endpoint
stays deleted and keeps no secret; every secret answered to a caller signs).

Each race is made deterministic: the first request is held just after it read the endpoint
(before it writes anything), the second runs until it finishes or waits on a row lock, then
the first goes on.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from payments import repository as payments_repo
from regie.kit.database import utcnow
from tests.conftest import Keys, create_invoice
from tests.lock_waits import lock_waiters
from webhooks.outbound.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.postgres


async def _register(client: httpx.AsyncClient, key: str) -> dict[str, Any]:
    r = await client.post(
        "/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/race"}, headers=Keys.h(key)
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def _first_held_after_its_read(
    app: Any,
    monkeypatch: pytest.MonkeyPatch,
    first: Callable[[], Coroutine[Any, Any, httpx.Response]],
    second: Callable[[], Coroutine[Any, Any, httpx.Response]],
) -> tuple[httpx.Response, httpx.Response]:
    """Run ``first`` until it has read the endpoint (it then looks up the service's slug,
    before writing), run ``second`` until it is done or waits on a lock, then let ``first``
    go on. Returns both answers."""
    real = payments_repo.service_slugs
    reached, go = asyncio.Event(), asyncio.Event()
    held: list[bool] = []

    async def slugs(*args: Any, **kwargs: Any) -> Any:
        if not held:
            held.append(True)
            reached.set()
            await go.wait()
        return await real(*args, **kwargs)

    monkeypatch.setattr(payments_repo, "service_slugs", slugs)
    one = asyncio.create_task(first())
    await asyncio.wait_for(reached.wait(), 10)
    two = asyncio.create_task(second())
    for _ in range(500):
        if two.done() or await lock_waiters(app.state.db):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the second request neither finished nor waited on a lock")
    go.set()
    return await asyncio.wait_for(one, 10), await asyncio.wait_for(two, 10)


async def _row(app: Any, endpoint_id: str) -> WebhookEndpoint:
    async with app.state.db.session() as s:
        row = await s.get(WebhookEndpoint, endpoint_id)
    assert row is not None
    return row


def _signing_secrets(app: Any, row: WebhookEndpoint) -> set[str]:
    """The secrets that sign the endpoint's notifications now."""
    sealer = app.state.outbox.sealer
    secrets = {sealer.open(row.secret_sealed, context=row.id)} if row.secret_sealed else set()
    expires = row.previous_secret_expires_at
    if row.previous_secret_sealed and expires is not None and expires > utcnow():
        secrets.add(sealer.open(row.previous_secret_sealed, context=row.id))
    return secrets


async def test_two_rotations_at_once_leave_both_answered_secrets_signing(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = await _register(client, keys.urbanisme)
    path = f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret"

    def rotate() -> Coroutine[Any, Any, httpx.Response]:
        return client.post(path, json={"overlap_hours": 24}, headers=Keys.h(keys.urbanisme))

    a, b = await _first_held_after_its_read(app, monkeypatch, rotate, rotate)
    assert a.status_code == b.status_code == 200, (a.text, b.text)
    answered = {a.json()["secret"], b.json()["secret"]}
    # one rotation after the other: the later one's secret, and the earlier one's during
    # the overlap; the secret of the registration, rotated twice, is dropped
    assert _signing_secrets(app, await _row(app, endpoint["id"])) == answered


async def test_an_enable_racing_a_delete_never_brings_the_endpoint_back(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = await _register(client, keys.urbanisme)
    base = f"/v1/webhook-endpoints/{endpoint['id']}"
    h = Keys.h(keys.urbanisme)
    assert (await client.post(f"{base}/disable", headers=h)).status_code == 200

    enabled, deleted = await _first_held_after_its_read(
        app,
        monkeypatch,
        lambda: client.post(f"{base}/enable", headers=h),
        lambda: client.delete(base, headers=h),
    )
    assert deleted.status_code == 200, deleted.text
    assert enabled.status_code in (200, 404), enabled.text
    # the delete answered 200: the endpoint is gone, whatever the enable answered
    assert (await client.get(base, headers=h)).status_code == 404
    listed = await client.get("/v1/webhook-endpoints", headers=h)
    assert listed.json()["data"] == []
    row = await _row(app, endpoint["id"])
    assert (row.status, row.secret_sealed, row.previous_secret_sealed) == ("deleted", "", None)


async def test_a_rotation_racing_a_delete_leaves_no_secret_behind(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = await _register(client, keys.urbanisme)
    base = f"/v1/webhook-endpoints/{endpoint['id']}"
    h = Keys.h(keys.urbanisme)

    rotated, deleted = await _first_held_after_its_read(
        app,
        monkeypatch,
        lambda: client.post(f"{base}/rotate-secret", headers=h),
        lambda: client.delete(base, headers=h),
    )
    assert deleted.status_code == 200, deleted.text
    assert rotated.status_code in (200, 404), rotated.text
    row = await _row(app, endpoint["id"])
    # a deleted endpoint's secrets are erased (README): none signs, none is kept sealed
    assert (row.status, row.secret_sealed, row.previous_secret_sealed) == ("deleted", "", None)
    assert row.previous_secret_expires_at is None


async def test_a_disable_racing_a_rotation_keeps_the_rotated_secret(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = await _register(client, keys.urbanisme)
    base = f"/v1/webhook-endpoints/{endpoint['id']}"
    h = Keys.h(keys.urbanisme)

    disabled, rotated = await _first_held_after_its_read(
        app,
        monkeypatch,
        lambda: client.post(f"{base}/disable", headers=h),
        lambda: client.post(f"{base}/rotate-secret", headers=h),
    )
    assert disabled.status_code == rotated.status_code == 200, (disabled.text, rotated.text)
    row = await _row(app, endpoint["id"])
    assert row.status == "disabled"
    assert rotated.json()["secret"] in _signing_secrets(app, row)
    assert row.previous_secret_expires_at is not None
    assert row.previous_secret_expires_at > utcnow() + dt.timedelta(hours=23)


async def test_a_resend_racing_a_delete_leaves_nothing_pending(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = await _register(client, keys.urbanisme)
    h = Keys.h(keys.urbanisme)
    inv = await create_invoice(client, keys.urbanisme, reference="RACE-RESEND")
    assert (await client.post(f"/v1/invoices/{inv['id']}/cancel", headers=h)).status_code == 200
    async with app.state.db.session() as s:
        (delivery,) = (await s.execute(select(WebhookDelivery))).scalars().all()

    # the resend is held once it has read the endpoint (enabled), before it re-queues
    real_get = AsyncSession.get
    reached, go = asyncio.Event(), asyncio.Event()

    async def get(self: AsyncSession, entity: Any, *args: Any, **kwargs: Any) -> Any:
        found = await real_get(self, entity, *args, **kwargs)
        if entity is WebhookEndpoint and not reached.is_set():
            reached.set()
            await go.wait()
        return found

    monkeypatch.setattr(AsyncSession, "get", get)
    resend = asyncio.create_task(
        client.post(f"/v1/webhook-deliveries/{delivery.id}/resend", headers=h)
    )
    await asyncio.wait_for(reached.wait(), 10)
    delete = asyncio.create_task(
        client.delete(f"/v1/webhook-endpoints/{endpoint['id']}", headers=h)
    )
    for _ in range(500):
        if delete.done() or await lock_waiters(app.state.db):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the delete neither finished nor waited on a lock")
    go.set()
    resent, deleted = await asyncio.wait_for(resend, 10), await asyncio.wait_for(delete, 10)
    assert deleted.status_code == 200, deleted.text
    assert resent.status_code in (200, 409), resent.text
    async with app.state.db.session() as s:
        row = (
            await s.execute(select(WebhookDelivery).where(WebhookDelivery.id == delivery.id))
        ).scalar_one_or_none()
    # what was pending for a deleted endpoint is given up; none waits for ever
    assert row is not None and row.status == "failed"
