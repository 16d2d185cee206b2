"""An overpayment refunded on the PSP's dashboard while regie's automatic refund of it is
still pending (reserved, not yet sent, or sent and left unanswered), on the simulator.

The PSP then refuses regie's refund (the charge is already refunded, or what remains of
it is less than asked). The payer has the money back (or part of it): the refusal is no
failure for the citizen. What regie owed is settled exactly once — by the dashboard's
refund, and by regie's own refund of what remains, if anything — the books balance, the
invoice's own payment stays refundable, and the client service is never told
``invoice.refund_failed``. The same whichever comes first, the dashboard refund's event or
regie's attempt, and when the event is delivered twice.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlmodel import col

from payments.models import Payment, Refund
from payments.providers.base import ProviderError, ProviderEvent, ProviderRefund
from tests.conftest import Keys, create_invoice, pay_twice
from webhooks.inbound.models import InboxEvent
from webhooks.outbound.models import WebhookDelivery

_ids = itertools.count(1)


async def balances(app: Any) -> dict[tuple[str, str], int]:
    return {
        (b.account, b.currency): b.balance for b in await app.state.ledger.balances() if b.balance
    }


async def refund_rows(app: Any) -> list[Refund]:
    async with app.state.db.session() as s:
        return list((await s.execute(select(Refund).order_by(col(Refund.created_at)))).scalars())


async def notified(app: Any) -> list[str]:
    async with app.state.db.session() as s:
        return [d.event_type for d in (await s.execute(select(WebhookDelivery))).scalars()]


async def overpayment(app: Any) -> Payment:
    async with app.state.db.session() as s:
        stmt = select(Payment).where(col(Payment.is_overpayment).is_(True))
        return (await s.execute(stmt)).scalar_one()


async def apply_refund_event(app: Any, provider_refund_id: str, ppid: str) -> None:
    ev = ProviderEvent(
        id=f"evt_sim_dashboard_refund_{next(_ids)}",
        provider="simulator",
        type="refund.updated",
        raw_type="refund.updated",
        created=dt.datetime.now(dt.UTC),
        data={"refund_id": provider_refund_id, "provider_payment_id": ppid},
    )
    assert await app.state.intake.store(ev)
    if await app.state.applier.process_batch() != 1:
        async with app.state.db.session() as s:
            row = (
                await s.execute(select(InboxEvent).where(col(InboxEvent.event_id) == ev.id))
            ).scalar_one()
        raise AssertionError(f"not applied: {row.last_error}")


async def sweep(app: Any) -> None:
    """The refund sweeper's ticks, time passing between them (each pending refund due)."""
    for _ in range(3):
        async with app.state.db.session() as s:
            await s.execute(
                update(Refund)
                .where(col(Refund.status) == "pending")
                .values(next_attempt_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
            )
            await s.commit()
        await app.state.payments.refunds.retry_due()


@pytest.mark.parametrize("sent_before", [False, True], ids=["reserved", "sent-unanswered"])
@pytest.mark.parametrize("event_first", [True, False], ids=["event-first", "regie-first"])
@pytest.mark.parametrize("at_dashboard", [2500, 1000], ids=["full", "partial"])
async def test_an_overpayment_refunded_at_the_psp_meanwhile_is_settled_once(
    client: httpx.AsyncClient,
    app: Any,
    keys: Keys,
    monkeypatch: Any,
    sent_before: bool,
    event_first: bool,
    at_dashboard: int,
) -> None:
    r = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/hooks"},
        headers=Keys.h(keys.urbanisme),
    )
    assert r.status_code == 201, r.text
    inv = await create_invoice(client, keys.urbanisme)
    await pay_twice(client, app, inv)
    dup = await overpayment(app)
    assert dup.provider_payment_id
    ppid = dup.provider_payment_id
    (reserved,) = await refund_rows(app)
    assert (reserved.status, reserved.origin, reserved.amount) == ("pending", "overpayment", 2500)
    before = await balances(app)
    assert before[("liabilities:overpayments", "EUR")] == -2500

    provider = app.state.payments.provider
    if sent_before:  # regie's first request never reached the PSP (a timeout)
        real = provider.refund

        async def down(*args: Any, **kwargs: Any) -> ProviderRefund:
            raise ProviderError("unavailable", "read timeout", retryable=True)

        monkeypatch.setattr(provider, "refund", down)
        assert await app.state.payments.refunds.retry_due() == 1
        monkeypatch.setattr(provider, "refund", real)
        (row,) = await refund_rows(app)
        assert (row.status, row.attempts) == ("pending", 1)

    # someone refunds the duplicate charge on the PSP's dashboard (no regie metadata)
    dashboard = await type(provider).refund(provider, ppid, at_dashboard, "dashboard-1")
    assert dashboard.regie_refund_id is None
    if event_first:
        for _ in range(2):  # delivered twice
            await apply_refund_event(app, dashboard.id, ppid)
    await sweep(app)  # regie's refund is sent: the PSP refuses it (too much)
    if not event_first:
        for _ in range(2):
            await apply_refund_event(app, dashboard.id, ppid)
    await sweep(app)

    # the payer got the duplicate back exactly once, at the PSP
    at_psp = await provider.list_refunds(ppid)
    assert sum(x.amount for x in at_psp if x.status == "succeeded") == 2500

    rows = await refund_rows(app)
    assert all(x.payment_id == dup.id and x.origin == "overpayment" for x in rows)
    assert [x for x in rows if x.status == "pending"] == []
    settled = sorted(x.amount for x in rows if x.status == "succeeded")
    assert settled == sorted({at_dashboard, 2500 - at_dashboard} - {0})
    assert len([x for x in rows if x.provider_refund_id == dashboard.id]) == 1  # counted once

    after = await balances(app)
    assert ("liabilities:overpayments", "EUR") not in after  # nothing owed, nothing lost
    assert ("expenses:disputes", "EUR") not in after
    psp = ("assets:psp:simulator", "EUR")
    assert after[psp] == before[psp] - 2500
    assert after.get(("income:urbanisme", "EUR")) == before.get(("income:urbanisme", "EUR"))

    doc = (await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))).json()
    assert (doc["status"], doc["amount_refunded"], doc["amount_refundable"]) == ("paid", 0, 2500)

    events = await notified(app)
    assert "invoice.refund_failed" not in events  # the payer has the money back


