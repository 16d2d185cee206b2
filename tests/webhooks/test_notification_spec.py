"""The OpenAPI document's ``webhooks`` section describes the notifications regie sends:
one operation a type, and a body model strict enough that a field regie sends and the
document does not describe fails here (``webhooks.outbound.spec``)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlmodel import col

from tests.conftest import Keys, create_invoice, pay
from tests.payments.test_disputes import apply_all, dispute_event
from tests.payments.test_invoice_batches import batch, post_batch
from webhooks.outbound.models import WebhookDelivery
from webhooks.outbound.rules import EVENT_TYPES, INVOICE_CREATED
from webhooks.outbound.spec import TYPES, Notification


def test_the_document_has_one_operation_a_notification_type(app: Any) -> None:
    doc = app.openapi()
    hooks = doc["webhooks"]
    assert set(hooks) == {INVOICE_CREATED, *EVENT_TYPES.values()} == set(TYPES)
    for name, item in hooks.items():
        post = item["post"]
        body = post["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/Notification"}, name
        assert {p["name"] for p in post["parameters"]} == {"regie-event-id", "regie-signature"}
        assert "422" not in post["responses"]  # regie's own refusal, not the receiver's
    schema = doc["components"]["schemas"]["Notification"]
    assert schema["properties"]["type"]["enum"] == list(TYPES)


def test_a_body_with_a_field_the_document_lacks_is_refused() -> None:
    body = {
        "id": "evt_1",
        "object": "event",
        "type": "invoice.paid",
        "created": 0,
        "data": {"object": {}, "refund": {}},
    }
    with pytest.raises(ValidationError) as err:
        Notification.model_validate(body)
    assert any(e["loc"] == ("data", "refund") for e in err.value.errors())


async def _bodies(app: Any) -> list[str]:
    async with app.state.db.session() as s:
        stmt = select(WebhookDelivery).order_by(col(WebhookDelivery.seq))
        return [r.payload for r in (await s.execute(stmt)).scalars()]


async def test_every_body_regie_writes_is_what_the_document_describes(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    r = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/hook"},
        headers=Keys.h(keys.urbanisme),
    )
    assert r.status_code == 201, r.text
    assert (await post_batch(client, keys.urbanisme, batch(2))).status_code == 201
    declined = await create_invoice(client, keys.urbanisme, reference="DECLINED")
    await pay(client, declined, "4000 0000 0000 0002", apply=app)
    canceled = await create_invoice(client, keys.urbanisme, reference="CANCELED")
    r = await client.post(f"/v1/invoices/{canceled['id']}/cancel", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200, r.text
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    r = await client.post(
        f"/v1/invoices/{inv['id']}/refunds", json={"amount": 500}, headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 201, r.text
    r = await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))
    paid = {"invoice": inv["id"], "ppid": r.json()["payments"][0]["provider_payment_id"]}
    await apply_all(app, [dispute_event(app=app, paid=paid, etype="dispute.opened", amount=2000)])
    closed = dispute_event(app=app, paid=paid, etype="dispute.closed", amount=2000, status="won")
    await apply_all(app, [closed])

    bodies = await _bodies(app)
    told = set()
    for raw in bodies:
        note = Notification.model_validate_json(raw)  # no field the document lacks
        assert note.type in TYPES
        assert note.id == json.loads(raw)["id"]
        told.add(note.type)
    assert told == {
        "invoice.created",
        "invoice.payment_failed",
        "invoice.canceled",
        "invoice.paid",
        "invoice.refunded",
        "invoice.disputed",
        "invoice.dispute_closed",
    }
