"""What the PSP says is checked before it is applied: a truth that disagrees with the
payment is left for a human, a lost dispute takes the money off the invoice, and a refund
that already succeeded or failed is never applied again."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

# the PSP port's shapes (the one import of a module the providers' move may relocate)
from payments.models import Payment
from payments.providers.base import (
    ProviderDispute,
    ProviderError,
    ProviderEvent,
    ProviderPayment,
    ProviderRefund,
)
from receipts.models import Receipt
from tests.conftest import Keys, create_invoice, pay, start_checkout
from webhooks.inbound.models import InboxEvent

_ids = itertools.count(1)


def event(etype: str, **fields: Any) -> ProviderEvent:
    data = fields.pop("data", {})
    return ProviderEvent(
        id=f"evt_test_{next(_ids)}",
        provider="simulator",
        type=etype,
        raw_type=etype,
        created=dt.datetime.now(dt.UTC),
        data=data,
        **fields,
    )


async def apply(app: Any, ev: ProviderEvent) -> None:
    assert await app.state.intake.store(ev)
    await app.state.applier.process_batch()


async def invoice(client: httpx.AsyncClient, key: str, invoice_id: str) -> dict[str, Any]:
    r = await client.get(f"/v1/invoices/{invoice_id}", headers=Keys.h(key))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def balances(app: Any) -> dict[tuple[str, str], int]:
    return {(b.account, b.currency): b.balance for b in await app.state.ledger.balances()}


async def entry_kinds(app: Any, invoice_id: str) -> list[str]:
    return [e.kind for e, _ in await app.state.ledger.entries(
        limit=500, starting_after=None, invoice_id=invoice_id, effective_gte=None, effective_lt=None
    )]  # fmt: skip


async def refunds(client: httpx.AsyncClient, key: str, invoice_id: str) -> dict[str, Any]:
    r = await client.get(f"/v1/invoices/{invoice_id}/refunds", headers=Keys.h(key))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def credit_notes(app: Any) -> int:
    async with app.state.db.session() as s:
        stmt = select(func.count()).select_from(Receipt).where(Receipt.kind == "credit_note")
        return int((await s.execute(stmt)).scalar_one())


# ------------------------------------------------------------------ the PSP's truth
@pytest.fixture
async def pending(client: httpx.AsyncClient, app: Any, keys: Keys) -> dict[str, Any]:
    """An open EUR 25.00 invoice with a pending payment at the simulator's checkout."""
    inv = await create_invoice(client, keys.urbanisme)
    checkout_id, _ = await start_checkout(client, inv)
    doc = await invoice(client, keys.urbanisme, inv["id"])
    (payment,) = doc["payments"]
    assert (payment["status"], payment["amount"], payment["currency"]) == ("pending", 2500, "EUR")
    return {"invoice": inv["id"], "payment": payment["id"], "checkout": checkout_id}


def truth(pending: dict[str, Any], **changes: Any) -> ProviderPayment:
    """The PSP's word that the pending payment succeeded, with ``changes``."""
    values: dict[str, Any] = {
        "checkout_id": pending["checkout"],
        "provider_payment_id": "sp_test_truth",
        "status": "succeeded",
        "amount": 2500,
        "currency": "EUR",
        "payment_ref": pending["payment"],
        "card_brand": "visa",
        "card_last4": "4242",
        "fee": 63,
    }
    values.update(changes)
    return ProviderPayment(**values)


async def tell(app: Any, pending: dict[str, Any], said: ProviderPayment, monkeypatch: Any) -> None:
    async def retrieve_payment(ref: str) -> ProviderPayment:
        return said

    monkeypatch.setattr(app.state.payments.provider, "retrieve_payment", retrieve_payment)
    await apply(
        app,
        event("payment.succeeded", checkout_id=pending["checkout"], payment_ref=pending["payment"]),
    )


