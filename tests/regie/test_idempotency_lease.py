"""A request that outlives its claim's lease (``STALE_AFTER``): another request with the same
key may then take the key over, so the operation must still take effect once, and the key
must replay the answer of the request whose effect committed.

Each request is held where a slow one would be: the first registration of a notification
endpoint in its DNS lookup (before it writes anything), or just after it stored its answer
in its transaction (before the commit).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import Delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from payments.models import Refund
from payments.service import invoices as invoices_module
from payments.service import refunds as refunds_module
from regie.kit.idempotency import STALE_AFTER, Claim, IdempotencyRecord
from tests.conftest import Keys, create_invoice, invoice_body, pay
from tests.lock_waits import lock_waiters
from tests.regie.test_idempotency_takeover import age_keys
from webhooks.outbound.models import WebhookEndpoint

URL = "http://hooks.test:9/in"
KEYS = IdempotencyRecord.__tablename__


async def endpoints(app: Any) -> int:
    async with app.state.db.session() as s:
        return int(
            (await s.execute(select(func.count()).select_from(WebhookEndpoint))).scalar_one()
        )


async def test_a_request_past_its_lease_does_not_register_a_second_endpoint(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first registration waits on a slow DNS answer past the lease; a retry with the
    same key takes the key over and registers the endpoint. The first, answered at last,
    must not register another one (with its own secret) nor answer a secret that never signs."""
    reached, go = asyncio.Event(), asyncio.Event()
    calls: list[str] = []

    async def slow_dns(host: str, port: int) -> list[str]:
        calls.append(host)
        if len(calls) == 1:
            reached.set()
            await go.wait()
        return ["127.0.0.1"]

    monkeypatch.setattr(app.state.notifications.guard, "resolver", slow_dns)
    headers = Keys.h(keys.urbanisme, **{"Idempotency-Key": "slow-dns"})

    def register() -> Any:
        return client.post("/v1/webhook-endpoints", json={"url": URL}, headers=headers)

    first = asyncio.create_task(register())
    await asyncio.wait_for(reached.wait(), 10)
    await age_keys(app, "slow-dns", STALE_AFTER + dt.timedelta(seconds=1))
    second = await register()
    assert second.status_code == 201, second.text
    assert second.json()["secret"]
    go.set()
    late = await asyncio.wait_for(first, 10)

    assert await endpoints(app) == 1
    assert late.status_code == 409, late.text
    assert late.json()["error"]["code"] == "idempotency_key_in_use"
    again = await register()  # the retry the 409 asks for: the registration that was made
    assert again.status_code == 201, again.text
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json()["id"] == second.json()["id"]
    assert await endpoints(app) == 1


