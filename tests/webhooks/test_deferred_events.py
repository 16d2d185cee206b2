"""An event regie cannot apply yet (a refund before its payment's success) waits in the
inbox: pending, tried again as long as it has waited (10 s to an hour), its attempts
unspent; after a week it is dead-lettered with its reason, for an operator to see and
retry, never dropped."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy import select

from payments.providers.base import ProviderEvent
from payments.providers.simulator.models import SimCheckout
from tests.conftest import Keys, create_invoice, pay
from webhooks.inbound.backoff import DEFER_FOR, defer_delay
from webhooks.inbound.dead import requeue
from webhooks.inbound.models import InboxEvent


def test_a_deferred_event_waits_as_long_again_as_it_has_waited_from_10_s_to_an_hour() -> None:
    s = dt.timedelta(seconds=1)
    assert [defer_delay(w * s) for w in (0, 5, 10, 60, 3599, 3600, 86_400)] == [
        10 * s, 10 * s, 10 * s, 60 * s, 3599 * s, 3600 * s, 3600 * s,
    ]  # fmt: skip
    assert DEFER_FOR == dt.timedelta(days=7)  # past Stripe's 3 days of redelivery


async def test_a_refund_still_waiting_for_its_payment_after_a_week_is_dead_lettered(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: Any
) -> None:
    sim = app.state.payments.provider
    real_deliver = sim.deliver

    async def unreachable(event_id: str) -> bool:
        return False

    monkeypatch.setattr(sim, "deliver", unreachable)  # the payment's event never comes
    inv = await create_invoice(client, keys.urbanisme)
    paid = await pay(client, inv)
    monkeypatch.setattr(sim, "deliver", real_deliver)
    async with app.state.db.session() as s:
        ppid = (await s.get(SimCheckout, paid.checkout_id)).sim_payment_id  # type: ignore[union-attr]
    made = await sim.refund(ppid, 1000, "dashboard-1")
    ev = ProviderEvent(
        id="evt_waits_a_week", provider="simulator", type="refund.updated",
        raw_type="refund.updated", created=dt.datetime.now(dt.UTC),
        data={"refund_id": made.id, "provider_payment_id": ppid},
    )  # fmt: skip
    assert await app.state.intake.store(ev)
    for _ in range(3):  # tried again and again: still waiting, no attempt spent
        await app.state.applier.process_batch()
        async with app.state.db.session() as s:
            row = (await s.execute(select(InboxEvent))).scalar_one()
            assert (row.status, row.attempts) == ("pending", 0)
            assert row.provider_payment_id == ppid  # what it waits for
            row.next_attempt_at = dt.datetime.now(dt.UTC)
            await s.commit()
    async with app.state.db.session() as s:
        row = (await s.execute(select(InboxEvent))).scalar_one()
        row.received_at = dt.datetime.now(dt.UTC) - DEFER_FOR - dt.timedelta(minutes=1)
        await s.commit()
    await app.state.applier.process_batch()
    async with app.state.db.session() as s:
        row = (await s.execute(select(InboxEvent))).scalar_one()
    assert row.status == "dead"
    assert row.last_error == (
        f"deferred: refund {made.id} of {paid.payment_id}, whose payment regie has not recorded yet"
    )
    # the operator gets the payment recorded, then retries the event: nothing was lost
    await app.state.payments.confirm_return(paid.payment_id)
    assert await requeue(app.state.db, [row.id]) == [row.id]
    await app.state.applier.process_batch()
    doc = (await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))).json()
    assert (doc["status"], doc["amount_refunded"]) == ("partially_refunded", 1000)
