"""Idempotency keys past ``STALE_AFTER``: only an abandoned *in-progress* claim may be taken
over; a completed key keeps replaying its answer for the whole TTL (24 h), however old."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy import func, select, update

from payments.models import Invoice, Refund
from regie.kit.idempotency import STALE_AFTER, IdempotencyRecord, fingerprint
from regie.kit.tenancy import get_service_by_slug
from tests.conftest import Keys, create_invoice, pay

OLD = STALE_AFTER + dt.timedelta(minutes=1)  # past the stale mark, well inside the 24 h TTL


async def age_keys(app: Any, key: str, by: dt.timedelta) -> None:
    async with app.state.db.session() as s:
        await s.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.key == key)
            .values(created_at=dt.datetime.now(dt.UTC) - by)
        )
        await s.commit()


async def count(app: Any, model: Any, *where: Any) -> int:
    async with app.state.db.session() as s:
        return int(
            (await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one()
        )


async def test_a_completed_invoice_creation_replays_after_the_stale_mark(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    body = {
        "amount": 2500,
        "currency": "EUR",
        "reference": "IDEM-OLD",
        "description": "Permis",
        "payer": {"name": "Camille Martin"},
    }
    headers = Keys.h(keys.urbanisme, **{"Idempotency-Key": "old-create"})
    first = await client.post("/v1/invoices", json=body, headers=headers)
    assert first.status_code == 201, first.text
    await age_keys(app, "old-create", OLD)
    again = await client.post("/v1/invoices", json=body, headers=headers)
    assert again.status_code == 201, again.text
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()
    assert await count(app, Invoice) == 1


async def test_a_completed_refund_is_never_made_again_after_the_stale_mark(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    url = f"/v1/invoices/{inv['id']}/refunds"
    headers = Keys.h(keys.urbanisme, **{"Idempotency-Key": "old-refund"})
    first = await client.post(url, json={"amount": 500}, headers=headers)
    assert first.status_code == 201, first.text
    await age_keys(app, "old-refund", OLD)
    again = await client.post(url, json={"amount": 500}, headers=headers)
    assert again.status_code == 201, again.text
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json()["id"] == first.json()["id"]
    assert await count(app, Refund) == 1
    doc = (await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))).json()
    assert (doc["amount_refunded"], doc["amount_refundable"]) == (500, 2000)


async def test_only_an_abandoned_in_progress_claim_is_taken_over(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    """A claim left ``in_progress`` by a crashed request: 409 while it may still be running,
    taken over once stale; the answer of the request that took it over then replays, also
    after the stale mark."""
    inv = await create_invoice(client, keys.urbanisme)
    path = f"/v1/invoices/{inv['id']}/cancel"
    async with app.state.db.session() as s:
        svc = await get_service_by_slug(s, "urbanisme")
        assert svc is not None
        s.add(
            IdempotencyRecord(
                id="idem_crashed",
                scope=svc.id,
                key="crashed",
                fingerprint=fingerprint("POST", path, {}),
                state="in_progress",
                created_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5),
            )
        )
        await s.commit()
    headers = Keys.h(keys.urbanisme, **{"Idempotency-Key": "crashed"})
    busy = await client.post(path, headers=headers)
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "idempotency_key_in_use"
    assert await count(app, Invoice, Invoice.status == "open") == 1

    await age_keys(app, "crashed", OLD)
    taken = await client.post(path, headers=headers)
    assert taken.status_code == 200, taken.text
    assert taken.headers.get("idempotent-replayed") is None
    assert taken.json()["status"] == "canceled"

    await age_keys(app, "crashed", OLD)  # now a completed key, as old as the abandoned one was
    replay = await client.post(path, headers=headers)
    assert replay.status_code == 200, replay.text
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.json() == taken.json()