async def assert_not_applied(
    client: httpx.AsyncClient, app: Any, keys: Keys, pending: dict[str, Any]
) -> None:
    doc = await invoice(client, keys.urbanisme, pending["invoice"])
    assert (doc["status"], doc["amount_paid"]) == ("open", 0)
    assert [p["status"] for p in doc["payments"]] == ["pending"]
    assert await entry_kinds(app, pending["invoice"]) == ["invoice_issued"]
    r = await client.get(
        f"/v1/invoices/{pending['invoice']}/receipt.pdf", headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 404


async def test_the_matching_truth_is_applied(
    client: httpx.AsyncClient, app: Any, keys: Keys, pending: dict[str, Any], monkeypatch: Any
) -> None:
    """The control: the same truth, agreeing in every field, pays the invoice."""
    await tell(app, pending, truth(pending), monkeypatch)
    doc = await invoice(client, keys.urbanisme, pending["invoice"])
    assert (doc["status"], doc["amount_paid"]) == ("paid", 2500)


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": 2499},
        {"amount": 2501},
        {"amount": 25},  # major units
        {"amount": 250_000},
        {"currency": "XPF"},  # the same number in another currency
        {"currency": "USD"},
        {"currency": "eur"},
        {"amount": 2500 * 100, "currency": "XPF"},
    ],
    ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()),
)
async def test_a_truth_that_disagrees_with_the_payment_is_not_applied(
    client: httpx.AsyncClient,
    app: Any,
    keys: Keys,
    pending: dict[str, Any],
    monkeypatch: Any,
    changes: dict[str, Any],
) -> None:
    await tell(app, pending, truth(pending, **changes), monkeypatch)
    await assert_not_applied(client, app, keys, pending)


@pytest.mark.parametrize("field", ["payment_ref", "checkout_id"])
async def test_a_truth_about_another_payment_is_not_applied(
    client: httpx.AsyncClient,
    app: Any,
    keys: Keys,
    pending: dict[str, Any],
    monkeypatch: Any,
    field: str,
) -> None:
    other = {"payment_ref": "pay_01OTHERPAYMENT000000000000", "checkout_id": "cs_sim_other"}
    await tell(app, pending, truth(pending, **{field: other[field]}), monkeypatch)
    await assert_not_applied(client, app, keys, pending)


# --------------------------------------------------------------------------- disputes
@pytest.fixture
async def paid(client: httpx.AsyncClient, app: Any, keys: Keys) -> dict[str, Any]:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    doc = await invoice(client, keys.urbanisme, inv["id"])
    assert doc["status"] == "paid"
    return {"invoice": inv["id"], "ppid": doc["payments"][0]["provider_payment_id"]}


async def dispute(app: Any, paid: dict[str, Any], etype: str, amount: int, **data: Any) -> None:
    status = data.get("status") or "needs_response"
    app.state.payments.provider.set_dispute(  # the simulator's truth, re-read on apply
        ProviderDispute(
            "dp_test", paid["ppid"], amount, "EUR", status, withdrawn=amount,
            reinstated=amount if status == "won" else 0, closed=etype == "dispute.closed",
            won=status == "won",
        )
    )  # fmt: skip
    await apply(
        app,
        event(
            etype,
            data={
                "dispute_id": "dp_test",
                "provider_payment_id": paid["ppid"],
                "amount": amount,
                "currency": "EUR",
                **data,
            },
        ),
    )


