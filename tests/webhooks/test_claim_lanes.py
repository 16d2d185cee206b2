"""A batch's notifications (``invoice.created``, one per invoice of the batch) never hold up
a citizen's payment: within an endpoint, a claim takes the notifications of single events
(``invoice.paid``, …) before a batch's backlog, each lane in the order owed (due first,
then written). Order per invoice and endpoint still holds: a payment of an invoice whose
``invoice.created`` is still queued in the backlog brings that one forward with it, so the
receiver gets the invoice's ``created`` first, then its ``paid``, neither behind the
batch."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy import update

from tests.conftest import Keys, create_invoice, pay
from tests.payments.test_invoice_batches import batch, post_batch
from tests.webhooks.notify_kit import Receiver, register, rows
from tests.webhooks.test_fair_claims import DEAD, backlog, by_endpoint, oldest_first
from webhooks.outbound.models import WebhookDelivery


async def test_a_payment_goes_out_in_the_next_claim_not_behind_a_batchs_backlog(
    client: httpx.AsyncClient, app: Any, keys: Keys, notifications: Any
) -> None:
    endpoint = await register(client, keys.urbanisme, f"{DEAD}/hook")
    await backlog(client, keys.urbanisme, 20, "BULK")  # 20 invoice.created, due first
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    (paid,) = await rows(app, WebhookDelivery.event_type == "invoice.paid")
    owed = await oldest_first(app, endpoint["id"])
    assert len(owed) == 21 and owed[-1] == paid.id  # due last, written last
    notifications.per_endpoint = 5
    got = by_endpoint(await notifications._claim(10, dt.datetime.now(dt.UTC)))
    # the payment is in the next claim (before, the five oldest of the backlog were);
    # the backlog's rows follow it in the order owed
    assert got == {endpoint["id"]: {paid.id, *owed[:4]}}


async def test_a_payment_of_a_batch_invoice_brings_its_created_forward_and_follows_it(
    client: httpx.AsyncClient, app: Any, keys: Keys, receiver: Receiver, notifications: Any
) -> None:
    await register(client, keys.urbanisme, f"{receiver.url}/hook")
    r = await post_batch(client, keys.urbanisme, batch(20, prefix="BULK"))
    assert r.status_code == 201, r.text
    last = r.json()["invoices"][-1]  # its invoice.created is the backlog's last
    await pay(client, last, apply=app)
    notifications.per_endpoint = 5
    assert notifications.batch_size == 10
    # two claims of five (one endpoint)
    assert await notifications.deliver_due(limit=10) == 10
    sent = [(x.doc["type"], x.doc["data"]["object"]["id"]) for x in receiver.ok()]
    assert len(sent) == 10
    # the first claim took the invoice's created, the second its paid: the payment did not
    # wait behind the batch, nor go out before the invoice's created
    assert ("invoice.created", last["id"]) in sent[:5]
    assert ("invoice.paid", last["id"]) in sent[5:]
    # the rest of each claim is the backlog, oldest first (a claim's go out at once)
    oldest = [("invoice.created", x["id"]) for x in r.json()["invoices"][:8]]
    assert set(sent[:5]) == {("invoice.created", last["id"]), *oldest[:4]}
    assert set(sent[5:]) == {("invoice.paid", last["id"]), *oldest[4:]}


async def test_a_created_sent_again_before_a_queued_payment_goes_first_and_not_behind_the_batch(
    client: httpx.AsyncClient, app: Any, keys: Keys, notifications: Any
) -> None:
    """The invoice's created was given up, its paid is queued; a resend of the created
    puts it back before the paid (order per invoice): it comes forward with the paid
    instead of holding the payment behind the batch."""
    endpoint = await register(client, keys.urbanisme, f"{DEAD}/hook")
    r = await post_batch(client, keys.urbanisme, batch(20, prefix="BULK"))
    assert r.status_code == 201, r.text
    last = r.json()["invoices"][-1]
    (created,) = await rows(app, WebhookDelivery.invoice_id == last["id"])
    async with app.state.db.session() as s:
        await s.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == created.id).values(status="failed")
        )
        await s.commit()
    await pay(client, last, apply=app)
    (paid,) = await rows(app, WebhookDelivery.event_type == "invoice.paid")
    r = await client.post(
        f"/v1/webhook-deliveries/{created.id}/resend", headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 200, r.text
    notifications.per_endpoint = 5
    owed = await oldest_first(app, endpoint["id"])
    first = by_endpoint(await notifications._claim(10, dt.datetime.now(dt.UTC)))
    # the created first (the paid waits for it), then four of the backlog
    assert first == {endpoint["id"]: {created.id, *owed[:4]}}
    async with app.state.db.session() as s:
        await s.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == created.id)
            .values(status="delivered", claimed_until=None, claim_token=None)
        )
        await s.commit()
    second = by_endpoint(await notifications._claim(10, dt.datetime.now(dt.UTC)))
    assert second == {endpoint["id"]: {paid.id, *owed[4:8]}}
