"""Refunds, overpayment refunds, disputes and payouts."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select, update

from payments.models import Refund
from payments.providers.base import ProviderDispute, ProviderError, ProviderEvent
from tests.conftest import Keys, create_invoice, pay, pay_twice


async def balances(app) -> dict[tuple[str, str], int]:
    return {(b.account, b.currency): b.balance for b in await app.state.ledger.balances()}


async def refund(client, api_key, invoice_id, **body):
    headers = Keys.h(api_key, **({"Idempotency-Key": body.pop("key")} if "key" in body else {}))
    return await client.post(f"/v1/invoices/{invoice_id}/refunds", json=body, headers=headers)


async def invoice(client, key, invoice_id) -> dict:
    return (await client.get(f"/v1/invoices/{invoice_id}", headers=Keys.h(key))).json()


async def refund_rows(app) -> int:
    async with app.state.db.session() as s:
        return int((await s.execute(select(func.count()).select_from(Refund))).scalar_one())


@pytest.fixture
async def paid(client, app, keys: Keys) -> dict:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    return inv


async def test_partial_then_full_refund(client, app, keys: Keys, paid) -> None:
    r = await refund(client, keys.urbanisme, paid["id"], amount=1000, reason="dossier incomplet")
    assert r.status_code == 201, r.text
    assert (r.json()["status"], r.json()["amount"], r.json()["id"][:4]) == (
        "succeeded",
        1000,
        "ref_",
    )
    doc = await invoice(client, keys.urbanisme, paid["id"])
    assert (doc["status"], doc["amount_refunded"], doc["amount_refundable"]) == (
        "partially_refunded",
        1000,
        1500,
    )
    r = await refund(client, keys.urbanisme, paid["id"], expected_refundable_amount=1500)
    assert r.status_code == 201 and r.json()["amount"] == 1500
    doc = await invoice(client, keys.urbanisme, paid["id"])
    assert (doc["status"], doc["amount_refunded"], doc["amount_refundable"]) == (
        "refunded",
        2500,
        0,
    )
    bal = await balances(app)
    assert bal[("income:urbanisme", "EUR")] == 0  # issued 2500, refunded 2500
    assert bal[("assets:psp:simulator", "EUR")] == -63  # the fee is not given back
    listed = (
        await client.get(f"/v1/invoices/{paid['id']}/refunds", headers=Keys.h(keys.urbanisme))
    ).json()
    assert [x["amount"] for x in listed["data"]] == [1000, 1500] and listed[
        "refundable_amount"
    ] == 0


async def test_refunds_never_exceed_what_was_paid(client, app, keys: Keys, paid) -> None:
    r = await refund(client, keys.urbanisme, paid["id"], amount=2501)
    assert r.status_code == 409 and r.json()["error"]["code"] == "amount_exceeds_refundable"
    r = await refund(
        client, keys.urbanisme, paid["id"], amount=100, expected_refundable_amount=2400
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "refundable_amount_mismatch"
    assert await refund_rows(app) == 0
    for bad in ({"amount": 0}, {"amount": -5}, {"amount": 10.5}, {"amount": "100"}, {"nope": 1}):
        assert (await refund(client, keys.urbanisme, paid["id"], **bad)).status_code == 422, bad
    assert await refund_rows(app) == 0


async def test_only_paid_invoices_of_your_own_service_are_refundable(
    client, app, keys: Keys, paid
) -> None:
    open_inv = await create_invoice(client, keys.urbanisme, reference="OPEN")
    r = await refund(client, keys.urbanisme, open_inv["id"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "invoice_not_refundable"
    assert (await refund(client, keys.etat_civil, paid["id"])).status_code == 404
    # nor are another service's refunds listed: the 404 says what was not found
    r = await client.get(f"/v1/invoices/{paid['id']}/refunds", headers=Keys.h(keys.etat_civil))
    assert r.status_code == 404
    assert r.json()["error"] == {
        "type": "not_found_error",
        "code": "resource_missing",
        "message": "No such invoice.",
        "param": "id",
    }
    assert (await refund(client, keys.finance, paid["id"])).status_code == 403
    assert await refund_rows(app) == 0


async def test_a_payment_the_psp_never_named_cannot_be_refunded(
    client, app, keys: Keys, monkeypatch
) -> None:
    """The PSP said the payment succeeded but gave no id for it: regie has nothing to
    refund at the PSP, and says so instead of reserving a refund that can never be made."""
    provider = app.state.payments.provider
    real = provider.retrieve_payment

    async def without_id(ref: str) -> Any:
        return dataclasses.replace(await real(ref), provider_payment_id=None)

    monkeypatch.setattr(provider, "retrieve_payment", without_id)
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    assert (await invoice(client, keys.urbanisme, inv["id"]))["status"] == "paid"
    r = await refund(client, keys.urbanisme, inv["id"], amount=500)
    assert r.status_code == 409, r.text
    assert (r.json()["error"]["code"], r.json()["error"]["message"]) == (
        "invoice_not_refundable",
        "This invoice has no settled payment to refund.",
    )
    assert await refund_rows(app) == 0


async def test_the_same_idempotency_key_refunds_once(client, app, keys: Keys, paid) -> None:
    first = await refund(client, keys.urbanisme, paid["id"], amount=500, key="rf-1")
    again = await refund(client, keys.urbanisme, paid["id"], amount=500, key="rf-1")
    assert again.json()["id"] == first.json()["id"]
    assert again.headers.get("idempotent-replayed") == "true"
    assert await refund_rows(app) == 1
    assert (await invoice(client, keys.urbanisme, paid["id"]))["amount_refunded"] == 500


async def test_psp_down_gives_202_then_the_sweeper_settles_it(
    client, app, keys: Keys, paid, monkeypatch
) -> None:
    provider = app.state.payments.provider
    real = provider.refund

    async def down(*args, **kwargs):
        raise ProviderError("unavailable", "timeout", retryable=True)

    monkeypatch.setattr(provider, "refund", down)
    r = await refund(client, keys.urbanisme, paid["id"], amount=700)
    assert r.status_code == 202 and r.json()["status"] == "pending"
    doc = await invoice(client, keys.urbanisme, paid["id"])
    assert (doc["status"], doc["amount_refundable"]) == ("paid", 1800)  # reserved, not refunded
    monkeypatch.setattr(provider, "refund", real)
    assert await app.state.payments.refunds.retry_due() == 0  # not due yet
    async with app.state.db.session() as s:
        await s.execute(update(Refund).values(next_attempt_at=dt.datetime.now(dt.UTC)))
        await s.commit()
    assert await app.state.payments.refunds.retry_due() == 1
    doc = await invoice(client, keys.urbanisme, paid["id"])
    assert (doc["status"], doc["amount_refunded"]) == ("partially_refunded", 700)


async def test_a_refused_refund_releases_its_reservation(
    client, app, keys: Keys, paid, monkeypatch
) -> None:
    async def refused(*args, **kwargs):
        raise ProviderError("invalid_request", "charge already refunded")

    monkeypatch.setattr(app.state.payments.provider, "refund", refused)
    r = await refund(client, keys.urbanisme, paid["id"], amount=700)
    assert r.status_code == 502 and r.json()["error"]["code"] == "refund_failed"
    doc = await invoice(client, keys.urbanisme, paid["id"])
    assert (doc["status"], doc["amount_refundable"]) == ("paid", 2500)


async def test_an_overpayment_is_refunded_automatically(client, app, keys: Keys) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await pay_twice(client, app, inv)
    async with app.state.db.session() as s:
        (pending,) = (await s.execute(select(Refund))).scalars().all()
    assert (pending.origin, pending.status, pending.amount) == ("overpayment", "pending", 2500)
    # the service sees why regie gave money back without being asked
    listed = (
        await client.get(f"/v1/invoices/{inv['id']}/refunds", headers=Keys.h(keys.urbanisme))
    ).json()
    assert [(x["origin"], x["reason"]) for x in listed["data"]] == [
        ("overpayment", "overpayment: the invoice was already settled")
    ]
    assert await app.state.payments.refunds.retry_due() == 1
    doc = await invoice(client, keys.urbanisme, inv["id"])
    assert (doc["status"], doc["amount_paid"], doc["amount_refunded"]) == ("paid", 2500, 0)
    bal = await balances(app)
    assert bal[("liabilities:overpayments", "EUR")] == 0
    assert bal[("income:urbanisme", "EUR")] == -2500


async def test_a_refund_made_at_the_psp_is_recorded_from_its_event(
    client, app, keys: Keys, paid
) -> None:
    doc = await invoice(client, keys.urbanisme, paid["id"])
    ppid = doc["payments"][0]["provider_payment_id"]
    made = await app.state.payments.provider.refund(ppid, 400, "dashboard-refund-1")
    event = ProviderEvent(
        id="evt_sim_dashboard_refund",
        provider="simulator",
        type="refund.updated",
        raw_type="refund.updated",
        created=dt.datetime.now(dt.UTC),
        data={"refund_id": made.id, "provider_payment_id": ppid},
    )
    for _ in range(2):  # duplicates are stored once
        await app.state.intake.store(event)
    await app.state.applier.process_batch()
    doc = await invoice(client, keys.urbanisme, paid["id"])
    assert (doc["status"], doc["amount_refunded"]) == ("partially_refunded", 400)
    assert await refund_rows(app) == 1


async def test_disputes_and_payouts_post_their_entries(client, app, keys: Keys, paid) -> None:
    doc = await invoice(client, keys.urbanisme, paid["id"])
    ppid = doc["payments"][0]["provider_payment_id"]
    now = dt.datetime.now(dt.UTC)

    def ev(eid, etype, **data):
        return ProviderEvent(
            id=eid, provider="simulator", type=etype, raw_type=etype, created=now, data=data
        )

    sim = app.state.payments.provider
    sim.set_dispute(ProviderDispute("dp_1", ppid, 2500, "EUR", "needs_response", withdrawn=2500))
    await app.state.intake.store(
        ev(
            "e1",
            "dispute.opened",
            dispute_id="dp_1",
            provider_payment_id=ppid,
            amount=2500,
            currency="EUR",
        )
    )
    await app.state.applier.process_batch()
    assert (await invoice(client, keys.urbanisme, paid["id"]))["status"] == "disputed"
    assert (await balances(app))[("expenses:disputes", "EUR")] == 2500
    sim.set_dispute(
        ProviderDispute(
            "dp_1", ppid, 2500, "EUR", "won", withdrawn=2500, reinstated=2500, closed=True,
            won=True,
        )
    )  # fmt: skip
    await app.state.intake.store(
        ev(
            "e2",
            "dispute.closed",
            dispute_id="dp_1",
            provider_payment_id=ppid,
            amount=2500,
            currency="EUR",
            status="won",
        )
    )
    await app.state.applier.process_batch()
    assert (await invoice(client, keys.urbanisme, paid["id"]))["status"] == "paid"
    assert (await balances(app))[("expenses:disputes", "EUR")] == 0
    await app.state.intake.store(
        ev("e3", "payout.paid", payout_id="po_1", amount=2437, currency="EUR")
    )
    await app.state.intake.store(
        ev("e3-again", "payout.paid", payout_id="po_1", amount=2437, currency="EUR")
    )
    await app.state.applier.process_batch()
    bal = await balances(app)
    assert bal[("assets:bank:main", "EUR")] == 2437  # posted once, though delivered under two ids
    assert bal[("assets:psp:simulator", "EUR")] == 0


@pytest.mark.postgres
async def test_twenty_concurrent_partial_refunds_never_exceed_the_payment(
    client, app, keys: Keys, paid
) -> None:
    results = await asyncio.gather(
        *(refund(client, keys.urbanisme, paid["id"], amount=200) for _ in range(20))
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(201) == 12  # 12 x 200 = 2400 <= 2500 < 13 x 200
    assert all(s == 409 for s in statuses if s != 201)
    doc = await invoice(client, keys.urbanisme, paid["id"])
    assert (doc["amount_refunded"], doc["amount_refundable"]) == (2400, 100)
    assert (await balances(app))[("income:urbanisme", "EUR")] == -100


async def test_a_refund_issues_a_credit_note_that_names_the_receipt(
    client, app, keys: Keys, paid
) -> None:
    import io

    from pypdf import PdfReader

    from receipts.models import Receipt

    assert (await refund(client, keys.urbanisme, paid["id"], amount=1000)).status_code == 201
    async with app.state.db.session() as s:
        receipt, note = (
            (await s.execute(select(Receipt).order_by(Receipt.kind.desc()))).scalars().all()
        )
    assert (receipt.kind, note.kind) == ("receipt", "credit_note")
    assert note.number.startswith("AV-") and note.number.endswith("-000001")
    assert note.refers_to == receipt.id and note.amount == 1000
    r = await client.get(
        f"/v1/invoices/{paid['id']}/credit-notes/{note.number}.pdf", headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 200, r.text
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
    assert "Avoir" in text and receipt.number in text and "10,00" in text
    assert (
        await client.get(
            f"/v1/invoices/{paid['id']}/credit-notes/{note.number}.pdf",
            headers=Keys.h(keys.etat_civil),
        )
    ).status_code == 404
    # the receipt still verifies, and says it was partly refunded
    code = receipt.document["verify_url"].split("?c=")[1]
    v = (await client.get(f"/v1/receipts/{receipt.number}/verify", params={"c": code})).json()
    assert v["status"] == "partially_refunded"
    note_code = note.document["verify_url"].split("?c=")[1]
    v = (await client.get(f"/v1/receipts/{note.number}/verify", params={"c": note_code})).json()
    assert (v["status"], v["kind"], v["amount"]) == ("genuine", "credit_note", 1000)


@pytest.mark.postgres
async def test_concurrent_duplicates_of_every_event_type_have_one_effect(
    client, app, keys: Keys, paid
) -> None:
    """Refund, dispute and payout events, each delivered five times at once and applied by
    three racing workers, change the books exactly once."""
    doc = await invoice(client, keys.urbanisme, paid["id"])
    ppid = doc["payments"][0]["provider_payment_id"]
    made = await app.state.payments.provider.refund(ppid, 300, "dashboard-refund-race")
    app.state.payments.provider.set_dispute(
        ProviderDispute("dp_race", ppid, 2200, "EUR", "needs_response", withdrawn=2200)
    )
    now = dt.datetime.now(dt.UTC)
    events = [
        ProviderEvent(
            id="evt_r",
            provider="simulator",
            type="refund.updated",
            raw_type="refund.updated",
            created=now,
            data={"refund_id": made.id, "provider_payment_id": ppid},
        ),
        ProviderEvent(
            id="evt_d",
            provider="simulator",
            type="dispute.opened",
            raw_type="charge.dispute.created",
            created=now,
            data={
                "dispute_id": "dp_race",
                "provider_payment_id": ppid,
                "amount": 2200,
                "currency": "EUR",
            },
        ),
        ProviderEvent(
            id="evt_p",
            provider="simulator",
            type="payout.paid",
            raw_type="payout.paid",
            created=now,
            data={"payout_id": "po_race", "amount": 1000, "currency": "EUR"},
        ),
    ]
    stored = await asyncio.gather(*(app.state.intake.store(e) for e in events for _ in range(5)))
    assert sum(stored) == 3
    handled = await asyncio.gather(*(app.state.applier.process_batch() for _ in range(3)))
    assert sum(handled) == 3
    bal = await balances(app)
    assert bal[("income:urbanisme", "EUR")] == -2200  # 2500 issued, 300 refunded once
    assert bal[("expenses:disputes", "EUR")] == 2200
    assert bal[("assets:bank:main", "EUR")] == 1000
    doc = await invoice(client, keys.urbanisme, paid["id"])
    assert (doc["status"], doc["amount_refunded"]) == ("disputed", 300)
    assert await refund_rows(app) == 1
