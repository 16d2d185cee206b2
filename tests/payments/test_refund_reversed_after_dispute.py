"""A refund that fails after it succeeded, on an invoice whose payer a lost dispute has
already paid back in full: the payer still has everything back (through their bank), so
nothing becomes refundable again."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import httpx
from sqlalchemy import select
from sqlmodel import col

from payments.models import StateChange
from payments.providers.base import ProviderDispute, ProviderEvent, ProviderRefund
from tests.conftest import Keys, create_invoice, pay


async def _apply(app: Any, event_id: str, etype: str, data: dict[str, Any]) -> None:
    ev = ProviderEvent(
        id=event_id,
        provider="simulator",
        type=etype,
        raw_type=etype,
        created=dt.datetime.now(dt.UTC),
        data=data,
    )
    assert await app.state.intake.store(ev)
    assert await app.state.applier.process_batch() == 1


async def _invoice(client: httpx.AsyncClient, keys: Keys, invoice_id: str) -> dict[str, Any]:
    r = await client.get(f"/v1/invoices/{invoice_id}", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_a_refund_reversed_after_a_lost_dispute_of_the_whole_payment_changes_nothing_owed(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: Any
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    ppid = (await _invoice(client, keys, inv["id"]))["payments"][0]["provider_payment_id"]
    r = await client.post(
        f"/v1/invoices/{inv['id']}/refunds", json={"amount": 900}, headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 201, r.text
    refund = r.json()

    # the payer disputes the whole payment all the same, and the bank gives it all back
    provider = app.state.payments.provider
    for step, closed in (("dispute.opened", False), ("dispute.closed", True)):
        provider.set_dispute(
            ProviderDispute(
                "dp_test_whole", ppid, 2500, "EUR", "lost" if closed else "needs_response",
                withdrawn=2500, closed=closed,
            )
        )  # fmt: skip
        await _apply(app, f"evt_test_{step}", step, {"dispute_id": "dp_test_whole"})
    doc = await _invoice(client, keys, inv["id"])
    assert (doc["status"], doc["amount_refunded"], doc["amount_refundable"]) == (
        "refunded",
        2500,
        0,
    )

    # then the card refund comes back: the payer only has what the bank gave them, 2500
    real = provider.retrieve_refund

    async def retrieve_refund(refund_id: str) -> ProviderRefund:
        truth = await real(refund_id)
        return dataclasses.replace(
            truth, status="failed", failure_reason="expired_or_canceled_card"
        )

    monkeypatch.setattr(provider, "retrieve_refund", retrieve_refund)
    await _apply(
        app,
        "evt_test_refund_back",
        "refund.updated",
        {"refund_id": refund["provider_refund_id"], "provider_payment_id": ppid},
    )
    doc = await _invoice(client, keys, inv["id"])
    assert (doc["status"], doc["amount_refunded"], doc["amount_refundable"]) == (
        "refunded",
        2500,
        0,
    )
    r = await client.post(
        f"/v1/invoices/{inv['id']}/refunds", json={}, headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 409, r.text  # nothing more to give back
    async with app.state.db.session() as s:
        invoice_rows = [
            (c.from_status, c.to_status)
            for c in (
                await s.execute(
                    select(StateChange)
                    .where(
                        col(StateChange.invoice_id) == inv["id"],
                        col(StateChange.object) == "invoice",
                    )
                    .order_by(col(StateChange.id))
                )
            ).scalars()
        ]
    assert invoice_rows[-1] == ("disputed", "refunded")  # the bounce changed no status
