"""Notifications to client services: registration, the outbox in the state change's
transaction, signed delivery to a real local receiver, order per invoice after a receiver
was down, and a dispute's close told. Retries and resends are in
``test_notification_retries``, concurrency in ``test_notification_concurrency``."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from payments import signing
from payments.events import InvoicePaid
from regie.composition import build_worker
from tests.conftest import Keys, create_invoice, pay
from tests.payments.test_disputes import apply_all, dispute_event
from tests.webhooks.notify_kit import (
    Receiver,
    cancel,
    count,
    last_sim_event,
    post_sim_event,
    register,
    rows,
    verify,
)
from webhooks.inbound.models import InboxEvent
from webhooks.outbound.models import WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint
from webhooks.outbound.rules import RETRY_SCHEDULE


async def test_registration_shows_the_secret_once_and_lists_without_it(
    client: httpx.AsyncClient, app: Any, keys: Keys, receiver: Receiver
) -> None:
    h = Keys.h(keys.urbanisme, **{"Idempotency-Key": "reg-1"})
    body = {"url": f"{receiver.url}/hook", "description": "Urbanisme back office"}
    first = await client.post("/v1/webhook-endpoints", json=body, headers=h)
    assert first.status_code == 201, first.text
    created = first.json()
    assert created["id"].startswith("whe_")
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["url"] == body["url"] and created["service"] == "urbanisme"
    # the same key replays the same answer (without the secret: never stored for replays,
    # tests/webhooks/test_secrets_at_rest.py) and registers nothing more
    again = await client.post("/v1/webhook-endpoints", json=body, headers=h)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == {**created, "secret": None, "secret_note": again.json()["secret_note"]}
    assert await count(app, WebhookEndpoint) == 1
    # stored sealed so regie can sign with it
    async with app.state.db.session() as s:
        sealed = (await s.get(WebhookEndpoint, created["id"])).secret_sealed
    assert app.state.outbox.sealer.open(sealed, context=created["id"]) == created["secret"]

    listed = await client.get("/v1/webhook-endpoints", headers=Keys.h(keys.urbanisme))
    assert listed.status_code == 200
    assert [e["id"] for e in listed.json()["data"]] == [created["id"]]
    assert "secret" not in listed.json()["data"][0]
    assert created["secret"] not in listed.text
    # another service sees none of it; finance sees all, without secrets
    other = await client.get("/v1/webhook-endpoints", headers=Keys.h(keys.etat_civil))
    assert other.json()["data"] == []
    finance = await client.get("/v1/webhook-endpoints", headers=Keys.h(keys.finance))
    assert [e["id"] for e in finance.json()["data"]] == [created["id"]]
    assert created["secret"] not in finance.text
    # endpoints are registered by a service key
    r = await client.post("/v1/webhook-endpoints", json=body, headers=Keys.h(keys.finance))
    assert r.status_code == 403
    assert (await client.post("/v1/webhook-endpoints", json=body)).status_code == 401


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://127.0.0.1/hook", "url_scheme_not_allowed"),
        ("http://10.0.0.1/hook", "url_host_not_allowed"),
        ("https://169.254.169.254/latest/meta-data/", "url_host_not_allowed"),
        ("https://[fc00::1]/hook", "url_host_not_allowed"),
        ("http://0.0.0.0:8000/hook", "url_host_not_allowed"),
        ("http://user:secret@127.0.0.1/hook", "url_invalid"),
        ("https://127.1/hook", "url_host_not_allowed"),
        ("http://93.184.216.34/hook", "url_scheme_not_allowed"),
    ],
)
async def test_a_url_regie_will_not_call_is_422_in_the_one_error_shape(
    client: httpx.AsyncClient, app: Any, keys: Keys, url: str, code: str
) -> None:
    r = await client.post(
        "/v1/webhook-endpoints", json={"url": url}, headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == code
    assert r.json()["error"]["param"] == "url"
    assert set(r.json()["error"]) <= {"type", "code", "message", "param"}
    assert await count(app, WebhookEndpoint) == 0


async def test_production_rules_apply_through_the_api(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = {
        "hooks.example.org": ["93.184.216.34"],
        "sneaky.example.org": ["93.184.216.34", "10.0.0.9"],
        "localhost": ["127.0.0.1"],
    }

    async def resolver(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("unknown host")
        return table[host]

    svc = app.state.notifications.guard
    monkeypatch.setattr(svc, "production", True)
    monkeypatch.setattr(svc, "resolver", resolver)

    async def code(url: str) -> str | int:
        r = await client.post(
            "/v1/webhook-endpoints", json={"url": url}, headers=Keys.h(keys.urbanisme)
        )
        return r.status_code if r.status_code != 422 else r.json()["error"]["code"]

    assert await code("https://hooks.example.org/regie") == 201
    assert await code("http://hooks.example.org/regie") == "url_scheme_not_allowed"
    assert await code("http://127.0.0.1:8000/hook") == "url_scheme_not_allowed"
    assert await code("https://127.0.0.1/hook") == "url_host_not_allowed"
    assert await code("https://[::ffff:127.0.0.1]/hook") == "url_host_not_allowed"
    assert await code("https://localhost/hook") == "url_host_not_allowed"
    assert await code("https://sneaky.example.org/") == "url_host_not_allowed"
    assert await code("https://nowhere.example.org/") == "url_host_unresolvable"
    assert await count(app, WebhookEndpoint) == 1


async def test_paying_notifies_each_endpoint_once_signed_even_with_duplicate_psp_events(
    client: httpx.AsyncClient, app: Any, keys: Keys, receiver: Receiver, notifications: Any
) -> None:
    a = await register(client, keys.urbanisme, f"{receiver.url}/a")
    b = await register(client, keys.urbanisme, f"{receiver.url}/b")
    await register(client, keys.etat_civil, f"{receiver.url}/other-service")
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    # the PSP repeats itself: the same event again, every pending event again, and the
    # same success under a new event id
    success = await last_sim_event(app)
    await post_sim_event(client, app, success)
    await app.state.payments.provider.redeliver_pending()
    await post_sim_event(
        client, app, {**success, "id": "evt_sim_again", "created": success["created"] + 1}
    )
    await app.state.applier.process_batch()
    assert await count(app, InboxEvent, InboxEvent.event_id == "evt_sim_again") == 1

    paid = await rows(app, WebhookDelivery.event_type == "invoice.paid")
    assert sorted(r.endpoint_id for r in paid) == sorted([a["id"], b["id"]])
    assert await count(app, WebhookDelivery) == 2
    assert paid[0].event_id == paid[1].event_id and paid[0].payload == paid[1].payload

    # the worker's periodic job delivers them
    worker = build_worker(app.state.settings, app.state.services)
    await worker.tick()
    await notifications.wait_idle()
    assert sorted(r.path for r in receiver.requests) == ["/a", "/b"]
    for req in receiver.requests:
        secret = a["secret"] if req.path == "/a" else b["secret"]
        other = b["secret"] if req.path == "/a" else a["secret"]
        verify(req, secret)
        with pytest.raises(signing.InvalidSignature):
            verify(req, other)
        assert req.headers["content-type"] == "application/json"
        assert req.headers["regie-event-id"] == paid[0].event_id == req.doc["id"]
        assert req.body == paid[0].payload.encode()
        doc = req.doc
        assert doc["id"].startswith("evt_") and doc["object"] == "event"
        assert doc["type"] == "invoice.paid" and abs(doc["created"] - time.time()) < 60
        assert doc["data"]["object"]["id"] == inv["id"]
        assert doc["data"]["object"]["status"] == "paid"
        assert doc["data"]["object"]["amount_paid"] == 2500
    done = await rows(app)
    assert [(r.status, r.attempts, r.last_status_code) for r in done] == [("delivered", 1, 200)] * 2
    assert await count(app, WebhookDeliveryAttempt, WebhookDeliveryAttempt.status_code == 200) == 2
    # nothing more to send
    assert await notifications.deliver_due() == 0
    assert len(receiver.requests) == 2


async def test_the_outbox_row_rolls_back_with_the_state_change(
    client: httpx.AsyncClient, app: Any, keys: Keys, receiver: Receiver
) -> None:
    await register(client, keys.urbanisme, f"{receiver.url}/hook")
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv)  # the event is in the inbox, not applied yet
    seen_in_transaction: list[int] = []
    broken = {"on": True}

    async def fails_after_the_outbox(uow: Any, ev: InvoicePaid) -> None:
        # registered after the notifications subscriber: it already wrote its row
        n = (
            await uow.session.execute(select(func.count()).select_from(WebhookDelivery))
        ).scalar_one()
        seen_in_transaction.append(int(n))
        if broken["on"]:
            raise RuntimeError("a later subscriber fails")

    app.state.bus.subscribe(InvoicePaid, fails_after_the_outbox)
    await app.state.applier.process_batch()
    assert seen_in_transaction == [1]
    assert await count(app, WebhookDelivery) == 0
    r = await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))
    assert r.json()["status"] == "open"
    # once the failure is gone the retry commits both together
    broken["on"] = False
    async with app.state.db.session() as s:
        await s.execute(update(InboxEvent).values(next_attempt_at=InboxEvent.received_at))
        await s.commit()
    await app.state.applier.process_batch()
    assert seen_in_transaction == [1, 1]
    assert [r.event_type for r in await rows(app)] == ["invoice.paid"]
    r = await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))
    assert r.json()["status"] == "paid"


async def test_a_receiver_down_gets_everything_after_it_recovers_in_order_per_invoice(
    client: httpx.AsyncClient, app: Any, keys: Keys, receiver: Receiver, notifications: Any
) -> None:
    endpoint = await register(client, keys.urbanisme, f"{receiver.url}/hook")
    a = await create_invoice(client, keys.urbanisme, reference="A")
    b = await create_invoice(client, keys.urbanisme, reference="B")
    await pay(client, a, "4000 0000 0000 0002", apply=app)  # declined
    await pay(client, b, "4000 0000 0000 0002", apply=app)  # declined
    await pay(client, a, apply=app)  # paid
    await cancel(client, keys.urbanisme, b)
    expected = {
        a["id"]: ["invoice.payment_failed", "invoice.paid"],
        b["id"]: ["invoice.payment_failed", "invoice.canceled"],
    }
    assert len(await rows(app)) == 4

    # the receiver answers 500: only the first notification of each invoice is tried
    receiver.mode = "fail"
    t0 = dt.datetime.now(dt.UTC)
    assert await notifications.deliver_due(now=t0) == 2
    assert sorted(r.doc["type"] for r in receiver.requests) == ["invoice.payment_failed"] * 2
    first_bodies = {r.doc["data"]["object"]["id"]: r.body for r in receiver.requests}
    for r in await rows(app):
        assert r.status == "pending"
    heads = [r for r in await rows(app) if r.attempts == 1]
    assert len(heads) == 2
    for r in heads:
        assert r.last_status_code == 500 and r.last_error == "HTTP 500"
        assert r.next_attempt_at == t0 + RETRY_SCHEDULE[0]
    # not due yet: nothing is sent
    assert await notifications.deliver_due(now=t0 + dt.timedelta(seconds=30)) == 0

    # then it is down altogether (connection refused)
    receiver.stop()
    t1 = t0 + dt.timedelta(minutes=2)
    assert await notifications.deliver_due(now=t1) == 2
    for r in await rows(app):
        if r.attempts:
            assert r.attempts == 2 and r.last_status_code is None
            assert "ConnectError" in (r.last_error or "")
            assert r.next_attempt_at == t1 + RETRY_SCHEDULE[1]

    # an hour later it is back: everything arrives, in order per invoice
    receiver.mode = "ok"
    receiver.start()
    before = len(receiver.requests)
    assert await notifications.deliver_due(now=t0 + dt.timedelta(hours=1)) == 4
    arrived = receiver.requests[before:]
    assert len(arrived) == 4
    per_invoice: dict[str, list[str]] = {}
    for req in arrived:
        verify(req, endpoint["secret"])
        per_invoice.setdefault(req.doc["data"]["object"]["id"], []).append(req.doc["type"])
    assert per_invoice == expected
    # a retry sends the very bytes of the first attempt
    for req in arrived:
        if req.doc["type"] == "invoice.payment_failed":
            assert req.body == first_bodies[req.doc["data"]["object"]["id"]]
    assert [r.status for r in await rows(app)] == ["delivered"] * 4
    # the delivery's history keeps every attempt
    head = (await rows(app, WebhookDelivery.invoice_id == a["id"]))[0]
    r = await client.get(f"/v1/webhook-deliveries/{head.id}", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200
    history = r.json()["attempt_history"]
    assert [(x["number"], x["outcome"], x["status_code"]) for x in history] == [
        (1, "failed", 500),
        (2, "failed", None),
        (3, "delivered", 200),
    ]
    assert "ConnectError" in history[1]["error"]


@pytest.mark.parametrize(("outcome", "status"), [("lost", "refunded"), ("won", "paid")])
async def test_the_client_service_is_told_when_a_dispute_closes_won_or_lost(
    client: httpx.AsyncClient,
    app: Any,
    keys: Keys,
    receiver: Receiver,
    notifications: Any,
    outcome: str,
    status: str,
) -> None:
    """After ``invoice.disputed`` the client hears how the dispute ended: its own type
    (``invoice.dispute_closed``, not a second ``invoice.disputed`` that its de-duplication
    by dispute would drop), the outcome and the invoice as it now stands. Before, nothing
    was written and the client's copy of the invoice stayed ``disputed`` for ever."""
    endpoint = await register(client, keys.urbanisme, f"{receiver.url}/hook")
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    r = await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))
    paid = {"invoice": inv["id"], "ppid": r.json()["payments"][0]["provider_payment_id"]}
    await apply_all(app, [dispute_event(app=app, paid=paid, etype="dispute.opened", amount=2500)])
    closed = dispute_event(app=app, paid=paid, etype="dispute.closed", amount=2500, status=outcome)
    await apply_all(app, [closed])
    # the PSP repeats the close: nothing more to tell
    await apply_all(
        app,
        [dispute_event(app=app, paid=paid, etype="dispute.closed", amount=2500, status=outcome)],
    )
    r = await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))
    assert r.json()["status"] == status
    sent = await rows(app, WebhookDelivery.invoice_id == inv["id"])
    assert [(d.event_type, d.source_key) for d in sent] == [
        ("invoice.paid", sent[0].source_key),
        ("invoice.disputed", "invoice.disputed:dp_order"),
        ("invoice.dispute_closed", "invoice.dispute_closed:dp_order"),
    ]
    assert await notifications.deliver_due() == 3
    told = [req.doc for req in receiver.requests]
    assert [doc["type"] for doc in told] == [d.event_type for d in sent]  # in order
    verify(receiver.requests[-1], endpoint["secret"])
    last = told[-1]["data"]
    assert last["object"]["status"] == status  # the last word the client got
    assert last["object"]["amount_refunded"] == (2500 if outcome == "lost" else 0)
    assert last["dispute"] == {
        "id": "dp_order",
        "outcome": outcome,
        "amount": 2500,
        "currency": "EUR",
    }
    # the opening named the same dispute, so the client pairs the two
    assert told[1]["data"]["dispute"] == {"id": "dp_order", "amount": 2500, "currency": "EUR"}
