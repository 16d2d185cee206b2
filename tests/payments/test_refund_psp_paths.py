"""Refunds on the PSP's rare paths (issue 9), on the simulator:

- a refund that fails after it succeeded (the bank returned the money) is reversed: entry,
  amounts, invoice status, credit note cancelled, ``invoice.refund_failed`` notified;
- a lost response whose ``refund.*`` event arrives before the retry settles the pending
  refund (matched by the ``regie_refund_id`` metadata), and the retry adopts it;
- one refund that cannot be submitted does not stop the sweep for the others;
- a refund first asked more than 23 h ago is never retried blind: it is taken over from the
  PSP's list of the payment's refunds, or failed with the reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import logging
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from ledger.models import JournalEntry
from payments import repository as payments_repo
from payments.models import Refund, StateChange
from payments.providers.base import ProviderError, ProviderEvent, ProviderRefund
from payments.service.refund_recovery import NOT_AT_PSP
from payments.states import LATER_WORD_WINS_NOTE
from receipts.models import Receipt
from tests.conftest import Keys, create_invoice, pay, pay_twice
from webhooks.inbound.models import InboxEvent
from webhooks.outbound.models import WebhookDelivery

_ids = itertools.count(1)


# ------------------------------------------------------------------ helpers
async def balances(app: Any) -> dict[tuple[str, str], int]:
    return {
        (b.account, b.currency): b.balance for b in await app.state.ledger.balances() if b.balance
    }


async def invoice(client: httpx.AsyncClient, key: str, invoice_id: str) -> dict[str, Any]:
    r = await client.get(f"/v1/invoices/{invoice_id}", headers=Keys.h(key))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def refund(client: httpx.AsyncClient, key: str, invoice_id: str, amount: int) -> Any:
    return await client.post(
        f"/v1/invoices/{invoice_id}/refunds", json={"amount": amount}, headers=Keys.h(key)
    )


async def refund_rows(app: Any) -> list[Refund]:
    async with app.state.db.session() as s:
        return list((await s.execute(select(Refund).order_by(Refund.created_at))).scalars())


def refund_event(provider_refund_id: str, ppid: str) -> ProviderEvent:
    return ProviderEvent(
        id=f"evt_sim_refund_{next(_ids)}",
        provider="simulator",
        type="refund.updated",
        raw_type="refund.updated",
        created=dt.datetime.now(dt.UTC),
        data={"refund_id": provider_refund_id, "provider_payment_id": ppid},
    )


async def apply(app: Any, ev: ProviderEvent) -> None:
    assert await app.state.intake.store(ev)
    if await app.state.applier.process_batch() != 1:
        async with app.state.db.session() as s:
            row = (
                await s.execute(select(InboxEvent).where(InboxEvent.event_id == ev.id))
            ).scalar_one()
        raise AssertionError(f"not applied: {row.last_error}")


def psp_now_says(app: Any, monkeypatch: Any, status: str, reason: str | None) -> None:
    """The simulator's refunds are now reported ``status`` (as Stripe reports a refund
    ``failed`` after ``succeeded`` when the bank returns the money)."""
    provider = app.state.payments.provider
    real = provider.retrieve_refund

    async def retrieve_refund(refund_id: str) -> ProviderRefund:
        truth = await real(refund_id)
        return dataclasses.replace(truth, status=status, failure_reason=reason)

    monkeypatch.setattr(provider, "retrieve_refund", retrieve_refund)


async def make_due(app: Any, **values: Any) -> None:
    async with app.state.db.session() as s:
        await s.execute(update(Refund).values(next_attempt_at=dt.datetime.now(dt.UTC), **values))
        await s.commit()


@pytest.fixture
async def paid(client: httpx.AsyncClient, app: Any, keys: Keys) -> dict[str, Any]:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    doc = await invoice(client, keys.urbanisme, inv["id"])
    assert doc["status"] == "paid"
    return {"id": inv["id"], "ppid": doc["payments"][0]["provider_payment_id"]}


# ------------------------------------------------------ failed after succeeded
@pytest.mark.parametrize("first", [0, 1000], ids=["full", "after-a-partial"])
async def test_a_refund_that_fails_after_it_succeeded_is_reversed(
    client: httpx.AsyncClient,
    app: Any,
    keys: Keys,
    paid: dict[str, Any],
    monkeypatch: Any,
    first: int,
) -> None:
    r = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/hooks"},
        headers=Keys.h(keys.urbanisme),
    )
    assert r.status_code == 201, r.text
    if first:
        assert (await refund(client, keys.urbanisme, paid["id"], first)).status_code == 201
    before = await balances(app)
    r = await refund(client, keys.urbanisme, paid["id"], 2500 - first)
    assert r.status_code == 201 and r.json()["status"] == "succeeded", r.text
    failing = r.json()
    assert (await invoice(client, keys.urbanisme, paid["id"]))["status"] == "refunded"
    assert await balances(app) != before

    psp_now_says(app, monkeypatch, "failed", "expired_or_canceled_card")
    for _ in range(2):  # a repeated event changes nothing more
        await apply(app, refund_event(failing["provider_refund_id"], paid["ppid"]))

    doc = await invoice(client, keys.urbanisme, paid["id"])
    assert (doc["status"], doc["amount_refunded"], doc["amount_refundable"]) == (
        "partially_refunded" if first else "paid",
        first,
        2500 - first,
    )
    (row,) = [x for x in await refund_rows(app) if x.id == failing["id"]]
    assert (row.status, row.failure_reason) == ("failed", "expired_or_canceled_card")
    assert await balances(app) == before  # the books are back where they were

    # a reversing entry that points at the refund's entry
    async with app.state.db.session() as s:
        entries = {
            e.source_key: e
            for e in (
                await s.execute(select(JournalEntry).where(JournalEntry.invoice_id == paid["id"]))
            ).scalars()
        }
        changes = [
            (c.object, c.from_status, c.to_status, c.note)
            for c in (
                await s.execute(
                    select(StateChange)
                    .where(StateChange.invoice_id == paid["id"])
                    .order_by(StateChange.id)
                )
            ).scalars()
        ]
        deliveries = [d.event_type for d in (await s.execute(select(WebhookDelivery))).scalars()]
        note = (
            await s.execute(select(Receipt).where(Receipt.source_key == f"refund:{failing['id']}"))
        ).scalar_one()
    reversal = entries[f"refund:{failing['id']}:reversed"]
    assert reversal.kind == "refund_reversed"
    assert reversal.reverses_id == entries[f"refund:{failing['id']}:succeeded"].id
    assert ("invoice", "refunded", doc["status"], LATER_WORD_WINS_NOTE) in changes
    assert ("refund", "succeeded", "failed") in [c[:3] for c in changes]
    assert deliveries.count("invoice.refund_failed") == 1

    # the credit note still verifies, and says it is cancelled and why, but not what the
    # PSP said of the payer's card: anyone holding the paper checks it (a card lost or
    # stolen, closed, is the payer's business)
    code = note.document["verify_url"].split("?c=")[1]
    v = (await client.get(f"/v1/receipts/{note.number}/verify", params={"c": code})).json()
    assert (v["status"], v["kind"]) == ("canceled", "credit_note")
    assert v["canceled_reason"] == "refund failed after it succeeded"
    page = await client.get(f"/receipts/verify/{note.number}", params={"c": code})
    assert "annulé" in page.text and "le remboursement a échoué" in page.text
    assert "expired_or_canceled_card" not in page.text
    pdf = await client.get(
        f"/v1/invoices/{paid['id']}/credit-notes/{note.number}.pdf", headers=Keys.h(keys.urbanisme)
    )
    assert pdf.status_code == 200 and pdf.headers["x-credit-note-status"] == "canceled"
    # the service that issued it reads the PSP's reason with its key
    assert "expired_or_canceled_card" in pdf.headers["x-credit-note-canceled-reason"]

    # what came back can be refunded again (the simulator, like a closed card, would refuse)
    r = await client.get(f"/v1/invoices/{paid['id']}/refunds", headers=Keys.h(keys.urbanisme))
    assert r.json()["refundable_amount"] == 2500 - first


async def test_an_overpayment_refund_that_fails_after_it_succeeded_is_owed_again(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: Any
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await pay_twice(client, app, inv)
    before = await balances(app)
    assert before[("liabilities:overpayments", "EUR")] == -2500
    assert await app.state.payments.refunds.retry_due() == 1
    (row,) = await refund_rows(app)
    assert row.status == "succeeded"
    async with app.state.db.session() as s:
        from payments.models import Payment

        ppid = (await s.get(Payment, row.payment_id)).provider_payment_id  # type: ignore[union-attr]
    psp_now_says(app, monkeypatch, "failed", "lost_or_stolen_card")
    await apply(app, refund_event(row.provider_refund_id or "", ppid))
    assert await balances(app) == before  # owed to the payer again
    doc = await invoice(client, keys.urbanisme, inv["id"])
    assert (doc["status"], doc["amount_refunded"]) == ("paid", 0)


# ---------------------------------------------------------------- lost response
async def test_a_lost_response_whose_event_comes_first_settles_the_one_refund(
    client: httpx.AsyncClient, app: Any, keys: Keys, paid: dict[str, Any], monkeypatch: Any
) -> None:
    provider = app.state.payments.provider
    real = provider.refund
    made: list[ProviderRefund] = []

    async def lost(*args: Any, **kwargs: Any) -> ProviderRefund:
        made.append(await real(*args, **kwargs))  # the PSP refunds...
        raise ProviderError("unavailable", "read timeout", retryable=True)  # ...the answer is lost

    monkeypatch.setattr(provider, "refund", lost)
    r = await refund(client, keys.urbanisme, paid["id"], 700)
    assert r.status_code == 202 and r.json()["status"] == "pending", r.text
    (psp_refund,) = made

    await apply(app, refund_event(psp_refund.id, paid["ppid"]))  # before the retry
    monkeypatch.setattr(provider, "refund", real)
    await make_due(app)
    await app.state.payments.refunds.retry_due()  # the retry does not raise

    (row,) = await refund_rows(app)
    assert (row.id, row.status, row.provider_refund_id) == (
        r.json()["id"],
        "succeeded",
        psp_refund.id,
    )
    doc = await invoice(client, keys.urbanisme, paid["id"])
    assert (doc["status"], doc["amount_refunded"], doc["amount_refundable"]) == (
        "partially_refunded",
        700,
        1800,
    )
    assert (await balances(app))[("income:urbanisme", "EUR")] == -1800
    assert psp_refund.regie_refund_id == r.json()["id"]  # regie's id went as metadata


async def test_a_retry_finding_its_refund_recorded_by_an_older_event_is_released(
    client: httpx.AsyncClient, app: Any, keys: Keys, paid: dict[str, Any], monkeypatch: Any
) -> None:
    """A PSP refund already recorded as a refund of its own (an event without metadata):
    the retry that gets it back releases its reservation instead of raising, and the sweep
    goes on."""
    r = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/hooks"},
        headers=Keys.h(keys.urbanisme),
    )
    assert r.status_code == 201, r.text
    provider = app.state.payments.provider
    real, real_retrieve = provider.refund, provider.retrieve_refund
    made: list[ProviderRefund] = []

    async def lost(*args: Any, **kwargs: Any) -> ProviderRefund:
        made.append(await real(*args, **kwargs))
        raise ProviderError("unavailable", "read timeout", retryable=True)

    async def no_metadata(refund_id: str) -> ProviderRefund:
        return dataclasses.replace(await real_retrieve(refund_id), regie_refund_id=None)

    monkeypatch.setattr(provider, "refund", lost)
    monkeypatch.setattr(provider, "retrieve_refund", no_metadata)
    r = await refund(client, keys.urbanisme, paid["id"], 700)
    assert r.status_code == 202
    await apply(app, refund_event(made[0].id, paid["ppid"]))
    monkeypatch.setattr(provider, "refund", real)
    await make_due(app)
    assert await app.state.payments.refunds.retry_due() == 1
    rows = {x.id: x for x in await refund_rows(app)}
    mine = rows.pop(r.json()["id"])
    (recorded,) = rows.values()
    assert (recorded.status, recorded.provider_refund_id) == ("succeeded", made[0].id)
    async with app.state.db.session() as s:
        notified = [d.event_type for d in (await s.execute(select(WebhookDelivery))).scalars()]
    assert "invoice.refund_failed" not in notified  # nothing failed for the citizen
    assert (mine.status, mine.failure_reason) == (
        "failed",
        f"recorded as {recorded.id} from the PSP's event",
    )
    doc = await invoice(client, keys.urbanisme, paid["id"])
    assert (doc["amount_refunded"], doc["amount_refundable"]) == (700, 1800)  # counted once


async def test_an_event_whose_refund_cannot_be_the_one_it_names_is_left_for_a_human(
    client: httpx.AsyncClient,
    app: Any,
    keys: Keys,
    paid: dict[str, Any],
    monkeypatch: Any,
    caplog: Any,
) -> None:
    """A PSP refund whose metadata names a pending refund of regie's, but of another amount:
    it is not taken as that refund; the event is ignored and an error names the refund."""
    provider = app.state.payments.provider

    async def down(*args: Any, **kwargs: Any) -> ProviderRefund:
        raise ProviderError("unavailable", "timeout", retryable=True)

    real = provider.refund
    monkeypatch.setattr(provider, "refund", down)
    r = await refund(client, keys.urbanisme, paid["id"], 700)
    assert r.status_code == 202, r.text
    mine = r.json()
    other = await real(paid["ppid"], 300, "someone-else", regie_refund_id=mine["id"])
    caplog.set_level(logging.ERROR, logger="regie.refunds")
    ev = refund_event(other.id, paid["ppid"])
    await apply(app, ev)
    async with app.state.db.session() as s:
        row = (await s.execute(select(InboxEvent).where(InboxEvent.event_id == ev.id))).scalar_one()
    assert (row.status, row.outcome) == ("ignored", f"ignored: {mine['id']} is of 700, not 300")
    (logged,) = [
        x for x in caplog.records if x.name == "regie.refunds" and x.levelno == logging.ERROR
    ]
    assert (logged.getMessage(), logged.refund) == (
        "refund event names another refund",
        mine["id"],
    )
    (kept,) = await refund_rows(app)
    assert (kept.id, kept.status, kept.provider_refund_id) == (mine["id"], "pending", None)


async def test_a_refund_the_psp_refuses_notifies_the_service(
    client: httpx.AsyncClient, app: Any, keys: Keys, paid: dict[str, Any], monkeypatch: Any
) -> None:
    r = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/hooks"},
        headers=Keys.h(keys.urbanisme),
    )
    assert r.status_code == 201, r.text

    async def refused(*args: Any, **kwargs: Any) -> ProviderRefund:
        raise ProviderError("invalid_request", "charge already refunded")

    monkeypatch.setattr(app.state.payments.provider, "refund", refused)
    r = await refund(client, keys.urbanisme, paid["id"], 700)
    assert r.status_code == 502 and r.json()["error"]["code"] == "refund_failed", r.text
    async with app.state.db.session() as s:
        notified = [
            (d.event_type, d.invoice_id)
            for d in (await s.execute(select(WebhookDelivery))).scalars()
        ]
    assert ("invoice.refund_failed", paid["id"]) in notified


async def test_a_refund_first_sent_without_metadata_is_retried_as_it_was_sent(
    client: httpx.AsyncClient, app: Any, keys: Keys, paid: dict[str, Any], monkeypatch: Any
) -> None:
    """A reservation made before regie sent metadata: Stripe refuses the same key with other
    parameters (``idempotency_error``); the request as first sent replays its answer."""
    provider = app.state.payments.provider
    real = provider.refund
    sent: list[str | None] = []

    async def stripe_like(*args: Any, regie_refund_id: str | None = None) -> ProviderRefund:
        sent.append(regie_refund_id)
        if regie_refund_id is not None:
            raise ProviderError("invalid_request", "other parameters", code="idempotency_error")
        return await real(*args)  # type: ignore[no-any-return]

    monkeypatch.setattr(provider, "refund", stripe_like)
    r = await refund(client, keys.urbanisme, paid["id"], 600)
    assert r.status_code == 201 and r.json()["status"] == "succeeded", r.text
    assert len(sent) == 2 and sent[1] is None
    doc = await invoice(client, keys.urbanisme, paid["id"])
    assert (doc["status"], doc["amount_refunded"]) == ("partially_refunded", 600)


async def test_one_refund_that_cannot_be_submitted_does_not_stop_the_sweep(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: Any
) -> None:
    provider = app.state.payments.provider
    real = provider.refund
    invoices = []
    for ref in ("SWEEP-1", "SWEEP-2"):
        inv = await create_invoice(client, keys.urbanisme, reference=ref)
        await pay(client, inv, apply=app)
        invoices.append(inv["id"])

    async def down(*args: Any, **kwargs: Any) -> ProviderRefund:
        raise ProviderError("unavailable", "timeout", retryable=True)

    monkeypatch.setattr(provider, "refund", down)
    ids = [(await refund(client, keys.urbanisme, i, 500)).json()["id"] for i in invoices]

    async def broken_for_the_first(*args: Any, **kwargs: Any) -> ProviderRefund:
        if args[2] == f"regie-refund-{ids[0]}":  # its idempotency key
            raise RuntimeError("a bug in one refund's path")
        return await real(*args, **kwargs)

    monkeypatch.setattr(provider, "refund", broken_for_the_first)
    async with app.state.db.session() as s:  # the broken one is first in line
        await s.execute(
            update(Refund)
            .where(Refund.id == ids[0])
            .values(next_attempt_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )
        await s.execute(
            update(Refund)
            .where(Refund.id == ids[1])
            .values(next_attempt_at=dt.datetime.now(dt.UTC))
        )
        await s.commit()
    assert await app.state.payments.refunds.retry_due() == 2
    rows = {x.id: x for x in await refund_rows(app)}
    assert rows[ids[1]].status == "succeeded"
    assert rows[ids[0]].status == "pending"
    assert rows[ids[0]].attempts == 2  # postponed, not retried on every tick
    assert rows[ids[0]].next_attempt_at > dt.datetime.now(dt.UTC)  # type: ignore[operator]


async def test_a_refund_that_cannot_even_be_postponed_is_logged_by_id_and_left_as_it_was(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: Any, caplog: Any
) -> None:
    """The database fails under the sweep: neither the submission nor the postponement
    can read the refund. The sweep survives, the refund is untouched (the next sweep takes
    it again), and both log lines name it, so an operator can find it."""
    provider = app.state.payments.provider
    inv = await create_invoice(client, keys.urbanisme, reference="SWEEP-DB")
    await pay(client, inv, apply=app)

    async def down(*args: Any, **kwargs: Any) -> ProviderRefund:
        raise ProviderError("unavailable", "timeout", retryable=True)

    monkeypatch.setattr(provider, "refund", down)
    refund_id = (await refund(client, keys.urbanisme, inv["id"], 500)).json()["id"]
    await make_due(app)
    [before] = await refund_rows(app)

    async def unreadable(*args: Any, **kwargs: Any) -> Refund:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(payments_repo, "get_refund", unreadable)
    caplog.set_level(logging.ERROR, logger="regie.refunds")
    assert await app.state.payments.refunds.retry_due() == 1
    monkeypatch.undo()
    logged = {r.getMessage(): r for r in caplog.records if r.name == "regie.refunds"}
    assert logged["refund submission failed; postponed"].refund == refund_id
    assert logged["cannot postpone the refund"].refund == refund_id
    [after] = await refund_rows(app)
    assert (after.id, after.status, after.attempts, after.next_attempt_at) == (
        refund_id, "pending", before.attempts, before.next_attempt_at,
    )  # fmt: skip


# ------------------------------------------------------------------ past 23 h
async def _reserved_while_down(
    client: httpx.AsyncClient,
    app: Any,
    keys: Keys,
    invoice_id: str,
    monkeypatch: Any,
    *,
    reaches_psp: bool,
) -> dict[str, Any]:
    provider = app.state.payments.provider
    real = provider.refund

    async def down(*args: Any, **kwargs: Any) -> ProviderRefund:
        if reaches_psp:
            await real(*args, **kwargs)
        raise ProviderError("unavailable", "timeout", retryable=True)

    monkeypatch.setattr(provider, "refund", down)
    r = await refund(client, keys.urbanisme, invoice_id, 900)
    assert r.status_code == 202

    async def never(*args: Any, **kwargs: Any) -> ProviderRefund:
        raise AssertionError("a refund older than 23 h is never retried blind")

    monkeypatch.setattr(provider, "refund", never)
    day_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=23, minutes=5)
    await make_due(app, created_at=day_ago)
    return r.json()  # type: ignore[no-any-return]


async def test_past_23_hours_the_refund_at_the_psp_is_taken_over(
    client: httpx.AsyncClient, app: Any, keys: Keys, paid: dict[str, Any], monkeypatch: Any
) -> None:
    mine = await _reserved_while_down(client, app, keys, paid["id"], monkeypatch, reaches_psp=True)
    assert await app.state.payments.refunds.retry_due() == 1
    (row,) = await refund_rows(app)
    (at_psp,) = await app.state.payments.provider.list_refunds(paid["ppid"])
    assert at_psp.regie_refund_id == mine["id"]
    assert (row.status, row.provider_refund_id) == ("succeeded", at_psp.id)
    doc = await invoice(client, keys.urbanisme, paid["id"])
    assert (doc["status"], doc["amount_refunded"]) == ("partially_refunded", 900)


async def test_past_23_hours_a_refund_the_psp_never_made_fails_with_its_reason(
    client: httpx.AsyncClient, app: Any, keys: Keys, paid: dict[str, Any], monkeypatch: Any
) -> None:
    await _reserved_while_down(client, app, keys, paid["id"], monkeypatch, reaches_psp=False)
    assert await app.state.payments.refunds.retry_due() == 1
    (row,) = await refund_rows(app)
    assert (row.status, row.failure_reason) == ("failed", NOT_AT_PSP)
    assert "24 h" in NOT_AT_PSP and len(NOT_AT_PSP) <= 200
    doc = await invoice(client, keys.urbanisme, paid["id"])
    assert (doc["status"], doc["amount_refunded"], doc["amount_refundable"]) == ("paid", 0, 2500)

    # should the PSP make it after all, its event is recorded, never lost behind the failed row
    provider = app.state.payments.provider
    made = await type(provider).refund(provider, paid["ppid"], 900, "late", regie_refund_id=row.id)
    await apply(app, refund_event(made.id, paid["ppid"]))
    rows = await refund_rows(app)
    assert sorted((x.status, x.origin) for x in rows) == [("failed", "api"), ("succeeded", "psp")]
    assert (await invoice(client, keys.urbanisme, paid["id"]))["amount_refunded"] == 900


async def test_past_23_hours_with_the_psp_unreachable_the_refund_waits(
    client: httpx.AsyncClient,
    app: Any,
    keys: Keys,
    paid: dict[str, Any],
    monkeypatch: Any,
    caplog: Any,
) -> None:
    mine = await _reserved_while_down(client, app, keys, paid["id"], monkeypatch, reaches_psp=False)

    async def unreachable(provider_payment_id: str) -> list[ProviderRefund]:
        raise ProviderError("unavailable", "timeout", retryable=True)

    monkeypatch.setattr(app.state.payments.provider, "list_refunds", unreachable)
    caplog.set_level(logging.WARNING, logger="regie.refunds")
    caplog.clear()  # (the reservation's own warning)
    assert await app.state.payments.refunds.retry_due() == 1
    (row,) = await refund_rows(app)
    assert (row.status, row.attempts) == ("pending", 2)
    # the operator sees which refund waits, and why
    (warned,) = [r for r in caplog.records if r.name == "regie.refunds"]
    assert (warned.getMessage(), warned.refund, warned.error) == (
        "cannot list the payment's refunds; will look again",
        mine["id"],
        "unavailable",
    )
    assert (await invoice(client, keys.urbanisme, paid["id"]))["amount_refundable"] == 1600
