"""Notifications to client services: registration, the outbox in the state change's
transaction, signed delivery to a real local receiver, durable retries, order per
invoice, resend, tenancy, a dispute's close told, and SKIP LOCKED concurrency on
PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from payments import signing
from payments.events import InvoicePaid
from payments.providers.simulator.models import SimEvent
from regie.app import build_worker
from tests.conftest import Keys, create_invoice, pay
from tests.payments.test_disputes import apply_all, dispute_event
from webhooks.inbound.models import InboxEvent
from webhooks.outbound.models import WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint
from webhooks.outbound.rules import RETRY_SCHEDULE

# ----------------------------------------------------------------- receiver


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def doc(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 in a thread. ``mode``: ok | fail | redirect.
    With ``gate``, each request is held until the gate is set."""

    port: int
    mode: str = "ok"
    delay: float = 0.0
    gate: threading.Event | None = None
    requests: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver.delay:
                    time.sleep(receiver.delay)
                if receiver.gate is not None:
                    receiver.gate.wait(timeout=30)
                status = {"ok": 200, "fail": 500, "redirect": 302, "accepted": 202}[receiver.mode]
                with receiver._lock:
                    receiver.requests.append(
                        Received(
                            self.path, {k.lower(): v for k, v in self.headers.items()}, body, status
                        )
                    )
                self.send_response(status)
                if status == 302:
                    self.send_header("Location", f"{receiver.url}/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def ok(self) -> list[Received]:
        return [r for r in self.requests if 200 <= r.answered < 300]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(free_port())
    r.start()
    yield r
    r.stop()


@pytest.fixture
def notifications(app: Any) -> Any:
    svc = app.state.outbox
    svc.quick_retry_wait = 0.01
    return svc


# ------------------------------------------------------------------ helpers


async def register(client: httpx.AsyncClient, key: str, url: str, **extra: Any) -> dict[str, Any]:
    r = await client.post("/v1/webhook-endpoints", json={"url": url, **extra}, headers=Keys.h(key))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def rows(app: Any, *where: Any) -> list[WebhookDelivery]:
    async with app.state.db.session() as s:
        stmt = select(WebhookDelivery).where(*where).order_by(WebhookDelivery.seq)
        return list((await s.execute(stmt)).scalars())


async def count(app: Any, model: Any, *where: Any) -> int:
    async with app.state.db.session() as s:
        stmt = select(func.count()).select_from(model).where(*where)
        return int((await s.execute(stmt)).scalar_one())


def verify(req: Received, secret: str) -> None:
    signing.verify(req.headers["regie-signature"], req.body, [secret])


async def cancel(client: httpx.AsyncClient, key: str, inv: dict[str, Any]) -> None:
    r = await client.post(f"/v1/invoices/{inv['id']}/cancel", headers=Keys.h(key))
    assert r.status_code == 200, r.text


async def last_sim_event(app: Any) -> dict[str, Any]:
    async with app.state.db.session() as s:
        stmt = select(SimEvent).order_by(SimEvent.created_at.desc(), SimEvent.id.desc())
        return dict((await s.execute(stmt)).scalars().first().payload)


async def post_sim_event(client: httpx.AsyncClient, app: Any, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    headers = {
        "Simulator-Signature": signing.sign(app.state.settings.simulator_webhook_secret, body),
        "content-type": "application/json",
    }
    r = await client.post("/webhooks/simulator", content=body, headers=headers)
    assert r.status_code == 200, r.text


# -------------------------------------------------------------------- tests


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


def notification_logs(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, dict[str, Any]]]:
    """What the delivery worker logged: level, message and the fields an operator filters on."""
    keys = ("delivery", "endpoint", "event", "status_code", "attempt", "error")
    return [
        (r.levelname, r.getMessage(), {k: getattr(r, k) for k in keys if hasattr(r, k)})
        for r in caplog.records
        if r.name == "regie.notifications"
    ]


async def test_failures_follow_the_durable_schedule_then_give_up_and_a_resend_recovers(
    client: httpx.AsyncClient,
    app: Any,
    keys: Keys,
    receiver: Receiver,
    notifications: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="regie.notifications")
    endpoint = await register(client, keys.urbanisme, f"{receiver.url}/hook")
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    receiver.mode = "fail"
    now = dt.datetime.now(dt.UTC)
    for i, delay in enumerate(RETRY_SCHEDULE, start=1):
        assert await notifications.deliver_due(now=now) == 1
        (row,) = await rows(app)
        assert (row.status, row.attempts) == ("pending", i)
        assert row.next_attempt_at == now + delay
        assert await notifications.deliver_due(now=now + delay - dt.timedelta(seconds=1)) == 0
        now += delay
    assert await notifications.deliver_due(now=now) == 1
    (row,) = await rows(app)
    assert (row.status, row.attempts) == ("failed", 8)
    assert len(receiver.requests) == 8
    assert len({r.body for r in receiver.requests}) == 1  # the same bytes every time
    assert await notifications.deliver_due(now=now + dt.timedelta(days=30)) == 0
    r = await client.get(
        "/v1/webhook-deliveries", params={"status": "failed"}, headers=Keys.h(keys.urbanisme)
    )
    assert [d["id"] for d in r.json()["data"]] == [row.id]
    assert r.json()["data"][0]["next_attempt_at"] is None

    # the receiver is fixed; the service asks for the notification again
    receiver.mode = "ok"
    r = await client.post(
        f"/v1/webhook-deliveries/{row.id}/resend",
        headers=Keys.h(keys.urbanisme, **{"Idempotency-Key": "resend-1"}),
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "pending"
    assert await notifications.deliver_due() == 1
    (row,) = await rows(app)
    assert (row.status, row.attempts) == ("delivered", 9)
    assert receiver.requests[-1].answered == 200
    assert receiver.requests[-1].body == receiver.requests[0].body
    # one log line per attempt, with the fields an operator filters on
    logged = notification_logs(caplog)
    assert [(level, message) for level, message, _ in logged] == [
        ("INFO", "webhook endpoint registered"),
        *[("WARNING", "notification failed; will retry")] * 7,
        ("ERROR", "notification given up"),
        ("INFO", "notification re-queued"),
        ("INFO", "notification delivered"),
    ]
    ids = {"delivery": row.id, "endpoint": endpoint["id"], "event": row.event_id}
    attempts = [fields for _, _, fields in logged if "attempt" in fields]
    async with app.state.db.session() as s:
        stmt = (
            select(WebhookDeliveryAttempt.error)
            .where(WebhookDeliveryAttempt.delivery_id == row.id)
            .order_by(WebhookDeliveryAttempt.number)
        )
        errors = list((await s.execute(stmt)).scalars())
    assert [f.pop("error", None) for f in attempts] == errors  # the delivered one: none
    assert attempts[6:] == [
        {**ids, "status_code": 500, "attempt": 7},
        {**ids, "status_code": 500, "attempt": 8},
        {**ids, "status_code": 200, "attempt": 9},
    ]


async def test_resend_sends_the_same_event_again_and_tenancy_is_404(
    client: httpx.AsyncClient, app: Any, keys: Keys, receiver: Receiver, notifications: Any
) -> None:
    endpoint = await register(client, keys.urbanisme, f"{receiver.url}/hook")
    await register(client, keys.etat_civil, f"{receiver.url}/civil")
    mine = [await create_invoice(client, keys.urbanisme, reference=f"M{i}") for i in range(3)]
    theirs = await create_invoice(client, keys.etat_civil, reference="T")
    for inv in [*mine, theirs]:
        await pay(client, inv, apply=app)
    assert await notifications.deliver_due() == 4
    (own,) = await rows(app, WebhookDelivery.invoice_id == mine[0]["id"])
    (other,) = await rows(app, WebhookDelivery.invoice_id == theirs["id"])

    r = await client.post(f"/v1/webhook-deliveries/{own.id}/resend", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200
    assert await notifications.deliver_due() == 1
    again = [q for q in receiver.requests if q.headers["regie-event-id"] == own.event_id]
    assert len(again) == 2 and again[0].body == again[1].body
    verify(again[1], endpoint["secret"])

    # another service's delivery does not exist for this key
    for method, path in (
        ("POST", f"/v1/webhook-deliveries/{other.id}/resend"),
        ("GET", f"/v1/webhook-deliveries/{other.id}"),
    ):
        r = await client.request(method, path, headers=Keys.h(keys.urbanisme))
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "resource_missing"
    r = await client.get("/v1/webhook-deliveries", headers=Keys.h(keys.urbanisme))
    assert other.id not in r.text and len(r.json()["data"]) == 3
    r = await client.get("/v1/webhook-deliveries", headers=Keys.h(keys.etat_civil))
    assert [d["id"] for d in r.json()["data"]] == [other.id]
    # finance sees every service's
    r = await client.get("/v1/webhook-deliveries", headers=Keys.h(keys.finance))
    assert len(r.json()["data"]) == 4
    assert {d["service"] for d in r.json()["data"]} == {"urbanisme", "etat-civil"}

    # filters and cursor pagination
    r = await client.get(
        "/v1/webhook-deliveries",
        params={"endpoint": endpoint["id"], "status": "delivered", "limit": 2},
        headers=Keys.h(keys.finance),
    )
    page1 = r.json()
    assert len(page1["data"]) == 2 and page1["has_more"] is True
    r = await client.get(
        "/v1/webhook-deliveries",
        params={
            "endpoint": endpoint["id"],
            "status": "delivered",
            "limit": 2,
            "starting_after": page1["next_starting_after"],
        },
        headers=Keys.h(keys.finance),
    )
    page2 = r.json()
    assert len(page2["data"]) == 1 and page2["has_more"] is False
    ids = [d["id"] for d in page1["data"] + page2["data"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 3
    assert all(d["endpoint"] == endpoint["id"] for d in page1["data"] + page2["data"])
    r = await client.get(
        "/v1/webhook-deliveries", params={"status": "pending"}, headers=Keys.h(keys.finance)
    )
    assert r.json()["data"] == []
    r = await client.get(
        "/v1/webhook-deliveries", params={"status": "lost"}, headers=Keys.h(keys.finance)
    )
    assert r.status_code == 422
    r = await client.post("/v1/webhook-deliveries/del_nope/resend", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 404  # a malformed id is not found, like an unknown one


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


async def test_redirects_are_not_followed(
    client: httpx.AsyncClient, app: Any, keys: Keys, receiver: Receiver, notifications: Any
) -> None:
    await register(client, keys.urbanisme, f"{receiver.url}/hook")
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    receiver.mode = "redirect"
    assert await notifications.deliver_due() == 1
    assert [r.path for r in receiver.requests] == ["/hook"]
    (row,) = await rows(app)
    assert (row.status, row.last_status_code) == ("pending", 302)


async def test_delivery_connects_to_the_checked_address_and_rechecks_it_each_time(
    client: httpx.AsyncClient,
    app: Any,
    keys: Keys,
    receiver: Receiver,
    notifications: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dns = {"hooks.test": ["127.0.0.1"]}

    async def resolver(host: str, port: int) -> list[str]:
        return dns[host]

    monkeypatch.setattr(notifications.guard, "resolver", resolver)
    await register(client, keys.urbanisme, f"http://hooks.test:{receiver.port}/in?tenant=urba")
    a = await create_invoice(client, keys.urbanisme, reference="A")
    await pay(client, a, apply=app)
    assert await notifications.deliver_due() == 1
    (req,) = receiver.requests
    assert req.path == "/in?tenant=urba"
    assert req.headers["host"] == f"hooks.test:{receiver.port}"
    # the name now points into the private network (DNS rebinding): nothing is sent
    dns["hooks.test"] = ["10.0.0.7"]
    b = await create_invoice(client, keys.urbanisme, reference="B")
    await pay(client, b, apply=app)
    assert await notifications.deliver_due() == 1
    assert len(receiver.requests) == 1
    (row,) = await rows(app, WebhookDelivery.invoice_id == b["id"])
    assert row.status == "pending" and row.attempts == 1
    assert row.last_error is not None and row.last_error.startswith("blocked:")


async def test_connection_errors_get_one_quick_retry_and_timeouts_none(
    client: httpx.AsyncClient,
    app: Any,
    keys: Keys,
    notifications: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    script: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        step = script.pop(0)
        calls.append(step)
        if step == "refuse":
            raise httpx.ConnectError("connection refused", request=request)
        if step == "slow":
            raise httpx.ReadTimeout("read timed out", request=request)
        return httpx.Response(204)

    mock = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    monkeypatch.setattr(notifications, "client", mock)
    await register(client, keys.urbanisme, "http://127.0.0.1:9/hook")
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)

    script[:] = ["slow"]  # the receiver may have it: wait for the schedule
    await notifications.deliver_due()
    (row,) = await rows(app)
    assert calls == ["slow"] and (row.attempts, row.last_error) == (1, "timeout")

    script[:] = ["refuse", "ok"]  # not sent at all: tried again at once, one attempt
    await notifications.deliver_due(now=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2))
    (row,) = await rows(app)
    assert calls == ["slow", "refuse", "ok"]
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 2, 204)
    await mock.aclose()


@pytest.mark.postgres
async def test_two_delivery_runs_at_once_send_each_notification_once(
    client: httpx.AsyncClient, app: Any, keys: Keys, receiver: Receiver, notifications: Any
) -> None:
    await register(client, keys.urbanisme, f"{receiver.url}/hook")
    for i in range(8):
        inv = await create_invoice(client, keys.urbanisme, reference=f"C{i}")
        await pay(client, inv, apply=app)
    assert len(await rows(app)) == 8
    receiver.delay = 0.05  # keep the runs overlapping
    notifications.batch_size = 3
    counts = await asyncio.gather(*(notifications.deliver_due() for _ in range(3)))
    assert sum(counts) == 8
    ids = [r.headers["regie-event-id"] for r in receiver.requests]
    assert len(ids) == 8 and len(set(ids)) == 8
    assert [r.status for r in await rows(app)] == ["delivered"] * 8
    assert await count(app, WebhookDeliveryAttempt) == 8


async def test_a_slow_receiver_does_not_hold_up_the_worker(
    client: httpx.AsyncClient, app: Any, keys: Keys, receiver: Receiver, notifications: Any
) -> None:
    await register(client, keys.urbanisme, f"{receiver.url}/hook")
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    receiver.gate = threading.Event()  # the receiver holds the request until released
    worker = build_worker(app.state.settings, app.state.services)
    try:
        # the tick starts the delivery run and goes on with its other jobs: it returns while
        # the receiver still holds the request (a tick that waited for the delivery would
        # return only once it timed out, and the row would be a failed attempt, never
        # delivered below)
        await worker.tick()
        assert await count(app, WebhookDelivery, WebhookDelivery.status == "delivered") == 0
    finally:
        receiver.gate.set()
    await notifications.wait_idle()
    assert await count(app, WebhookDelivery, WebhookDelivery.status == "delivered") == 1


async def test_the_notification_due_first_is_sent_first(
    client: httpx.AsyncClient, app: Any, keys: Keys, receiver: Receiver, notifications: Any
) -> None:
    """Of the notifications due, a run takes those due the longest first (a retry waiting
    since the morning goes before a fresh one), whatever order they were made in."""
    await register(client, keys.urbanisme, f"{receiver.url}/hook")
    first = await create_invoice(client, keys.urbanisme, reference="FIRST")
    await pay(client, first, apply=app)
    second = await create_invoice(client, keys.urbanisme, reference="SECOND")
    await pay(client, second, apply=app)
    made_first, made_second = await rows(app)
    now = dt.datetime.now(dt.UTC)
    async with app.state.db.session() as s:
        for row, due in ((made_first, now), (made_second, now - dt.timedelta(hours=1))):
            await s.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == row.id)
                .values(next_attempt_at=due)
            )
        await s.commit()
    assert await notifications.deliver_due(limit=1, now=now) == 1
    assert [r.doc["data"]["object"]["id"] for r in receiver.requests] == [second["id"]]
