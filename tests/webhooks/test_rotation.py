"""Issue 13, "Rotation": a client service disables, enables and deletes its endpoints and
rotates their secret; during the overlap both secrets sign (two ``v1=``); every POST also
carries the Standard Webhooks headers, checked here with the ``standardwebhooks`` package
from PyPI as an off-the-shelf receiver would."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from payments import signing
from regie.kit.database import utcnow
from tests.conftest import Keys, create_invoice
from webhooks.outbound.models import WebhookDelivery, WebhookEndpoint

_refs = itertools.count()


async def _register(client: httpx.AsyncClient, key: str) -> dict[str, Any]:
    r = await client.post(
        "/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/rot"}, headers=Keys.h(key)
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def _notify(client: httpx.AsyncClient, key: str) -> None:
    inv = await create_invoice(client, key, reference=f"ROT-{next(_refs)}")
    r = await client.post(f"/v1/invoices/{inv['id']}/cancel", headers=Keys.h(key))
    assert r.status_code == 200, r.text


async def _deliver(
    app: Any, monkeypatch: pytest.MonkeyPatch, now: dt.datetime | None = None
) -> list[httpx.Request]:
    sent: list[httpx.Request] = []

    def receive(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    pump = app.state.outbox
    async with httpx.AsyncClient(transport=httpx.MockTransport(receive)) as capture:
        monkeypatch.setattr(pump, "client", capture)
        await pump.deliver_due(now=now)
    return sent


def _standard_ok(request: httpx.Request, secret: str) -> bool:
    try:
        Webhook(secret).verify(request.content, dict(request.headers))
    except WebhookVerificationError:
        return False
    return True


def _regie_ok(request: httpx.Request, secret: str) -> bool:
    try:
        signing.verify(request.headers["Regie-Signature"], request.content, [secret])
    except signing.InvalidSignature:
        return False
    return True


async def test_standard_webhooks_headers_verify_with_the_standardwebhooks_package(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = await _register(client, keys.urbanisme)
    await _notify(client, keys.urbanisme)
    (sent,) = await _deliver(app, monkeypatch)
    assert sent.headers["webhook-id"] == sent.headers["Regie-Event-Id"]
    assert sent.headers["Regie-Signature"].startswith(f"t={sent.headers['webhook-timestamp']},")
    assert sent.headers["webhook-signature"].startswith("v1,")
    assert _standard_ok(sent, endpoint["secret"])
    assert Webhook(endpoint["secret"]).verify(sent.content, dict(sent.headers))["type"] == (
        "invoice.canceled"
    )
    assert not _standard_ok(sent, "whsec_" + "A" * 43 + "=")


async def test_a_rotation_signs_with_both_secrets_during_the_overlap_then_the_new_one(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = await _register(client, keys.urbanisme)
    r = await client.post(
        f"/v1/webhook-endpoints/{old['id']}/rotate-secret", headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 200, r.text
    new = r.json()
    assert new["id"] == old["id"] and new["secret"] != old["secret"]
    assert new["secret"].startswith("whsec_")
    expires = dt.datetime.fromisoformat(new["previous_secret_expires_at"])
    assert abs((expires - utcnow()) - dt.timedelta(hours=24)) < dt.timedelta(minutes=1)

    await _notify(client, keys.urbanisme)
    (during,) = await _deliver(app, monkeypatch)
    assert during.headers["Regie-Signature"].count("v1=") == 2
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    for secret in (old["secret"], new["secret"]):
        assert _regie_ok(during, secret) and _standard_ok(during, secret)

    # after the overlap, the former secret signs no more
    await _notify(client, keys.urbanisme)
    (after,) = await _deliver(app, monkeypatch, now=utcnow() + dt.timedelta(hours=25))
    assert after.headers["Regie-Signature"].count("v1=") == 1
    assert _regie_ok(after, new["secret"]) and not _regie_ok(after, old["secret"])
    assert " " not in after.headers["webhook-signature"]

    # once the overlap is over, the former secret is erased by the daily prune
    from regie.maintenance import prune

    assert (await prune(app.state.db, app.state.settings)).expired_secrets == 0
    later = await prune(app.state.db, app.state.settings, now=utcnow() + dt.timedelta(hours=25))
    assert later.expired_secrets == 1
    async with app.state.db.session() as s:
        row = await s.get(WebhookEndpoint, old["id"])
    assert (row.previous_secret_sealed, row.previous_secret_expires_at) == (None, None)

    # the overlap is the caller's to choose; 0 ends the former secret at once
    r = await client.post(
        f"/v1/webhook-endpoints/{old['id']}/rotate-secret",
        json={"overlap_hours": 0},
        headers=Keys.h(keys.urbanisme),
    )
    assert r.status_code == 200 and r.json()["previous_secret_expires_at"] is None
    newest = r.json()["secret"]
    await _notify(client, keys.urbanisme)
    (now_only,) = await _deliver(app, monkeypatch)
    assert _regie_ok(now_only, newest) and not _regie_ok(now_only, new["secret"])
    r = await client.post(
        f"/v1/webhook-endpoints/{old['id']}/rotate-secret",
        json={"overlap_hours": 24 * 8},
        headers=Keys.h(keys.urbanisme),
    )
    assert r.status_code == 422
    # hours are a JSON integer: a string, a boolean or a float is refused, never read as one
    for odd in ("2", True, 2.0, 2.5):
        r = await client.post(
            f"/v1/webhook-endpoints/{old['id']}/rotate-secret",
            json={"overlap_hours": odd},
            headers=Keys.h(keys.urbanisme),
        )
        assert r.status_code == 422 and r.json()["error"]["param"] == "overlap_hours", odd


async def test_a_rotation_replay_never_stores_the_new_secret(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    endpoint = await _register(client, keys.urbanisme)
    h = Keys.h(keys.urbanisme, **{"Idempotency-Key": "rot-1"})
    path = f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret"
    first = await client.post(path, headers=h)
    assert first.status_code == 200, first.text
    again = await client.post(path, headers=h)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["secret"] is None and again.json()["secret_note"]
    async with app.state.db.session() as s:
        from regie.kit.idempotency import IdempotencyRecord

        stored = [r.response_body for r in (await s.execute(select(IdempotencyRecord))).scalars()]
    assert stored and not any(first.json()["secret"] in (b or "") for b in stored)


async def test_disable_enable_and_delete(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = await _register(client, keys.urbanisme)
    base = f"/v1/webhook-endpoints/{endpoint['id']}"
    await _notify(client, keys.urbanisme)  # pending when disabled: it waits
    r = await client.post(f"{base}/disable", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200 and r.json()["status"] == "disabled", r.text
    await _notify(client, keys.urbanisme)  # while disabled: not written at all
    assert await _deliver(app, monkeypatch) == []
    r = await client.get(base, headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200 and r.json()["status"] == "disabled"
    assert "secret" not in r.json()
    r = await client.post(f"{base}/enable", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200 and r.json()["status"] == "enabled"
    assert len(await _deliver(app, monkeypatch)) == 1  # the one that waited

    await _notify(client, keys.urbanisme)  # pending when deleted: given up
    r = await client.delete(base, headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200, r.text
    assert r.json() == {"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True}
    assert (await client.get(base, headers=Keys.h(keys.urbanisme))).status_code == 404
    assert (await client.delete(base, headers=Keys.h(keys.urbanisme))).status_code == 404
    listed = await client.get("/v1/webhook-endpoints", headers=Keys.h(keys.urbanisme))
    assert listed.json()["data"] == []
    assert await _deliver(app, monkeypatch) == []
    async with app.state.db.session() as s:
        row = await s.get(WebhookEndpoint, endpoint["id"])
        assert (row.status, row.secret_sealed, row.previous_secret_sealed) == ("deleted", "", None)
        deliveries = list(
            (
                await s.execute(
                    select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint["id"])
                )
            ).scalars()
        )
    assert sorted(d.status for d in deliveries) == ["delivered", "failed"]
    failed = next(d for d in deliveries if d.status == "failed")
    r = await client.post(
        f"/v1/webhook-deliveries/{failed.id}/resend", headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "endpoint_not_enabled"


async def test_another_service_gets_404_and_finance_403_on_every_management_route(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    endpoint = await _register(client, keys.urbanisme)
    base = f"/v1/webhook-endpoints/{endpoint['id']}"
    calls = [
        ("POST", f"{base}/disable"),
        ("POST", f"{base}/enable"),
        ("POST", f"{base}/rotate-secret"),
        ("DELETE", base),
    ]
    for method, path in [("GET", base), *calls]:
        r = await client.request(method, path, headers=Keys.h(keys.etat_civil))
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["error"]["code"] == "resource_missing"
    for method, path in calls:
        r = await client.request(method, path, headers=Keys.h(keys.finance))
        assert r.status_code == 403, (method, path, r.text)
    assert (await client.get(base, headers=Keys.h(keys.finance))).status_code == 200
    # untouched by all of it
    async with app.state.db.session() as s:
        row = await s.get(WebhookEndpoint, endpoint["id"])
    assert row.status == "enabled" and row.previous_secret_sealed is None
    assert app.state.outbox.sealer.open(row.secret_sealed, context=row.id) == endpoint["secret"]
