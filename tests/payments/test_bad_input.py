"""Every item of issue 2's "Bad input" list, through the HTTP API.

Each bad request must get a clear 4xx in the one error shape
(``{"error": {"type", "code", "message", "param"?}}``), leak no stack trace or SQL, and
write nothing: the row counts of the payments tables (and the gap-free invoice counter)
are the same before and after.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from payments.models import Invoice, InvoiceLine, Payment, StateChange
from payments.signing import sign
from regie.app import create_app
from regie.kit.sequences import Sequence
from regie.kit.tenancy import Role, create_key, create_service, revoke_key
from tests.conftest import (
    BASE_URL,
    Keys,
    _truncate,
    create_invoice,
    invoice_body,
    pay,
    start_checkout,
    token_of,
)
from webhooks.inbound.models import InboxEvent

ERROR_KEYS = {"type", "code", "message", "param", "errors"}
LEAK_MARKERS = re.compile(
    r"Traceback|File \"|sqlalchemy|asyncpg|aiosqlite|psycopg|IntegrityError|"
    r"\bSELECT\b|\bINSERT INTO\b|\bUPDATE\b .* \bSET\b|\bFROM invoices\b",
    re.IGNORECASE,
)


# ------------------------------------------------------------------ helpers
def assert_no_leak(resp: httpx.Response) -> None:
    assert not LEAK_MARKERS.search(resp.text), resp.text


def assert_error(
    resp: httpx.Response, status: int, code: str, param: str | None = None
) -> dict[str, Any]:
    """The one error shape, with this status, code and (when given) param."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json"), resp.headers
    body = resp.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert isinstance(err, dict)
    assert {"type", "code", "message"} <= set(err) <= ERROR_KEYS, err
    assert isinstance(err["type"], str) and err["type"], err
    assert isinstance(err["message"], str) and err["message"].strip(), err
    assert err["code"] == code, err
    if param is not None:
        assert err.get("param") == param, err
    assert_no_leak(resp)
    return err  # type: ignore[no-any-return]


COUNTED = (Invoice, InvoiceLine, Payment, StateChange, InboxEvent)


async def row_counts(app: Any) -> dict[str, int]:
    """Rows in the tables a request could write, plus the invoice counter's total."""
    out: dict[str, int] = {}
    async with app.state.db.session() as s:
        for model in COUNTED:
            n = (await s.execute(select(func.count()).select_from(model))).scalar_one()
            out[model.__tablename__] = int(n)
        total = (await s.execute(select(func.coalesce(func.sum(Sequence.last_value), 0)))).scalar()
        out["number_sequences.sum"] = int(total or 0)
    return out


async def post_invoice(
    client: httpx.AsyncClient, key: str, body: Any, **headers: str
) -> httpx.Response:
    return await client.post("/v1/invoices", json=body, headers=Keys.h(key, **headers))


async def assert_rejected(
    client: httpx.AsyncClient,
    app: Any,
    key: str,
    body: Any,
    status: int,
    code: str,
    param: str | None = None,
) -> dict[str, Any]:
    before = await row_counts(app)
    resp = await post_invoice(client, key, body)
    err = assert_error(resp, status, code, param)
    assert await row_counts(app) == before
    return err


# ------------------------------------------------------------- body format
@pytest.mark.parametrize(
    "raw",
    [
        b'{"amount": 2500, "currency": "EUR",',
        b"{'amount': 2500}",
        b'{"amount": 2500} trailing',
        b"\xff\xfe{}",
        b"{amount: 2500}",
    ],
    ids=["truncated", "single-quotes", "trailing-garbage", "not-utf8", "bare-keys"],
)
async def test_malformed_json_is_400_invalid_json(
    client: httpx.AsyncClient, app: Any, keys: Keys, raw: bytes
) -> None:
    before = await row_counts(app)
    resp = await client.post(
        "/v1/invoices",
        content=raw,
        headers=Keys.h(keys.urbanisme, **{"Content-Type": "application/json"}),
    )
    assert_error(resp, 400, "invalid_json")
    assert await row_counts(app) == before


