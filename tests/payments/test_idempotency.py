"""``Idempotency-Key`` on the invoices API (README, "API").

Same key and same body within 24 h replays the first response; same key with another
body is 409; a request racing another with the same key gets 409 and can retry. The
concurrent cases need a real server and run on PostgreSQL only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlmodel import col

from payments.models import Invoice
from regie.kit.idempotency import IdempotencyRecord
from tests.conftest import Keys, create_invoice, invoice_body
from tests.payments.test_bad_input import assert_error, row_counts


async def post(client: httpx.AsyncClient, key: str, body: Any, idem: str | None) -> httpx.Response:
    headers = Keys.h(key, **({"Idempotency-Key": idem} if idem is not None else {}))
    return await client.post("/v1/invoices", json=body, headers=headers)


async def invoice_count(app: Any, **where: str) -> int:
    stmt = select(func.count()).select_from(Invoice)
    for name, value in where.items():
        stmt = stmt.where(getattr(Invoice, name) == value)
    async with app.state.db.session() as s:
        return int((await s.execute(stmt)).scalar_one())


# ----------------------------------------------------------------- replays
async def test_same_key_same_body_replays_the_first_response(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    body = invoice_body()
    r1 = await post(client, keys.urbanisme, body, "create-PC-2026-0001")
    assert r1.status_code == 201, r1.text
    assert r1.headers.get("idempotent-replayed") != "true"
    r2 = await post(client, keys.urbanisme, body, "create-PC-2026-0001")
    assert r2.status_code == 201, r2.text
    assert r2.headers.get("idempotent-replayed") == "true"
    assert r2.json() == r1.json()
    assert await invoice_count(app) == 1
    r3 = await post(client, keys.urbanisme, body, "create-PC-2026-0001")
    assert r3.json()["id"] == r1.json()["id"]
    assert await invoice_count(app) == 1


async def test_same_body_written_differently_is_the_same_request(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    body = invoice_body(metadata={"a": "1", "b": "2"})
    r1 = await post(client, keys.urbanisme, body, "k-format")
    assert r1.status_code == 201, r1.text
    reordered = dict(reversed(list(body.items())))
    reordered["metadata"] = {"b": "2", "a": "1"}
    raw = json.dumps(reordered, indent=2).encode()
    r2 = await client.post(
        "/v1/invoices",
        content=raw,
        headers=Keys.h(
            keys.urbanisme, **{"Idempotency-Key": "k-format", "Content-Type": "application/json"}
        ),
    )
    assert r2.status_code == 201, r2.text
    assert r2.headers.get("idempotent-replayed") == "true"
    assert r2.json()["id"] == r1.json()["id"]
    assert await invoice_count(app) == 1


async def test_replay_is_the_first_response_even_after_the_invoice_changed(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    body = invoice_body()
    r1 = await post(client, keys.urbanisme, body, "k-then-cancel")
    assert r1.status_code == 201
    inv_id = r1.json()["id"]
    c = await client.post(f"/v1/invoices/{inv_id}/cancel", headers=Keys.h(keys.urbanisme))
    assert c.status_code == 200
    r2 = await post(client, keys.urbanisme, body, "k-then-cancel")
    assert r2.status_code == 201
    assert r2.headers.get("idempotent-replayed") == "true"
    assert r2.json()["status"] == "open" and r2.json()["id"] == inv_id


async def test_same_key_other_body_is_409(client: httpx.AsyncClient, app: Any, keys: Keys) -> None:
    r1 = await post(client, keys.urbanisme, invoice_body(), "k-1")
    assert r1.status_code == 201
    before = await row_counts(app)
    for other in (
        invoice_body(amount=2501),
        invoice_body(reference="PC-2026-0002"),
        invoice_body(metadata={"x": "y"}),
    ):
        r2 = await post(client, keys.urbanisme, other, "k-1")
        assert_error(r2, 409, "idempotency_key_reused", "Idempotency-Key")
        assert r2.headers.get("idempotent-replayed") != "true"
    assert await row_counts(app) == before
    # the original still replays
    r3 = await post(client, keys.urbanisme, invoice_body(), "k-1")
    assert r3.status_code == 201 and r3.json()["id"] == r1.json()["id"]


async def test_same_key_on_another_route_is_409(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    r1 = await post(client, keys.urbanisme, invoice_body(), "k-route")
    assert r1.status_code == 201
    inv_id = r1.json()["id"]
    r2 = await client.post(
        f"/v1/invoices/{inv_id}/cancel",
        headers=Keys.h(keys.urbanisme, **{"Idempotency-Key": "k-route"}),
    )
    assert_error(r2, 409, "idempotency_key_reused", "Idempotency-Key")
    got = await client.get(f"/v1/invoices/{inv_id}", headers=Keys.h(keys.urbanisme))
    assert got.json()["status"] == "open"


async def test_different_keys_create_two_invoices(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    r1 = await post(client, keys.urbanisme, invoice_body(reference="R-1"), "k-a")
    r2 = await post(client, keys.urbanisme, invoice_body(reference="R-2"), "k-b")
    assert r1.status_code == r2.status_code == 201
    assert r1.json()["id"] != r2.json()["id"]
    assert r2.headers.get("idempotent-replayed") != "true"
    assert await invoice_count(app) == 2


async def test_keys_are_scoped_per_service(client: httpx.AsyncClient, app: Any, keys: Keys) -> None:
    body = invoice_body()
    r1 = await post(client, keys.urbanisme, body, "shared-key")
    r2 = await post(client, keys.etat_civil, body, "shared-key")
    assert r1.status_code == r2.status_code == 201, (r1.text, r2.text)
    assert r2.headers.get("idempotent-replayed") != "true"
    assert r1.json()["id"] != r2.json()["id"]
    assert (r1.json()["service"], r2.json()["service"]) == ("urbanisme", "etat-civil")
    # and a different body under the other service's key is not "reused" either
    r3 = await post(client, keys.etat_civil, invoice_body(reference="OTHER"), "shared-key-2")
    assert r3.status_code == 201
    r4 = await post(client, keys.urbanisme, invoice_body(reference="MINE"), "shared-key-2")
    assert r4.status_code == 201, r4.text
    assert await invoice_count(app) == 4


async def test_a_failed_business_call_replays_its_409(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    await create_invoice(client, keys.urbanisme, reference="PC-2026-0099")
    body = invoice_body(reference="PC-2026-0099", amount=4000)
    before = await row_counts(app)
    r1 = await post(client, keys.urbanisme, body, "k-dup")
    first = assert_error(r1, 409, "reference_already_used", "reference")
    r2 = await post(client, keys.urbanisme, body, "k-dup")
    assert assert_error(r2, 409, "reference_already_used", "reference") == first
    assert r2.headers.get("idempotent-replayed") == "true"
    assert await row_counts(app) == before
    # the replay is the stored answer: it stays even once the reference is free again
    async with app.state.db.session() as s:
        await s.execute(
            update(Invoice)
            .where(col(Invoice.reference) == "PC-2026-0099")
            .values(reference="PC-2026-0099-old")
        )
        await s.commit()
    r3 = await post(client, keys.urbanisme, body, "k-dup")
    assert_error(r3, 409, "reference_already_used", "reference")
    assert r3.headers.get("idempotent-replayed") == "true"
    assert await invoice_count(app, reference="PC-2026-0099") == 0


async def test_validation_errors_do_not_consume_the_key(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    bad = invoice_body(currency="eur")
    r1 = await post(client, keys.urbanisme, bad, "k-fix")
    assert_error(r1, 422, "parameter_invalid", "currency")
    r2 = await post(client, keys.urbanisme, invoice_body(), "k-fix")
    assert r2.status_code == 201, r2.text
    assert r2.headers.get("idempotent-replayed") != "true"


async def test_key_is_reusable_after_its_24_hour_window(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    r1 = await post(client, keys.urbanisme, invoice_body(reference="R-1"), "k-old")
    assert r1.status_code == 201
    async with app.state.db.session() as s:
        await s.execute(
            update(IdempotencyRecord)
            .where(col(IdempotencyRecord.key) == "k-old")
            .values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=25))
        )
        await s.commit()
    r2 = await post(client, keys.urbanisme, invoice_body(reference="R-2"), "k-old")
    assert r2.status_code == 201, r2.text
    assert r2.headers.get("idempotent-replayed") != "true"
    assert r2.json()["id"] != r1.json()["id"]


async def test_cancel_with_a_key_replays_instead_of_409(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    h = Keys.h(keys.urbanisme, **{"Idempotency-Key": "cancel-1"})
    r1 = await client.post(f"/v1/invoices/{inv['id']}/cancel", headers=h)
    assert r1.status_code == 200, r1.text
    r2 = await client.post(f"/v1/invoices/{inv['id']}/cancel", headers=h)
    assert r2.status_code == 200, r2.text
    assert r2.headers.get("idempotent-replayed") == "true"
    assert r2.json() == r1.json()


async def _stored_answers(app: Any) -> list[str]:
    async with app.state.db.session() as s:
        rows = (await s.execute(select(IdempotencyRecord.response_body))).scalars().all()
    # as text a reader sees (json.dumps writes "é" as an escape)
    return [json.dumps(json.loads(r), ensure_ascii=False) if r else "" for r in rows]


async def test_stored_answers_hold_no_payer_data_and_replays_still_name_the_payer(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    """The idempotency store keeps the answer to replay for 24 h: not the payer's name,
    email, address, company id or VAT number (personal data, kept in the invoice only).
    A replay answers with them as the invoice holds them."""
    payer = {"name": "Zoé Dupré", "email": "zoe.dupre@example.org",
             "address": "3 rue des Lilas, 31000 Villeneuve", "company_id": "73282932000074",
             "vat_number": "FR44732829320"}  # fmt: skip
    body = invoice_body(payer=payer)
    r1 = await post(client, keys.urbanisme, body, "k-personal")
    assert r1.status_code == 201, r1.text
    h = Keys.h(keys.urbanisme, **{"Idempotency-Key": "k-personal-cancel"})
    c1 = await client.post(f"/v1/invoices/{r1.json()['id']}/cancel", headers=h)
    assert c1.status_code == 200, c1.text
    stored = await _stored_answers(app)
    assert len(stored) == 2 and all(r1.json()["id"] in x for x in stored), stored
    for value in payer.values():
        assert not any(value in x for x in stored), value
    r2 = await post(client, keys.urbanisme, body, "k-personal")
    assert r2.headers.get("idempotent-replayed") == "true"
    assert r2.json() == r1.json() and r2.json()["payer"]["name"] == "Zoé Dupré"
    c2 = await client.post(f"/v1/invoices/{r1.json()['id']}/cancel", headers=h)
    assert c2.headers.get("idempotent-replayed") == "true"
    assert c2.json() == c1.json() and c2.json()["payer"]["vat_number"] == "FR44732829320"


# ------------------------------------------------------------- bad keys
async def test_key_longer_than_255_characters_is_400(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    before = await row_counts(app)
    r = await post(client, keys.urbanisme, invoice_body(), "k" * 256)
    assert_error(r, 400, "idempotency_key_invalid", "Idempotency-Key")
    assert await row_counts(app) == before


async def test_key_longer_than_255_characters_is_refused(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    # whatever the status, it is a 4xx in the one shape and writes nothing
    before = await row_counts(app)
    r = await post(client, keys.urbanisme, invoice_body(), "k" * 256)
    assert r.status_code in (400, 422), r.text
    assert_error(r, r.status_code, r.json()["error"]["code"], "Idempotency-Key")
    assert await row_counts(app) == before
    ok = await post(client, keys.urbanisme, invoice_body(), "k" * 255)
    assert ok.status_code == 201, ok.text


async def test_empty_key_is_400(client: httpx.AsyncClient, app: Any, keys: Keys) -> None:
    before = await row_counts(app)
    r = await post(client, keys.urbanisme, invoice_body(), "")
    assert_error(r, 400, "idempotency_key_invalid", "Idempotency-Key")
    assert await row_counts(app) == before


# ------------------------------------------------------ concurrency (PG)
@pytest.mark.postgres
async def test_ten_concurrent_posts_with_one_key_create_one_invoice(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    body = invoice_body(reference="RACE-1")
    responses = await asyncio.gather(
        *[post(client, keys.urbanisme, body, "race-key") for _ in range(10)]
    )
    created = [r for r in responses if r.status_code == 201]
    assert created, [r.text for r in responses]
    ids = {r.json()["id"] for r in created}
    assert len(ids) == 1, ids
    for r in responses:
        if r.status_code != 201:
            assert_error(r, 409, "idempotency_key_in_use", "Idempotency-Key")
    assert await invoice_count(app) == 1
    # once the first request has finished, a retry gets the replay
    again = await post(client, keys.urbanisme, body, "race-key")
    assert again.status_code == 201
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json()["id"] in ids
    assert await invoice_count(app) == 1


@pytest.mark.postgres
async def test_ten_concurrent_creates_with_one_reference_create_one_invoice(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    body = invoice_body(reference="RACE-REF")
    responses = await asyncio.gather(
        *[post(client, keys.urbanisme, body, f"race-ref-{i}") for i in range(10)]
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 9, [r.text for r in responses]
    for r in responses:
        if r.status_code == 409:
            assert_error(r, 409, "reference_already_used", "reference")
    assert await invoice_count(app) == 1
    # the invoice counter did not skip numbers for the losers (gap-free)
    counts = await row_counts(app)
    assert counts["invoices"] == 1 and counts["number_sequences.sum"] == 1
    (winner,) = [r for r in responses if r.status_code == 201]
    assert winner.json()["number"].endswith("-000001")
    # every loser's key replays its 409
    loser = next(i for i, r in enumerate(responses) if r.status_code == 409)
    again = await post(client, keys.urbanisme, body, f"race-ref-{loser}")
    assert_error(again, 409, "reference_already_used", "reference")
    assert again.headers.get("idempotent-replayed") == "true"


@pytest.mark.postgres
async def test_ten_concurrent_creates_with_one_reference_after_warm_up(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    # the same race once the service's invoice counter row already exists
    await create_invoice(client, keys.urbanisme, reference="WARM-UP")
    body = invoice_body(reference="RACE-REF-2")
    responses = await asyncio.gather(
        *[post(client, keys.urbanisme, body, f"race-ref2-{i}") for i in range(10)]
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 9, [r.text for r in responses]
    for r in responses:
        if r.status_code == 409:
            assert_error(r, 409, "reference_already_used", "reference")
    assert await invoice_count(app, reference="RACE-REF-2") == 1
    assert (await row_counts(app))["number_sequences.sum"] == 2


@pytest.mark.postgres
async def test_ten_concurrent_creates_with_one_reference_without_keys(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    body = invoice_body(reference="RACE-REF-3")
    responses = await asyncio.gather(*[post(client, keys.urbanisme, body, None) for _ in range(10)])
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 9, [r.text for r in responses]
    for r in responses:
        if r.status_code == 409:
            assert_error(r, 409, "reference_already_used", "reference")
    assert await invoice_count(app) == 1


# ------------------------------------------------------- scopes per role
async def test_a_key_of_another_role_of_the_same_service_never_replays(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    """The finance and admin keys of one service (``tresorerie``) may send the same
    Idempotency-Key: a replay answers without the role check, so one role's stored answer
    must never be another's. Else a finance key replays an admin's cancel (200, an
    operation its role is refused), and an admin's cancel is answered with the finance
    key's stored 403 and never runs."""
    refused_first = await create_invoice(client, keys.urbanisme, reference="ROLE-1")
    path = f"/v1/invoices/{refused_first['id']}/cancel"
    r1 = await client.post(path, headers=Keys.h(keys.finance, **{"Idempotency-Key": "role-1"}))
    assert r1.status_code == 403, r1.text
    r2 = await client.post(path, headers=Keys.h(keys.admin, **{"Idempotency-Key": "role-1"}))
    assert r2.headers.get("idempotent-replayed") != "true"
    assert (r2.status_code, r2.json()["status"]) == (200, "canceled"), r2.text

    done_first = await create_invoice(client, keys.urbanisme, reference="ROLE-2")
    path = f"/v1/invoices/{done_first['id']}/cancel"
    r3 = await client.post(path, headers=Keys.h(keys.admin, **{"Idempotency-Key": "role-2"}))
    assert r3.status_code == 200, r3.text
    r4 = await client.post(path, headers=Keys.h(keys.finance, **{"Idempotency-Key": "role-2"}))
    assert r4.headers.get("idempotent-replayed") != "true"
    assert_error(r4, 403, "insufficient_role")
    # the same role replays as before
    r5 = await client.post(path, headers=Keys.h(keys.admin, **{"Idempotency-Key": "role-2"}))
    assert (r5.status_code, r5.headers.get("idempotent-replayed")) == (200, "true")
    assert r5.json() == r3.json()
