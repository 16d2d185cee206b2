"""Claims of notifications shared fairly between receivers: one endpoint's backlog (a dead
or slow receiver, each attempt up to 36 s) never fills a claim, so the other client
services' notifications do not wait behind it. A claim takes at most ``per_endpoint`` rows
of an endpoint, every endpoint's oldest due row before any endpoint's second, and each
endpoint's rows oldest first; leases and ``SKIP LOCKED`` work as before."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import defaultdict
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from tests.conftest import Keys
from tests.payments.test_invoice_batches import batch, post_batch
from tests.webhooks.notify_kit import Receiver, register, rows
from webhooks.outbound.delivery import Claimed
from webhooks.outbound.models import WebhookDelivery

DEAD = "http://127.0.0.1:9"  # nothing listens there: every attempt fails at once


async def backlog(client: httpx.AsyncClient, key: str, n: int, prefix: str) -> None:
    """``n`` invoices created in one batch: one ``invoice.created`` each, to every endpoint
    of the service."""
    assert (await post_batch(client, key, batch(n, prefix=prefix))).status_code == 201


def by_endpoint(claimed: list[Claimed]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for job in claimed:
        out[job.endpoint_id].add(job.id)
    return dict(out)


async def oldest_first(app: Any, endpoint_id: str) -> list[str]:
    """The endpoint's pending rows in the order it is owed them: due first, then written."""
    got = await rows(app, WebhookDelivery.endpoint_id == endpoint_id)
    return [r.id for r in sorted(got, key=lambda r: (r.next_attempt_at, r.seq))]


async def test_a_dead_receivers_backlog_leaves_room_in_the_claim_for_the_others(
    client: httpx.AsyncClient, app: Any, keys: Keys, receiver: Receiver, notifications: Any
) -> None:
    dead = await register(client, keys.urbanisme, f"{DEAD}/hook")
    await backlog(client, keys.urbanisme, 50, "DEAD")  # 50 owed to the dead receiver, older
    alive = await register(client, keys.etat_civil, f"{receiver.url}/hook")
    await backlog(client, keys.etat_civil, 1, "ALIVE")
    assert notifications.batch_size == 10
    # ten attempts: as many as one claim holds (today all ten were the dead receiver's)
    assert await notifications.deliver_due(limit=10) == 10
    # the healthy receiver's notification went out among them, not behind the backlog
    assert [r.doc["type"] for r in receiver.ok()] == ["invoice.created"]
    (sent,) = await rows(app, WebhookDelivery.endpoint_id == alive["id"])
    assert sent.status == "delivered"
    # the dead receiver's tried were those it is owed first
    owed = await rows(app, WebhookDelivery.endpoint_id == dead["id"])
    assert [r.attempts for r in owed] == [1] * 9 + [0] * 41


async def test_a_claim_takes_every_endpoints_oldest_row_before_any_endpoints_second(
    client: httpx.AsyncClient, app: Any, keys: Keys, notifications: Any
) -> None:
    """Two receivers down with backlogs still leave room for a third's notification (a cap
    of 5 an endpoint alone would give them the whole claim of 10)."""
    first = await register(client, keys.urbanisme, f"{DEAD}/one")
    second = await register(client, keys.urbanisme, f"{DEAD}/two")
    await backlog(client, keys.urbanisme, 20, "DOWN")  # 20 to each, older
    alive = await register(client, keys.etat_civil, "http://127.0.0.1:9/alive")
    await backlog(client, keys.etat_civil, 1, "UP")
    notifications.per_endpoint = 5
    now = dt.datetime.now(dt.UTC)
    got = by_endpoint(await notifications._claim(10, now))
    assert len(got[alive["id"]]) == 1
    # the rest shared in turns: four of one, five of the other, each its oldest
    assert sorted(len(got[e["id"]]) for e in (first, second)) == [4, 5]
    for e in (first, second):
        assert got[e["id"]] == set((await oldest_first(app, e["id"]))[: len(got[e["id"]])])


