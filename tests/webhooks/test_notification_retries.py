"""Notifications that fail: the durable retry schedule, giving up, resend (and its
tenancy), redirects not followed, the checked address, and quick retries of connection
errors."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import Keys, create_invoice, pay
from tests.webhooks.notify_kit import (
    Receiver,
    register,
    rows,
    verify,
)
from webhooks.outbound.models import WebhookDelivery, WebhookDeliveryAttempt
from webhooks.outbound.rules import RETRY_SCHEDULE


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


async def test_a_refused_address_falls_back_to_the_hosts_other_checked_address(
    client: httpx.AsyncClient,
    app: Any,
    keys: Keys,
    receiver: Receiver,
    notifications: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a name with two addresses, the first refusing (an AAAA record whose IPv6 does not
    # answer; "localhost" as ::1 first, with a receiver on 127.0.0.1 only): as any HTTP
    # client does, the next checked address is tried, instead of failing every attempt
    async def resolver(host: str, port: int) -> list[str]:
        return {"hooks.test": ["::1", "127.0.0.1"]}[host]

    monkeypatch.setattr(notifications.guard, "resolver", resolver)
    await register(client, keys.urbanisme, f"http://hooks.test:{receiver.port}/in")
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    assert await notifications.deliver_due() == 1
    (row,) = await rows(app)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 1, None)
    (req,) = receiver.requests
    assert req.headers["host"] == f"hooks.test:{receiver.port}"


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


async def test_the_httpx_line_of_a_notification_shows_no_path_of_the_receivers_url(
    client: httpx.AsyncClient,
    app: Any,
    keys: Keys,
    receiver: Receiver,
    notifications: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A chat tool's incoming webhook carries its secret in the URL's path
    (``/services/T000/B000/XXXX``): httpx logs each request's URL at INFO, and a
    notification's line shows only the receiver's origin, never that path. Another request
    (to a PSP, say) keeps its path, which helps an operator."""
    caplog.set_level(logging.INFO, logger="httpx")
    await register(client, keys.urbanisme, f"{receiver.url}/services/T0/B0/s3cretPathPart")
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    assert await notifications.deliver_due(now=dt.datetime.now(dt.UTC)) == 1
    assert receiver.requests, "the notification was sent"
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert any("/***" in x for x in lines), lines  # the request was logged
    assert not any("s3cretPathPart" in x or "/services/" in x for x in lines), lines
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200))) as c:
        await c.get("https://api.example.test/v1/payment_intents/pi_123")
    assert "/v1/payment_intents/pi_123" in caplog.records[-1].getMessage()