async def test_a_lost_dispute_takes_the_money_off_the_invoice(
    client: httpx.AsyncClient, app: Any, keys: Keys, paid: dict[str, Any]
) -> None:
    await dispute(app, paid, "dispute.opened", 2500)
    before = await balances(app)
    await dispute(app, paid, "dispute.closed", 2500, status="lost")
    doc = await invoice(client, keys.urbanisme, paid["invoice"])
    assert (doc["status"], doc["amount_paid"], doc["amount_refunded"]) == ("refunded", 2500, 2500)
    assert (doc["amount_refundable"], doc["amount_due"]) == (0, 0)
    # the ledger: the money left the PSP balance when the dispute opened and stays gone
    bal = await balances(app)
    assert bal == before
    assert bal[("expenses:disputes", "EUR")] == 2500
    assert bal[("assets:psp:simulator", "EUR")] == 2500 - 63 - 2500
    assert bal[("receivable:urbanisme", "EUR")] == 0
    kinds = await entry_kinds(app, paid["invoice"])
    assert kinds.count("dispute_opened") == 1 and "dispute_won" not in kinds
    # nothing is left to refund
    r = await client.post(
        f"/v1/invoices/{paid['invoice']}/refunds", json={}, headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "invoice_not_refundable"
    assert (await refunds(client, keys.urbanisme, paid["invoice"]))["refundable_amount"] == 0


async def test_a_dispute_lost_after_a_partial_refund_leaves_nothing_paid(
    client: httpx.AsyncClient, app: Any, keys: Keys, paid: dict[str, Any]
) -> None:
    r = await client.post(
        f"/v1/invoices/{paid['invoice']}/refunds",
        json={"amount": 500},
        headers=Keys.h(keys.urbanisme),
    )
    assert r.status_code == 201, r.text
    await dispute(app, paid, "dispute.opened", 2000)
    await dispute(app, paid, "dispute.closed", 2000, status="lost")
    doc = await invoice(client, keys.urbanisme, paid["invoice"])
    assert (doc["status"], doc["amount_refunded"], doc["amount_refundable"]) == (
        "refunded",
        2500,
        0,
    )
    bal = await balances(app)
    assert bal[("expenses:disputes", "EUR")] == 2000
    assert bal[("assets:psp:simulator", "EUR")] == 2500 - 63 - 500 - 2000


async def test_a_won_dispute_gives_the_money_back(
    client: httpx.AsyncClient, app: Any, keys: Keys, paid: dict[str, Any]
) -> None:
    """The control for the lost case: won, the invoice is paid again and nothing is gone."""
    await dispute(app, paid, "dispute.opened", 2500)
    await dispute(app, paid, "dispute.closed", 2500, status="won")
    doc = await invoice(client, keys.urbanisme, paid["invoice"])
    assert (doc["status"], doc["amount_refunded"], doc["amount_refundable"]) == ("paid", 0, 2500)
    bal = await balances(app)
    assert bal[("expenses:disputes", "EUR")] == 0
    assert bal[("assets:psp:simulator", "EUR")] == 2500 - 63


# ---------------------------------------------------------------- refunds, applied once
def psp_says(app: Any, monkeypatch: Any, refund: dict[str, Any], ppid: str, status: str) -> None:
    async def retrieve_refund(refund_id: str) -> ProviderRefund:
        assert refund_id == refund["provider_refund_id"]
        return ProviderRefund(refund_id, ppid, refund["amount"], refund["currency"], status)

    monkeypatch.setattr(app.state.payments.provider, "retrieve_refund", retrieve_refund)


def refund_event(refund: dict[str, Any], ppid: str) -> ProviderEvent:
    return event(
        "refund.updated",
        data={"refund_id": refund["provider_refund_id"], "provider_payment_id": ppid},
    )


async def inbox_row(app: Any, ev: ProviderEvent) -> tuple[str, str | None, int]:
    """The stored event's status, outcome and attempts: settled on the first, no retry."""
    async with app.state.db.session() as s:
        row = (await s.execute(select(InboxEvent).where(InboxEvent.event_id == ev.id))).scalar_one()
        return row.status, row.outcome, row.attempts


# (a succeeded refund the PSP later reports failed is reversed: tests/payments/test_refund_psp_paths.py)
@pytest.mark.parametrize("later", ["succeeded", "pending"])
async def test_a_succeeded_refund_is_never_applied_again(
    client: httpx.AsyncClient,
    app: Any,
    keys: Keys,
    paid: dict[str, Any],
    monkeypatch: Any,
    later: str,
) -> None:
    r = await client.post(
        f"/v1/invoices/{paid['invoice']}/refunds",
        json={"amount": 1000},
        headers=Keys.h(keys.urbanisme),
    )
    assert r.status_code == 201 and r.json()["status"] == "succeeded", r.text
    refund = r.json()
    before = await balances(app)
    psp_says(app, monkeypatch, refund, paid["ppid"], later)
    await apply(app, ev := refund_event(refund, paid["ppid"]))
    assert await inbox_row(app, ev) == ("done", "unchanged: refund succeeded", 1)
    listed = await refunds(client, keys.urbanisme, paid["invoice"])
    assert [(x["id"], x["status"]) for x in listed["data"]] == [(refund["id"], "succeeded")]
    doc = await invoice(client, keys.urbanisme, paid["invoice"])
    assert (doc["status"], doc["amount_refunded"], doc["amount_refundable"]) == (
        "partially_refunded",
        1000,
        1500,
    )
    assert await balances(app) == before
    assert (await entry_kinds(app, paid["invoice"])).count("refund_succeeded") == 1
    assert await credit_notes(app) == 1


@pytest.mark.parametrize("later", ["succeeded", "failed"])
async def test_a_failed_refund_is_never_applied_again(
    client: httpx.AsyncClient,
    app: Any,
    keys: Keys,
    paid: dict[str, Any],
    monkeypatch: Any,
    later: str,
) -> None:
    provider = app.state.payments.provider

    async def refused(ppid: str, amount: int, key: str, **metadata: Any) -> ProviderRefund:
        return ProviderRefund("re_sim_refused", ppid, amount, "EUR", "failed", "declined")

    monkeypatch.setattr(provider, "refund", refused)
    r = await client.post(
        f"/v1/invoices/{paid['invoice']}/refunds",
        json={"amount": 1000},
        headers=Keys.h(keys.urbanisme),
    )
    assert r.status_code == 502 and r.json()["error"]["code"] == "refund_failed", r.text
    (refund,) = (await refunds(client, keys.urbanisme, paid["invoice"]))["data"]
    assert (refund["status"], refund["provider_refund_id"]) == ("failed", "re_sim_refused")
    before = await balances(app)
    psp_says(app, monkeypatch, refund, paid["ppid"], later)  # the PSP changes its mind
    await apply(app, ev := refund_event(refund, paid["ppid"]))
    # ignored at once (the refund's own guard), not an error retried until the row is dead
    settled = {
        "succeeded": ("ignored", "ignored: refund already failed"),
        "failed": ("done", "unchanged: refund failed"),
    }
    assert await inbox_row(app, ev) == (*settled[later], 1)
    listed = await refunds(client, keys.urbanisme, paid["invoice"])
    assert [(x["id"], x["status"]) for x in listed["data"]] == [(refund["id"], "failed")]
    assert listed["refundable_amount"] == 2500
    doc = await invoice(client, keys.urbanisme, paid["invoice"])
    assert (doc["status"], doc["amount_refunded"]) == ("paid", 0)
    assert await balances(app) == before
    assert "refund_succeeded" not in await entry_kinds(app, paid["invoice"])
    assert await credit_notes(app) == 0


# ---------------------------------------------------------------- the return page, PSP down
@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        (ProviderError("unavailable", "PSP is down", retryable=True), "unavailable"),
        (TimeoutError(), "timeout"),
    ],
)
async def test_a_return_page_the_psp_does_not_answer_leaves_the_payment_pending_and_says_why(
    client: httpx.AsyncClient,
    app: Any,
    keys: Keys,
    monkeypatch: Any,
    caplog: pytest.LogCaptureFixture,
    failure: Exception,
    kind: str,
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await start_checkout(client, inv)
    async with app.state.db.session() as s:
        (payment,) = (await s.execute(select(Payment))).scalars().all()

    async def down(checkout_id: str) -> ProviderPayment:
        raise failure

    monkeypatch.setattr(app.state.payments.provider, "retrieve_payment", down)
    caplog.set_level(logging.WARNING, logger="regie.payments")
    await app.state.payments.confirm_return(payment.id)
    logged = [
        (r.getMessage(), r.payment, r.kind) for r in caplog.records if r.name == "regie.payments"
    ]
    assert logged == [("return page: no answer", payment.id, kind)]
    assert (await invoice(client, keys.urbanisme, inv["id"]))["status"] == "open"