async def test_a_claim_takes_at_most_its_share_of_an_endpoint_oldest_first_and_leases_lapse(
    client: httpx.AsyncClient, app: Any, keys: Keys, notifications: Any
) -> None:
    endpoints = [
        await register(client, keys.urbanisme, f"{DEAD}/urbanisme"),
        await register(client, keys.etat_civil, f"{DEAD}/etat-civil"),
    ]
    await backlog(client, keys.urbanisme, 12, "U")
    await backlog(client, keys.etat_civil, 12, "E")
    # retries rescheduled: the order owed (due first, then written) is not the writing order
    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0)
    written = [await rows(app, WebhookDelivery.endpoint_id == e["id"]) for e in endpoints]
    async with app.state.db.session() as s:
        for of_one in written:
            for rank, row in enumerate(of_one):
                back = dt.timedelta(minutes=(rank * 5) % 6)  # 0, 5, 4, 3, 2, 1, 0, 5, …
                await s.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.seq == row.seq)
                    .values(next_attempt_at=t0 - back)
                )
        await s.commit()
    owed = {e["id"]: await oldest_first(app, e["id"]) for e in endpoints}
    for e, order in owed.items():
        assert order != [r.id for r in await rows(app, WebhookDelivery.endpoint_id == e)]
    notifications.per_endpoint = 4
    lease = notifications.lease

    first = by_endpoint(await notifications._claim(100, t0))
    assert first == {e: set(order[:4]) for e, order in owed.items()}
    # another claim meanwhile: the next four of each, the first four being leased
    second = by_endpoint(await notifications._claim(100, t0 + dt.timedelta(seconds=1)))
    assert second == {e: set(order[4:8]) for e, order in owed.items()}
    # the first claim's lease lapsed (its worker died): those rows come first again
    later = t0 + lease + dt.timedelta(milliseconds=500)
    third = by_endpoint(await notifications._claim(100, later))
    assert third == {e: set(order[:4]) for e, order in owed.items()}
    fourth = by_endpoint(await notifications._claim(100, later))
    assert fourth == {e: set(order[8:]) for e, order in owed.items()}
    assert await notifications._claim(100, later) == []


@pytest.mark.postgres
async def test_claims_at_once_never_take_the_same_row(
    client: httpx.AsyncClient, app: Any, keys: Keys, notifications: Any
) -> None:
    for path in ("one", "two"):
        await register(client, keys.urbanisme, f"{DEAD}/{path}")
    await register(client, keys.etat_civil, f"{DEAD}/three")
    await backlog(client, keys.urbanisme, 12, "U")
    await backlog(client, keys.etat_civil, 12, "E")
    notifications.per_endpoint = 3
    now = dt.datetime.now(dt.UTC)
    claims = list(await asyncio.gather(*(notifications._claim(6, now) for _ in range(4))))
    while more := await notifications._claim(6, now):
        claims.append(more)
    taken = [job.id for claim in claims for job in claim]
    assert len(taken) == len(set(taken)) == 36  # every row once, none twice
    for claim in claims:
        # (a claim may come back empty: one at the same instant held its candidates)
        assert max((len(ids) for ids in by_endpoint(claim).values()), default=0) <= 3


@pytest.mark.postgres
async def test_a_claim_skips_a_row_locked_row_without_waiting_for_it(
    client: httpx.AsyncClient, app: Any, keys: Keys, notifications: Any
) -> None:
    busy = await register(client, keys.urbanisme, f"{DEAD}/busy")
    await backlog(client, keys.urbanisme, 3, "U")
    other = await register(client, keys.etat_civil, f"{DEAD}/other")
    await backlog(client, keys.etat_civil, 1, "E")
    locked, *rest = await oldest_first(app, busy["id"])
    async with app.state.db.session() as holder:
        await holder.execute(
            select(WebhookDelivery.seq).where(WebhookDelivery.id == locked).with_for_update()
        )
        claim = asyncio.create_task(notifications._claim(10, dt.datetime.now(dt.UTC)))
        try:
            # a liveness guard, not a timing assertion: a claim that waits for the lock
            # is still waiting here, and takes the locked row too once it is released
            await asyncio.wait({claim}, timeout=10)
        finally:
            await holder.rollback()
    got = by_endpoint(await claim)
    assert got[busy["id"]] == set(rest) and len(got[other["id"]]) == 1
