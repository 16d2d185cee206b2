"""The edge guard (``regie.kit.guards``), generated from the app's route table.

Every route (and every static mount) is called with a NUL character in a path segment, in
the query string and in a JSON body's string; every date-time query parameter with an
instant that overflows in UTC. Each answer is a 4xx in the one error shape, never a 500:
PostgreSQL refuses NUL in text and jsonb, so without the guard these reached the database.
A route added tomorrow is in the table, so it is covered without a line here.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import typing
from typing import Any
from urllib.parse import quote

import httpx
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy import text
from starlette.routing import Mount, Route

from tests.conftest import Keys, create_invoice, token_of
from tests.payments.test_bad_input import assert_error, row_counts

NUL = "a\x00b"
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
EXTREME_INSTANTS = (
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00",
)


def _annotations(annotation: Any) -> set[Any]:
    args = typing.get_args(annotation)
    return {annotation} | {a for arg in args for a in _annotations(arg)}


def _routes(app: Any) -> list[tuple[str, str, Any]]:
    """(method, path template, API route or None) for every route of ``app.routes`` (FastAPI
    >= 0.16x keeps included routers as lazy entries: ``iter_route_contexts`` flattens
    them), plus one GET per static mount."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is already flat
        flat = [(getattr(r, "path", ""), r) for r in app.routes]
    else:
        flat = [(c.path, c.original_route) for c in iter_route_contexts(app.routes)]
    out: list[tuple[str, str, Any]] = []
    for path, route in flat:
        if isinstance(route, Mount):
            out.append(("GET", path + "/{file}", None))
        elif isinstance(route, Route | APIRoute):
            api = route if isinstance(route, APIRoute) else None
            out += [(m, path, api) for m in sorted(route.methods or ()) if m != "HEAD"]
    return out


def _fill(template: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda _: quote(value, safe=""), template)


def _query_params(route: Any) -> list[tuple[str, Any]]:
    if route is None:
        return []
    return [(p.alias, p.field_info.annotation) for p in route.dependant.query_params]


def _body_with_nul(route: Any) -> dict[str, Any]:
    """A JSON body naming the route's own fields, each holding a NUL (its first model's
    fields; a route reading the raw body gets a field of its own)."""
    body: dict[str, Any] = {"note": NUL}
    if route is not None:
        for param in route.dependant.body_params:
            for kind in _annotations(param.field_info.annotation):
                if isinstance(kind, type) and issubclass(kind, BaseModel):
                    body |= dict.fromkeys(kind.model_fields, NUL)
    return body


