"""``GET /v1/ledger/accounts`` and ``GET /v1/ledger/entries``: roles, pages, filters, and
balances that are exactly the sums of the postings after a payment and a refund."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import httpx
import pytest

from tests.conftest import Keys, create_invoice, pay


@pytest.fixture
async def books(client: httpx.AsyncClient, app: Any, keys: Keys) -> dict[str, Any]:
    """Invoice A paid (25.00, fee 0.63) and refunded 10.00; B open; C (etat-civil) open."""
    a = await create_invoice(client, keys.urbanisme, reference="L-A")
    await pay(client, a, apply=app)
    r = await client.post(
        f"/v1/invoices/{a['id']}/refunds", json={"amount": 1000}, headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 201, r.text
    b = await create_invoice(client, keys.urbanisme, reference="L-B", amount=700)
    c = await create_invoice(client, keys.etat_civil, reference="L-C", amount=300)
    return {"a": a["id"], "b": b["id"], "c": c["id"]}


async def get(client: httpx.AsyncClient, key: str, path: str, **params: Any) -> httpx.Response:
    return await client.get(f"/v1/ledger/{path}", params=params, headers=Keys.h(key))


async def all_entries(client: httpx.AsyncClient, key: str, **params: Any) -> list[dict[str, Any]]:
    r = await get(client, key, "entries", limit=500, **params)
    assert r.status_code == 200, r.text
    assert r.json()["has_more"] is False
    return r.json()["data"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", ["accounts", "entries"])
async def test_only_finance_and_admin_keys_read_the_books(
    client: httpx.AsyncClient, app: Any, keys: Keys, books: dict[str, Any], path: str
) -> None:
    for key in (keys.urbanisme, keys.etat_civil):
        r = await get(client, key, path)
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "insufficient_role"
    r = await client.get(f"/v1/ledger/{path}")
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    r = await client.get(f"/v1/ledger/{path}", headers=Keys.h("rk_test_fin_not_a_key"))
    assert r.status_code == 401
    for key in (keys.finance, keys.admin):
        r = await get(client, key, path)
        assert r.status_code == 200, r.text
        assert r.json()["object"] == "list" and r.json()["data"]


async def test_balances_after_a_payment_and_a_refund(
    client: httpx.AsyncClient, app: Any, keys: Keys, books: dict[str, Any]
) -> None:
    r = await get(client, keys.finance, "accounts")
    assert r.status_code == 200, r.text
    got = {(x["account"], x["currency"]): x for x in r.json()["data"]}
    # each balance with its account's natural sign: an income's credit balance is positive
    balance = {k: (v["type"], v["normal_side"], v["balance"]) for k, v in got.items()}
    assert balance == {
        ("assets:psp:simulator", "EUR"): ("asset", "debit", 2500 - 63 - 1000),
        ("expenses:psp_fees", "EUR"): ("expense", "debit", 63),
        ("income:urbanisme", "EUR"): ("income", "credit", 2500 + 700 - 1000),
        ("receivable:urbanisme", "EUR"): ("asset", "debit", 700),  # A is settled, B is due
        ("income:etat-civil", "EUR"): ("income", "credit", 300),
        ("receivable:etat-civil", "EUR"): ("asset", "debit", 300),
    }
    assert got[("income:urbanisme", "EUR")]["debit"] == 1000  # the refund
    assert got[("income:urbanisme", "EUR")]["credit"] == 3200  # A and B issued
    for x in got.values():  # the raw figures stay, and give the same balance
        sign = 1 if x["normal_side"] == "debit" else -1
        assert x["balance"] == sign * (x["debit"] - x["credit"])
    assert sum(x["debit"] - x["credit"] for x in got.values()) == 0
    # and they are exactly the sums of the journal's lines
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for e in await all_entries(client, keys.finance):
        for line in e["lines"]:
            sums[(line["account"], line["currency"])][0] += line["debit"]
            sums[(line["account"], line["currency"])][1] += line["credit"]
    assert {k: [v["debit"], v["credit"]] for k, v in got.items()} == dict(sums)


async def test_the_journal_of_one_invoice(
    client: httpx.AsyncClient, app: Any, keys: Keys, books: dict[str, Any]
) -> None:
    entries = await all_entries(client, keys.finance, invoice=books["a"])
    assert [e["kind"] for e in entries] == [
        "invoice_issued",
        "payment_succeeded",
        "psp_fee",
        "refund_succeeded",
    ]
    assert {e["invoice"] for e in entries} == {books["a"]}
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)  # oldest first
    refund = entries[-1]
    assert refund["lines"] == [
        {"account": "income:urbanisme", "currency": "EUR", "debit": 1000, "credit": 0},
        {"account": "assets:psp:simulator", "currency": "EUR", "debit": 0, "credit": 1000},
    ]
    for e in entries:
        assert e["object"] == "ledger_entry" and e["id"].startswith("je_")
        assert sum(x["debit"] - x["credit"] for x in e["lines"]) == 0
    assert await all_entries(client, keys.finance, invoice="inv_" + "Z" * 26) == []  # none
    other = await all_entries(client, keys.admin, invoice=books["c"])
    assert [e["kind"] for e in other] == ["invoice_issued"]


async def test_pages_walk_the_whole_journal_once(
    client: httpx.AsyncClient, app: Any, keys: Keys, books: dict[str, Any]
) -> None:
    everything = await all_entries(client, keys.finance)
    assert len(everything) == 6  # A: 4 entries, B and C: one each
    seen: list[int] = []
    after: int | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2}
        if after is not None:
            params["starting_after"] = after
        r = await get(client, keys.finance, "entries", **params)
        assert r.status_code == 200, r.text
        page = r.json()
        pages += 1
        assert len(page["data"]) <= 2
        seen += [e["seq"] for e in page["data"]]
        if not page["has_more"]:
            assert page["next_starting_after"] is None
            break
        assert page["next_starting_after"] == page["data"][-1]["seq"]
        after = page["next_starting_after"]
    assert pages == 3
    assert seen == [e["seq"] for e in everything]
    last = everything[-1]["seq"]
    r = await get(client, keys.finance, "entries", starting_after=last)
    assert r.json() == {
        "object": "list",
        "data": [],
        "has_more": False,
        "next_starting_after": None,
    }


async def test_filters_by_effective_time_and_account_prefix(
    client: httpx.AsyncClient, app: Any, keys: Keys, books: dict[str, Any]
) -> None:
    everything = await all_entries(client, keys.finance)
    refund = next(e for e in everything if e["kind"] == "refund_succeeded")
    at = refund["effective_at"]
    before = await all_entries(client, keys.finance, effective_lt=at)
    since = await all_entries(client, keys.finance, effective_gte=at)
    assert refund["id"] in {e["id"] for e in since}
    assert refund["id"] not in {e["id"] for e in before}
    assert sorted(e["seq"] for e in before + since) == [e["seq"] for e in everything]
    # the balances as of the refund: it is not in them yet
    r = await get(client, keys.finance, "accounts", as_of=at)
    assert r.status_code == 200, r.text
    as_of = {(x["account"], x["currency"]): x["balance"] for x in r.json()["data"]}
    assert as_of[("assets:psp:simulator", "EUR")] == 2500 - 63
    assert r.json()["as_of"] is not None
    # an account prefix
    r = await get(client, keys.finance, "accounts", prefix="receivable:")
    assert {x["account"] for x in r.json()["data"]} == {
        "receivable:urbanisme",
        "receivable:etat-civil",
    }
    r = await get(client, keys.finance, "accounts", prefix="receivable:etat")
    assert [(x["account"], x["balance"]) for x in r.json()["data"]] == [
        ("receivable:etat-civil", 300)
    ]
    # a prefix is text, never a pattern: "%" and "_" match only themselves
    for pattern in ("%", "receivable_", "receivable:%", "_"):
        r = await get(client, keys.finance, "accounts", prefix=pattern)
        assert r.status_code == 200 and r.json()["data"] == [], (pattern, r.text)


@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        ("entries", {"effective_gte": "2026-01-01T00:00:00"}, "effective_gte"),
        ("entries", {"effective_lt": "2026-01-01T00:00:00"}, "effective_lt"),
        ("accounts", {"as_of": "2026-01-01T00:00:00"}, "as_of"),
        ("entries", {"limit": 0}, "limit"),
        ("entries", {"limit": 501}, "limit"),
        ("entries", {"starting_after": -1}, "starting_after"),
        ("entries", {"effective_gte": "yesterday"}, "effective_gte"),
    ],
)
async def test_bad_parameters_are_422_naming_them(
    client: httpx.AsyncClient, app: Any, keys: Keys, path: str, params: dict[str, Any], param: str
) -> None:
    r = await get(client, keys.finance, path, **params)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["param"] == param
