"""Webhook intake and the worker: signatures, duplicates, order, concurrency, retries."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time

import pytest
from sqlalchemy import func, select, update

from payments import signing
from payments.models import Invoice, Payment, StateChange
from payments.providers.base import ProviderError
from payments.providers.simulator.models import SimCheckout, SimEvent, SimPayment
from tests.conftest import Keys, create_invoice, pay, start_checkout, two_checkouts_at_once
from webhooks.inbound.dead import requeue
from webhooks.inbound.models import InboxEvent


async def count(app, model, *where) -> int:
    async with app.state.db.session() as s:
        return int(
            (await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one()
        )


async def invoice_changes(app, invoice_id: str, to_status: str) -> int:
    return await count(
        app,
        StateChange,
        StateChange.invoice_id == invoice_id,
        StateChange.object == "invoice",
        StateChange.to_status == to_status,
    )


async def last_sim_event(app) -> dict:
    async with app.state.db.session() as s:
        ev = (
            (
                await s.execute(
                    select(SimEvent).order_by(SimEvent.created_at.desc(), SimEvent.id.desc())
                )
            )
            .scalars()
            .first()
        )
        return dict(ev.payload)


def signed(
    app, payload: dict, *, timestamp: int | None = None, secret: str | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    secret = secret or app.state.settings.simulator_webhook_secret
    return body, {
        "Simulator-Signature": signing.sign(secret, body, timestamp),
        "content-type": "application/json",
    }


async def get_invoice(client, keys: Keys, invoice_id: str) -> dict:
    r = await client.get(f"/v1/invoices/{invoice_id}", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200
    return r.json()


async def test_stale_or_forged_signatures_are_refused_and_store_nothing(
    client, app, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv)  # delivered once, legitimately
    payload = await last_sim_event(app)
    payload["id"] = "evt_sim_forged"
    before = await count(app, InboxEvent)
    for body, headers in (
        signed(app, payload, timestamp=int(time.time()) - 301),
        signed(app, payload, secret="whsec_attacker"),
        (json.dumps(payload).encode(), {"content-type": "application/json"}),
    ):
        r = await client.post("/webhooks/simulator", content=body, headers=headers)
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "invalid_signature"
    assert await count(app, InboxEvent) == before


async def test_webhook_for_a_provider_regie_does_not_use_is_404(client, app, keys: Keys) -> None:
    r = await client.post(
        "/webhooks/stripe", content=b"{}", headers={"Stripe-Signature": "t=1,v1=0"}
    )
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "unknown_provider"


async def test_duplicate_delivery_has_exactly_one_effect(client, app, keys: Keys) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv)
    body, headers = signed(app, await last_sim_event(app))
    for _ in range(3):
        r = await client.post("/webhooks/simulator", content=body, headers=headers)
        assert r.status_code == 200
        assert r.json() == {"received": True, "duplicate": True, "ignored": False}
    assert await count(app, InboxEvent) == 1
    await app.state.applier.process_batch()
    # a replay after it was applied changes nothing either
    r = await client.post("/webhooks/simulator", content=body, headers=headers)
    assert r.json()["duplicate"] is True
    await app.state.applier.process_batch()
    assert await invoice_changes(app, inv["id"], "paid") == 1
    assert (await get_invoice(client, keys, inv["id"]))["amount_paid"] == 2500


async def test_each_delivery_is_logged_with_its_event_type_and_whether_a_duplicate(
    client, app, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    # what an operator greps for when a PSP says "we sent it": provider, event id, type
    caplog.set_level(logging.INFO, logger="regie.webhooks")
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv)
    payload = await last_sim_event(app)
    payload["id"] = "evt_sim_logged"
    body, headers = signed(app, payload)
    caplog.clear()
    for _ in range(2):
        r = await client.post("/webhooks/simulator", content=body, headers=headers)
        assert r.status_code == 200
    received = [
        tuple(getattr(r, k, None) for k in ("provider", "event", "type", "duplicate"))
        for r in caplog.records
        if r.name == "regie.webhooks" and r.getMessage() == "webhook received"
    ]
    assert payload["type"] == "payment.succeeded"
    assert received == [
        ("simulator", "evt_sim_logged", "payment.succeeded", False),
        ("simulator", "evt_sim_logged", "payment.succeeded", True),
    ]


async def test_an_older_failure_arriving_after_the_success_changes_nothing(
    client, app, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    success = await last_sim_event(app)
    stale_failure = {
        **success,
        "id": "evt_sim_older_failure",
        "type": "payment.failed",
        "created": success["created"] - 60,
        "data": {**success["data"], "status": "failed"},
    }
    body, headers = signed(app, stale_failure)
    assert (
        await client.post("/webhooks/simulator", content=body, headers=headers)
    ).status_code == 200
    await app.state.applier.process_batch()
    doc = await get_invoice(client, keys, inv["id"])
    assert doc["status"] == "paid"
    assert doc["payments"][0]["status"] == "succeeded"


async def test_the_psps_later_success_wins_over_its_earlier_decline(
    client, app, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    result = await pay(client, inv, "4000 0000 0000 0002", apply=app)
    doc = await get_invoice(client, keys, inv["id"])
    assert doc["status"] == "open"
    assert doc["payments"][0]["status"] == "failed"
    assert doc["payments"][0]["failure"]["code"] == "card_declined"
    # the PSP now says the same checkout's payment succeeded after all (e.g. a bank's late capture)
    async with app.state.db.session() as s:
        await s.execute(
            update(SimPayment)
            .where(SimPayment.checkout_id == result.checkout_id)
            .values(status="succeeded", failure_code=None, fee=63)
        )
        await s.commit()
    late = await last_sim_event(app)
    late = {
        **late,
        "id": "evt_sim_late_success",
        "type": "payment.succeeded",
        "created": late["created"] + 5,
    }
    body, headers = signed(app, late)
    assert (
        await client.post("/webhooks/simulator", content=body, headers=headers)
    ).status_code == 200
    await app.state.applier.process_batch()
    doc = await get_invoice(client, keys, inv["id"])
    assert doc["status"] == "paid"
    assert doc["payments"][0]["status"] == "succeeded"
    async with app.state.db.session() as s:
        notes = (
            (
                await s.execute(
                    select(StateChange.note).where(
                        StateChange.payment_id == result.payment_id,
                        StateChange.to_status == "succeeded",
                    )
                )
            )
            .scalars()
            .all()
        )
    assert notes == ["PSP's later word wins"]


async def test_a_second_success_on_a_paid_invoice_is_an_overpayment(
    client, app, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    # two tabs press Pay at the same moment: both open a checkout before either pays
    path1, path2 = await two_checkouts_at_once(client, app, inv)
    for path in (path1, path2):
        r = await client.post(
            path, data={"card_number": "4242424242424242", "expiry": "12/39", "cvc": "123"}
        )
        assert r.status_code == 303
    await app.state.applier.process_batch()
    doc = await get_invoice(client, keys, inv["id"])
    assert doc["status"] == "paid"
    assert doc["amount_paid"] == 2500
    flags = sorted(p["is_overpayment"] for p in doc["payments"])
    assert flags == [False, True]
    assert [p["status"] for p in doc["payments"]] == ["succeeded", "succeeded"]


async def test_a_failing_event_is_retried_with_backoff_then_dead_lettered(
    client, app, keys: Keys, monkeypatch, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="regie.webhooks")
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv)
    provider = app.state.payments.provider
    real = provider.retrieve_payment

    async def down(ref: str):
        raise ProviderError("unavailable", "PSP is down", retryable=True)

    monkeypatch.setattr(provider, "retrieve_payment", down)
    webhooks = app.state.applier
    assert await webhooks.process_batch() == 0
    async with app.state.db.session() as s:
        row = (await s.execute(select(InboxEvent))).scalar_one()
    assert (row.status, row.attempts) == ("pending", 1)
    assert "unavailable" in row.last_error
    assert row.next_attempt_at > dt.datetime.now(dt.UTC)
    assert (await get_invoice(client, keys, inv["id"]))["status"] == "open"
    # exhaust the attempts (make each due at once)
    for _ in range(webhooks.max_attempts - 1):
        async with app.state.db.session() as s:
            await s.execute(
                update(InboxEvent).values(
                    next_attempt_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
                )
            )
            await s.commit()
        await webhooks.process_batch()
    async with app.state.db.session() as s:
        row = (await s.execute(select(InboxEvent))).scalar_one()
    assert (row.status, row.attempts) == ("dead", webhooks.max_attempts)
    # an operator re-queues it once the PSP is back: applied exactly once
    monkeypatch.setattr(provider, "retrieve_payment", real)
    assert await requeue(app.state.db, [row.id]) == [row.id]
    assert await webhooks.process_batch() == 1
    assert (await get_invoice(client, keys, inv["id"]))["status"] == "paid"
    assert await invoice_changes(app, inv["id"], "paid") == 1
    # what the operator reads: each failure with its count, the dead letter, the success
    n = webhooks.max_attempts
    logged = [
        (r.levelname, r.getMessage(), getattr(r, "event", None), getattr(r, "attempts", None))
        for r in caplog.records
        if r.name == "regie.webhooks"
    ]
    assert logged == [
        ("INFO", "webhook received", row.event_id, None),
        *[("WARNING", "webhook failed; will retry", row.event_id, i) for i in range(1, n)],
        ("ERROR", "webhook dead-lettered", row.event_id, n),
        ("WARNING", "webhook re-queued", row.event_id, None),
        ("INFO", "webhook applied", row.event_id, None),
    ]


async def test_expiry_sweep_expires_the_invoice_and_cancels_its_checkout(
    client, app, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    checkout_id, path = await start_checkout(client, inv)
    async with app.state.db.session() as s:
        await s.execute(
            update(Invoice)
            .where(Invoice.id == inv["id"])
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        await s.commit()
    assert await app.state.payments.expire_due() == 1
    doc = await get_invoice(client, keys, inv["id"])
    assert doc["status"] == "expired"
    assert doc["expired_at"] is not None
    assert doc["payments"][0]["status"] == "expired"
    async with app.state.db.session() as s:
        assert (await s.get(SimCheckout, checkout_id)).status == "canceled"
    # the card page no longer takes a card, and a second sweep does nothing
    r = await client.post(
        path, data={"card_number": "4242424242424242", "expiry": "12/39", "cvc": "123"}
    )
    assert r.status_code == 303 and r.headers["location"] == path  # the page says why
    assert "Cette session de paiement est terminée" in (await client.get(path)).text
    assert await app.state.payments.expire_due() == 0
    assert await invoice_changes(app, inv["id"], "expired") == 1


@pytest.mark.postgres
async def test_concurrent_deliveries_and_workers_have_exactly_one_effect(
    client, app, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv)
    body, headers = signed(app, await last_sim_event(app))
    responses = await asyncio.gather(
        *(client.post("/webhooks/simulator", content=body, headers=headers) for _ in range(10))
    )
    assert all(r.status_code == 200 for r in responses)
    assert await count(app, InboxEvent) == 1
    # three workers race for the same row: SKIP LOCKED lets one apply it
    handled = await asyncio.gather(*(app.state.applier.process_batch() for _ in range(3)))
    assert sum(handled) == 1
    assert await invoice_changes(app, inv["id"], "paid") == 1
    assert await count(app, Payment, Payment.status == "succeeded") == 1


@pytest.mark.postgres
async def test_concurrent_fresh_deliveries_of_one_event_store_it_once(
    client, app, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv)
    payload = await last_sim_event(app)
    payload["id"] = "evt_sim_concurrent_fresh"
    body, headers = signed(app, payload)
    responses = await asyncio.gather(
        *(client.post("/webhooks/simulator", content=body, headers=headers) for _ in range(12))
    )
    assert [r.status_code for r in responses] == [200] * 12
    assert sum(1 for r in responses if not r.json()["duplicate"]) == 1
    assert await count(app, InboxEvent, InboxEvent.event_id == "evt_sim_concurrent_fresh") == 1


async def test_a_failure_kept_on_the_inbox_event_is_masked_as_a_log_line_is(
    client, app, keys: Keys, monkeypatch
) -> None:
    """An event's failure is kept on its row (``last_error``), which the dead-letters API and
    CLI show: what the failure quotes (an email, a secret) is masked there as in the logs."""
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv)
    provider = app.state.payments.provider

    async def refusing(ref: str):
        raise RuntimeError("refused for camille.martin@example.org with sk_live_51Hx4bQ2eZvKYlo2C")

    monkeypatch.setattr(provider, "retrieve_payment", refusing)
    assert await app.state.applier.process_batch() == 0
    async with app.state.db.session() as s:
        row = (await s.execute(select(InboxEvent))).scalar_one()
    assert row.last_error is not None and row.last_error.startswith("RuntimeError: refused for")
    assert "camille.martin" not in row.last_error and "4bQ2eZvKYlo2C" not in row.last_error
