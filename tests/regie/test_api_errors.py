"""Errors that help (issue 11, "API and CLI errors"): the header that is wrong, every field
that is wrong, amounts in cents, and a malformed id that is simply not found.

Each answer keeps the one error shape (``error.type``, ``code``, ``message``, ``param``), and
nothing is written.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import Keys, create_invoice, invoice_body
from tests.payments.test_bad_input import assert_error, row_counts

BODY = json.dumps(invoice_body()).encode()


# ------------------------------------------------------------------ Content-Type
@pytest.mark.parametrize(
    ("content_type", "says"),
    [
        (None, "no Content-Type"),
        ("text/plain", "text/plain"),
        ("application/x-www-form-urlencoded", "application/x-www-form-urlencoded"),
        ("multipart/form-data; boundary=x", "multipart/form-data"),
    ],
)
async def test_a_post_without_json_content_type_names_the_header(
    client: httpx.AsyncClient, app: Any, keys: Keys, content_type: str | None, says: str
) -> None:
    headers = Keys.h(keys.urbanisme)
    if content_type:
        headers["Content-Type"] = content_type
    before = await row_counts(app)
    r = await client.post("/v1/invoices", content=BODY, headers=headers)
    err = assert_error(r, 415, "content_type_invalid", "Content-Type")
    assert says in err["message"] and "application/json" in err["message"], err
    assert await row_counts(app) == before


async def test_a_json_subtype_and_a_charset_are_json(client: httpx.AsyncClient, keys: Keys) -> None:
    for ctype in ("application/json; charset=utf-8", "application/merge-patch+json"):
        body = json.dumps(invoice_body(reference=f"R-{len(ctype)}")).encode()
        r = await client.post(
            "/v1/invoices", content=body, headers=Keys.h(keys.urbanisme, **{"Content-Type": ctype})
        )
        assert r.status_code == 201, r.text


async def test_a_body_to_cancel_in_another_type_names_the_header(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    r = await client.post(
        f"/v1/invoices/{inv['id']}/cancel",
        content=b'{"reason": "x"}',
        headers=Keys.h(keys.urbanisme, **{"Content-Type": "text/plain"}),
    )
    assert_error(r, 415, "content_type_invalid", "Content-Type")
    # without a body, no Content-Type is needed
    r = await client.post(f"/v1/invoices/{inv['id']}/cancel", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200, r.text


# ------------------------------------------------------------------ every field
async def test_every_missing_or_invalid_field_is_listed(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    before = await row_counts(app)
    r = await client.post(
        "/v1/invoices",
        json={"amount": 2500, "currency": "eur", "payer": {"email": "not-an-email"}, "x": 1},
        headers=Keys.h(keys.urbanisme),
    )
    err = assert_error(r, 422, "parameter_invalid")
    listed = {(e["param"], e["code"]) for e in err["errors"]}
    assert listed == {
        ("currency", "parameter_invalid"),
        ("reference", "parameter_missing"),
        ("description", "parameter_missing"),
        ("payer.name", "parameter_missing"),
        ("payer.email", "parameter_invalid"),
        ("x", "parameter_unknown"),
    }, err["errors"]
    for e in err["errors"]:
        assert set(e) == {"code", "message", "param"} and e["message"].endswith("."), e
    # the first one stays where it always was (clients reading error.param keep working)
    first = err["errors"][0]
    assert (err["param"], err["code"]) == (first["param"], first["code"]), err
    assert err["message"].startswith(first["message"]), err
    assert "6 problems" in err["message"], err["message"]
    assert await row_counts(app) == before


async def test_one_invalid_field_is_a_list_of_one(client: httpx.AsyncClient, keys: Keys) -> None:
    r = await client.post(
        "/v1/invoices", json=invoice_body(currency="eur"), headers=Keys.h(keys.urbanisme)
    )
    err = assert_error(r, 422, "parameter_invalid", "currency")
    assert err["errors"] == [{"code": err["code"], "message": err["message"], "param": "currency"}]


async def test_every_invalid_line_is_listed(client: httpx.AsyncClient, keys: Keys) -> None:
    lines = [
        {"description": "ok", "unit_amount": 100},
        {"description": "", "unit_amount": 0},
        {"unit_amount": 1.5},
    ]
    body = invoice_body(amount=None, lines=lines)
    r = await client.post("/v1/invoices", json=body, headers=Keys.h(keys.urbanisme))
    err = assert_error(r, 422, "parameter_invalid")
    params = {e["param"] for e in err["errors"]}
    assert params == {
        "lines.1.description",
        "lines.1.unit_amount",
        "lines.2.description",
        "lines.2.unit_amount",
    }, err["errors"]


# ------------------------------------------------------------------ amounts in cents
@pytest.mark.parametrize("amount", [25.00, 25.5, "25.00", "2500"])
async def test_an_amount_that_is_not_an_integer_says_amounts_are_cents(
    client: httpx.AsyncClient, app: Any, keys: Keys, amount: Any
) -> None:
    raw = json.dumps(invoice_body()).replace('"amount": 2500', f'"amount": {json.dumps(amount)}')
    if amount == 25.00:
        raw = raw.replace('"amount": 25.0', '"amount": 25.00')  # as a person types it
    before = await row_counts(app)
    r = await client.post(
        "/v1/invoices",
        content=raw.encode(),
        headers=Keys.h(keys.urbanisme, **{"Content-Type": "application/json"}),
    )
    err = assert_error(r, 422, "parameter_invalid", "amount")
    message = err["message"]
    assert "integer" in message and "minor unit" in message and "cents" in message, message
    assert "2500" in message, message  # the example: 25.00 EUR is 2500
    assert await row_counts(app) == before


async def test_refund_and_line_amounts_say_cents_too(client: httpx.AsyncClient, keys: Keys) -> None:
    body = invoice_body(amount=None, lines=[{"description": "x", "unit_amount": 3.5}])
    r = await client.post("/v1/invoices", json=body, headers=Keys.h(keys.urbanisme))
    err = assert_error(r, 422, "parameter_invalid", "lines.0.unit_amount")
    assert "cents" in err["message"], err
    inv = await create_invoice(client, keys.urbanisme)
    r = await client.post(
        f"/v1/invoices/{inv['id']}/refunds",
        json={"amount": 10.0, "expected_refundable_amount": 25.0},
        headers=Keys.h(keys.urbanisme),
    )
    err = assert_error(r, 422, "parameter_invalid", "amount")
    assert [e["param"] for e in err["errors"]] == ["amount", "expected_refundable_amount"]
    assert all("cents" in e["message"] for e in err["errors"]), err


async def test_an_integer_out_of_range_keeps_its_own_message(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    r = await client.post(
        "/v1/invoices", json=invoice_body(amount=0), headers=Keys.h(keys.urbanisme)
    )
    err = assert_error(r, 422, "parameter_invalid", "amount")
    assert "cents" not in err["message"] and "greater than" in err["message"], err


# ------------------------------------------------------------------ malformed ids: 404
FINANCE_ONLY = {"/v1/ledger"}


@pytest.mark.parametrize(
    ("method", "path", "param"),
    [
        ("GET", "/v1/invoices/{bad}", "invoice_id"),
        ("POST", "/v1/invoices/{bad}/cancel", "invoice_id"),
        ("GET", "/v1/invoices/{bad}/refunds", "invoice_id"),
        ("POST", "/v1/invoices/{bad}/refunds", "invoice_id"),
        ("GET", "/v1/invoices/{bad}/receipt.pdf", "invoice_id"),
        ("GET", "/v1/invoices/{bad}/credit-notes/AV-2026-000001.pdf", "invoice_id"),
        ("GET", "/v1/payments/{badpay}", "payment_id"),
        ("GET", "/v1/webhook-deliveries/{baddel}", "delivery_id"),
        ("POST", "/v1/webhook-deliveries/{baddel}/resend", "delivery_id"),
    ],
)
@pytest.mark.parametrize("shape", ["nope", "123", "01kaaaaaaaaaaaaaaaaaaaaaaa", "' OR '1'='1"])
async def test_an_id_of_the_right_prefix_but_wrong_shape_is_404(
    client: httpx.AsyncClient, app: Any, keys: Keys, method: str, path: str, param: str, shape: str
) -> None:
    await create_invoice(client, keys.urbanisme)
    url = path.format(bad=f"inv_{shape}", badpay=f"pay_{shape}", baddel=f"del_{shape}")
    before = await row_counts(app)
    r = await client.request(method, url, headers=Keys.h(keys.urbanisme))
    err = assert_error(r, 404, "resource_missing", param)
    assert err["message"].startswith("No such "), err
    assert await row_counts(app) == before


async def test_a_malformed_credit_note_or_receipt_number_is_404(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    r = await client.get(
        f"/v1/invoices/{inv['id']}/credit-notes/AV-nope.pdf", headers=Keys.h(keys.urbanisme)
    )
    assert_error(r, 404, "resource_missing", "number")
    r = await client.get("/v1/receipts/2026-nope/verify?c=abc")
    assert_error(r, 404, "resource_missing", "number")


async def test_a_malformed_id_without_a_key_is_still_401(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/invoices/inv_nope")
    assert r.status_code == 401, r.text


async def test_a_reconciliation_lists_every_invalid_field_too(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    as_json = {"json": {"period_from": "nope"}}
    as_files = {"data": {"period_from": "nope"}, "files": {"stripe_csv": ("p.csv", b"x")}}
    for send in (as_json, as_files):
        r = await client.post("/v1/reconciliations", headers=Keys.h(keys.finance), **send)  # type: ignore[arg-type]
        err = assert_error(r, 422, "parameter_invalid", "period_from")
        assert [e["param"] for e in err["errors"]] == ["period_from", "period_to"], err


async def test_a_reconciliation_in_another_type_names_the_header(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    r = await client.post(
        "/v1/reconciliations", headers=Keys.h(keys.finance), data={"period_from": "2026-12-01"}
    )
    err = assert_error(r, 415, "content_type_invalid", "Content-Type")
    assert "application/x-www-form-urlencoded" in err["message"], err
    assert "multipart/form-data" in err["message"] and "application/json" in err["message"]


async def test_every_invalid_query_parameter_is_listed(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    r = await client.get(
        "/v1/invoices", params={"limit": 0, "status": "nope"}, headers=Keys.h(keys.urbanisme)
    )
    err = assert_error(r, 422, "parameter_invalid", "limit")
    assert [e["param"] for e in err["errors"]] == ["limit", "status"], err


async def test_a_post_with_no_body_at_all_is_a_missing_body_not_a_content_type_error(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    """Found by schemathesis: a POST with no body and no Content-Type was told that it 'has a
    body but no Content-Type header' (415); nothing was sent, so the body is missing (422)."""
    r = await client.post("/v1/webhook-endpoints", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "parameter_missing"
