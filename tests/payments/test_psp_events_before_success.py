"""A refund or a dispute whose event comes before the success of the payment it is about,
when regie already knows that payment by the PSP's id: a delayed method (a SEPA debit)
reported processing, whose success event comes days later, after the PSP's refund or
chargeback of it. Such an event waits for the success, as when the payment is not known
at all (``test_refund_before_its_payment``), and also when the dispute's payment is not
known yet: applied first, it was counted on an invoice that was still open (a refund's
money left the books but not the invoice's amounts; a chargeback was never seen by the
invoice), or dropped."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from payments.models import Payment
from payments.providers.base import ProviderDispute, ProviderEvent, ProviderPayment
from tests.conftest import Keys
from tests.payments.test_refund_before_its_payment import balances, inbox, invoice, paid_unheard
from tests.payments.test_refund_psp_paths import refund_event

_ids = itertools.count(1)


def sim_event(etype: str, **fields: Any) -> ProviderEvent:
    return ProviderEvent(
        id=f"evt_sim_early_{next(_ids)}",
        provider="simulator",
        type=etype,
        raw_type=etype,
        created=dt.datetime.now(dt.UTC),
        **fields,
    )


async def processing(app: Any, monkeypatch: Any, checkout_id: str) -> None:
    """The payer completed the checkout with a delayed method: the PSP says the payment is
    on its way (pending, processing), and regie records the PSP's id of it."""
    sim = app.state.payments.provider
    real = sim.retrieve_payment

    async def on_its_way(ref: str) -> ProviderPayment:
        truth = await real(ref)
        return dataclasses.replace(truth, status="pending", processing=True, fee=None)

    monkeypatch.setattr(sim, "retrieve_payment", on_its_way)
    ev = sim_event("payment.processing", checkout_id=checkout_id)
    assert await app.state.intake.store(ev)
    assert await app.state.applier.process_batch() == 1
    monkeypatch.setattr(sim, "retrieve_payment", real)
    async with app.state.db.session() as s:
        (p,) = (await s.execute(select(Payment))).scalars()
    assert p.status == "pending" and p.processing_since is not None and p.provider_payment_id


async def test_a_refund_of_a_payment_still_processing_waits_for_its_success(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: Any
) -> None:
    inv, paid, ppid = await paid_unheard(client, app, keys, monkeypatch)
    await processing(app, monkeypatch, paid.checkout_id)
    sim = app.state.payments.provider
    made = await sim.refund(ppid, 1000, "dashboard-1")  # the officer, at the PSP
    ev = refund_event(made.id, ppid)
    assert await app.state.intake.store(ev)
    await app.state.applier.process_batch()
    assert await sim.redeliver_pending() == 1  # the payment's success, at last
    await app.state.applier.process_batch()
    doc = await invoice(client, keys.urbanisme, inv["id"])
    assert (doc["status"], doc["amount_refunded"], doc["amount_refundable"]) == (
        "partially_refunded", 1000, 1500,
    )  # fmt: skip
    assert (await inbox(app, ev.id)).status == "done"
    assert await balances(app) == {
        ("assets:psp:simulator", "EUR"): 1437,
        ("expenses:psp_fees", "EUR"): 63,
        ("income:urbanisme", "EUR"): -1500,
    }


def withdrawn(ppid: str, amount: int = 2500) -> ProviderDispute:
    return ProviderDispute("dp_early", ppid, amount, "EUR", "needs_response", withdrawn=amount)


@pytest.mark.parametrize("known", ["processing", "unknown", "unknown-shared"])
async def test_a_chargeback_before_its_payments_success_is_applied_after_it(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: Any, known: str
) -> None:
    """The chargeback's event (funds withdrawn) comes first: it waits, and once the
    payment is recorded the invoice is disputed and the withdrawal booked, as in order.
    On an account other integrations share too: the dispute's payment, unknown to regie
    by the PSP's id, is regie's by its metadata at the PSP (it was dropped)."""
    inv, paid, ppid = await paid_unheard(client, app, keys, monkeypatch)
    if known == "processing":
        await processing(app, monkeypatch, paid.checkout_id)
    sim = app.state.payments.provider
    if known == "unknown-shared":
        monkeypatch.setattr(sim, "shared_account", True)
    sim.set_dispute(withdrawn(ppid))
    ev = sim_event(
        "dispute.funds_withdrawn",
        provider_payment_id=ppid,
        data={"dispute_id": "dp_early", "provider_payment_id": ppid},
    )
    assert await app.state.intake.store(ev)
    await app.state.applier.process_batch()
    assert await sim.redeliver_pending() == 1  # the payment's success, at last
    await app.state.applier.process_batch()
    doc = await invoice(client, keys.urbanisme, inv["id"])
    assert doc["status"] == "disputed"
    assert (await inbox(app, ev.id)).status == "done"
    bal = await balances(app)
    assert bal[("expenses:disputes", "EUR")] == 2500
    assert bal[("assets:psp:simulator", "EUR")] == 2500 - 63 - 2500
