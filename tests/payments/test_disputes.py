"""Disputes: a refund applied while the invoice is disputed leaves it disputed, and the
dispute's close still returns (or keeps) the money, whichever order the events come in."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from typing import Any

import httpx
import pytest

from payments.providers.base import ProviderEvent
from tests.conftest import Keys, create_invoice, pay

_ids = itertools.count(1)
T0 = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)


def event(etype: str, at: dt.datetime | None = None, **data: Any) -> ProviderEvent:
    return ProviderEvent(
        id=f"evt_disp_{next(_ids)}",
        provider="simulator",
        type=etype,
        raw_type=etype,
        created=at or dt.datetime.now(dt.UTC),
        data=data,
    )


async def invoice(client: httpx.AsyncClient, key: str, invoice_id: str) -> dict[str, Any]:
    r = await client.get(f"/v1/invoices/{invoice_id}", headers=Keys.h(key))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def balances(app: Any) -> dict[tuple[str, str], int]:
    return {(b.account, b.currency): b.balance for b in await app.state.ledger.balances()}


@pytest.fixture
async def paid(client: httpx.AsyncClient, app: Any, keys: Keys) -> dict[str, Any]:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    doc = await invoice(client, keys.urbanisme, inv["id"])
    assert doc["status"] == "paid"
    return {"invoice": inv["id"], "ppid": doc["payments"][0]["provider_payment_id"]}


async def psp_refund(
    app: Any, ppid: str, amount: int, at: dt.datetime | None = None
) -> ProviderEvent:
    """A refund made at the PSP (its dashboard), and the event that reports it."""
    made = await app.state.payments.provider.refund(ppid, amount, f"dash-{next(_ids)}")
    return event("refund.updated", at, refund_id=made.id, provider_payment_id=ppid)


def dispute_event(
    paid: dict[str, Any], etype: str, amount: int, at: dt.datetime | None = None, **extra: Any
) -> ProviderEvent:
    return event(
        etype,
        at,
        dispute_id="dp_order",
        provider_payment_id=paid["ppid"],
        amount=amount,
        currency="EUR",
        **extra,
    )


async def apply_all(app: Any, events: list[ProviderEvent]) -> None:
    for ev in events:
        assert await app.state.intake.store(ev)
        await app.state.applier.process_batch()


@pytest.mark.parametrize("order", ["refund_then_dispute", "dispute_then_refund"])
async def test_a_refund_during_a_dispute_keeps_it_disputed_and_a_won_dispute_returns_the_money(
    client: httpx.AsyncClient, app: Any, keys: Keys, paid: dict[str, Any], order: str
) -> None:
    refund_ev = await psp_refund(app, paid["ppid"], 500)
    opened = dispute_event(paid, "dispute.opened", 2000)
    events = [refund_ev, opened] if order == "refund_then_dispute" else [opened, refund_ev]
    await apply_all(app, events)
    doc = await invoice(client, keys.urbanisme, paid["invoice"])
    assert (doc["status"], doc["amount_refunded"]) == ("disputed", 500)
    await apply_all(app, [dispute_event(paid, "dispute.closed", 2000, status="won")])
    doc = await invoice(client, keys.urbanisme, paid["invoice"])
    assert (doc["status"], doc["amount_refunded"]) == ("partially_refunded", 500)
    bal = await balances(app)
    assert bal[("expenses:disputes", "EUR")] == 0  # the money that came back left it
    assert bal[("assets:psp:simulator", "EUR")] == 2500 - 63 - 500
    assert bal[("income:urbanisme", "EUR")] == -(2500 - 500)


async def test_a_full_refund_during_a_dispute_then_won_ends_refunded(
    client: httpx.AsyncClient, app: Any, keys: Keys, paid: dict[str, Any]
) -> None:
    await apply_all(app, [dispute_event(paid, "dispute.opened", 2500)])
    await apply_all(app, [await psp_refund(app, paid["ppid"], 2500)])
    assert (await invoice(client, keys.urbanisme, paid["invoice"]))["status"] == "disputed"
    await apply_all(app, [dispute_event(paid, "dispute.closed", 2500, status="won")])
    doc = await invoice(client, keys.urbanisme, paid["invoice"])
    assert (doc["status"], doc["amount_refunded"], doc["amount_refundable"]) == (
        "refunded",
        2500,
        0,
    )
    assert (await balances(app))[("expenses:disputes", "EUR")] == 0


@pytest.mark.postgres
@pytest.mark.parametrize("order", ["refund_then_dispute", "dispute_then_refund"])
async def test_concurrent_refund_and_dispute_events_end_disputed_then_won(
    client: httpx.AsyncClient, app: Any, keys: Keys, paid: dict[str, Any], order: str
) -> None:
    """Delivered five times each, applied by three racing workers, in either order."""
    first, second = T0, T0 + dt.timedelta(seconds=1)
    refund_at, dispute_at = (first, second) if order == "refund_then_dispute" else (second, first)
    events = [
        await psp_refund(app, paid["ppid"], 300, refund_at),
        dispute_event(paid, "dispute.opened", 2200, dispute_at),
    ]
    stored = await asyncio.gather(*(app.state.intake.store(e) for e in events for _ in range(5)))
    assert sum(stored) == 2
    await asyncio.gather(*(app.state.applier.process_batch() for _ in range(3)))
    doc = await invoice(client, keys.urbanisme, paid["invoice"])
    assert (doc["status"], doc["amount_refunded"]) == ("disputed", 300)
    await apply_all(app, [dispute_event(paid, "dispute.closed", 2200, status="won")])
    doc = await invoice(client, keys.urbanisme, paid["invoice"])
    assert (doc["status"], doc["amount_refunded"]) == ("partially_refunded", 300)
    bal = await balances(app)
    assert bal[("expenses:disputes", "EUR")] == 0
    assert bal[("income:urbanisme", "EUR")] == -2200
