"""What a notification's ``data.object`` says: the invoice as the state change left it.

A refund's credit note is numbered at commit (``receipts``, a ``uow.last`` step, for the
gap-free counter's lock), after the outbox subscriber ran: the ``invoice.refunded`` body
must still list it, as ``GET /v1/invoices/{id}`` does once the refund is answered.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import select
from sqlmodel import col

from tests.conftest import Keys, create_invoice, pay
from webhooks.outbound.models import WebhookDelivery


async def _bodies(app: Any, event_type: str) -> list[dict[str, Any]]:
    async with app.state.db.session() as s:
        stmt = (
            select(WebhookDelivery)
            .where(col(WebhookDelivery.event_type) == event_type)
            .order_by(col(WebhookDelivery.seq))
        )
        return [json.loads(r.payload) for r in (await s.execute(stmt)).scalars()]


async def _refund(client: httpx.AsyncClient, key: str, inv: dict[str, Any], amount: int) -> Any:
    r = await client.post(
        f"/v1/invoices/{inv['id']}/refunds",
        json={"amount": amount, "reason": "dossier incomplet"},
        headers=Keys.h(key),
    )
    assert r.status_code == 201, r.text
    return r.json()


async def test_invoice_refunded_lists_the_credit_note_its_refund_issued(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    r = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/hook"},
        headers=Keys.h(keys.urbanisme),
    )
    assert r.status_code == 201, r.text
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    first = await _refund(client, keys.urbanisme, inv, 1000)
    second = await _refund(client, keys.urbanisme, inv, 500)

    bodies = await _bodies(app, "invoice.refunded")
    assert len(bodies) == 2
    told = [
        [(n["number"], n["refund"]) for n in b["data"]["object"]["credit_notes"]] for b in bodies
    ]
    one = (first["credit_note"]["number"], first["id"])
    two = (second["credit_note"]["number"], second["id"])
    assert told == [[one], [one, two]]
    got = await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))
    assert bodies[-1]["data"]["object"] == got.json()
