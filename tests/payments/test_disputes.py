"""Disputes: a refund applied while the invoice is disputed leaves it disputed, and the
dispute's close still returns (or keeps) the money, whichever order the events come in."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from dataclasses import replace
from typing import Any

import httpx
import pytest

from payments.providers.base import ProviderDispute, ProviderEvent
from tests.conftest import Keys, create_invoice, pay, pay_twice

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
    paid: dict[str, Any],
    etype: str,
    amount: int,
    at: dt.datetime | None = None,
    *,
    app: Any,
    **extra: Any,
) -> ProviderEvent:
    """The event, and the simulator's dispute as it stands after it (re-read on apply)."""
    status = extra.get("status") or "needs_response"
    app.state.payments.provider.set_dispute(
        ProviderDispute(
            "dp_order", paid["ppid"], amount, "EUR", status, withdrawn=amount,
            reinstated=amount if status == "won" else 0, closed=etype == "dispute.closed",
            won=status == "won",
        )
    )  # fmt: skip
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
    opened = dispute_event(app=app, paid=paid, etype="dispute.opened", amount=2000)
    events = [refund_ev, opened] if order == "refund_then_dispute" else [opened, refund_ev]
    await apply_all(app, events)
    doc = await invoice(client, keys.urbanisme, paid["invoice"])
    assert (doc["status"], doc["amount_refunded"]) == ("disputed", 500)
    await apply_all(
        app, [dispute_event(app=app, paid=paid, etype="dispute.closed", amount=2000, status="won")]
    )
    doc = await invoice(client, keys.urbanisme, paid["invoice"])
    assert (doc["status"], doc["amount_refunded"]) == ("partially_refunded", 500)
    bal = await balances(app)
    assert bal[("expenses:disputes", "EUR")] == 0  # the money that came back left it
    assert bal[("assets:psp:simulator", "EUR")] == 2500 - 63 - 500
    assert bal[("income:urbanisme", "EUR")] == -(2500 - 500)


async def test_a_full_refund_during_a_dispute_then_won_ends_refunded(
    client: httpx.AsyncClient, app: Any, keys: Keys, paid: dict[str, Any]
) -> None:
    await apply_all(app, [dispute_event(app=app, paid=paid, etype="dispute.opened", amount=2500)])
    await apply_all(app, [await psp_refund(app, paid["ppid"], 2500)])
    assert (await invoice(client, keys.urbanisme, paid["invoice"]))["status"] == "disputed"
    await apply_all(
        app, [dispute_event(app=app, paid=paid, etype="dispute.closed", amount=2500, status="won")]
    )
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
        dispute_event(app=app, paid=paid, etype="dispute.opened", amount=2200, at=dispute_at),
    ]
    stored = await asyncio.gather(*(app.state.intake.store(e) for e in events for _ in range(5)))
    assert sum(stored) == 2
    await asyncio.gather(*(app.state.applier.process_batch() for _ in range(3)))
    doc = await invoice(client, keys.urbanisme, paid["invoice"])
    assert (doc["status"], doc["amount_refunded"]) == ("disputed", 300)
    await apply_all(
        app, [dispute_event(app=app, paid=paid, etype="dispute.closed", amount=2200, status="won")]
    )
    doc = await invoice(client, keys.urbanisme, paid["invoice"])
    assert (doc["status"], doc["amount_refunded"]) == ("partially_refunded", 300)
    bal = await balances(app)
    assert bal[("expenses:disputes", "EUR")] == 0
    assert bal[("income:urbanisme", "EUR")] == -2200


# ------------------------------------------------------- re-read from the PSP, inquiries
def truth(paid: dict[str, Any], dispute_id: str, **fields: Any) -> ProviderDispute:
    values: dict[str, Any] = {"amount": 2500, "status": "needs_response", "withdrawn": 2500}
    values.update(fields)
    return ProviderDispute(dispute_id, paid["ppid"], currency="EUR", **values)


