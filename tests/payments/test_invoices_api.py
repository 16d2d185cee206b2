"""The invoices API on its happy paths: create, read, list, cancel, payments, tenancy."""

from __future__ import annotations

import base64
import datetime as dt
import re
from typing import Any

import httpx
from sqlalchemy import func, select

from payments.models import Invoice, InvoiceLine, StateChange
from tests.conftest import (
    BASE_URL,
    Keys,
    create_invoice,
    invoice_body,
    pay,
    start_checkout,
    token_of,
)
from tests.payments.test_bad_input import assert_error

ID_RE = re.compile(r"^inv_[0-9A-HJKMNP-TV-Z]{26}$")
PAY_RE = re.compile(r"^pay_[0-9A-HJKMNP-TV-Z]{26}$")


def _parse(ts: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    assert value.tzinfo is not None, ts
    return value


async def _get(client: httpx.AsyncClient, key: str, path: str, **params: Any) -> Any:
    r = await client.get(path, params=params, headers=Keys.h(key))
    assert r.status_code == 200, r.text
    return r.json()


# ------------------------------------------------------------------ create
async def test_create_with_amount(client: httpx.AsyncClient, app: Any, keys: Keys) -> None:
    before = dt.datetime.now(dt.UTC)
    inv = await create_invoice(
        client,
        keys.urbanisme,
        amount=2500,
        metadata={"dossier": "PC-75056-26-0001"},
        return_url="https://urbanisme.example.org/retour?d=1",
        locale="en",
    )
    assert ID_RE.match(inv["id"]), inv["id"]
    assert inv["object"] == "invoice"
    assert inv["status"] == "open"
    assert inv["service"] == "urbanisme"
    assert re.fullmatch(r"URBANISME-\d{4}-\d{6}", inv["number"]), inv["number"]
    assert inv["currency"] == "EUR"
    assert inv["amount_total"] == 2500
    assert inv["amount_due"] == 2500
    assert inv["amount_paid"] == 0 and inv["amount_refunded"] == 0
    assert inv["lines"] == [
        {"description": "Permis de construire", "quantity": 1, "unit_amount": 2500, "amount": 2500}
    ]
    assert inv["reference"] == "PC-2026-0001"
    assert inv["description"] == "Permis de construire"
    assert inv["payer"] == {
        "name": "Camille Martin",
        "email": "camille@example.org",
        "address": None,
        "company_id": None,
        "vat_number": None,
    }
    assert inv["metadata"] == {"dossier": "PC-75056-26-0001"}
    assert inv["return_url"] == "https://urbanisme.example.org/retour?d=1"
    assert inv["locale"] == "en"
    assert inv["payments"] == []
    created = _parse(inv["created_at"])
    assert before - dt.timedelta(seconds=5) <= created <= dt.datetime.now(dt.UTC)
    # default expiry: 30 days
    expires = _parse(inv["expires_at"])
    assert abs(expires - created - dt.timedelta(days=30)) < dt.timedelta(minutes=1)
    for field in ("paid_at", "canceled_at", "expired_at"):
        assert inv[field] is None


async def test_create_with_lines_totals_quantity_times_unit_amount(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    lines = [
        {"description": "Repas élève", "quantity": 18, "unit_amount": 345},
        {"description": "Goûter", "quantity": 3, "unit_amount": 120},
        {"description": "Frais de gestion", "unit_amount": 50},
    ]
    inv = await create_invoice(
        client, keys.etat_civil, amount=None, lines=lines, reference="CANT-2026-11"
    )
    assert inv["amount_total"] == 18 * 345 + 3 * 120 + 50
    assert inv["amount_due"] == inv["amount_total"]
    assert inv["lines"] == [
        {"description": "Repas élève", "quantity": 18, "unit_amount": 345, "amount": 6210},
        {"description": "Goûter", "quantity": 3, "unit_amount": 120, "amount": 360},
        {"description": "Frais de gestion", "quantity": 1, "unit_amount": 50, "amount": 50},
    ]
    assert inv["number"].startswith("ETAT-CIVIL-")
    async with app.state.db.session() as s:
        n = (
            await s.execute(
                select(func.count())
                .select_from(InvoiceLine)
                .where(InvoiceLine.invoice_id == inv["id"])
            )
        ).scalar_one()
        row = await s.get(Invoice, inv["id"])
    assert n == 3
    assert row is not None and row.amount_total == 6620


async def test_one_hundred_lines_are_accepted(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    lines = [{"description": f"Ligne {i}", "quantity": 1, "unit_amount": i + 1} for i in range(100)]
    inv = await create_invoice(client, keys.urbanisme, amount=None, lines=lines)
    assert len(inv["lines"]) == 100
    assert [x["description"] for x in inv["lines"]] == [f"Ligne {i}" for i in range(100)]
    assert inv["amount_total"] == sum(range(1, 101))


async def test_amount_and_lines_together_or_neither_is_422(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    line = [{"description": "x", "quantity": 1, "unit_amount": 100}]
    r = await client.post(
        "/v1/invoices", json=invoice_body(lines=line), headers=Keys.h(keys.urbanisme)
    )
    assert_error(r, 422, "parameter_invalid")
    r = await client.post(
        "/v1/invoices", json=invoice_body(amount=None), headers=Keys.h(keys.urbanisme)
    )
    assert_error(r, 422, "parameter_invalid")


async def test_invoice_numbers_are_sequential_per_service(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    a = await create_invoice(client, keys.urbanisme, reference="A")
    b = await create_invoice(client, keys.urbanisme, reference="B")
    c = await create_invoice(client, keys.etat_civil, reference="A")
    seq = [int(x["number"].rsplit("-", 1)[1]) for x in (a, b, c)]
    assert seq[1] == seq[0] + 1
    assert c["number"].startswith("ETAT-CIVIL-") and seq[2] == 1


async def test_payment_url_carries_an_unguessable_token_not_the_id(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    a = await create_invoice(client, keys.urbanisme, reference="PC-2026-0001")
    b = await create_invoice(client, keys.urbanisme, reference="PC-2026-0002")
    for inv in (a, b):
        url = inv["payment_url"]
        assert url.startswith(f"{BASE_URL}/pay/"), url
        token = token_of(inv)
        assert inv["id"] not in url and inv["id"].removeprefix("inv_") not in url
        assert inv["number"] not in url and inv["reference"] not in url
        assert re.fullmatch(r"[A-Za-z0-9_-]+", token), token
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert len(raw) * 8 >= 128, token
    assert token_of(a) != token_of(b)
    # the link works and shows the invoice
    page = await client.get(f"/pay/{token_of(a)}")
    assert page.status_code == 200
    assert "Camille" in page.text or "Permis de construire" in page.text


async def test_zero_decimal_currencies_take_integer_amounts(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    jpy = await create_invoice(
        client, keys.urbanisme, reference="JPY-1", currency="JPY", amount=1500
    )
    assert (jpy["currency"], jpy["amount_total"]) == ("JPY", 1500)
    xpf = await create_invoice(
        client,
        keys.urbanisme,
        reference="XPF-1",
        currency="XPF",
        amount=None,
        lines=[{"description": "Patente", "quantity": 2, "unit_amount": 7_500}],
    )
    assert (xpf["currency"], xpf["amount_total"]) == ("XPF", 15_000)
    got = await _get(client, keys.urbanisme, f"/v1/invoices/{xpf['id']}")
    assert got["amount_total"] == 15_000 and got["currency"] == "XPF"


# --------------------------------------------------------------------- GET
async def test_get_returns_what_create_returned(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme, metadata={"a": "b"})
    got = await _get(client, keys.urbanisme, f"/v1/invoices/{inv['id']}")
    assert got == inv


async def test_finance_key_reads_any_invoice(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.etat_civil)
    got = await _get(client, keys.finance, f"/v1/invoices/{inv['id']}")
    assert got["id"] == inv["id"] and got["service"] == "etat-civil"


# -------------------------------------------------------------------- list
async def _page_through(
    client: httpx.AsyncClient, key: str, limit: int, **filters: Any
) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    for _ in range(50):
        params = dict(filters, limit=limit)
        if cursor:
            params["starting_after"] = cursor
        body = await _get(client, key, "/v1/invoices", **params)
        assert body["object"] == "list"
        ids = [x["id"] for x in body["data"]]
        assert len(ids) <= limit
        pages.append(ids)
        if not body["has_more"]:
            assert body["next_starting_after"] is None
            return pages
        assert body["next_starting_after"] == ids[-1]
        cursor = body["next_starting_after"]
    raise AssertionError("pagination does not end")


async def test_list_cursor_pagination_has_no_duplicates_and_no_gaps(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    created = [
        (await create_invoice(client, keys.urbanisme, reference=f"R-{i:02d}"))["id"]
        for i in range(7)
    ]
    await create_invoice(client, keys.etat_civil, reference="OTHER")
    pages = await _page_through(client, keys.urbanisme, limit=3)
    assert [len(p) for p in pages] == [3, 3, 1]
    flat = [i for p in pages for i in p]
    assert len(flat) == len(set(flat)) == 7
    assert flat == list(reversed(created))  # newest first
    # an exact multiple of the page size ends with has_more false, not an empty page
    pages = await _page_through(client, keys.urbanisme, limit=7)
    assert pages == [list(reversed(created))]
    # default page
    body = await _get(client, keys.urbanisme, "/v1/invoices")
    assert [x["id"] for x in body["data"]] == list(reversed(created))
    assert body["has_more"] is False


async def test_list_pagination_ignores_invoices_created_after_the_first_page(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    old = [
        (await create_invoice(client, keys.urbanisme, reference=f"R-{i}"))["id"] for i in range(4)
    ]
    first = await _get(client, keys.urbanisme, "/v1/invoices", limit=2)
    await create_invoice(client, keys.urbanisme, reference="NEW")
    second = await _get(
        client,
        keys.urbanisme,
        "/v1/invoices",
        limit=2,
        starting_after=first["next_starting_after"],
    )
    ids = [x["id"] for x in first["data"] + second["data"]]
    assert ids == list(reversed(old))
    assert second["has_more"] is False


async def test_list_limit_bounds(client: httpx.AsyncClient, app: Any, keys: Keys) -> None:
    for bad in (0, 101, -1):
        r = await client.get("/v1/invoices", params={"limit": bad}, headers=Keys.h(keys.urbanisme))
        assert_error(r, 422, "parameter_invalid", "limit")


async def test_list_filter_by_status(client: httpx.AsyncClient, app: Any, keys: Keys) -> None:
    a = await create_invoice(client, keys.urbanisme, reference="A")
    b = await create_invoice(client, keys.urbanisme, reference="B")
    r = await client.post(f"/v1/invoices/{a['id']}/cancel", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200, r.text
    canceled = await _get(client, keys.urbanisme, "/v1/invoices", status="canceled")
    assert [x["id"] for x in canceled["data"]] == [a["id"]]
    opened = await _get(client, keys.urbanisme, "/v1/invoices", status="open")
    assert [x["id"] for x in opened["data"]] == [b["id"]]
    paid = await _get(client, keys.urbanisme, "/v1/invoices", status="paid")
    assert paid["data"] == []
    r = await client.get("/v1/invoices", params={"status": "bogus"}, headers=Keys.h(keys.urbanisme))
    assert_error(r, 422, "parameter_invalid", "status")


async def test_list_filter_by_reference(client: httpx.AsyncClient, app: Any, keys: Keys) -> None:
    await create_invoice(client, keys.urbanisme, reference="PC-1")
    b = await create_invoice(client, keys.urbanisme, reference="PC-2")
    await create_invoice(client, keys.etat_civil, reference="PC-2")
    body = await _get(client, keys.urbanisme, "/v1/invoices", reference="PC-2")
    assert [x["id"] for x in body["data"]] == [b["id"]]
    none = await _get(client, keys.urbanisme, "/v1/invoices", reference="PC-3")
    assert none["data"] == []


async def test_list_filter_by_created_range(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    invs = [await create_invoice(client, keys.urbanisme, reference=f"R-{i}") for i in range(4)]
    t1 = invs[1]["created_at"]
    t3 = invs[3]["created_at"]
    assert _parse(invs[0]["created_at"]) < _parse(t1) < _parse(invs[2]["created_at"])
    body = await _get(client, keys.urbanisme, "/v1/invoices", created_gte=t1)
    assert [x["id"] for x in body["data"]] == [invs[3]["id"], invs[2]["id"], invs[1]["id"]]
    body = await _get(client, keys.urbanisme, "/v1/invoices", created_lt=t1)
    assert [x["id"] for x in body["data"]] == [invs[0]["id"]]
    body = await _get(client, keys.urbanisme, "/v1/invoices", created_gte=t1, created_lt=t3)
    assert [x["id"] for x in body["data"]] == [invs[2]["id"], invs[1]["id"]]
    # the same instant written in another zone selects the same rows
    paris = _parse(t1).astimezone(dt.timezone(dt.timedelta(hours=1))).isoformat()
    body = await _get(client, keys.urbanisme, "/v1/invoices", created_gte=paris)
    assert len(body["data"]) == 3
    # a naive time is refused
    naive = _parse(t1).replace(tzinfo=None).isoformat()
    r = await client.get(
        "/v1/invoices", params={"created_gte": naive}, headers=Keys.h(keys.urbanisme)
    )
    assert_error(r, 422, "parameter_invalid", "created_gte")


async def test_list_filter_by_metadata(client: httpx.AsyncClient, app: Any, keys: Keys) -> None:
    a = await create_invoice(client, keys.urbanisme, reference="A", metadata={"dossier": "D1"})
    b = await create_invoice(
        client, keys.urbanisme, reference="B", metadata={"dossier": "D2", "x": "y"}
    )
    await create_invoice(client, keys.urbanisme, reference="C", metadata={"autre": "D1"})
    await create_invoice(client, keys.urbanisme, reference="D")
    body = await _get(
        client, keys.urbanisme, "/v1/invoices", metadata_key="dossier", metadata_value="D1"
    )
    assert [x["id"] for x in body["data"]] == [a["id"]]
    body = await _get(client, keys.urbanisme, "/v1/invoices", metadata_key="dossier")
    assert [x["id"] for x in body["data"]] == [b["id"], a["id"]]
    body = await _get(
        client, keys.urbanisme, "/v1/invoices", metadata_key="dossier", metadata_value="D3"
    )
    assert body["data"] == []
    # odd keys are refused, never turned into JSON-path syntax; a dot is data
    for odd in ('a"b', "a'b", "$.dossier", "dossier[0]"):
        r = await client.get(
            "/v1/invoices",
            params={"metadata_key": odd, "metadata_value": "D1"},
            headers=Keys.h(keys.urbanisme),
        )
        assert r.status_code == 422, odd
    body = await _get(
        client, keys.urbanisme, "/v1/invoices", metadata_key="a.b", metadata_value="D1"
    )
    assert body["data"] == []


async def test_list_filter_metadata_key_with_dots_matches_literally(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme, reference="A", metadata={"a.b": "1"})
    await create_invoice(client, keys.urbanisme, reference="B", metadata={"a": "x"})
    body = await _get(
        client, keys.urbanisme, "/v1/invoices", metadata_key="a.b", metadata_value="1"
    )
    assert [x["id"] for x in body["data"]] == [inv["id"]]


async def test_metadata_keys_outside_the_safe_character_set_are_refused(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    # keys are letters, digits and _ . : - so that they are safe in JSON paths on every backend
    r = await client.post(
        "/v1/invoices",
        json=invoice_body(reference="A", metadata={'q"k': "2"}),
        headers=Keys.h(keys.urbanisme),
    )
    assert r.status_code == 422
    assert r.json()["error"]["param"] == "metadata"
    r = await client.get(
        "/v1/invoices",
        params={"metadata_key": 'q"k', "metadata_value": "2"},
        headers=Keys.h(keys.urbanisme),
    )
    assert r.status_code == 422
    assert r.json()["error"]["param"] == "metadata_key"
    inv = await create_invoice(
        client, keys.urbanisme, reference="B", metadata={"dossier.no:2-a_b": "2"}
    )
    body = await _get(
        client, keys.urbanisme, "/v1/invoices", metadata_key="dossier.no:2-a_b", metadata_value="2"
    )
    assert [x["id"] for x in body["data"]] == [inv["id"]]


async def test_service_key_lists_only_its_own_invoices_finance_sees_all(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    u = [await create_invoice(client, keys.urbanisme, reference=f"U-{i}") for i in range(3)]
    e = [await create_invoice(client, keys.etat_civil, reference=f"E-{i}") for i in range(2)]
    mine = await _get(client, keys.urbanisme, "/v1/invoices")
    assert {x["id"] for x in mine["data"]} == {x["id"] for x in u}
    assert {x["service"] for x in mine["data"]} == {"urbanisme"}
    theirs = await _get(client, keys.etat_civil, "/v1/invoices")
    assert {x["id"] for x in theirs["data"]} == {x["id"] for x in e}
    # a cursor from another tenant's list does not reveal anything either
    leak = await _get(
        client, keys.etat_civil, "/v1/invoices", starting_after=u[-1]["id"], limit=100
    )
    assert {x["id"] for x in leak["data"]} <= {x["id"] for x in e}
    everything = await _get(client, keys.finance, "/v1/invoices")
    assert {x["id"] for x in everything["data"]} == {x["id"] for x in u + e}
    pages = await _page_through(client, keys.finance, limit=2)
    assert sorted(i for p in pages for i in p) == sorted(x["id"] for x in u + e)
    # filters apply to a finance key's wider view too
    both = await _get(client, keys.finance, "/v1/invoices", reference="U-0")
    assert [x["id"] for x in both["data"]] == [u[0]["id"]]


# ------------------------------------------------------------------ cancel
async def test_cancel_an_open_invoice_then_again_is_409(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    r = await client.post(f"/v1/invoices/{inv['id']}/cancel", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == inv["id"]
    assert body["status"] == "canceled"
    assert body["canceled_at"] is not None
    assert body["amount_due"] == 0
    got = await _get(client, keys.urbanisme, f"/v1/invoices/{inv['id']}")
    assert got["status"] == "canceled"
    async with app.state.db.session() as s:  # the audit row names the API as the cause
        audit = (
            await s.execute(select(StateChange).where(StateChange.invoice_id == inv["id"]))
        ).scalars()
        assert [(c.to_status, c.cause) for c in audit] == [
            ("open", "api:create"),
            ("canceled", "api:cancel"),
        ]
    again = await client.post(f"/v1/invoices/{inv['id']}/cancel", headers=Keys.h(keys.urbanisme))
    assert_error(again, 409, "invoice_not_cancelable")
    # the pay page no longer offers to pay, and pressing Pay creates no payment
    r = await client.post(f"/pay/{token_of(inv)}/checkout")
    assert r.status_code == 303 and "/_simulator/" not in r.headers["location"]


async def test_cancel_with_a_reason_body(client: httpx.AsyncClient, app: Any, keys: Keys) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    r = await client.post(
        f"/v1/invoices/{inv['id']}/cancel",
        json={"reason": "Demande retirée"},
        headers=Keys.h(keys.urbanisme),
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "canceled"


async def test_cancel_marks_a_pending_payment_canceled(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await start_checkout(client, inv)
    r = await client.post(f"/v1/invoices/{inv['id']}/cancel", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200, r.text
    (p,) = r.json()["payments"]
    assert p["status"] == "canceled"


# ---------------------------------------------------------------- payments
async def test_get_payment_own_and_other_tenant(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    result = await pay(client, inv, apply=app)
    assert PAY_RE.match(result.payment_id), result.payment_id
    p = await _get(client, keys.urbanisme, f"/v1/payments/{result.payment_id}")
    assert p["id"] == result.payment_id
    assert p["object"] == "payment"
    assert p["invoice"] == inv["id"]
    assert p["status"] == "succeeded"
    assert p["provider"] == "simulator"
    assert (p["amount"], p["currency"]) == (2500, "EUR")
    assert p["card"] == {"brand": "visa", "last4": "4242"}
    assert isinstance(p["fee"], int) and 0 < p["fee"] < 2500
    assert p["is_overpayment"] is False
    assert p["succeeded_at"] is not None
    # the invoice shows the same payment
    got = await _get(client, keys.urbanisme, f"/v1/invoices/{inv['id']}")
    assert got["status"] == "paid" and got["amount_paid"] == 2500 and got["amount_due"] == 0
    assert [x["id"] for x in got["payments"]] == [p["id"]]
    # another tenant: 404, not 403
    r = await client.get(f"/v1/payments/{result.payment_id}", headers=Keys.h(keys.etat_civil))
    assert_error(r, 404, "resource_missing")
    # finance sees it
    f = await _get(client, keys.finance, f"/v1/payments/{result.payment_id}")
    assert f["id"] == p["id"]
    # unknown and malformed payment ids
    r = await client.get(
        "/v1/payments/pay_01KAAAAAAAAAAAAAAAAAAAAAAA", headers=Keys.h(keys.urbanisme)
    )
    assert_error(r, 404, "resource_missing")
    r = await client.get(f"/v1/payments/{inv['id']}", headers=Keys.h(keys.urbanisme))
    assert_error(r, 404, "resource_missing", "payment_id")


async def test_declined_payment_is_failed_and_invoice_stays_open(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    result = await pay(client, inv, card="4000 0000 0000 0002", apply=app)
    assert result.payment_id
    p = await _get(client, keys.urbanisme, f"/v1/payments/{result.payment_id}")
    assert p["status"] == "failed"
    assert p["failure"] is not None and p["failure"]["code"]
    got = await _get(client, keys.urbanisme, f"/v1/invoices/{inv['id']}")
    assert got["status"] == "open" and got["amount_due"] == 2500


async def test_a_business_payer_carries_its_siret_and_vat_number(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv = await create_invoice(
        client,
        keys.urbanisme,
        payer={
            "name": "SARL Dupont Travaux",
            "company_id": "732 829 320 00074",
            "vat_number": "fr40303265045",
        },
    )
    assert inv["payer"] == {
        "name": "SARL Dupont Travaux",
        "email": None,
        "address": None,
        "company_id": "73282932000074",
        "vat_number": "FR40303265045",
    }
    for bad in ("732829321", "12345", "73282932000075", "abcdefghi"):
        r = await client.post(
            "/v1/invoices",
            json=invoice_body(reference=f"B-{bad}", payer={"name": "X", "company_id": bad}),
            headers=Keys.h(keys.urbanisme),
        )
        assert r.status_code == 422, bad
        assert r.json()["error"]["param"] == "payer.company_id"


async def test_the_simulator_accepts_amounts_stripe_would_refuse(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    """Only a default PSP that refuses an amount (Stripe) turns it away at creation."""
    for n, (amount, currency) in enumerate([(1, "EUR"), (5124, "KWD"), (250000, "MGA")]):
        r = await client.post(
            "/v1/invoices",
            json={"amount": amount, "currency": currency, "reference": f"SIM-{n}",
                  "description": "x", "payer": {"name": "A"}},
            headers=Keys.h(keys.urbanisme),
        )  # fmt: skip
        assert r.status_code == 201, r.text
    assert app.state.payments.providers.default.check_amount(1, "EUR") is None


async def test_a_cancels_reason_is_kept_with_the_cancellation(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    """The reason a service gives when it cancels an invoice is kept on the state change
    that explains the cancellation (it was validated, then thrown away)."""
    inv = await create_invoice(client, keys.urbanisme)
    r = await client.post(
        f"/v1/invoices/{inv['id']}/cancel",
        json={"reason": "Demande annulée par l'usager"},
        headers=Keys.h(keys.urbanisme),
    )
    assert r.status_code == 200 and r.json()["status"] == "canceled"
    async with app.state.db.session() as s:
        rows = (
            await s.execute(
                select(StateChange.cause, StateChange.note).where(
                    StateChange.invoice_id == inv["id"],
                    StateChange.object == "invoice",
                    StateChange.to_status == "canceled",
                )
            )
        ).all()
    assert [tuple(x) for x in rows] == [("api:cancel", "Demande annulée par l'usager")]