@pytest.mark.parametrize("at_dashboard", [2500, 1000], ids=["full", "partial"])
async def test_past_23_hours_an_overpayment_refunded_at_the_psp_is_not_a_failure(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: Any, at_dashboard: int
) -> None:
    """regie's automatic refund never reached the PSP and is now too old to be retried
    blind: the PSP's list of the payment's refunds shows none of its, but the dashboard's.
    The payer has that back: no ``invoice.refund_failed``; the rest is refunded."""
    r = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/hooks"},
        headers=Keys.h(keys.urbanisme),
    )
    assert r.status_code == 201, r.text
    inv = await create_invoice(client, keys.urbanisme)
    await pay_twice(client, app, inv)
    ppid = (await overpayment(app)).provider_payment_id or ""
    provider = app.state.payments.provider
    real = provider.refund

    async def down(*args: Any, **kwargs: Any) -> ProviderRefund:
        raise ProviderError("unavailable", "read timeout", retryable=True)

    monkeypatch.setattr(provider, "refund", down)
    assert await app.state.payments.refunds.retry_due() == 1
    monkeypatch.setattr(provider, "refund", real)
    dashboard = await type(provider).refund(provider, ppid, at_dashboard, "dashboard-2")
    async with app.state.db.session() as s:
        day_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=23, minutes=5)
        await s.execute(update(Refund).values(created_at=day_ago))
        await s.commit()
    await sweep(app)
    await apply_refund_event(app, dashboard.id, ppid)

    at_psp = await provider.list_refunds(ppid)
    assert sum(x.amount for x in at_psp if x.status == "succeeded") == 2500
    rows = await refund_rows(app)
    assert sorted(x.amount for x in rows if x.status == "succeeded") == sorted(
        {at_dashboard, 2500 - at_dashboard} - {0}
    )
    assert ("liabilities:overpayments", "EUR") not in await balances(app)
    assert "invoice.refund_failed" not in await notified(app)


async def test_a_refused_overpayment_refund_waits_while_the_psp_cannot_list_refunds(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: Any
) -> None:
    """Refused, and the PSP cannot say whether the payment was refunded elsewhere: the
    reservation waits (asked again later), it is not failed on a guess; once the PSP lists
    the dashboard's refund, it is released without a failure."""
    inv = await create_invoice(client, keys.urbanisme)
    await pay_twice(client, app, inv)
    ppid = (await overpayment(app)).provider_payment_id or ""
    provider = app.state.payments.provider
    dashboard = await type(provider).refund(provider, ppid, 2500, "dashboard-3")
    real = provider.list_refunds

    async def unreachable(provider_payment_id: str) -> list[ProviderRefund]:
        raise ProviderError("unavailable", "timeout", retryable=True)

    monkeypatch.setattr(provider, "list_refunds", unreachable)
    assert await app.state.payments.refunds.retry_due() == 1
    (row,) = await refund_rows(app)
    assert (row.status, row.attempts) == ("pending", 1)
    monkeypatch.setattr(provider, "list_refunds", real)
    await sweep(app)
    (row,) = await refund_rows(app)
    assert (row.status, row.failure_reason) == (
        "failed",
        f"already refunded at the PSP ({dashboard.id})",
    )
    await apply_refund_event(app, dashboard.id, ppid)
    assert ("liabilities:overpayments", "EUR") not in await balances(app)