async def test_an_inquiry_books_nothing_and_leaves_the_invoice_refundable(
    client: httpx.AsyncClient, app: Any, keys: Keys, paid: dict[str, Any]
) -> None:
    app.state.payments.provider.set_dispute(
        truth(paid, "dp_inq", status="warning_needs_response", withdrawn=0, charge_refundable=True)
    )
    before = await balances(app)
    ev = event("dispute.opened", dispute_id="dp_inq", provider_payment_id=paid["ppid"], amount=2500)
    await apply_all(app, [ev])
    doc = await invoice(client, keys.urbanisme, paid["invoice"])
    assert (doc["status"], doc["amount_refundable"]) == ("paid", 2500)
    assert await balances(app) == before
    r = await client.post(
        f"/v1/invoices/{paid['invoice']}/refunds",
        json={"amount": 700},
        headers=Keys.h(keys.urbanisme),
    )
    assert r.status_code == 201, r.text


async def test_the_dispute_is_re_read_not_taken_from_the_event(
    client: httpx.AsyncClient, app: Any, keys: Keys, paid: dict[str, Any]
) -> None:
    """The event's body says won; Stripe, asked, says lost: the PSP's answer is applied."""
    sim = app.state.payments.provider
    sim.set_dispute(truth(paid, "dp_reread"))
    body = {"dispute_id": "dp_reread", "provider_payment_id": paid["ppid"], "amount": 2500}
    await apply_all(app, [event("dispute.opened", **body, currency="EUR")])
    sim.set_dispute(truth(paid, "dp_reread", status="lost", closed=True))
    await apply_all(app, [event("dispute.closed", **body, currency="EUR", status="won")])
    doc = await invoice(client, keys.urbanisme, paid["invoice"])
    assert (doc["status"], doc["amount_refunded"]) == ("refunded", 2500)
    assert (await balances(app))[("expenses:disputes", "EUR")] == 2500


async def test_funds_withdrawn_and_reinstated_drive_the_postings_and_the_fee_is_booked(
    client: httpx.AsyncClient, app: Any, keys: Keys, paid: dict[str, Any]
) -> None:
    sim = app.state.payments.provider
    body = {"dispute_id": "dp_fee", "provider_payment_id": paid["ppid"]}
    before = await balances(app)
    sim.set_dispute(truth(paid, "dp_fee", fee=1500, fee_currency="EUR"))
    await apply_all(app, [event("dispute.funds_withdrawn", **body)])
    assert (await invoice(client, keys.urbanisme, paid["invoice"]))["status"] == "disputed"
    bal = await balances(app)
    assert bal[("expenses:disputes", "EUR")] == 2500
    assert bal[("expenses:dispute_fees", "EUR")] == 1500
    psp = ("assets:psp:simulator", "EUR")
    assert bal[psp] == before[psp] - 2500 - 1500
    sim.set_dispute(
        truth(paid, "dp_fee", status="won", reinstated=2500, closed=True, won=True, fee=1500)
    )
    await apply_all(app, [event("dispute.funds_reinstated", **body)])
    await apply_all(app, [event("dispute.closed", **body)])
    assert (await invoice(client, keys.urbanisme, paid["invoice"]))["status"] == "paid"
    bal = await balances(app)
    assert bal[("expenses:disputes", "EUR")] == 0
    assert bal[("expenses:dispute_fees", "EUR")] == 1500  # the fee is not given back
    assert bal[psp] == before[psp] - 1500


# ------------------------------------------------------------- any order, same end
STAGES = [
    dict(status="needs_response", withdrawn=0),  # created, before the withdrawal
    dict(status="needs_response", withdrawn=2500, fee=1500),
    dict(status="under_review", withdrawn=2500, fee=1500, reinstated=2500),
    dict(status="won", withdrawn=2500, fee=1500, reinstated=2500, closed=True, won=True),
]
DISPUTE_EVENTS = [
    "dispute.opened",
    "dispute.funds_withdrawn",
    "dispute.funds_reinstated",
    "dispute.closed",
]


