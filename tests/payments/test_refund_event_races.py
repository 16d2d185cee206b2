"""Two workers apply two events about one refund the PSP made (PostgreSQL).

A refund made in the PSP's dashboard is reported by several events (Stripe sends
``refund.created``, ``charge.refunded`` and ``refund.updated``, each with its own id): two workers may apply
them at the same moment. Both find no refund of regie's with the PSP's id, then wait for
the invoice's lock; the one that gets it second must find the refund the first recorded
(one row, counted once) and be applied, not fail on the unique index and spend an
attempt."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from payments.models import Invoice, Refund
from payments.service import disputes
from tests.conftest import Keys, create_invoice, pay
from tests.lock_waits import lock_waiters
from tests.payments.test_disputes import balances, event, invoice, over_dispute, paid_twice
from webhooks.inbound.models import InboxEvent

pytestmark = pytest.mark.postgres


@pytest.fixture
async def paid(client: httpx.AsyncClient, app: Any, keys: Keys) -> dict[str, Any]:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    doc = await invoice(client, keys.urbanisme, inv["id"])
    return {"invoice": inv["id"], "ppid": doc["payments"][0]["provider_payment_id"]}


async def _until_waiting(app: Any, n: int, *tasks: asyncio.Task[Any]) -> None:
    for _ in range(500):
        if any(t.done() for t in tasks) or await lock_waiters(app.state.db) >= n:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never {n} waiting on a lock")


async def test_two_events_of_one_psp_refund_applied_at_once_record_it_once(
    client: httpx.AsyncClient, app: Any, keys: Keys, paid: dict[str, Any]
) -> None:
    made = await app.state.payments.provider.refund(paid["ppid"], 700, "dash-twice")
    data = {"refund_id": made.id, "provider_payment_id": paid["ppid"]}
    for ev in (event("refund.updated", **data), event("refund.updated", **data)):
        assert await app.state.intake.store(ev)
    async with app.state.db.session() as s:
        pending = select(col(InboxEvent.id)).where(col(InboxEvent.status) == "pending")
        ids = list((await s.execute(pending.order_by(col(InboxEvent.id)))).scalars())
    applier = app.state.applier

    async with app.state.db.session() as holder:
        # another transaction holds the invoice: both workers find no refund of the PSP's
        # id, then wait for the invoice's lock
        await holder.execute(
            select(Invoice).where(col(Invoice.id) == paid["invoice"]).with_for_update()
        )
        tasks = [asyncio.create_task(applier.process_one(i)) for i in ids]
        await _until_waiting(app, 2, *tasks)
        assert not any(t.done() for t in tasks)
        await holder.rollback()
        applied = await asyncio.wait_for(asyncio.gather(*tasks), 20)

    async with app.state.db.session() as s:
        rows = (
            (await s.execute(select(InboxEvent).where(col(InboxEvent.id).in_(ids)))).scalars().all()
        )
        refunds = (await s.execute(select(Refund))).scalars().all()
    assert [(r.status, r.last_error) for r in rows] == [("done", None), ("done", None)], [
        (r.status, r.attempts, r.last_error) for r in rows
    ]
    assert applied == [True, True]
    assert [(r.provider_refund_id, r.status, r.amount) for r in refunds] == [
        (made.id, "succeeded", 700)
    ]
    doc = await invoice(client, keys.urbanisme, paid["invoice"])
    assert (doc["status"], doc["amount_refunded"]) == ("partially_refunded", 700)
    assert (await balances(app))[("income:urbanisme", "EUR")] == -(2500 - 700)


async def test_a_refund_event_that_waited_while_a_dispute_released_its_reservation_books_it(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweeper asks the PSP for an overpayment's automatic refund; the PSP makes it and
    reports it (its event names the reservation, by the metadata regie sent). A worker
    applying that event reads the reservation still pending, then waits for the invoice's
    lock, held by another worker applying the payer's chargeback of the same duplicate,
    which releases the reservation ("not needed"). The refund the PSP made must be booked
    (the payer got the money twice: a loss), not dropped behind the released row, neither
    by the event nor by the sweeper's answer that comes after it."""
    doc, over = await paid_twice(client, app, keys)
    sim, applier = app.state.payments.provider, app.state.applier
    ppid = over["provider_payment_id"]
    real_refund, real_overpayment = sim.refund, disputes._overpayment
    holding = asyncio.Event()

    async def overpayment_while_the_event_waits(*args: Any, **kwargs: Any) -> Any:
        holding.set()  # the chargeback's worker holds the invoice's lock...
        await _until_waiting(app, 1)  # ...until the refund's worker waits for it
        return await real_overpayment(*args, **kwargs)

    async def refund_while_both_events_race(*args: Any, **kwargs: Any) -> Any:
        made = await real_refund(*args, **kwargs)  # the PSP pays the refund...
        sim.set_dispute(over_dispute(over, "dp_race"))
        chargeback = event(
            "dispute.funds_withdrawn", dispute_id="dp_race", provider_payment_id=ppid
        )
        refunded = event("refund.updated", refund_id=made.id, provider_payment_id=ppid)
        ids = [await _stored(app, ev) for ev in (chargeback, refunded)]
        # ...and before its answer is applied, two workers apply the two events at once
        monkeypatch.setattr(disputes, "_overpayment", overpayment_while_the_event_waits)
        first = asyncio.create_task(applier.process_one(ids[0]))
        await asyncio.wait_for(holding.wait(), 10)
        second = asyncio.create_task(applier.process_one(ids[1]))
        assert await asyncio.wait_for(asyncio.gather(first, second), 20) == [True, True]
        return made

    monkeypatch.setattr(sim, "refund", refund_while_both_events_race)
    await app.state.payments.refunds.retry_due()
    monkeypatch.undo()

    (made,) = await sim.list_refunds(ppid)
    await _refund_booked_as_a_loss(client, app, keys, doc["id"], made.id)


