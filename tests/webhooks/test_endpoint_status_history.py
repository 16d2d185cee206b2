"""An endpoint disabled, enabled or deleted changes what happens to its notifications (a
disabled one's wait; a deleted one's pending ones fail, ``endpoint deleted``): the stored
event that explains each change is a row of ``webhook_endpoint_changes`` (who: the API
key's id; when; from what status to what), written in the transaction of the change.
Before, only a log line said an endpoint had been disabled or deleted, and by no one."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select
from sqlmodel import col

from regie.kit.tenancy import ApiKey, Service
from tests.conftest import Keys, create_invoice, pay
from tests.webhooks.notify_kit import Receiver, register, rows
from webhooks.outbound.models import EndpointChange, WebhookDelivery


async def _key_id(app: Any, slug: str, role: str) -> str:
    async with app.state.db.session() as s:
        stmt = (
            select(col(ApiKey.id))
            .join(Service, col(Service.id) == col(ApiKey.service_id))
            .where(col(Service.slug) == slug, col(ApiKey.role) == role)
        )
        return str((await s.execute(stmt)).scalar_one())


async def _changes(app: Any, endpoint_id: str) -> list[tuple[str, str, str]]:
    async with app.state.db.session() as s:
        stmt = (
            select(EndpointChange)
            .where(col(EndpointChange.endpoint_id) == endpoint_id)
            .order_by(col(EndpointChange.id))
        )
        return [
            (c.key_id, c.status_before, c.status_after) for c in (await s.execute(stmt)).scalars()
        ]


async def test_each_status_change_of_an_endpoint_is_stored_with_who_made_it(
    client: httpx.AsyncClient, app: Any, keys: Keys, receiver: Receiver
) -> None:
    endpoint = await register(client, keys.urbanisme, f"{receiver.url}/hook")
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    service_key = await _key_id(app, "urbanisme", "service")
    admin_key = await _key_id(app, "tresorerie", "admin")
    assert await _changes(app, endpoint["id"]) == []

    r = await client.post(f"{path}/disable", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200, r.text
    r = await client.post(f"{path}/enable", headers=Keys.h(keys.admin))
    assert r.status_code == 200, r.text
    assert await _changes(app, endpoint["id"]) == [
        (service_key, "enabled", "disabled"),
        (admin_key, "disabled", "enabled"),
    ]

    # deleted with a notification pending: that notification fails, and the record says
    # who deleted the endpoint it was for
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    (delivery,) = await rows(app, WebhookDelivery.invoice_id == inv["id"])
    assert delivery.status == "pending"
    r = await client.delete(path, headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200, r.text
    (delivery,) = await rows(app, WebhookDelivery.invoice_id == inv["id"])
    assert (delivery.status, delivery.last_error) == ("failed", "endpoint deleted")
    assert await _changes(app, endpoint["id"]) == [
        (service_key, "enabled", "disabled"),
        (admin_key, "disabled", "enabled"),
        (service_key, "enabled", "deleted"),
    ]
    async with app.state.db.session() as s:
        times = [
            c.at
            for c in (
                await s.execute(select(EndpointChange).order_by(col(EndpointChange.id)))
            ).scalars()
        ]
    assert times == sorted(times)


async def test_a_refused_change_stores_nothing(
    client: httpx.AsyncClient, app: Any, keys: Keys, receiver: Receiver
) -> None:
    endpoint = await register(client, keys.urbanisme, f"{receiver.url}/hook")
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    # another service's key: 404, nothing changed, nothing recorded
    r = await client.post(f"{path}/disable", headers=Keys.h(keys.etat_civil))
    assert r.status_code == 404, r.text
    r = await client.delete(path, headers=Keys.h(keys.etat_civil))
    assert r.status_code == 404, r.text
    assert await _changes(app, endpoint["id"]) == []
