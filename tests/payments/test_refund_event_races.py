"""Two workers apply two events about one refund the PSP made (PostgreSQL).

A refund made in the PSP's dashboard is reported by several events (Stripe sends
``refund.created``, ``charge.refunded`` and ``refund.updated``, each with its own id): two workers may apply
them at the same moment. Both find no refund of regie's with the PSP's id, then wait for
the invoice's lock; the one that gets it second must find the refund the first recorded
(one row, counted once) and be applied, not fail on the unique index and spend an
attempt."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from payments.models import Invoice, Refund
from tests.conftest import Keys, create_invoice, pay
from tests.lock_waits import lock_waiters
from tests.payments.test_disputes import balances, event, invoice
from webhooks.inbound.models import InboxEvent

pytestmark = pytest.mark.postgres


@pytest.fixture
async def paid(client: httpx.AsyncClient, app: Any, keys: Keys) -> dict[str, Any]:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    doc = await invoice(client, keys.urbanisme, inv["id"])
    return {"invoice": inv["id"], "ppid": doc["payments"][0]["provider_payment_id"]}


async def _until_waiting(app: Any, n: int, *tasks: asyncio.Task[Any]) -> None:
    for _ in range(500):
        if any(t.done() for t in tasks) or await lock_waiters(app.state.db) >= n:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never {n} waiting on a lock")


async def test_two_events_of_one_psp_refund_applied_at_once_record_it_once(
    client: httpx.AsyncClient, app: Any, keys: Keys, paid: dict[str, Any]
) -> None:
    made = await app.state.payments.provider.refund(paid["ppid"], 700, "dash-twice")
    data = {"refund_id": made.id, "provider_payment_id": paid["ppid"]}
    for ev in (event("refund.updated", **data), event("refund.updated", **data)):
        assert await app.state.intake.store(ev)
    async with app.state.db.session() as s:
        pending = select(InboxEvent.id).where(InboxEvent.status == "pending")
        ids = list((await s.execute(pending.order_by(InboxEvent.id))).scalars())
    applier = app.state.applier

    async with app.state.db.session() as holder:
        # another transaction holds the invoice: both workers find no refund of the PSP's
        # id, then wait for the invoice's lock
        await holder.execute(select(Invoice).where(Invoice.id == paid["invoice"]).with_for_update())
        tasks = [asyncio.create_task(applier.process_one(i)) for i in ids]
        await _until_waiting(app, 2, *tasks)
        assert not any(t.done() for t in tasks)
        await holder.rollback()
        applied = await asyncio.wait_for(asyncio.gather(*tasks), 20)

    async with app.state.db.session() as s:
        rows = (await s.execute(select(InboxEvent).where(InboxEvent.id.in_(ids)))).scalars().all()
        refunds = (await s.execute(select(Refund))).scalars().all()
    assert [(r.status, r.last_error) for r in rows] == [("done", None), ("done", None)], [
        (r.status, r.attempts, r.last_error) for r in rows
    ]
    assert applied == [True, True]
    assert [(r.provider_refund_id, r.status, r.amount) for r in refunds] == [
        (made.id, "succeeded", 700)
    ]
    doc = await invoice(client, keys.urbanisme, paid["invoice"])
    assert (doc["status"], doc["amount_refunded"]) == ("partially_refunded", 700)
    assert (await balances(app))[("income:urbanisme", "EUR")] == -(2500 - 700)