async def _refund_booked_as_a_loss(
    client: httpx.AsyncClient, app: Any, keys: Keys, invoice_id: str, refund_id: str
) -> None:
    """The PSP's refund ``refund_id`` of the overpayment is booked once, succeeded; the
    chargeback settled the debt, so the refund paid on top of it is a loss; the invoice
    stays paid, nothing refunded of it."""
    async with app.state.db.session() as s:
        rows = (await s.execute(select(Refund))).scalars().all()
    booked = [r for r in rows if r.provider_refund_id == refund_id]
    assert [(r.status, r.amount) for r in booked] == [("succeeded", 2500)], [
        (r.id, r.status, r.provider_refund_id, r.failure_reason) for r in rows
    ]
    bal = await balances(app)
    assert (bal[("liabilities:overpayments", "EUR")], bal[("expenses:disputes", "EUR")]) == (
        0,
        2500,
    )
    got = await invoice(client, keys.urbanisme, invoice_id)
    assert (got["status"], got["amount_refunded"]) == ("paid", 0)


async def _stored(app: Any, ev: Any) -> str:
    """The inbox id of an event, once stored."""
    assert await app.state.intake.store(ev)
    async with app.state.db.session() as s:
        found = select(col(InboxEvent.id)).where(col(InboxEvent.event_id) == ev.id)
        return str((await s.execute(found)).scalar_one())


async def test_a_refund_taken_over_while_a_dispute_released_its_reservation_is_booked(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An overpayment's automatic refund unanswered for 23 h: the sweeper lists the
    payment's refunds at the PSP, which made it (the answer and the event were lost).
    Meanwhile a worker applies the payer's chargeback of the duplicate, which releases the
    reservation. The refund the PSP made, found by its metadata, must be booked (the payer
    got the money twice: a loss), not dropped because the reservation is no longer pending."""
    doc, over = await paid_twice(client, app, keys)
    sim = app.state.payments.provider
    ppid = over["provider_payment_id"]
    async with app.state.db.session() as s:
        (reserved,) = (await s.execute(select(Refund))).scalars().all()
        reserved.created_at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=23, minutes=5)
        reserved.next_attempt_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        await s.commit()
    # the PSP made it; its answer and its event never reached regie
    made = await sim.refund(
        ppid, reserved.amount, f"regie-refund-{reserved.id}", regie_refund_id=reserved.id
    )
    real_list = sim.list_refunds

    async def list_while_the_payer_charges_back(*args: Any, **kwargs: Any) -> Any:
        found = await real_list(*args, **kwargs)
        # before the sweeper locks the reservation, a worker applies the chargeback
        sim.set_dispute(over_dispute(over, "dp_late"))
        chargeback = event(
            "dispute.funds_withdrawn", dispute_id="dp_late", provider_payment_id=ppid
        )
        assert await app.state.applier.process_one(await _stored(app, chargeback))
        return found

    monkeypatch.setattr(sim, "list_refunds", list_while_the_payer_charges_back)
    assert await app.state.payments.refunds.retry_due() == 1
    monkeypatch.undo()
    await _refund_booked_as_a_loss(client, app, keys, doc["id"], made.id)