async def test_a_refund_past_its_lease_is_made_once(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first refund request is held before its reservation (waiting its turn on the
    invoice, say) past the lease; a retry with the same key takes the key over and reserves
    the refund. The first must not refund the payer a second time."""
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    reached, go = asyncio.Event(), asyncio.Event()
    real_uow = refunds_module.unit_of_work

    @asynccontextmanager
    async def slow_uow(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        if not reached.is_set():
            reached.set()
            await go.wait()
        async with real_uow(*args, **kwargs) as uow:
            yield uow

    monkeypatch.setattr(refunds_module, "unit_of_work", slow_uow)
    url = f"/v1/invoices/{inv['id']}/refunds"
    headers = Keys.h(keys.urbanisme, **{"Idempotency-Key": "slow-refund"})

    def refund() -> Any:
        return client.post(url, json={"amount": 500}, headers=headers)

    first = asyncio.create_task(refund())
    await asyncio.wait_for(reached.wait(), 10)
    await age_keys(app, "slow-refund", STALE_AFTER + dt.timedelta(seconds=1))
    second = await refund()
    assert second.status_code == 201, second.text
    go.set()
    late = await asyncio.wait_for(first, 10)

    async with app.state.db.session() as s:
        made = (await s.execute(select(func.count()).select_from(Refund))).scalar_one()
    assert made == 1
    assert late.status_code == 409, late.text
    assert late.json()["error"]["code"] == "idempotency_key_in_use"
    doc = (await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))).json()
    assert (doc["amount_refunded"], doc["amount_refundable"]) == (500, 2000)


async def test_an_invoice_created_past_its_lease_leaves_the_key_to_the_takeover(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both requests held before their transaction: the one that lost the key goes first.
    It must not create the invoice (the key's owner would then be refused the reference
    and its 409 replay for the key, over an invoice that exists)."""
    gates = [asyncio.Event(), asyncio.Event()]
    arrived = [asyncio.Event(), asyncio.Event()]
    real_uow = invoices_module.unit_of_work
    calls: list[int] = []

    @asynccontextmanager
    async def held_uow(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        n = len(calls)
        calls.append(n)
        if n < 2:
            arrived[n].set()
            await gates[n].wait()
        async with real_uow(*args, **kwargs) as uow:
            yield uow

    monkeypatch.setattr(invoices_module, "unit_of_work", held_uow)
    headers = Keys.h(keys.urbanisme, **{"Idempotency-Key": "slow-create"})

    def create() -> Any:
        return client.post("/v1/invoices", json=invoice_body(reference="LEASE-1"), headers=headers)

    first = asyncio.create_task(create())
    await asyncio.wait_for(arrived[0].wait(), 10)
    await age_keys(app, "slow-create", STALE_AFTER + dt.timedelta(seconds=1))
    second = asyncio.create_task(create())
    await asyncio.wait_for(arrived[1].wait(), 10)  # it took the key over
    gates[0].set()
    late = await asyncio.wait_for(first, 10)
    gates[1].set()
    owner = await asyncio.wait_for(second, 10)

    assert late.status_code == 409, late.text
    assert late.json()["error"]["code"] == "idempotency_key_in_use"
    assert owner.status_code == 201, owner.text
    again = await create()
    assert again.status_code == 201, again.text
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json()["id"] == owner.json()["id"]


@pytest.mark.postgres
async def test_a_takeover_decided_before_an_answer_committed_replays_it(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second request read the first's claim in progress and past its lease; before it
    deletes it, the first stores its answer (the row is then locked until its commit), so
    the deletion waits. Once the first has committed, the second must replay its answer,
    not delete it and register a second endpoint."""
    in_dns, dns_go = asyncio.Event(), asyncio.Event()
    at_delete, answered, commit_go = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def slow_dns(host: str, port: int) -> list[str]:
        if not in_dns.is_set():
            in_dns.set()
            await dns_go.wait()
        return ["127.0.0.1"]

    real_complete = Claim.complete

    async def complete_then_wait(self: Claim, *args: Any, **kwargs: Any) -> None:
        await real_complete(self, *args, **kwargs)
        if not answered.is_set():
            answered.set()
            await commit_go.wait()

    real_execute = AsyncConnection.execute

    async def execute(self: AsyncConnection, statement: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(statement, Delete) and getattr(statement.table, "name", "") == KEYS:
            if not at_delete.is_set():
                at_delete.set()
                await answered.wait()
        return await real_execute(self, statement, *args, **kwargs)

    monkeypatch.setattr(app.state.notifications.guard, "resolver", slow_dns)
    monkeypatch.setattr(Claim, "complete", complete_then_wait)
    monkeypatch.setattr(AsyncConnection, "execute", execute)
    headers = Keys.h(keys.urbanisme, **{"Idempotency-Key": "committing"})

    def register() -> Any:
        return client.post("/v1/webhook-endpoints", json={"url": URL}, headers=headers)

    first = asyncio.create_task(register())
    await asyncio.wait_for(in_dns.wait(), 10)
    await age_keys(app, "committing", STALE_AFTER + dt.timedelta(seconds=1))
    second = asyncio.create_task(register())
    await asyncio.wait_for(at_delete.wait(), 10)  # it read the claim in progress, past its lease
    dns_go.set()
    await asyncio.wait_for(answered.wait(), 10)  # the first's answer is stored, not committed
    for _ in range(500):
        if second.done() or await lock_waiters(app.state.db):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the second request neither finished nor waited on a lock")
    commit_go.set()
    one, two = await asyncio.wait_for(first, 10), await asyncio.wait_for(second, 10)

    assert one.status_code == 201, one.text
    assert await endpoints(app) == 1
    assert two.status_code == 201, two.text
    assert two.headers.get("idempotent-replayed") == "true"
    assert two.json()["id"] == one.json()["id"]
