"""The API's refund and the sweeper submit the same reservation at once (PostgreSQL).

A refund reserved by the API is due at once for the sweeper (so that a crash after the
reservation still gets it made): the sweeper may ask the PSP for it while the API's own
request is asking too, with the same idempotency key. The PSP makes one refund and answers
it to both, as Stripe does; the API answers the refund, never a 500 for money it moved."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from payments.models import Refund
from payments.providers.simulator.models import SimPayment
from tests.conftest import Keys, create_invoice, pay
from tests.lock_waits import lock_waiters

pytestmark = pytest.mark.postgres


async def _until_waiting(app: Any, n: int, *tasks: asyncio.Task[Any]) -> None:
    for _ in range(500):
        if any(t.done() for t in tasks) or await lock_waiters(app.state.db) >= n:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never {n} waiting on a lock")


async def test_the_api_and_the_sweeper_asking_for_one_refund_at_once_make_it_once(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    sim = app.state.payments.provider
    real_refund = sim.refund
    asked: list[asyncio.Task[Any]] = []

    async with app.state.db.session() as holder:
        # the PSP is busy with the payment (its row locked): whoever asks waits there
        await holder.execute(select(SimPayment).with_for_update())

        async def refund(*args: Any, **kwargs: Any) -> Any:
            if asked:
                return await real_refund(*args, **kwargs)
            # the API's request: the sweeper reaches the PSP first, then the API's call
            asked.append(asyncio.create_task(app.state.payments.refunds.retry_due()))
            await _until_waiting(app, 1, *asked)
            mine = asyncio.create_task(real_refund(*args, **kwargs))
            await _until_waiting(app, 2, mine, *asked)
            await holder.rollback()  # the PSP goes on: first the sweeper's, then the API's
            return await mine

        monkeypatch.setattr(sim, "refund", refund)
        r = await client.post(
            f"/v1/invoices/{inv['id']}/refunds",
            json={"amount": 1000},
            headers=Keys.h(keys.urbanisme, **{"Idempotency-Key": "both-at-once"}),
        )
        await asyncio.wait_for(asyncio.gather(*asked), 10)
    monkeypatch.undo()

    assert r.status_code in (201, 202), r.text
    assert r.json()["amount"] == 1000
    doc = await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))
    ppid = doc.json()["payments"][0]["provider_payment_id"]
    assert [x.amount for x in await sim.list_refunds(ppid)] == [1000]  # made once
    async with app.state.db.session() as s:
        rows = (await s.execute(select(Refund))).scalars().all()
    assert [(x.status, x.amount) for x in rows] == [("succeeded", 1000)]
    assert (doc.json()["amount_refunded"], doc.json()["status"]) == (1000, "partially_refunded")
