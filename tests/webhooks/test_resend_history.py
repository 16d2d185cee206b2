"""A resend puts a delivery back to pending: the stored event that explains the change is a
row of ``webhook_delivery_resends`` (who asked, when, from what status), shown in the
delivery's ``resend_history``. Before, only a log line and the idempotency key's row (pruned
after 24 h) said a resend had happened."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select
from sqlmodel import col

from regie.kit.tenancy import ApiKey, Service
from tests.conftest import Keys, create_invoice, pay
from tests.webhooks.notify_kit import Receiver, count, register, rows
from webhooks.outbound.models import WebhookDelivery, WebhookDeliveryResend


async def _key_id(app: Any, slug: str, role: str) -> str:
    async with app.state.db.session() as s:
        stmt = (
            select(col(ApiKey.id))
            .join(Service, col(Service.id) == col(ApiKey.service_id))
            .where(col(Service.slug) == slug, col(ApiKey.role) == role)
        )
        return str((await s.execute(stmt)).scalar_one())


async def test_each_resend_is_stored_with_who_asked_and_the_status_it_changed(
    client: httpx.AsyncClient, app: Any, keys: Keys, receiver: Receiver, notifications: Any
) -> None:
    endpoint = await register(client, keys.urbanisme, f"{receiver.url}/hook")
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    assert await notifications.deliver_due() == 1
    (delivery,) = await rows(app, WebhookDelivery.invoice_id == inv["id"])
    path = f"/v1/webhook-deliveries/{delivery.id}"

    r = await client.post(f"{path}/resend", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200, r.text
    service_key = await _key_id(app, "urbanisme", "service")
    (first,) = r.json()["resend_history"]
    assert (first["key"], first["status_before"]) == (service_key, "delivered")
    # an admin re-sends it too, before it went out again
    r = await client.post(f"{path}/resend", headers=Keys.h(keys.admin))
    assert r.status_code == 200, r.text
    admin_key = await _key_id(app, "tresorerie", "admin")
    got = await client.get(path, headers=Keys.h(keys.urbanisme))
    history = got.json()["resend_history"]
    assert [(h["key"], h["status_before"]) for h in history] == [
        (service_key, "delivered"),
        (admin_key, "pending"),
    ]
    assert history[0]["at"] <= history[1]["at"]
    assert await notifications.deliver_due() == 1

    # a resend refused changes nothing and stores nothing
    r = await client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/disable", headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 200, r.text
    r = await client.post(f"{path}/resend", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 409
    assert await count(app, WebhookDeliveryResend) == 2
    got = await client.get(path, headers=Keys.h(keys.urbanisme))
    assert len(got.json()["resend_history"]) == 2 and got.json()["status"] == "delivered"