async def test_absurdly_nested_json_is_a_400_not_a_500(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    raw = b"[" * 30_000 + b"]" * 30_000  # under 64 KiB, deeper than the parser goes
    before = await row_counts(app)
    resp = await client.post(
        "/v1/invoices",
        content=raw,
        headers=Keys.h(keys.urbanisme, **{"Content-Type": "application/json"}),
    )
    assert_error(resp, 400, resp.json()["error"]["code"])
    assert await row_counts(app) == before


async def test_unknown_route_and_method_use_the_error_shape(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    assert_error(await client.get("/v1/nope", headers=Keys.h(keys.urbanisme)), 404, "not_found")
    resp = await client.delete("/v1/invoices", headers=Keys.h(keys.urbanisme))
    assert_error(resp, 405, "method_not_allowed")


def _big_body(size: int) -> bytes:
    body = invoice_body(description="x" * size)
    return json.dumps(body).encode()


async def test_body_over_64_kib_by_content_length_is_413(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    raw = _big_body(70 * 1024)
    assert len(raw) > 64 * 1024
    before = await row_counts(app)
    resp = await client.post(
        "/v1/invoices",
        content=raw,
        headers=Keys.h(keys.urbanisme, **{"Content-Type": "application/json"}),
    )
    assert_error(resp, 413, "body_too_large")
    assert await row_counts(app) == before


async def test_body_over_64_kib_streamed_without_content_length_is_413(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    raw = _big_body(70 * 1024)
    chunks = [raw[i : i + 4096] for i in range(0, len(raw), 4096)]

    async def stream() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    request = client.build_request(
        "POST",
        "/v1/invoices",
        content=stream(),
        headers=Keys.h(keys.urbanisme, **{"Content-Type": "application/json"}),
    )
    assert "content-length" not in request.headers
    assert request.headers.get("transfer-encoding") == "chunked"
    before = await row_counts(app)
    resp = await client.send(request)
    assert_error(resp, 413, "body_too_large")
    assert await row_counts(app) == before


async def test_body_just_under_the_limit_is_not_413(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    # the limit is 64 KiB, not something smaller: a 60 KiB body reaches validation
    raw = _big_body(60 * 1024)
    assert 60 * 1024 < len(raw) < 64 * 1024
    resp = await client.post(
        "/v1/invoices",
        content=raw,
        headers=Keys.h(keys.urbanisme, **{"Content-Type": "application/json"}),
    )
    assert_error(resp, 422, "parameter_invalid", "description")


# ------------------------------------------------------------------ amount
async def test_amount_negative_is_422(client: httpx.AsyncClient, app: Any, keys: Keys) -> None:
    await assert_rejected(
        client, app, keys.urbanisme, invoice_body(amount=-2500), 422, "parameter_invalid", "amount"
    )


async def test_amount_zero_is_422(client: httpx.AsyncClient, app: Any, keys: Keys) -> None:
    await assert_rejected(
        client, app, keys.urbanisme, invoice_body(amount=0), 422, "parameter_invalid", "amount"
    )


@pytest.mark.parametrize("amount", [25.0, 25.5, 2500.0])
async def test_amount_float_is_422_never_coerced(
    client: httpx.AsyncClient, app: Any, keys: Keys, amount: float
) -> None:
    await assert_rejected(
        client, app, keys.urbanisme, invoice_body(amount=amount), 422, "parameter_invalid", "amount"
    )


async def test_amount_float_in_raw_json_is_422(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    # "2500.0" in the JSON text itself, not a Python float serialised by httpx
    raw = json.dumps(invoice_body()).replace('"amount": 2500', '"amount": 2500.0').encode()
    assert b'"amount": 2500.0' in raw
    before = await row_counts(app)
    resp = await client.post(
        "/v1/invoices",
        content=raw,
        headers=Keys.h(keys.urbanisme, **{"Content-Type": "application/json"}),
    )
    assert_error(resp, 422, "parameter_invalid", "amount")
    assert await row_counts(app) == before


@pytest.mark.parametrize("amount", ["2500", "25.00"])
async def test_amount_string_is_422(
    client: httpx.AsyncClient, app: Any, keys: Keys, amount: str
) -> None:
    await assert_rejected(
        client, app, keys.urbanisme, invoice_body(amount=amount), 422, "parameter_invalid", "amount"
    )


@pytest.mark.parametrize("amount", [True, False])
async def test_amount_boolean_is_422(
    client: httpx.AsyncClient, app: Any, keys: Keys, amount: bool
) -> None:
    await assert_rejected(
        client, app, keys.urbanisme, invoice_body(amount=amount), 422, "parameter_invalid", "amount"
    )


@pytest.mark.parametrize("amount", [100_000_000, 2**63, 10**30])
async def test_amount_over_the_default_maximum_is_422(
    client: httpx.AsyncClient, app: Any, keys: Keys, amount: int
) -> None:
    # default REGIE_MAX_AMOUNT is 99 999 999; 2**63 would overflow a BIGINT
    await assert_rejected(
        client, app, keys.urbanisme, invoice_body(amount=amount), 422, "amount_too_large", "amount"
    )


@pytest.fixture
async def capped(settings_factory: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Any, str]]:
    """An app whose REGIE_MAX_AMOUNT is 10 000, with one service key."""
    settings = settings_factory(max_amount=10_000)
    await _truncate(settings.database_url)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        async with application.state.db.session() as s:
            svc = await create_service(s, "urbanisme", "Mairie – Urbanisme")
            raw = (await create_key(s, svc, Role.service, live=False))[1]
            await s.commit()
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as c:
            yield c, application, raw


async def test_amount_over_the_configured_maximum_is_422(
    capped: tuple[httpx.AsyncClient, Any, str],
) -> None:
    client, app, key = capped
    await assert_rejected(
        client, app, key, invoice_body(amount=10_001), 422, "amount_too_large", "amount"
    )
    # the maximum itself is allowed: the limit is the configured one, not a constant
    resp = await post_invoice(client, key, invoice_body(amount=10_000))
    assert resp.status_code == 201, resp.text
    assert resp.json()["amount_total"] == 10_000


async def test_line_total_over_the_configured_maximum_is_422(
    capped: tuple[httpx.AsyncClient, Any, str],
) -> None:
    client, app, key = capped
    lines = [
        {"description": "Frais de dossier", "quantity": 1, "unit_amount": 6_000},
        {"description": "Timbre", "quantity": 1, "unit_amount": 6_000},
    ]
    err = await assert_rejected(
        client, app, key, invoice_body(amount=None, lines=lines), 422, "amount_too_large"
    )
    assert err["param"] in ("amount", "lines")


async def test_line_quantity_times_unit_over_the_configured_maximum_is_422(
    capped: tuple[httpx.AsyncClient, Any, str],
) -> None:
    client, app, key = capped
    lines = [{"description": "Repas", "quantity": 3, "unit_amount": 4_000}]
    await assert_rejected(
        client,
        app,
        key,
        invoice_body(amount=None, lines=lines),
        422,
        "amount_too_large",
        "lines.0.unit_amount",
    )


# ---------------------------------------------------------------- currency
async def test_currency_not_iso_4217_is_422(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    await assert_rejected(
        client,
        app,
        keys.urbanisme,
        invoice_body(currency="EUX"),
        422,
        "parameter_invalid",
        "currency",
    )


async def test_currency_in_lower_case_is_422(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    await assert_rejected(
        client,
        app,
        keys.urbanisme,
        invoice_body(currency="eur"),
        422,
        "parameter_invalid",
        "currency",
    )


# ------------------------------------------------------------------- lines
async def test_more_than_100_lines_is_422(client: httpx.AsyncClient, app: Any, keys: Keys) -> None:
    lines = [{"description": f"Ligne {i}", "quantity": 1, "unit_amount": 100} for i in range(101)]
    await assert_rejected(
        client,
        app,
        keys.urbanisme,
        invoice_body(amount=None, lines=lines),
        422,
        "parameter_invalid",
        "lines",
    )


# ---------------------------------------------------------- unknown fields
async def test_unknown_top_level_field_is_422(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    await assert_rejected(
        client,
        app,
        keys.urbanisme,
        invoice_body(amout=2500),
        422,
        "parameter_unknown",
        "amout",
    )


async def test_unknown_field_inside_payer_is_422(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    payer = {"name": "Camille Martin", "email": "camille@example.org", "iban": "FR76..."}
    await assert_rejected(
        client,
        app,
        keys.urbanisme,
        invoice_body(payer=payer),
        422,
        "parameter_unknown",
        "payer.iban",
    )


async def test_unknown_field_inside_a_line_is_422(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    lines = [
        {"description": "Frais", "quantity": 1, "unit_amount": 1000},
        {"description": "Timbre", "quantity": 1, "unit_amount": 500, "vat_rate": 20},
    ]
    await assert_rejected(
        client,
        app,
        keys.urbanisme,
        invoice_body(amount=None, lines=lines),
        422,
        "parameter_unknown",
        "lines.1.vat_rate",
    )


# ---------------------------------------------------------------- metadata
async def test_metadata_with_too_many_keys_is_422(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    metadata = {f"k{i}": "v" for i in range(21)}
    await assert_rejected(
        client,
        app,
        keys.urbanisme,
        invoice_body(metadata=metadata),
        422,
        "parameter_invalid",
        "metadata",
    )


async def test_metadata_key_too_long_is_422(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    await assert_rejected(
        client,
        app,
        keys.urbanisme,
        invoice_body(metadata={"k" * 41: "v"}),
        422,
        "parameter_invalid",
        "metadata",
    )


async def test_metadata_value_too_long_is_422(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    await assert_rejected(
        client,
        app,
        keys.urbanisme,
        invoice_body(metadata={"dossier": "v" * 501}),
        422,
        "parameter_invalid",
        "metadata",
    )


@pytest.mark.parametrize("value", [42, True, None, {"nested": "x"}, ["a"]])
async def test_metadata_non_string_value_is_422(
    client: httpx.AsyncClient, app: Any, keys: Keys, value: Any
) -> None:
    err = await assert_rejected(
        client,
        app,
        keys.urbanisme,
        invoice_body(metadata={"dossier": value}),
        422,
        "parameter_invalid",
        "metadata.dossier",
    )
    assert "string" in err["message"].lower(), err


async def test_metadata_at_its_limits_is_accepted(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    # control for the four tests above: the limits are 20 keys, 40 and 500 characters
    metadata = {f"{i:02d}" + "k" * 38: "v" * 500 for i in range(20)}
    inv = await create_invoice(client, keys.urbanisme, metadata=metadata)
    assert inv["metadata"] == metadata


# -------------------------------------------------------------- return_url
@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.cookie)",
        "JavaScript://example.org/%0Aalert(1)",
        "ftp://example.org/retour",
        "/retour/relative",
        "example.org/retour",
        "https://",
        "data:text/html,<script>alert(1)</script>",
    ],
)
async def test_non_http_return_url_is_422(
    client: httpx.AsyncClient, app: Any, keys: Keys, url: str
) -> None:
    await assert_rejected(
        client,
        app,
        keys.urbanisme,
        invoice_body(return_url=url),
        422,
        "parameter_invalid",
        "return_url",
    )


# -------------------------------------------------------------- expires_at
@pytest.mark.parametrize(
    "ahead", [dt.timedelta(days=-1), dt.timedelta(minutes=10)], ids=["past", "too-soon"]
)
async def test_expires_at_in_the_past_or_too_soon_is_422_and_says_the_rule(
    client: httpx.AsyncClient, app: Any, keys: Keys, ahead: dt.timedelta
) -> None:
    """A link that would expire before a citizen could pay (or before the PSP accepts it):
    refused, with the rule the client service must follow."""
    at = (dt.datetime.now(dt.UTC) + ahead).isoformat()
    err = await assert_rejected(
        client,
        app,
        keys.urbanisme,
        invoice_body(expires_at=at),
        422,
        "parameter_invalid",
        "expires_at",
    )
    assert err["message"] == "expires_at must be at least 30 minutes in the future.", err


async def test_naive_expires_at_is_422(client: httpx.AsyncClient, app: Any, keys: Keys) -> None:
    naive = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).replace(tzinfo=None).isoformat()
    await assert_rejected(
        client,
        app,
        keys.urbanisme,
        invoice_body(expires_at=naive),
        422,
        "parameter_invalid",
        "expires_at",
    )


# ------------------------------------------------------------ unknown ids
UNKNOWN_INVOICE = "inv_01KAAAAAAAAAAAAAAAAAAAAAAA"


async def test_unknown_well_formed_invoice_id_is_404(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    await create_invoice(client, keys.urbanisme)
    resp = await client.get(f"/v1/invoices/{UNKNOWN_INVOICE}", headers=Keys.h(keys.urbanisme))
    assert_error(resp, 404, "resource_missing")
    before = await row_counts(app)
    resp = await client.post(
        f"/v1/invoices/{UNKNOWN_INVOICE}/cancel", headers=Keys.h(keys.urbanisme)
    )
    assert_error(resp, 404, "resource_missing")
    assert await row_counts(app) == before


@pytest.mark.parametrize(
    "bad_id",
    [
        "inv_123",
        "pay_01KAAAAAAAAAAAAAAAAAAAAAAA",
        "inv_' OR '1'='1",
        "inv_01kaaaaaaaaaaaaaaaaaaaaa",
        "x" * 300,
    ],
)
async def test_malformed_invoice_id_is_404_with_param(
    client: httpx.AsyncClient, app: Any, keys: Keys, bad_id: str
) -> None:
    """An id that cannot be an invoice's is not found, like an unknown one (README)."""
    await create_invoice(client, keys.urbanisme)
    resp = await client.get(f"/v1/invoices/{bad_id}", headers=Keys.h(keys.urbanisme))
    assert_error(resp, 404, "resource_missing", "invoice_id")
    before = await row_counts(app)
    resp = await client.post(f"/v1/invoices/{bad_id}/cancel", headers=Keys.h(keys.urbanisme))
    assert_error(resp, 404, "resource_missing", "invoice_id")
    assert await row_counts(app) == before


# ------------------------------------------------------- another tenant
async def test_another_tenants_invoice_is_404_not_403_on_get(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.etat_civil)
    resp = await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))
    err = assert_error(resp, 404, "resource_missing")
    # the response must not reveal that the invoice exists
    assert inv["id"] not in resp.text and inv["reference"] not in err["message"]
    # and it does exist for its owner
    own = await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.etat_civil))
    assert own.status_code == 200


async def test_another_tenants_invoice_is_404_not_403_on_cancel(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.etat_civil)
    before = await row_counts(app)
    resp = await client.post(f"/v1/invoices/{inv['id']}/cancel", headers=Keys.h(keys.urbanisme))
    assert_error(resp, 404, "resource_missing")
    assert await row_counts(app) == before
    own = await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.etat_civil))
    assert own.json()["status"] == "open"


# ---------------------------------------------------------------- conflicts
async def test_reused_reference_is_409(client: httpx.AsyncClient, app: Any, keys: Keys) -> None:
    first = await create_invoice(client, keys.urbanisme, reference="PC-2026-0042")
    await assert_rejected(
        client,
        app,
        keys.urbanisme,
        invoice_body(reference="PC-2026-0042", amount=9900),
        409,
        "reference_already_used",
        "reference",
    )
    listed = await client.get(
        "/v1/invoices", params={"reference": "PC-2026-0042"}, headers=Keys.h(keys.urbanisme)
    )
    assert [x["id"] for x in listed.json()["data"]] == [first["id"]]


async def test_reused_idempotency_key_with_another_body_is_409(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    headers = {"Idempotency-Key": "create-PC-2026-0007"}
    r1 = await post_invoice(client, keys.urbanisme, invoice_body(), **headers)
    assert r1.status_code == 201, r1.text
    before = await row_counts(app)
    r2 = await post_invoice(
        client, keys.urbanisme, invoice_body(reference="PC-2026-0008", amount=3000), **headers
    )
    assert_error(r2, 409, "idempotency_key_reused", "Idempotency-Key")
    assert await row_counts(app) == before


async def test_cancel_of_a_paid_invoice_is_409(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    got = await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))
    assert got.json()["status"] == "paid"
    before = await row_counts(app)
    resp = await client.post(f"/v1/invoices/{inv['id']}/cancel", headers=Keys.h(keys.urbanisme))
    assert_error(resp, 409, "invoice_not_cancelable")
    assert await row_counts(app) == before
    after = await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))
    assert after.json()["status"] == "paid"
    assert after.json()["canceled_at"] is None


# ------------------------------------------------------------ citizen pages
async def test_pay_link_with_a_wrong_token_is_a_404_page(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    real = token_of(inv)
    wrong = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    for token in (wrong, inv["id"], "x" * 200):
        resp = await client.get(f"/pay/{token}", headers={"Accept-Language": "en"})
        assert resp.status_code == 404, (token, resp.text)
        assert resp.headers["content-type"].startswith("text/html")
        assert "Payment link not found" in resp.text
        assert "Camille" not in resp.text and "Permis de construire" not in resp.text
        assert_no_leak(resp)
    # pressing Pay on a wrong link creates no payment
    before = await row_counts(app)
    resp = await client.post(f"/pay/{wrong}/checkout")
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("text/html")
    assert_no_leak(resp)
    assert await row_counts(app) == before
    # control: the real link works
    assert (await client.get(f"/pay/{real}")).status_code == 200


# ----------------------------------------------------------------- webhooks
def _event(payment_ref: str, checkout_id: str, event_id: str = "evt_sim_TEST0001") -> bytes:
    doc = {
        "id": event_id,
        "object": "event",
        "type": "payment.succeeded",
        "created": int(dt.datetime.now(dt.UTC).timestamp()),
        "data": {
            "checkout_id": checkout_id,
            "payment_id": "pi_sim_TEST0001",
            "payment_ref": payment_ref,
            "amount": 2500,
            "currency": "EUR",
            "status": "succeeded",
        },
    }
    return json.dumps(doc, separators=(",", ":")).encode()


async def _pending_payment(client: httpx.AsyncClient, app: Any, key: str) -> tuple[str, str]:
    inv = await create_invoice(client, key)
    checkout_id, _ = await start_checkout(client, inv)
    async with app.state.db.session() as s:
        p = (
            await s.execute(select(Payment).where(col(Payment.checkout_id) == checkout_id))
        ).scalar_one()
    return p.id, checkout_id


async def _post_webhook(client: httpx.AsyncClient, body: bytes, signature: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Simulator-Signature"] = signature
    return await client.post("/webhooks/simulator", content=body, headers=headers)


async def test_webhook_with_a_bad_signature_is_400_and_stores_nothing(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    secret = app.state.settings.simulator_webhook_secret
    payment_id, checkout_id = await _pending_payment(client, app, keys.urbanisme)
    body = _event(payment_id, checkout_id)
    old = int(dt.datetime.now(dt.UTC).timestamp()) - 3600
    forged = [
        ("wrong secret", body, sign("whsec_not_the_right_one", body)),
        ("tampered body", body.replace(b"2500", b"1"), sign(secret, body)),
        ("stale timestamp", body, sign(secret, body, timestamp=old)),
        ("garbage header", body, "v1=deadbeef"),
        ("missing header", body, None),
    ]
    before = await row_counts(app)
    assert before["webhook_inbox"] == 0
    for label, raw, signature in forged:
        resp = await _post_webhook(client, raw, signature)
        assert resp.status_code == 400, (label, resp.text)
        assert_error(resp, 400, "invalid_signature")
        assert await row_counts(app) == before, label
    # control: the same event correctly signed is taken in
    resp = await _post_webhook(client, body, sign(secret, body))
    assert resp.status_code == 200, resp.text
    assert (await row_counts(app))["webhook_inbox"] == 1


async def test_event_for_an_unknown_payment_is_404_and_stores_nothing(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    secret = app.state.settings.simulator_webhook_secret
    await _pending_payment(client, app, keys.urbanisme)
    body = _event("pay_01KAAAAAAAAAAAAAAAAAAAAAAA", "cs_sim_01KAAAAAAAAAAAAAAAAAAAAAAA")
    before = await row_counts(app)
    resp = await _post_webhook(client, body, sign(secret, body))
    assert_error(resp, 404, "unknown_payment")
    assert await row_counts(app) == before


# --------------------------------------------------------------------- auth
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXJiYW5pc21lOnNlY3JldA=="},
        {"Authorization": "Bearer rk_test_ser_not-a-real-key"},
        {"Authorization": "Bearer " + "k" * 500},
    ],
    ids=["missing", "empty", "bearer-empty", "basic", "unknown", "huge"],
)
async def test_missing_or_invalid_key_is_401(
    client: httpx.AsyncClient, app: Any, keys: Keys, headers: dict[str, str]
) -> None:
    await create_invoice(client, keys.urbanisme)
    resp = await client.get("/v1/invoices", headers=headers)
    assert_error(resp, 401, "invalid_api_key")
    assert resp.headers.get("www-authenticate", "").lower().startswith("bearer")
    before = await row_counts(app)
    resp = await client.post(
        "/v1/invoices", json=invoice_body(reference="PC-2026-0900"), headers=headers
    )
    assert_error(resp, 401, "invalid_api_key")
    assert await row_counts(app) == before


async def test_revoked_key_is_401(client: httpx.AsyncClient, app: Any, keys: Keys) -> None:
    async with app.state.db.session() as s:
        svc = await create_service(s, "cantine", "Cantine scolaire")
        raw = (await create_key(s, svc, Role.service, live=False))[1]
        await s.commit()
    ok = await post_invoice(client, raw, invoice_body(reference="CANT-1"))
    assert ok.status_code == 201, ok.text
    async with app.state.db.session() as s:
        await revoke_key(s, raw)
        await s.commit()
    resp = await client.get("/v1/invoices", headers=Keys.h(raw))
    assert_error(resp, 401, "invalid_api_key")
    await assert_rejected(
        client, app, raw, invoice_body(reference="CANT-2"), 401, "invalid_api_key"
    )


async def test_finance_key_creating_an_invoice_is_403(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    await assert_rejected(client, app, keys.finance, invoice_body(), 403, "insufficient_role")
    await assert_rejected(client, app, keys.admin, invoice_body(), 403, "insufficient_role")
