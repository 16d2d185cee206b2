"""Invoice batches: POST /v1/invoice-batches and GET /v1/invoice-batches/{id}.

All or nothing, every invalid row named, gap-free consecutive numbers, a balanced ledger
entry, an audit row and a pay link per invoice, notifications queued when the service has
an endpoint, idempotent replay, tenancy, and disjoint number blocks for concurrent batches.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from ledger.models import JournalEntry, JournalLine
from payments.models import Invoice, InvoiceBatch, StateChange
from tests.conftest import Keys, create_invoice, invoice_body, token_of
from webhooks.outbound.models import WebhookDelivery


def batch(n: int, prefix: str = "CANT", **overrides: Any) -> list[dict[str, Any]]:
    return [
        invoice_body(
            **{
                "reference": f"{prefix}-{i:05d}",
                "description": "Cantine, novembre",
                "amount": 1000 + i,
                "payer": {"name": f"Famille {i}", "email": f"f{i}@example.org"},
                "metadata": {"eleve": str(i)},
                **overrides,
            }
        )
        for i in range(n)
    ]


async def post_batch(
    client: httpx.AsyncClient, key: str, items: list[dict[str, Any]], **headers: str
) -> httpx.Response:
    return await client.post(
        "/v1/invoice-batches", json={"invoices": items}, headers=Keys.h(key, **headers)
    )


async def count(app: Any, model: Any, *where: Any) -> int:
    async with app.state.db.session() as s:
        stmt = select(func.count()).select_from(model).where(*where)
        return int((await s.execute(stmt)).scalar_one())


def number_of(number: str) -> int:
    return int(number.rsplit("-", 1)[1])


async def test_a_batch_creates_every_invoice_with_consecutive_numbers(client, app, keys) -> None:
    single = await create_invoice(client, keys.urbanisme, reference="ALONE-1")
    r = await post_batch(client, keys.urbanisme, batch(25))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["object"] == "invoice_batch" and body["count"] == 25
    assert body["source"] == "api" and body["service"] == "urbanisme"
    items = body["invoices"]
    assert [x["reference"] for x in items] == [f"CANT-{i:05d}" for i in range(25)]
    # one block right after the invoice created alone: no gap, no duplicate
    numbers = [number_of(x["number"]) for x in items]
    assert numbers == list(range(number_of(single["number"]) + 1, number_of(single["number"]) + 26))
    assert body["first_number"] == items[0]["number"] and body["last_number"] == items[-1]["number"]
    assert items[0]["number"].startswith("URBANISME-")
    # each invoice is a real one: its view, its lines, its pay page
    one = (
        await client.get(f"/v1/invoices/{items[3]['id']}", headers=Keys.h(keys.urbanisme))
    ).json()
    assert one["number"] == items[3]["number"] and one["amount_total"] == 1003
    assert one["payment_url"] == items[3]["payment_url"] and one["metadata"] == {"eleve": "3"}
    assert one["lines"] == [
        {"description": "Cantine, novembre", "quantity": 1, "unit_amount": 1003, "amount": 1003}
    ]
    page = await client.get(f"/pay/{token_of(items[3])}")
    assert page.status_code == 200 and items[3]["number"] in page.text
    # the ledger: one balanced issue entry per invoice, described with its number
    async with app.state.db.session() as s:
        entries = list(
            (
                await s.execute(
                    select(JournalEntry).where(
                        JournalEntry.invoice_id.in_([x["id"] for x in items])  # type: ignore[union-attr]
                    )
                )
            ).scalars()
        )
        assert len(entries) == 25 and {e.kind for e in entries} == {"invoice_issued"}
        by_invoice = {e.invoice_id: e for e in entries}
        assert by_invoice[items[3]["id"]].description == f"{items[3]['number']} CANT-00003"
        lines = list(
            (
                await s.execute(
                    select(JournalLine).where(
                        JournalLine.entry_id.in_([e.id for e in entries])  # type: ignore[attr-defined]
                    )
                )
            ).scalars()
        )
    assert len(lines) == 50
    assert (
        sum(x.debit for x in lines)
        == sum(x.credit for x in lines)
        == sum(1000 + i for i in range(25))
    )
    assert {x.account for x in lines} == {"receivable:urbanisme", "income:urbanisme"}
    # the audit trail: one creation row per invoice, with its cause
    audit = await count(
        app, StateChange, StateChange.cause == "api:batch", StateChange.to_status == "open"
    )
    assert audit == 25
    assert await count(app, Invoice, Invoice.batch_id == body["id"]) == 25  # type: ignore[arg-type]


async def test_the_ledger_still_verifies_after_a_batch(client, app, keys) -> None:
    assert (await post_batch(client, keys.urbanisme, batch(10))).status_code == 201
    while await app.state.services.ledger.seal():
        pass
    result = await app.state.services.ledger.verify()
    assert result.ok and result.sealed >= 10


async def test_a_batch_queues_a_notification_per_invoice_and_endpoint(client, app, keys) -> None:
    for port in (9, 10):
        r = await client.post(
            "/v1/webhook-endpoints",
            json={"url": f"http://127.0.0.1:{port}/hook"},
            headers=Keys.h(keys.urbanisme),
        )
        assert r.status_code == 201, r.text
    body = (await post_batch(client, keys.urbanisme, batch(7))).json()
    async with app.state.db.session() as s:
        rows = list((await s.execute(select(WebhookDelivery))).scalars())
    assert len(rows) == 14
    assert {r.event_type for r in rows} == {"invoice.created"}
    assert {r.invoice_id for r in rows} == {x["id"] for x in body["invoices"]}
    assert {r.status for r in rows} == {"pending"}
    payload = json.loads(next(r.payload for r in rows if r.invoice_id == body["invoices"][2]["id"]))
    assert payload["type"] == "invoice.created"
    assert payload["data"]["object"]["number"] == body["invoices"][2]["number"]
    assert payload["data"]["object"]["payment_url"] == body["invoices"][2]["payment_url"]
    # another service's batch queues nothing for these endpoints
    assert (await post_batch(client, keys.etat_civil, batch(3))).status_code == 201
    assert await count(app, WebhookDelivery) == 14


async def test_one_bad_row_creates_nothing_and_names_the_row_and_field(client, app, keys) -> None:
    items = batch(6)
    items[2]["payer"]["email"] = "not-an-email"
    items[4]["amount"] = 25.5
    items[5]["reference"] = "CANT-00001"  # the same as row 1
    r = await post_batch(client, keys.urbanisme, items)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "batch_invalid" and err["param"] == "invoices"
    assert "3 of the 6 invoices are invalid" in err["message"]
    found = [(e["row"], e["param"], e["code"]) for e in err["errors"]]
    assert found == [
        (2, "payer.email", "parameter_invalid"),
        (4, "amount", "parameter_invalid"),
        (5, "reference", "reference_duplicated"),
    ]
    assert all(e["message"] for e in err["errors"])
    for model in (Invoice, InvoiceBatch, JournalEntry, StateChange):
        assert await count(app, model) == 0


async def test_a_reference_already_used_refuses_the_whole_batch(client, app, keys) -> None:
    await create_invoice(client, keys.urbanisme, reference="CANT-00002")
    before = await count(app, Invoice)
    r = await post_batch(client, keys.urbanisme, batch(4))
    assert r.status_code == 422
    assert [(e["row"], e["code"]) for e in r.json()["error"]["errors"]] == [
        (2, "reference_already_used")
    ]
    assert await count(app, Invoice) == before
    # and the numbers were not consumed: the next batch follows the single invoice
    ok = (await post_batch(client, keys.urbanisme, batch(2, prefix="NEXT"))).json()
    assert number_of(ok["first_number"]) == 2


async def test_business_rules_of_a_single_invoice_apply_per_row(client, app, keys) -> None:
    items = batch(3)
    items[1]["amount"] = 10**12
    items[2]["expires_at"] = "2020-01-01T00:00:00Z"
    r = await post_batch(client, keys.urbanisme, items)
    assert [(e["row"], e["param"], e["code"]) for e in r.json()["error"]["errors"]] == [
        (1, "amount", "amount_too_large"),
        (2, "expires_at", "parameter_invalid"),
    ]


@pytest.mark.parametrize(
    "payload, status, code",
    [
        ({"invoices": []}, 422, "parameter_invalid"),
        ({"invoices": {}}, 422, "parameter_invalid"),
        ({}, 422, "parameter_missing"),
        ({"invoices": [], "extra": 1}, 422, "parameter_unknown"),
    ],
)
async def test_malformed_batches_are_refused(client, app, keys, payload, status, code) -> None:
    r = await client.post("/v1/invoice-batches", json=payload, headers=Keys.h(keys.urbanisme))
    assert (r.status_code, r.json()["error"]["code"]) == (status, code)


async def test_too_many_invoices_are_refused(client, app, keys) -> None:
    r = await post_batch(client, keys.urbanisme, [{}] * 10_001)
    assert r.status_code == 422 and r.json()["error"]["param"] == "invoices"
    assert await count(app, Invoice) == 0


async def test_bad_json_is_a_400(client, app, keys) -> None:
    r = await client.post(
        "/v1/invoice-batches",
        content=b"{not json",
        headers=Keys.h(keys.urbanisme, **{"Content-Type": "application/json"}),
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"


async def test_the_batch_route_alone_accepts_large_bodies(client, app, keys, settings) -> None:
    items = batch(400, description="x" * 400)
    size = len(json.dumps({"invoices": items}))
    assert size > settings.max_body_bytes
    assert (await post_batch(client, keys.urbanisme, items)).status_code == 201
    r = await client.post(
        "/v1/invoices",
        content=json.dumps(invoice_body(description="x" * size)),
        headers=Keys.h(keys.urbanisme, **{"Content-Type": "application/json"}),
    )
    assert r.status_code == 413


async def test_a_replay_answers_the_same_and_creates_nothing_more(client, app, keys) -> None:
    items = batch(5)
    first = await post_batch(client, keys.urbanisme, items, **{"Idempotency-Key": "nov-2026"})
    again = await post_batch(client, keys.urbanisme, items, **{"Idempotency-Key": "nov-2026"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert await count(app, Invoice) == 5
    other = await post_batch(client, keys.urbanisme, batch(4), **{"Idempotency-Key": "nov-2026"})
    assert other.status_code == 409
    # a refused batch replays its refusal
    bad = batch(2, prefix="BAD")
    bad[1]["currency"] = "eur"
    r1 = await post_batch(client, keys.urbanisme, bad, **{"Idempotency-Key": "bad-1"})
    r2 = await post_batch(client, keys.urbanisme, bad, **{"Idempotency-Key": "bad-1"})
    assert r1.status_code == r2.status_code == 422 and r1.json() == r2.json()


async def test_tenancy(client, app, keys) -> None:
    r = await post_batch(client, keys.finance, batch(2))
    assert r.status_code == 403 and r.json()["error"]["code"] == "insufficient_role"
    created = (await post_batch(client, keys.urbanisme, batch(3))).json()
    url = f"/v1/invoice-batches/{created['id']}"
    assert (await client.get(url, headers=Keys.h(keys.etat_civil))).status_code == 404
    assert (await client.get(url, headers=Keys.h(keys.urbanisme))).status_code == 200
    seen = await client.get(url, headers=Keys.h(keys.finance))  # finance reads every service
    assert seen.status_code == 200 and seen.json()["service"] == "urbanisme"
    assert (await client.get(url)).status_code == 401
    assert await count(app, Invoice) == 3


async def test_a_batch_is_read_back_page_by_page(client, app, keys) -> None:
    created = (await post_batch(client, keys.urbanisme, batch(12))).json()
    url = f"/v1/invoice-batches/{created['id']}"
    got: list[dict[str, Any]] = []
    after = None
    while True:
        params: dict[str, Any] = {"limit": 5}
        if after:
            params["starting_after"] = after
        page = (await client.get(url, params=params, headers=Keys.h(keys.urbanisme))).json()
        got.extend(page["invoices"])
        if not page["has_more"]:
            break
        after = page["next_starting_after"]
    assert got == created["invoices"]
    missing = "/v1/invoice-batches/bat_01JAAAAAAAAAAAAAAAAAAAAAAA"
    assert (await client.get(missing, headers=Keys.h(keys.urbanisme))).status_code == 404


@pytest.mark.postgres
async def test_concurrent_batches_get_disjoint_consecutive_blocks(client, app, keys) -> None:
    results = await asyncio.gather(
        *(post_batch(client, keys.urbanisme, batch(40, prefix=f"B{k}")) for k in range(4)),
        *(create_invoice(client, keys.urbanisme, reference=f"ALONE-{k}") for k in range(4)),
    )
    batches = [r.json() for r in results[:4]]
    assert all(r.status_code == 201 for r in results[:4])
    blocks = []
    for b in batches:
        numbers = [number_of(x["number"]) for x in b["invoices"]]
        assert numbers == list(range(numbers[0], numbers[0] + 40))  # consecutive in a batch
        blocks.append(numbers)
    alone = [number_of(x["number"]) for x in results[4:]]  # type: ignore[index]
    every = sorted([n for block in blocks for n in block] + alone)
    assert every == list(range(1, 40 * 4 + 4 + 1))  # no gap, no duplicate


async def test_a_reference_taken_meanwhile_refuses_the_batch_at_the_unique_index(
    client, app, keys, monkeypatch
) -> None:
    """The references are checked before the transaction; one taken between the check and
    the insert (a racer) is caught by the unique index: 409, nothing created, no number
    used (the COPY's error on PostgreSQL is turned into the same IntegrityError)."""
    from payments import batch_repository

    await create_invoice(client, keys.urbanisme, reference="CANT-00001")

    async def nothing_taken(*args: Any, **kwargs: Any) -> set[str]:
        return set()

    monkeypatch.setattr(batch_repository, "references_taken", nothing_taken)
    r = await post_batch(client, keys.urbanisme, batch(3))
    assert r.status_code == 409 and r.json()["error"]["code"] == "reference_already_used"
    assert await count(app, Invoice) == 1 and await count(app, InvoiceBatch) == 0
    assert await count(app, JournalEntry) == 1
    ok = (await post_batch(client, keys.urbanisme, batch(2, prefix="NEXT"))).json()
    assert number_of(ok["first_number"]) == 2


async def test_a_nul_character_in_any_row_is_refused_at_the_edge(client, app, keys) -> None:
    items = batch(3)
    items[2]["payer"]["name"] = "Famille\u0000X"
    r = await post_batch(client, keys.urbanisme, items)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_character"
    assert r.json()["error"]["param"] == "invoices.2.payer.name"
    assert await count(app, Invoice) == 0


def test_the_count_of_invalid_invoices_reads_in_english() -> None:
    """A batch of one said "1 of the 1 invoices are invalid"."""
    from payments.service.batches import _invalid

    assert _invalid(1, 1) == "the invoice is invalid; none was created"
    assert _invalid(1, 6) == "1 of the 6 invoices is invalid; none was created"
    assert _invalid(3, 6) == "3 of the 6 invoices are invalid; none was created"


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "text/plain", None],
)
async def test_a_batch_not_sent_as_json_is_415_and_creates_nothing(
    client, app, keys, content_type
) -> None:
    """As POST /v1/invoices: a body not declared JSON is 415 naming the header. The batch
    route reads its body itself; it took JSON under any Content-Type, one the edge guard does
    not read as JSON (a form, multipart), so a NUL reached the database (a 500 on
    PostgreSQL)."""
    with_nul = batch(2, prefix="NUL")
    with_nul[1]["payer"]["name"] = "Famille\u0000X"
    headers = Keys.h(keys.urbanisme)
    if content_type is not None:
        headers["Content-Type"] = content_type
    for items in (batch(2), with_nul):
        r = await client.post(
            "/v1/invoice-batches", content=json.dumps({"invoices": items}), headers=headers
        )
        err = r.json()["error"]
        if items is with_nul and r.status_code == 400:  # the guard read it as JSON: refused
            assert err["code"] == "invalid_character", err
            continue
        assert r.status_code == 415, r.text
        assert (err["code"], err["param"]) == ("content_type_invalid", "Content-Type"), err
    assert await count(app, Invoice) == 0
