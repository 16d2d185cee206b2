"""Issue 13, "Secrets at rest": endpoint secrets are sealed (AES-GCM, a key derived from
``REGIE_SECRET_KEY``), never copied into the idempotency table, and what must not be kept
forever is pruned (idempotency rows after their TTL, the payloads of notifications delivered
or given up after ``REGIE_NOTIFICATION_RETENTION_DAYS``) by ``regie maintenance prune`` and
the worker."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text, update

from payments import signing
from regie.composition import build_worker
from regie.kit.database import utcnow
from regie.kit.idempotency import IdempotencyRecord
from regie.kit.sealing import Sealer, SealError
from regie.kit.settings import DEV_SECRET_KEY, Settings
from regie.maintenance import prune
from regie.migrate import upgrade
from tests.conftest import Keys, create_invoice
from webhooks.outbound.endpoints import reseal_all
from webhooks.outbound.models import WebhookDelivery, WebhookEndpoint

REGIE = str(Path(sys.executable).parent / "regie")


async def _register(client: httpx.AsyncClient, key: str, **headers: str) -> httpx.Response:
    return await client.post(
        "/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/rest"},
        headers=Keys.h(key, **headers),
    )


async def _all_text(app: Any, table: str) -> str:
    """Every value of every row of ``table``, as the database holds it."""
    async with app.state.db.session() as s:
        rows = (await s.execute(text(f"SELECT * FROM {table}"))).all()  # noqa: S608 - fixed names
    return "\n".join(str(v) for row in rows for v in row)


async def _capture(
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


# ------------------------------------------------------------------- sealing
def test_a_sealed_secret_opens_only_with_its_key_and_its_row() -> None:
    sealer = Sealer(["k" * 40])
    sealed = sealer.seal("whsec_abc", context="whe_1")
    assert "whsec_abc" not in sealed and sealed.startswith("v1.")
    assert sealer.open(sealed, context="whe_1") == "whsec_abc"
    assert sealer.seal("whsec_abc", context="whe_1") != sealed  # a fresh nonce each time
    with pytest.raises(SealError):
        sealer.open(sealed, context="whe_2")  # copied onto another endpoint's row
    with pytest.raises(SealError):
        Sealer(["x" * 40]).open(sealed, context="whe_1")  # another secret key
    with pytest.raises(SealError):
        sealer.open(sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1], context="whe_1")
    # after a change of REGIE_SECRET_KEY the old one (REGIE_PREVIOUS_SECRET_KEYS) still opens
    rotated = Sealer(["n" * 40, "k" * 40])
    assert rotated.open(sealed, context="whe_1") == "whsec_abc"
    assert rotated.seal("s", context="c").split(".")[1] != sealed.split(".")[1]  # new key id
    with pytest.raises(ValueError):
        Sealer([])


async def test_endpoint_secrets_are_stored_sealed_and_still_sign(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = await _register(client, keys.urbanisme)
    assert r.status_code == 201, r.text
    secret = r.json()["secret"]
    stored = await _all_text(app, "webhook_endpoints")
    assert r.json()["id"] in stored
    assert secret not in stored and secret.removeprefix("whsec_") not in stored

    inv = await create_invoice(client, keys.urbanisme)
    r = await client.post(f"/v1/invoices/{inv['id']}/cancel", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200, r.text
    (sent,) = await _capture(app, monkeypatch)
    signing.verify(sent.headers["Regie-Signature"], sent.content, [secret])


async def test_an_idempotent_registration_never_stores_the_secret_in_the_idempotency_table(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    first = await _register(client, keys.urbanisme, **{"Idempotency-Key": "rest-1"})
    assert first.status_code == 201, first.text
    secret = first.json()["secret"]
    assert secret.startswith("whsec_")
    assert secret not in await _all_text(app, "idempotency_keys")
    assert secret.removeprefix("whsec_") not in await _all_text(app, "idempotency_keys")
    # the replay answers the same endpoint, without its secret (shown once; rotate to get a
    # new one), and says so
    again = await _register(client, keys.urbanisme, **{"Idempotency-Key": "rest-1"})
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    replay = again.json()
    assert replay["secret"] is None
    assert "rotate" in replay["secret_note"]
    assert {k: v for k, v in replay.items() if k not in ("secret", "secret_note")} == {
        k: v for k, v in first.json().items() if k not in ("secret", "secret_note")
    }
    assert first.json()["secret_note"] is None


# ------------------------------------------------------------------- pruning
async def _old_rows(app: Any, keys: Keys, client: httpx.AsyncClient) -> dict[str, str]:
    """Two idempotency rows (one past its TTL) and three deliveries (delivered long ago,
    delivered yesterday, pending long ago)."""
    for n in (1, 2):
        r = await client.post(
            "/v1/invoices",
            json={
                "amount": 100,
                "currency": "EUR",
                "reference": f"P{n}",
                "description": "x",
                "payer": {"name": "Camille Martin"},
            },
            headers=Keys.h(keys.urbanisme, **{"Idempotency-Key": f"prune-{n}"}),
        )
        assert r.status_code == 201, r.text
    r = await _register(client, keys.urbanisme)
    assert r.status_code == 201
    for n in range(3):
        inv = await create_invoice(client, keys.urbanisme, reference=f"D{n}")
        r = await client.post(f"/v1/invoices/{inv['id']}/cancel", headers=Keys.h(keys.urbanisme))
        assert r.status_code == 200
    now = utcnow()
    async with app.state.db.session() as s:
        await s.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.key == "prune-1")
            .values(created_at=now - dt.timedelta(hours=25))
        )
        old, recent, pending = (
            await s.execute(select(WebhookDelivery).order_by(WebhookDelivery.seq))
        ).scalars()
        for row, status, age in ((old, "delivered", 31), (recent, "delivered", 1)):
            await s.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == row.id)
                .values(status=status, delivered_at=now - dt.timedelta(days=age))
            )
        await s.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == pending.id)
            .values(created_at=now - dt.timedelta(days=90))
        )
        await s.commit()
    return {"old": old.id, "recent": recent.id, "pending": pending.id}


async def _state(app: Any) -> tuple[set[str], dict[str, tuple[str, bool]]]:
    async with app.state.db.session() as s:
        keys_left = set((await s.execute(select(IdempotencyRecord.key))).scalars())
        deliveries = {
            d.id: (d.payload, d.payload_pruned_at is not None)
            for d in (await s.execute(select(WebhookDelivery))).scalars()
        }
    return keys_left, deliveries


async def test_prune_drops_expired_idempotency_rows_and_old_delivered_payloads(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    ids = await _old_rows(app, keys, client)
    result = await prune(app.state.db, app.state.settings)
    assert (result.idempotency_rows, result.payloads) == (1, 1)
    keys_left, deliveries = await _state(app)
    assert keys_left == {"prune-2"}
    assert deliveries[ids["old"]] == ("", True)
    assert "Camille Martin" in deliveries[ids["recent"]][0] and not deliveries[ids["recent"]][1]
    assert "Camille Martin" in deliveries[ids["pending"]][0]  # not delivered yet: kept
    # a pruned delivery says so, and cannot be sent again (its body is gone)
    r = await client.get(f"/v1/webhook-deliveries/{ids['old']}", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200 and r.json()["payload_pruned_at"] is not None
    r = await client.post(
        f"/v1/webhook-deliveries/{ids['old']}/resend", headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "delivery_pruned"
    # twice is nothing more
    again = await prune(app.state.db, app.state.settings)
    assert (again.idempotency_rows, again.payloads) == (0, 0)


async def test_a_given_up_notification_body_is_pruned_after_the_retention_period(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """A notification never delivered (given up after its attempts, or because its endpoint
    was deleted) kept its body, the payer's name and email, for ever: only delivered rows
    were emptied. Now a given-up body goes the retention period after the row's last
    attempt (or its creation, if it had none); within it, it can still be resent."""
    r = await _register(client, keys.urbanisme)
    assert r.status_code == 201, r.text
    deleted = r.json()["id"]
    payer = {"name": "Camille Martin", "email": "camille@example.org"}
    inv = await create_invoice(client, keys.urbanisme, payer=payer)
    r = await client.post(f"/v1/invoices/{inv['id']}/cancel", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200
    # the endpoint is deleted: what was pending for it is given up
    r = await client.delete(f"/v1/webhook-endpoints/{deleted}", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200, r.text
    # an endpoint still in use, whose two notifications were given up after their attempts
    r = await _register(client, keys.urbanisme)
    assert r.status_code == 201, r.text
    for n in (1, 2):
        other = await create_invoice(client, keys.urbanisme, payer=payer, reference=f"G{n}")
        r = await client.post(f"/v1/invoices/{other['id']}/cancel", headers=Keys.h(keys.urbanisme))
        assert r.status_code == 200
    now = utcnow()
    async with app.state.db.session() as s:
        gone, old, recent = (
            await s.execute(select(WebhookDelivery).order_by(WebhookDelivery.seq))
        ).scalars()
        await s.execute(  # no attempt ever: its creation counts
            update(WebhookDelivery)
            .where(WebhookDelivery.id == gone.id)
            .values(created_at=now - dt.timedelta(days=400))
        )
        for row, days in ((old, 31), (recent, 29)):
            await s.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == row.id)
                .values(
                    status="failed",
                    attempts=8,
                    created_at=now - dt.timedelta(days=40),
                    last_attempt_at=now - dt.timedelta(days=days),
                )
            )
        await s.commit()
    assert (await prune(app.state.db, app.state.settings)).payloads == 2
    _, deliveries = await _state(app)
    for pruned in (gone.id, old.id):
        assert deliveries[pruned] == ("", True)
    assert "camille@example.org" in deliveries[recent.id][0] and not deliveries[recent.id][1]
    # a pruned body is never sent empty: its resend is refused, the row stays given up
    r = await client.post(f"/v1/webhook-deliveries/{old.id}/resend", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 409 and r.json()["error"]["code"] == "delivery_pruned", r.text
    r = await client.get(f"/v1/webhook-deliveries/{old.id}", headers=Keys.h(keys.urbanisme))
    assert r.json()["status"] == "failed" and r.json()["payload_pruned_at"] is not None
    # the one given up within the period can still be sent again, whole
    r = await client.post(
        f"/v1/webhook-deliveries/{recent.id}/resend", headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 200 and r.json()["status"] == "pending", r.text
    assert (await prune(app.state.db, app.state.settings)).payloads == 0


async def test_the_retention_is_configurable(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    ids = await _old_rows(app, keys, client)
    settings = app.state.settings.model_copy(update={"notification_retention_days": 90})
    assert (await prune(app.state.db, settings)).payloads == 0
    settings = app.state.settings.model_copy(update={"notification_retention_days": 2})
    assert (await prune(app.state.db, settings)).payloads == 1  # not the one of yesterday
    _, deliveries = await _state(app)
    assert deliveries[ids["old"]][1] and not deliveries[ids["recent"]][1]


async def test_the_worker_prunes_daily(client: httpx.AsyncClient, app: Any, keys: Keys) -> None:
    ids = await _old_rows(app, keys, client)
    worker = build_worker(app.state.settings, app.state.services)
    jobs = {name: every for name, every, _ in worker.jobs}
    assert jobs["maintenance-prune"] == dt.timedelta(days=1)
    await worker.tick()
    keys_left, deliveries = await _state(app)
    assert keys_left == {"prune-2"} and deliveries[ids["old"]][1]


def test_regie_maintenance_prune_on_the_command_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")}
    path = tmp_path / "cli.db"
    env["REGIE_DATABASE_URL"] = f"sqlite+aiosqlite:///{path}"
    assert subprocess.run([REGIE, "db", "upgrade"], env=env, timeout=120).returncode == 0
    old = (utcnow() - dt.timedelta(days=2)).isoformat()
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO idempotency_keys (id, scope, key, fingerprint, state, created_at)"
            " VALUES ('idem_1', 's', 'k', 'f', 'done', ?)",
            (old,),
        )
    done = subprocess.run(
        [REGIE, "maintenance", "prune"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "pruned 1 idempotency keys, 0 notification bodies, 0 rotated-out webhook secrets and "
        "0 signed-out workspace sessions"
    )
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM idempotency_keys").fetchone() == (0,)


# ----------------------------------------------------------------- migration
def test_the_migration_seals_the_secrets_already_stored(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url, "0013")
    now = utcnow().isoformat()
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO services (id, slug, name, address, identifier, timezone, created_at)"
            " VALUES ('svc_1', 'urbanisme', 'U', '', '', 'Europe/Paris', ?)",
            (now,),
        )
        db.execute(
            "INSERT INTO webhook_endpoints (id, service_id, url, secret, status, created_at)"
            " VALUES ('whe_1', 'svc_1', 'http://127.0.0.1:9/x', 'whsec_legacy-clear_1', 'enabled', ?)",
            (now,),
        )
    upgrade(url)
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        (row,) = db.execute("SELECT * FROM webhook_endpoints").fetchall()
    assert "whsec_legacy-clear_1" not in json.dumps(dict(row))
    assert "secret" not in row.keys()
    key = Settings().secret_key
    assert key == DEV_SECRET_KEY or os.environ.get("REGIE_SECRET_KEY")
    assert Sealer([str(key)]).open(row["secret_sealed"], context="whe_1") == "whsec_legacy-clear_1"


async def test_a_row_sealed_for_another_endpoint_is_not_used_to_sign(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = (await _register(client, keys.urbanisme)).json()
    b = (await _register(client, keys.urbanisme)).json()
    async with app.state.db.session() as s:
        sealed_a = (await s.get(WebhookEndpoint, a["id"])).secret_sealed
        await s.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == b["id"])
            .values(secret_sealed=sealed_a)
        )
        await s.commit()
    inv = await create_invoice(client, keys.urbanisme)
    await client.post(f"/v1/invoices/{inv['id']}/cancel", headers=Keys.h(keys.urbanisme))
    sent = await _capture(app, monkeypatch)
    assert len(sent) == 1  # only a's; b's is refused before anything is sent
    signing.verify(sent[0].headers["Regie-Signature"], sent[0].content, [a["secret"]])
    async with app.state.db.session() as s:
        (row,) = (
            await s.execute(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == b["id"]))
        ).scalars()
    assert row.status == "pending" and row.last_error == "internal: the secret cannot be opened"


# ------------------------------------------------- a change of REGIE_SECRET_KEY
NEW_KEY = "a-new-secret-key-of-more-than-32-characters"


async def test_after_a_change_of_secret_key_the_former_one_opens_until_resealed(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = (await _register(client, keys.urbanisme)).json()
    await client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=Keys.h(keys.urbanisme)
    )  # a previous secret to reseal too
    former = app.state.settings.sealing_keys
    pump = app.state.outbox
    # the new key alone cannot open what the former one sealed; listed, it still opens
    monkeypatch.setattr(pump, "sealer", Sealer([NEW_KEY]))
    await _notify_once(client, keys.urbanisme, "K1")
    assert await _capture(app, monkeypatch) == []
    monkeypatch.setattr(pump, "sealer", Sealer([NEW_KEY, *former]))
    later = utcnow() + dt.timedelta(hours=1)  # past the failure's retry delay
    (sent,) = await _capture(app, monkeypatch, now=later)
    signing.verify(sent.headers["Regie-Signature"], sent.content, [endpoint["secret"]])
    assert await reseal_all(app.state.db, Sealer([NEW_KEY, *former])) == 2
    assert await reseal_all(app.state.db, Sealer([NEW_KEY, *former])) == 0
    # now the new key alone opens both
    async with app.state.db.session() as s:
        row = await s.get(WebhookEndpoint, endpoint["id"])
    new = Sealer([NEW_KEY])
    assert new.is_current(row.secret_sealed) and new.is_current(row.previous_secret_sealed)
    monkeypatch.setattr(pump, "sealer", new)
    await _notify_once(client, keys.urbanisme, "K2")
    (sent,) = await _capture(app, monkeypatch)
    assert sent.headers["Regie-Signature"].count("v1=") == 2
    signing.verify(sent.headers["Regie-Signature"], sent.content, [endpoint["secret"]])


async def _notify_once(client: httpx.AsyncClient, key: str, reference: str) -> None:
    inv = await create_invoice(client, key, reference=reference)
    r = await client.post(f"/v1/invoices/{inv['id']}/cancel", headers=Keys.h(key))
    assert r.status_code == 200, r.text