async def test_every_route_refuses_nul_in_path_query_and_json_body(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    routes = _routes(app)
    assert len(routes) > 40, routes  # the whole table, not a stub
    headers = Keys.h(keys.admin)
    before = await row_counts(app)
    wrong: list[str] = []

    def expect(label: str, r: httpx.Response) -> None:
        try:
            if label.split()[1].startswith("/finance/"):
                assert_nul_page(r)  # the workspace's errors are pages
            else:
                assert_error(r, 400, "invalid_character")
        except AssertionError as exc:
            wrong.append(f"{label}: {r.status_code} {r.text[:200]} ({exc})"[:400])

    for method, template, route in routes:
        path = _fill(template, NUL) if "{" in template else template + quote(NUL)
        expect(f"{method} {template} path", await client.request(method, path, headers=headers))

        ok_path = _fill(template, "x1")
        query = {name: NUL for name, _ in _query_params(route)} | {"q": NUL}
        r = await client.request(method, ok_path, params=query, headers=headers)
        expect(f"{method} {template} query", r)

        if method in BODY_METHODS:
            r = await client.request(method, ok_path, json=_body_with_nul(route), headers=headers)
            expect(f"{method} {template} json body", r)
    assert not wrong, "\n".join(wrong)
    assert await row_counts(app) == before


async def test_every_date_time_query_parameter_refuses_instants_that_overflow(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    checked = 0
    wrong: list[str] = []
    for method, template, route in _routes(app):
        for name, annotation in _query_params(route):
            if dt.datetime not in _annotations(annotation):
                continue
            for instant in EXTREME_INSTANTS:
                checked += 1
                r = await client.request(
                    method,
                    _fill(template, "x1"),
                    params={name: instant},
                    headers=Keys.h(keys.admin),
                )
                try:
                    assert_error(r, 422, "parameter_invalid", param=name)
                except AssertionError as exc:
                    wrong.append(f"{method} {template} {name}={instant}: {exc}"[:400])
    assert checked >= 3 * 3, checked  # invoices' created_gte/created_lt, the ledger's at
    assert not wrong, "\n".join(wrong)


async def test_nul_in_a_pay_link_is_400_without_a_key(client: httpx.AsyncClient) -> None:
    for path in ("/pay/a%00b", "/pay/a%00b/return", "/r/a%00b"):
        assert_error(await client.get(path), 400, "invalid_character")
    assert_error(await client.post("/pay/a%00b/checkout"), 400, "invalid_character")


async def test_nul_in_an_invoice_is_refused_and_writes_nothing(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    await create_invoice(client, keys.urbanisme, metadata={"dossier": "PC-1"})
    before = await row_counts(app)
    bodies = [
        {"payer": {"name": "Camille\x00Martin"}},
        {"metadata": {"dossier": "PC\x002"}},
        {"metadata": {"dos\x00sier": "PC-2"}},
        {"reference": "\x00"},
    ]
    for change in bodies:
        body = {
            "amount": 2500,
            "currency": "EUR",
            "reference": "PC-2026-0002",
            "description": "Permis",
            "payer": {"name": "Camille Martin"},
        } | change
        r = await client.post("/v1/invoices", json=body, headers=Keys.h(keys.urbanisme))
        assert_error(r, 400, "invalid_character")
    assert await row_counts(app) == before
    # the tenant's metadata filters keep working, for finance keys too
    for key in (keys.urbanisme, keys.finance):
        r = await client.get(
            "/v1/invoices",
            params={"metadata_key": "dossier", "metadata_value": "PC-1"},
            headers=Keys.h(key),
        )
        assert r.status_code == 200, r.text
        assert len(r.json()["data"]) == 1, r.text


async def test_out_of_range_instants_in_a_body_and_huge_numbers_are_422(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    before = await row_counts(app)
    base = {
        "amount": 2500,
        "currency": "EUR",
        "reference": "PC-2026-0003",
        "description": "Permis",
        "payer": {"name": "Camille Martin"},
    }
    out_of_range = "The date is out of range: its UTC instant must be within 0001–9999."
    for change, code, param, message in (
        ({"expires_at": "9999-12-31T23:59:59-14:00"}, "parameter_invalid", "expires_at",
         out_of_range),
        ({"expires_at": "0001-01-01T00:00:00+14:00"}, "parameter_invalid", "expires_at",
         out_of_range),
        ({"amount": 10**30}, "amount_too_large", "amount", None),  # the model's bound
        ({"metadata": {"n": 1e300}}, "parameter_invalid", "metadata.n", None),
    ):  # fmt: skip
        r = await client.post("/v1/invoices", json=base | change, headers=Keys.h(keys.urbanisme))
        err = assert_error(r, 422, code, param=param)
        assert message is None or err["message"] == message, err
    assert await row_counts(app) == before


async def test_an_event_nested_deeper_than_the_guard_walks_is_refused_and_says_so(
    client: httpx.AsyncClient, app: Any
) -> None:
    """A PSP's event (whose numbers the guard walks too) deeper than the guard's 64 levels
    but well within what the JSON parser reads (a parser's own limit is
    ``test_absurdly_nested_json_is_a_400_not_a_500``): a 400 in the one error shape that
    says why, before its signature is even read, and nothing stored."""
    deep: Any = 1
    for _ in range(100):
        deep = {"k": deep}
    before = await row_counts(app)
    r = await client.post("/webhooks/simulator", json={"id": "evt_deep", "data": deep})
    err = assert_error(r, 400, "invalid_event")
    assert err["message"] == "The JSON body is nested too deeply.", err
    assert await row_counts(app) == before


async def test_plausible_values_pass_the_guard(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    """Control: what the guard must not refuse."""
    invoice = await create_invoice(
        client, keys.urbanisme, payer={"name": "Zoé \\u0000 d'Arc"}, metadata={"k": "a\\u0000"}
    )
    assert invoice["payer"]["name"] == "Zoé \\u0000 d'Arc"  # an escaped backslash, no NUL
    for instant in ("0001-01-03T00:00:00+14:00", "2026-01-01T00:00:00+14:00"):
        r = await client.get(
            "/v1/invoices", params={"created_gte": instant}, headers=Keys.h(keys.urbanisme)
        )
        assert r.status_code == 200, r.text
    r = await client.get(f"/pay/{token_of(invoice)}")
    assert r.status_code == 200


def assert_nul_page(r: httpx.Response) -> None:
    """The workspace's page for a NUL character: a 400, in HTML, that names it."""
    assert r.status_code == 400, r.text[:200]
    assert r.headers["content-type"].startswith("text/html"), r.headers
    assert "U+0000" in r.text and "Traceback" not in r.text


async def test_nul_in_a_form_field_is_400(client: httpx.AsyncClient, app: Any) -> None:
    r = await client.post(
        "/finance/login", data={"key": "rk_test_fin_\x00"}, headers={"origin": "http://testserver"}
    )
    assert_nul_page(r)  # a page: the sign-in form is the workspace's
    r = await client.post("/v1/invoices", content=b"a=\x00", headers={
        "content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert_error(r, 400, "invalid_character")  # the API's JSON elsewhere


async def test_metadata_stored_with_nul_before_the_guard_is_cleaned_by_migration_0016(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    """A NUL stored in metadata before the guard (PostgreSQL's json keeps it) broke every
    later metadata filter; migration 0016 replaces it with U+FFFD."""
    import importlib

    migration = importlib.import_module("migrations.versions.0016_harden_metadata_nul")
    invoice = await create_invoice(client, keys.urbanisme, metadata={"dossier": "PC-1"})
    broken = json.dumps({"dossier": "PC-1", "note": "a\x00b", "n\x00": "x"})
    cast = "CAST(:m AS json)" if app.state.db.is_postgres else ":m"
    async with app.state.db.engine.begin() as conn:
        await conn.execute(
            text(f"UPDATE invoices SET metadata = {cast} WHERE id = :id"),
            {"m": broken, "id": invoice["id"]},
        )
        assert await conn.run_sync(migration.clean_metadata) == 1
        assert await conn.run_sync(migration.clean_metadata) == 0  # once is enough
    for key in (keys.urbanisme, keys.finance):
        r = await client.get(
            "/v1/invoices",
            params={"metadata_key": "note", "metadata_value": "a\ufffdb"},
            headers=Keys.h(key),
        )
        assert r.status_code == 200, r.text
        assert [i["id"] for i in r.json()["data"]] == [invoice["id"]]
    r = await client.get(f"/v1/invoices/{invoice['id']}", headers=Keys.h(keys.urbanisme))
    assert r.json()["metadata"] == {"dossier": "PC-1", "note": "a\ufffdb", "n\ufffd": "x"}


async def test_a_json_body_in_utf_16_or_32_is_guarded_as_in_utf_8(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    """JSON may come in UTF-16 or UTF-32 (the route's parser reads them, RFC 4627's
    detection): the NUL, the lone surrogate and the out-of-range instant the guard refuses in
    UTF-8 are refused in them too, never stored (PostgreSQL refuses a NUL: a 500 there)."""
    before = await row_counts(app)
    base = {
        "amount": 2500,
        "currency": "EUR",
        "reference": "PC-2026-0016",
        "description": "Permis",
        "payer": {"name": "Camille Martin"},
    }
    for encoding in ("utf-16", "utf-16-be", "utf-32"):
        for change, status, code in (
            ({"description": "Per\x00mis"}, 400, "invalid_character"),
            ({"metadata": {"k": "a\ud800"}}, 400, "invalid_character"),
            ({"expires_at": "9999-12-31T23:59:59-14:00"}, 422, "parameter_invalid"),
        ):
            raw = json.dumps(base | change).encode(encoding, "surrogatepass")
            for path in ("/v1/invoices", "/v1/invoice-batches"):
                body = raw if path == "/v1/invoices" else json.dumps(
                    {"invoices": [base | change]}).encode(encoding, "surrogatepass")  # fmt: skip
                r = await client.post(
                    path,
                    content=body,
                    headers=Keys.h(keys.urbanisme, **{"Content-Type": "application/json"}),
                )
                assert_error(r, status, code)
    assert await row_counts(app) == before
