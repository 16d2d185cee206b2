"""A refund made at the PSP (its dashboard) whose event comes before the success of the
payment it refunds: the success event was lost, the PSP redelivers it later, the citizen
never came back to the return page. The refund is regie's (the refunded payment's
metadata at the PSP names regie's payment): it waits in the inbox, pending, and is applied
right after the payment's success, as if the events had come in order. Never dropped."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from payments.models import Refund
from payments.providers.simulator.models import SimCheckout
from tests.conftest import Keys, PayResult, create_invoice, pay
from tests.payments.test_refund_psp_paths import refund_event
from webhooks.inbound.models import InboxEvent


async def invoice(client: httpx.AsyncClient, key: str, invoice_id: str) -> dict[str, Any]:
    r = await client.get(f"/v1/invoices/{invoice_id}", headers=Keys.h(key))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def balances(app: Any) -> dict[tuple[str, str], int]:
    return {
        (b.account, b.currency): b.balance for b in await app.state.ledger.balances() if b.balance
    }


async def inbox(app: Any, event_id: str) -> InboxEvent:
    async with app.state.db.session() as s:
        return (
            await s.execute(select(InboxEvent).where(InboxEvent.event_id == event_id))
        ).scalar_one()


async def paid_unheard(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: Any
) -> tuple[dict[str, Any], PayResult, str]:
    """An invoice of 2500 paid at the simulator whose success event was not delivered
    (regie unreachable: the simulator keeps it to redeliver), and the PSP's payment id."""
    sim = app.state.payments.provider
    real_deliver = sim.deliver

    async def unreachable(event_id: str) -> bool:
        return False

    monkeypatch.setattr(sim, "deliver", unreachable)
    inv = await create_invoice(client, keys.urbanisme)
    paid = await pay(client, inv)
    monkeypatch.setattr(sim, "deliver", real_deliver)
    async with app.state.db.session() as s:
        cs = await s.get(SimCheckout, paid.checkout_id)
    assert cs is not None and cs.sim_payment_id
    return inv, paid, cs.sim_payment_id


@pytest.mark.parametrize("order", ["refund-first", "payment-first"])
async def test_a_psp_refund_delivered_before_its_payments_success_is_applied_after_it(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: Any, order: str
) -> None:
    """Out of order, the refund's event waits (pending, ``deferred: …``, no attempt
    spent), then is applied in the batch that records the payment: the invoice, the
    refund and the books end as they do when the events come in order."""
    inv, _, ppid = await paid_unheard(client, app, keys, monkeypatch)
    sim = app.state.payments.provider
    made = await sim.refund(ppid, 1000, "dashboard-1")  # the officer, at the PSP
    ev = refund_event(made.id, ppid)
    if order == "payment-first":
        assert await sim.redeliver_pending() == 1
        await app.state.applier.process_batch()
    assert await app.state.intake.store(ev)
    await app.state.applier.process_batch()
    if order == "refund-first":
        row = await inbox(app, ev.id)
        assert (row.status, row.attempts, row.outcome) == ("pending", 0, None)
        assert row.last_error is not None and row.last_error.startswith("deferred: ")
        assert row.next_attempt_at > dt.datetime.now(dt.UTC)  # not retried in a busy loop
        assert (await invoice(client, keys.urbanisme, inv["id"]))["status"] == "open"
        assert await app.state.applier.process_batch() == 0  # not due yet
        assert await sim.redeliver_pending() == 1  # the payment's event, at last
        assert await app.state.applier.process_batch() == 2  # the payment, then the refund

    doc = await invoice(client, keys.urbanisme, inv["id"])
    row = await inbox(app, ev.id)
    assert (doc["status"], doc["amount_refunded"], doc["amount_refundable"]) == (
        "partially_refunded", 1000, 1500,
    )  # fmt: skip
    assert (row.status, row.outcome) == ("done", "refund succeeded; invoice partially_refunded")
    async with app.state.db.session() as s:
        (refund,) = (await s.execute(select(Refund))).scalars()
    assert (refund.provider_refund_id, refund.amount, refund.origin, refund.status) == (
        made.id, 1000, "psp", "succeeded",
    )  # fmt: skip
    bal = await balances(app)
    assert bal[("income:urbanisme", "EUR")] == -1500
    # as in order: 2500 paid, 63 of fees, 1000 given back from the PSP's balance
    assert bal == {
        ("assets:psp:simulator", "EUR"): 1437,
        ("expenses:psp_fees", "EUR"): 63,
        ("income:urbanisme", "EUR"): -1500,
    }


async def test_a_deferred_refund_is_applied_at_its_next_try_when_the_payment_came_otherwise(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: Any
) -> None:
    """The payment is recorded by the citizen's return page, not by an event: the waiting
    refund is applied at its next try, not left waiting for an event that changes nothing."""
    inv, paid, ppid = await paid_unheard(client, app, keys, monkeypatch)
    made = await app.state.payments.provider.refund(ppid, 1000, "dashboard-1")
    ev = refund_event(made.id, ppid)
    assert await app.state.intake.store(ev)
    await app.state.applier.process_batch()
    assert (await inbox(app, ev.id)).status == "pending"
    await app.state.payments.confirm_return(paid.payment_id)
    assert (await invoice(client, keys.urbanisme, inv["id"]))["status"] == "paid"
    async with app.state.db.session() as s:
        row = await s.get(InboxEvent, (await inbox(app, ev.id)).id)
        assert row is not None
        row.next_attempt_at = dt.datetime.now(dt.UTC)  # its next try has come
        await s.commit()
    await app.state.applier.process_batch()
    doc = await invoice(client, keys.urbanisme, inv["id"])
    assert (doc["status"], doc["amount_refunded"]) == ("partially_refunded", 1000)
    assert (await inbox(app, ev.id)).status == "done"