async def test_dispute_and_payout_events_in_every_order_end_the_same(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    """The four events of a won dispute in all 24 orders, with a payout's paid and failed
    slotted in at varying places. At each delivery the PSP's dispute is as far along as the
    furthest event delivered so far (it is never behind an event it sent). Each order ends
    with the same invoice state and the same change in every ledger balance."""
    sim = app.state.payments.provider
    outcomes = set()
    for n, order in enumerate(itertools.permutations(range(4))):
        inv = await create_invoice(client, keys.urbanisme, reference=f"PERM-{n}")
        await pay(client, inv, apply=app)
        ppid = (await invoice(client, keys.urbanisme, inv["id"]))["payments"][0][
            "provider_payment_id"
        ]
        paid = {"invoice": inv["id"], "ppid": ppid}
        did, po = f"dp_perm_{n}", f"po_perm_{n}"
        payout = {"payout_id": po, "amount": 2437, "currency": "EUR"}
        steps: list[Any] = list(order)
        steps.insert(n % 5, "payout.paid" if n % 2 else "payout.failed")
        steps.insert((n // 5) % 6, "payout.failed" if n % 2 else "payout.paid")
        before = await balances(app)
        furthest = -1
        for step in steps:
            if isinstance(step, str):
                await apply_all(app, [event(step, **payout)])
                continue
            furthest = max(furthest, step)
            sim.set_dispute(truth(paid, did, fee_currency="EUR", **STAGES[furthest]))
            ev = event(DISPUTE_EVENTS[step], dispute_id=did, provider_payment_id=ppid)
            await apply_all(app, [ev])
        after = await balances(app)
        delta = tuple(
            sorted((k, after.get(k, 0) - before.get(k, 0)) for k in after.keys() | before.keys())
        )
        doc = await invoice(client, keys.urbanisme, inv["id"])
        outcomes.add((doc["status"], doc["amount_refunded"], delta))
    assert len(outcomes) == 1, outcomes
    ((status, refunded, delta),) = outcomes
    assert (status, refunded) == ("paid", 0)
    changed = {k: v for k, v in delta if v}
    # after the payment: only the dispute fee is gone; the funds and the payout came back
    assert changed == {
        ("expenses:dispute_fees", "EUR"): 1500,
        ("assets:psp:simulator", "EUR"): -1500,
    }


# ------------------------------------------------- a dispute of part of the payment
async def test_a_lost_dispute_of_part_of_the_payment_counts_only_what_was_withdrawn(
    client: httpx.AsyncClient, app: Any, keys: Keys, paid: dict[str, Any]
) -> None:
    """A payment of 2500; the payer disputes 1000 of it (Stripe: "only part of the order
    is disputed") and loses: 1000 went back to the payer, 1500 stays the service's. The
    invoice is partially refunded (1000), 1500 still refundable, as the books say."""
    sim = app.state.payments.provider
    body = {"dispute_id": "dp_part", "provider_payment_id": paid["ppid"]}
    sim.set_dispute(truth(paid, "dp_part", amount=1000, withdrawn=1000))
    await apply_all(app, [event("dispute.opened", **body)])
    sim.set_dispute(truth(paid, "dp_part", amount=1000, withdrawn=1000, status="lost", closed=True))
    await apply_all(app, [event("dispute.closed", **body)])
    doc = await invoice(client, keys.urbanisme, paid["invoice"])
    bal = await balances(app)
    assert (bal[("expenses:disputes", "EUR")], bal[("income:urbanisme", "EUR")]) == (1000, -2500)
    assert (doc["status"], doc["amount_refunded"], doc["amount_refundable"]) == (
        "partially_refunded", 1000, 1500,
    )  # fmt: skip
    r = await client.post(
        f"/v1/invoices/{paid['invoice']}/refunds", json={}, headers=Keys.h(keys.urbanisme)
    )
    assert (r.status_code, r.json()["amount"]) == (201, 1500), r.text
    doc = await invoice(client, keys.urbanisme, paid["invoice"])
    assert (doc["status"], doc["amount_refunded"], doc["amount_refundable"]) == (
        "refunded",
        2500,
        0,
    )


async def test_a_refund_settling_after_a_lost_dispute_counts_no_more_than_was_paid(
    client: httpx.AsyncClient, app: Any, keys: Keys, paid: dict[str, Any], monkeypatch: Any
) -> None:
    """The service refunds 1000 of 2500 (pending at the PSP); the payer disputes the other
    1500 and loses; then the refund settles: 2500 went back in all, not 3500."""
    sim = app.state.payments.provider
    real_refund = sim.refund

    async def answered_pending(*args: Any, **kwargs: Any) -> Any:
        return replace(await real_refund(*args, **kwargs), status="pending")

    monkeypatch.setattr(sim, "refund", answered_pending)
    r = await client.post(
        f"/v1/invoices/{paid['invoice']}/refunds",
        json={"amount": 1000},
        headers=Keys.h(keys.urbanisme),
    )
    assert (r.status_code, r.json()["status"]) == (202, "pending"), r.text
    body = {"dispute_id": "dp_after", "provider_payment_id": paid["ppid"]}
    sim.set_dispute(
        truth(paid, "dp_after", amount=1500, withdrawn=1500, status="lost", closed=True)
    )
    await apply_all(app, [event("dispute.closed", **body)])
    doc = await invoice(client, keys.urbanisme, paid["invoice"])
    assert (doc["status"], doc["amount_refunded"]) == ("partially_refunded", 1500)
    refund = {"refund_id": r.json()["provider_refund_id"], "provider_payment_id": paid["ppid"]}
    await apply_all(app, [event("refund.updated", **refund)])
    doc = await invoice(client, keys.urbanisme, paid["invoice"])
    bal = await balances(app)
    assert bal[("income:urbanisme", "EUR")] == -1500 and bal[("expenses:disputes", "EUR")] == 1500
    assert (doc["status"], doc["amount_paid"], doc["amount_refunded"]) == ("refunded", 2500, 2500)


async def test_a_refund_and_a_lost_dispute_of_the_same_money_count_it_once(
    client: httpx.AsyncClient, app: Any, keys: Keys, paid: dict[str, Any]
) -> None:
    """Refunded in full, then charged back in full and lost: the payer got it twice (a
    loss in expenses:disputes), the invoice counts 2500 refunded of 2500 paid."""
    await apply_all(app, [await psp_refund(app, paid["ppid"], 2500)])
    body = {"dispute_id": "dp_twice", "provider_payment_id": paid["ppid"]}
    app.state.payments.provider.set_dispute(truth(paid, "dp_twice", status="lost", closed=True))
    await apply_all(app, [event("dispute.closed", **body)])
    doc = await invoice(client, keys.urbanisme, paid["invoice"])
    assert (doc["status"], doc["amount_refunded"], doc["amount_refundable"]) == (
        "refunded",
        2500,
        0,
    )
    assert (await balances(app))[("expenses:disputes", "EUR")] == 2500


# ------------------------------------------------------- a dispute of an overpayment
async def paid_twice(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> tuple[dict[str, Any], dict[str, Any]]:
    """An invoice paid twice (two tabs): the invoice, and its second payment (an
    overpayment, its automatic refund reserved, not yet asked of the PSP)."""
    inv = await create_invoice(client, keys.urbanisme)
    await pay_twice(client, app, inv)
    doc = await invoice(client, keys.urbanisme, inv["id"])
    assert doc["status"] == "paid"
    return doc, next(p for p in doc["payments"] if p["is_overpayment"])


def over_dispute(over: dict[str, Any], did: str, **fields: Any) -> ProviderDispute:
    values: dict[str, Any] = {"amount": 2500, "status": "needs_response", "withdrawn": 2500}
    values.update(fields)
    return ProviderDispute(did, over["provider_payment_id"], currency="EUR", **values)


async def test_a_lost_dispute_of_the_overpayment_leaves_the_invoice_paid_and_settles_the_debt(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    """The payer charges back only the duplicate charge and wins. The invoice's own
    payment was never disputed: the invoice stays paid, nothing of it refunded, all of it
    refundable. The bank gave the duplicate back: it is owed no more (out of
    liabilities:overpayments, not a loss), and the automatic refund is not paid on top."""
    doc, over = await paid_twice(client, app, keys)
    before = await balances(app)
    sim = app.state.payments.provider
    body = {"dispute_id": "dp_over", "provider_payment_id": over["provider_payment_id"]}
    sim.set_dispute(over_dispute(over, "dp_over"))
    await apply_all(app, [event("dispute.opened", **body)])
    opened = (await invoice(client, keys.urbanisme, doc["id"]))["status"]
    sim.set_dispute(over_dispute(over, "dp_over", status="lost", closed=True))
    await apply_all(app, [event("dispute.closed", **body)])
    await app.state.payments.refunds.retry_due()  # nothing left to ask the PSP for
    doc = await invoice(client, keys.urbanisme, doc["id"])
    assert (opened, doc["status"], doc["amount_refunded"], doc["amount_refundable"]) == (
        "paid", "paid", 0, 2500,
    )  # fmt: skip
    assert await sim.list_refunds(over["provider_payment_id"]) == []
    r = await client.get(f"/v1/invoices/{doc['id']}/refunds", headers=Keys.h(keys.urbanisme))
    (auto,) = r.json()["data"]
    assert auto["status"] == "failed" and "dp_over" in auto["failure_reason"]
    bal = await balances(app)
    changed = {
        k: bal.get(k, 0) - before.get(k, 0) for k in bal if bal.get(k, 0) != before.get(k, 0)
    }
    assert changed == {
        ("liabilities:overpayments", "EUR"): 2500,  # debit: owed no more (it was -2500)
        ("assets:psp:simulator", "EUR"): -2500,
    }
    assert bal[("liabilities:overpayments", "EUR")] == 0
    r = await client.post(
        f"/v1/invoices/{doc['id']}/refunds", json={"amount": 700}, headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 201, r.text  # its own payment can still be refunded


async def test_a_won_dispute_of_the_overpayment_owes_it_again_and_refunds_it(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    doc, over = await paid_twice(client, app, keys)
    sim = app.state.payments.provider
    body = {"dispute_id": "dp_over_won", "provider_payment_id": over["provider_payment_id"]}
    sim.set_dispute(over_dispute(over, "dp_over_won"))
    await apply_all(app, [event("dispute.funds_withdrawn", **body)])
    sim.set_dispute(
        over_dispute(over, "dp_over_won", status="won", reinstated=2500, closed=True, won=True)
    )
    await apply_all(app, [event("dispute.closed", **body)])
    assert (await balances(app))[("liabilities:overpayments", "EUR")] == -2500  # owed again
    await app.state.payments.refunds.retry_due()  # the new reservation is paid
    (made,) = await sim.list_refunds(over["provider_payment_id"])
    assert made.amount == 2500
    bal = await balances(app)
    assert (bal[("liabilities:overpayments", "EUR")], bal.get(("expenses:disputes", "EUR"))) == (
        0, None,
    )  # fmt: skip
    doc = await invoice(client, keys.urbanisme, doc["id"])
    assert (doc["status"], doc["amount_refunded"]) == ("paid", 0)


async def test_a_dispute_of_an_overpayment_already_refunded_is_a_loss(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    """The duplicate was refunded automatically, then the payer charged it back as well:
    they got it twice. The withdrawal is a loss (expenses:disputes); the invoice is as it
    was."""
    doc, over = await paid_twice(client, app, keys)
    assert await app.state.payments.refunds.retry_due() == 1
    sim = app.state.payments.provider
    body = {"dispute_id": "dp_over_paid", "provider_payment_id": over["provider_payment_id"]}
    sim.set_dispute(over_dispute(over, "dp_over_paid", status="lost", closed=True))
    await apply_all(app, [event("dispute.closed", **body)])
    bal = await balances(app)
    assert (bal[("liabilities:overpayments", "EUR")], bal[("expenses:disputes", "EUR")]) == (
        0, 2500,
    )  # fmt: skip
    doc = await invoice(client, keys.urbanisme, doc["id"])
    assert (doc["status"], doc["amount_refunded"], doc["amount_refundable"]) == ("paid", 0, 2500)


async def test_an_overpayment_refund_paid_after_its_chargeback_is_a_loss_not_a_debt(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: Any
) -> None:
    """The automatic refund was already asked of the PSP (pending there) when the payer
    charged the duplicate back; the PSP then pays the refund too. The chargeback settled
    the debt; the refund's money is a loss, and liabilities:overpayments never goes below
    zero."""
    doc, over = await paid_twice(client, app, keys)
    sim = app.state.payments.provider
    real_refund = sim.refund

    async def answered_pending(*args: Any, **kwargs: Any) -> Any:
        return replace(await real_refund(*args, **kwargs), status="pending")

    monkeypatch.setattr(sim, "refund", answered_pending)
    await app.state.payments.refunds.retry_due()
    monkeypatch.undo()
    (made,) = await sim.list_refunds(over["provider_payment_id"])
    body = {"dispute_id": "dp_over_race", "provider_payment_id": over["provider_payment_id"]}
    sim.set_dispute(over_dispute(over, "dp_over_race"))
    await apply_all(app, [event("dispute.funds_withdrawn", **body)])
    ref = {"refund_id": made.id, "provider_payment_id": over["provider_payment_id"]}
    await apply_all(app, [event("refund.updated", **ref)])
    bal = await balances(app)
    assert (bal[("liabilities:overpayments", "EUR")], bal[("expenses:disputes", "EUR")]) == (
        0, 2500,
    )  # fmt: skip
    doc = await invoice(client, keys.urbanisme, doc["id"])
    assert (doc["status"], doc["amount_refunded"]) == ("paid", 0)


async def test_a_dispute_of_part_of_the_overpayment_refunds_the_rest(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    """The payer charges back 1000 of the 2500 duplicate: the bank gave 1000 back, the
    automatic refund of 2500 is replaced by one of the 1500 still owed."""
    doc, over = await paid_twice(client, app, keys)
    sim = app.state.payments.provider
    body = {"dispute_id": "dp_over_part", "provider_payment_id": over["provider_payment_id"]}
    sim.set_dispute(over_dispute(over, "dp_over_part", amount=1000, withdrawn=1000))
    await apply_all(app, [event("dispute.funds_withdrawn", **body)])
    await app.state.payments.refunds.retry_due()
    assert [r.amount for r in await sim.list_refunds(over["provider_payment_id"])] == [1500]
    bal = await balances(app)
    assert (bal[("liabilities:overpayments", "EUR")], bal.get(("expenses:disputes", "EUR"))) == (
        0, None,
    )  # fmt: skip
    doc = await invoice(client, keys.urbanisme, doc["id"])
    assert (doc["status"], doc["amount_refunded"], doc["amount_refundable"]) == ("paid", 0, 2500)


async def test_a_dispute_of_part_of_the_overpayment_reserves_the_rest_once_whatever_it_released(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    """Two automatic refunds of the duplicate wait, neither asked of the PSP yet, when the
    payer charges back 1000 of it: both are released, and the 1500 still owed is reserved
    once. It was reserved once per refund released: the second 1500, refused by the PSP as
    more than the charge has left, was reserved again as the 1000 the PSP still held, and the
    payer would have had 3500 back (1000 by their bank, 2500 by refunds) for 2500."""
    from payments.models import Invoice, Payment
    from regie.kit.uow import unit_of_work

    doc, over = await paid_twice(client, app, keys)
    svc = app.state.payments
    async with unit_of_work(svc.db, svc.bus) as uow:
        inv = await uow.session.get(Invoice, doc["id"])
        payment = await uow.session.get(Payment, over["id"])
        assert inv is not None and payment is not None
        await svc.refunds.reserve_overpayment_refund(uow, inv, payment, "test: a second one")
        await uow.commit()
    sim = svc.provider
    body = {"dispute_id": "dp_over_two", "provider_payment_id": over["provider_payment_id"]}
    sim.set_dispute(over_dispute(over, "dp_over_two", amount=1000, withdrawn=1000))
    await apply_all(app, [event("dispute.funds_withdrawn", **body)])
    await svc.refunds.retry_due()
    await svc.refunds.retry_due()  # nothing more is owed: nothing more is asked
    assert [r.amount for r in await sim.list_refunds(over["provider_payment_id"])] == [1500]
    r = await client.get(f"/v1/invoices/{doc['id']}/refunds", headers=Keys.h(keys.urbanisme))
    made = sorted((x["amount"], x["status"]) for x in r.json()["data"])
    assert made == [(1500, "succeeded"), (2500, "failed"), (2500, "failed")]
    bal = await balances(app)
    assert bal[("liabilities:overpayments", "EUR")] == 0
