"""Who may call what, generated from the app's route table.

Every ``/v1`` route is called by every role: the owning service's key, another service's
key (with the owner's ids), a finance key, an admin key and no key at all. ``EXPECTED``
is the explicit answer for each; a route that is added without a row here fails
``test_every_v1_route_has_an_expectation``. Every POST of the matrix carries an
``Idempotency-Key`` that the owner, the other service and finance share: a key scoped
globally instead of per service would make the other service's call replay the owner's
answer (caught by the status, the ``service`` of the answer, and the replay header).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi.routing import APIRoute
from sqlalchemy import select

from receipts.models import Receipt
from regie.kit.database import utcnow
from regie.kit.settings import DEMO_BANK_IBAN
from tests.conftest import Keys, create_invoice, pay
from tests.reconciliation.test_reconcile_api import camt
from webhooks.outbound.models import WebhookEndpoint

ROLES = ("owner", "other", "finance", "admin", "none")
SLUG = {"owner": "urbanisme", "other": "etat-civil"}


def row(owner: int, other: int, finance: int, admin: int, none: int = 401) -> dict[str, int]:
    return {"owner": owner, "other": other, "finance": finance, "admin": admin, "none": none}


# (method, path as declared) -> status per role. "other" always uses the OWNER's ids.
EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    ("POST", "/v1/invoices"): row(201, 201, 403, 403),
    ("GET", "/v1/invoices"): row(200, 200, 200, 200),
    # batches are created with a service key only, like invoices; read like an invoice
    ("POST", "/v1/invoice-batches"): row(201, 201, 403, 403),
    ("GET", "/v1/invoice-batches/{batch_id}"): row(200, 404, 200, 200),
    ("GET", "/v1/invoices/{invoice_id}"): row(200, 404, 200, 200),
    ("POST", "/v1/invoices/{invoice_id}/cancel"): row(200, 404, 403, 200),
    ("GET", "/v1/payments/{payment_id}"): row(200, 404, 200, 200),
    ("POST", "/v1/invoices/{invoice_id}/refunds"): row(201, 404, 403, 201),
    ("GET", "/v1/invoices/{invoice_id}/refunds"): row(200, 404, 200, 200),
    ("GET", "/v1/invoices/{invoice_id}/receipt.pdf"): row(200, 404, 200, 200),
    ("GET", "/v1/invoices/{invoice_id}/credit-notes/{number}.pdf"): row(200, 404, 200, 200),
    ("GET", "/v1/receipts/{number}/verify"): row(200, 200, 200, 200, none=200),  # public
    ("GET", "/v1/receipts/{issuer}/{number}/verify"): row(200, 200, 200, 200, none=200),
    ("POST", "/v1/webhook-endpoints"): row(201, 201, 403, 403),
    ("GET", "/v1/webhook-endpoints"): row(200, 200, 200, 200),
    # notifications: finance reads every service's (support) and changes none; managing
    # an endpoint or re-sending is the owning service's, or an admin's (issue 13)
    ("GET", "/v1/webhook-endpoints/{endpoint_id}"): row(200, 404, 200, 200),
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/disable"): row(200, 404, 403, 200),
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/enable"): row(200, 404, 403, 200),
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/rotate-secret"): row(200, 404, 403, 200),
    ("DELETE", "/v1/webhook-endpoints/{endpoint_id}"): row(200, 404, 403, 200),  # after the others
    ("GET", "/v1/webhook-deliveries"): row(200, 200, 200, 200),
    ("GET", "/v1/webhook-deliveries/{delivery_id}"): row(200, 404, 200, 200),
    ("POST", "/v1/webhook-deliveries/{delivery_id}/resend"): row(200, 404, 403, 200),
    ("GET", "/v1/ledger/accounts"): row(403, 403, 200, 200),
    ("GET", "/v1/ledger/entries"): row(403, 403, 200, 200),
    ("GET", "/v1/ledger/fec"): row(403, 403, 200, 200),
    # reconciliation: finance keys only (runs and statements are the whole body's, not a
    # service's); a suggestion that does not exist is 404 to finance, 403 to the others
    ("POST", "/v1/reconciliations"): row(403, 403, 201, 403),
    ("GET", "/v1/reconciliations"): row(403, 403, 200, 403),
    ("GET", "/v1/reconciliations/{run_id}"): row(403, 403, 200, 403),
    ("GET", "/v1/reconciliations/{run_id}.csv"): row(403, 403, 200, 403),
    ("GET", "/v1/reconciliations/{run_id}.pdf"): row(403, 403, 200, 403),
    ("POST", "/v1/reconciliations/{run_id}/heal"): row(403, 403, 200, 403),
    ("POST", "/v1/reconciliations/{run_id}/discrepancies/{discrepancy_id}/resolve"): row(
        403, 403, 200, 403
    ),
    ("POST", "/v1/reconciliations/{run_id}/suggestions/{suggestion_id}/confirm"): row(
        403, 403, 404, 403
    ),
    ("POST", "/v1/reconciliations/{run_id}/suggestions/{suggestion_id}/reject"): row(
        403, 403, 404, 403
    ),
    ("POST", "/v1/bank-statements"): row(403, 403, 415, 403),  # a JSON body is no statement
    ("GET", "/v1/bank-statements"): row(403, 403, 200, 403),
}


@dataclass
class World:
    """The owner's objects (urbanisme), and one of the other service's."""

    keys: Keys
    paid_invoice: str = ""
    payment: str = ""
    receipt_number: str = ""
    receipt_issuer: str = ""
    receipt_code: str = ""
    credit_note: str = ""
    endpoint: str = ""
    delivery: str = ""
    other_invoice: str = ""
    batch: str = ""
    other_endpoint: str = ""
    run: str = ""
    discrepancy: str = ""
    endpoint_sealed: str = ""
    fresh: dict[str, str] = field(default_factory=dict)  # role -> an open invoice to cancel
    # role -> an endpoint of the owner's to disable, rotate and delete: the owner's and the
    # admin's own; the refused roles all try `endpoint`, which must come out untouched
    fresh_endpoint: dict[str, str] = field(default_factory=dict)

    def key(self, role: str) -> str | None:
        return {
            "owner": self.keys.urbanisme,
            "other": self.keys.etat_civil,
            "finance": self.keys.finance,
            "admin": self.keys.admin,
            "none": None,
        }[role]


@dataclass(frozen=True)
class Call:
    url: str
    body: Any = None
    params: dict[str, str] | None = None


def _ids(doc: dict[str, Any]) -> set[str]:
    return {str(x.get("id")) for x in doc.get("data", [])}


# How each route is called (with the owner's ids), and for lists: does the answer show
# the owner's objects? (None: not a list)
CALLS: dict[tuple[str, str], Callable[[World, str], Call]] = {
    ("POST", "/v1/invoices"): lambda w, r: Call(
        "/v1/invoices",
        {
            "amount": 1200,
            "currency": "EUR",
            "reference": "MATRIX-1",
            "description": "Matrix",
            "payer": {"name": "Camille Martin"},
        },
    ),
    ("GET", "/v1/invoices"): lambda w, r: Call("/v1/invoices", params={"limit": "100"}),
    ("POST", "/v1/invoice-batches"): lambda w, r: Call(
        "/v1/invoice-batches",
        {
            "invoices": [
                {
                    "amount": 1200,
                    "currency": "EUR",
                    "reference": f"MATRIX-B-{k}",
                    "description": "Matrix",
                    "payer": {"name": "Camille Martin"},
                }
                for k in range(2)
            ]
        },
    ),
    ("GET", "/v1/invoice-batches/{batch_id}"): lambda w, r: Call(f"/v1/invoice-batches/{w.batch}"),
    ("GET", "/v1/invoices/{invoice_id}"): lambda w, r: Call(f"/v1/invoices/{w.paid_invoice}"),
    ("POST", "/v1/invoices/{invoice_id}/cancel"): lambda w, r: Call(
        f"/v1/invoices/{w.fresh[r]}/cancel"
    ),
    ("GET", "/v1/payments/{payment_id}"): lambda w, r: Call(f"/v1/payments/{w.payment}"),
    ("POST", "/v1/invoices/{invoice_id}/refunds"): lambda w, r: Call(
        f"/v1/invoices/{w.paid_invoice}/refunds", {"amount": 100}
    ),
    ("GET", "/v1/invoices/{invoice_id}/refunds"): lambda w, r: Call(
        f"/v1/invoices/{w.paid_invoice}/refunds"
    ),
    ("GET", "/v1/invoices/{invoice_id}/receipt.pdf"): lambda w, r: Call(
        f"/v1/invoices/{w.paid_invoice}/receipt.pdf"
    ),
    ("GET", "/v1/invoices/{invoice_id}/credit-notes/{number}.pdf"): lambda w, r: Call(
        f"/v1/invoices/{w.paid_invoice}/credit-notes/{w.credit_note}.pdf"
    ),
    ("GET", "/v1/receipts/{issuer}/{number}/verify"): lambda w, r: Call(
        f"/v1/receipts/{w.receipt_issuer}/{w.receipt_number}/verify", params={"c": w.receipt_code}
    ),
    ("GET", "/v1/receipts/{number}/verify"): lambda w, r: Call(
        f"/v1/receipts/{w.receipt_number}/verify", params={"c": w.receipt_code}
    ),
    ("POST", "/v1/webhook-endpoints"): lambda w, r: Call(
        "/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/matrix"}
    ),
    ("GET", "/v1/webhook-endpoints"): lambda w, r: Call("/v1/webhook-endpoints"),
    ("GET", "/v1/webhook-endpoints/{endpoint_id}"): lambda w, r: Call(
        f"/v1/webhook-endpoints/{w.endpoint}"
    ),
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/disable"): lambda w, r: Call(
        f"/v1/webhook-endpoints/{w.fresh_endpoint[r]}/disable"
    ),
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/enable"): lambda w, r: Call(
        f"/v1/webhook-endpoints/{w.fresh_endpoint[r]}/enable"
    ),
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/rotate-secret"): lambda w, r: Call(
        f"/v1/webhook-endpoints/{w.fresh_endpoint[r]}/rotate-secret"
    ),
    ("DELETE", "/v1/webhook-endpoints/{endpoint_id}"): lambda w, r: Call(
        f"/v1/webhook-endpoints/{w.fresh_endpoint[r]}"
    ),
    ("GET", "/v1/webhook-deliveries"): lambda w, r: Call(
        "/v1/webhook-deliveries", params={"limit": "100"}
    ),
    ("GET", "/v1/webhook-deliveries/{delivery_id}"): lambda w, r: Call(
        f"/v1/webhook-deliveries/{w.delivery}"
    ),
    ("POST", "/v1/webhook-deliveries/{delivery_id}/resend"): lambda w, r: Call(
        f"/v1/webhook-deliveries/{w.delivery}/resend"
    ),
    ("GET", "/v1/ledger/accounts"): lambda w, r: Call("/v1/ledger/accounts"),
    ("GET", "/v1/ledger/entries"): lambda w, r: Call("/v1/ledger/entries", params={"limit": "500"}),
    ("GET", "/v1/ledger/fec"): lambda w, r: Call(
        "/v1/ledger/fec", params={"from": "2000-01-01", "to": "2099-12-31", "siren": "213105554"}
    ),
    ("POST", "/v1/reconciliations"): lambda w, r: Call("/v1/reconciliations", _period()),
    ("GET", "/v1/reconciliations"): lambda w, r: Call("/v1/reconciliations"),
    ("GET", "/v1/reconciliations/{run_id}"): lambda w, r: Call(f"/v1/reconciliations/{w.run}"),
    ("GET", "/v1/reconciliations/{run_id}.csv"): lambda w, r: Call(
        f"/v1/reconciliations/{w.run}.csv"
    ),
    ("GET", "/v1/reconciliations/{run_id}.pdf"): lambda w, r: Call(
        f"/v1/reconciliations/{w.run}.pdf"
    ),
    ("POST", "/v1/reconciliations/{run_id}/heal"): lambda w, r: Call(
        f"/v1/reconciliations/{w.run}/heal"
    ),
    ("POST", "/v1/reconciliations/{run_id}/discrepancies/{discrepancy_id}/resolve"): lambda w, r: (
        Call(
            f"/v1/reconciliations/{w.run}/discrepancies/{w.discrepancy}/resolve", {"note": "matrix"}
        )
    ),
    ("POST", "/v1/reconciliations/{run_id}/suggestions/{suggestion_id}/confirm"): lambda w, r: Call(
        f"/v1/reconciliations/{w.run}/suggestions/sug_none/confirm", {}
    ),
    ("POST", "/v1/reconciliations/{run_id}/suggestions/{suggestion_id}/reject"): lambda w, r: Call(
        f"/v1/reconciliations/{w.run}/suggestions/sug_none/reject", {}
    ),
    ("POST", "/v1/bank-statements"): lambda w, r: Call("/v1/bank-statements", {"xml": "no"}),
    ("GET", "/v1/bank-statements"): lambda w, r: Call("/v1/bank-statements"),
}


def _invoice(reference: str) -> dict[str, Any]:
    return {
        "amount": 1200,
        "currency": "EUR",
        "reference": reference,
        "description": "Matrix",
        "payer": {"name": "Camille Martin"},
    }


def _period() -> dict[str, str]:
    today = utcnow().date().isoformat()
    return {"period_from": today, "period_to": today}


# For the lists: does a 200 answer show the owner's objects? Only the owner, finance and
# admin may see them; the other service sees its own and nothing of the owner's.
SHOWS_OWNER: dict[tuple[str, str], Callable[[World, dict[str, Any]], bool]] = {
    ("GET", "/v1/invoices"): lambda w, d: w.paid_invoice in _ids(d),
    ("GET", "/v1/webhook-endpoints"): lambda w, d: w.endpoint in _ids(d),
    ("GET", "/v1/webhook-deliveries"): lambda w, d: w.delivery in _ids(d),
    ("GET", "/v1/ledger/entries"): lambda w, d: any(
        e["invoice"] == w.paid_invoice for e in d["data"]
    ),
    ("GET", "/v1/ledger/accounts"): lambda w, d: any(
        a["account"] == "receivable:urbanisme" for a in d["data"]
    ),
}
SHOWS_OTHER: dict[tuple[str, str], Callable[[World, dict[str, Any]], bool]] = {
    ("GET", "/v1/invoices"): lambda w, d: w.other_invoice in _ids(d),
    ("GET", "/v1/webhook-endpoints"): lambda w, d: w.other_endpoint in _ids(d),
}


def v1_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every /v1 route in ``app.routes`` (FastAPI >= 0.16x keeps included
    routers as lazy entries of ``app.routes``: ``iter_route_contexts`` flattens them)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is already flat
        flat = [(getattr(r, "path", None), r) for r in app.routes]
    else:
        flat = [(c.path, c.original_route) for c in iter_route_contexts(app.routes)]
    found: set[tuple[str, str]] = set()
    for path, route in flat:
        if isinstance(route, APIRoute) and path and path.startswith("/v1"):
            found |= {(m, path) for m in route.methods if m != "HEAD"}
    return found


async def test_every_v1_route_has_an_expectation(app: Any) -> None:
    routes = v1_routes(app)
    assert routes, "no /v1 routes found: has the app's route table changed shape?"
    # the walk over app.routes misses nothing the OpenAPI document lists
    documented = {
        (m.upper(), p)
        for p, ops in app.openapi()["paths"].items()
        if p.startswith("/v1")
        for m in ops
    }
    assert documented <= routes, documented - routes
    missing = sorted(routes - set(EXPECTED))
    stale = sorted(set(EXPECTED) - routes)
    assert not missing, f"new /v1 routes without a row in EXPECTED (and CALLS): {missing}"
    assert not stale, f"rows in EXPECTED for routes that no longer exist: {stale}"
    assert set(CALLS) == set(EXPECTED)


async def build_world(client: httpx.AsyncClient, app: Any, keys: Keys) -> World:
    w = World(keys)
    r = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/owner"},
        headers=Keys.h(keys.urbanisme),
    )
    assert r.status_code == 201, r.text
    w.endpoint = r.json()["id"]
    r = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/other"},
        headers=Keys.h(keys.etat_civil),
    )
    assert r.status_code == 201, r.text
    w.other_endpoint = r.json()["id"]
    w.other_invoice = (await create_invoice(client, keys.etat_civil, reference="OTHER-1"))["id"]
    for role in ("owner", "admin"):
        r = await client.post(
            "/v1/webhook-endpoints",
            json={"url": f"http://127.0.0.1:9/fresh-{role}"},
            headers=Keys.h(keys.urbanisme),
        )
        assert r.status_code == 201, r.text
        w.fresh_endpoint[role] = r.json()["id"]
    for role in ("other", "finance", "none"):
        w.fresh_endpoint[role] = w.endpoint

    inv = await create_invoice(client, keys.urbanisme, reference="OWNER-PAID")
    result = await pay(client, inv, apply=app)
    w.paid_invoice, w.payment = inv["id"], result.payment_id
    r = await client.post(
        f"/v1/invoices/{inv['id']}/refunds", json={"amount": 500}, headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 201, r.text
    async with app.state.db.session() as s:
        docs = list((await s.execute(select(Receipt).order_by(Receipt.kind.desc()))).scalars())
    receipt, note = docs
    assert (receipt.kind, note.kind) == ("receipt", "credit_note")
    w.receipt_number = receipt.number
    w.receipt_issuer = receipt.issuer
    w.receipt_code = receipt.document["verify_url"].split("?c=")[1]
    w.credit_note = note.number
    r = await client.get(
        "/v1/webhook-deliveries",
        params={"invoice": inv["id"], "endpoint": w.endpoint},
        headers=Keys.h(keys.urbanisme),
    )
    assert r.status_code == 200 and r.json()["data"], r.text
    w.delivery = r.json()["data"][0]["id"]
    # the owner cancels one open invoice and the admin another (a second cancel would be
    # 409); the refused callers try the owner's, which must still be refused as expected
    for role in ("owner", "admin"):
        w.fresh[role] = (await create_invoice(client, keys.urbanisme, reference=f"FRESH-{role}"))[
            "id"
        ]
    for role in ("other", "finance", "none"):
        w.fresh[role] = w.fresh["owner"]
    r = await client.post(
        "/v1/invoice-batches",
        json={"invoices": [{**_invoice("OWNER-BATCH-1")}, {**_invoice("OWNER-BATCH-2")}]},
        headers=Keys.h(keys.urbanisme),
    )
    assert r.status_code == 201, r.text
    w.batch = r.json()["id"]
    # a reconciliation run with one discrepancy: a bank credit nothing explains
    statement = camt([("MATRIX-1", "12.34", "VIREMENT")], iban=DEMO_BANK_IBAN)
    r = await client.post(
        "/v1/bank-statements", files={"file": ("s.xml", statement, "application/xml")},
        headers=Keys.h(keys.finance),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    r = await client.post("/v1/reconciliations", json=_period(), headers=Keys.h(keys.finance))
    assert r.status_code == 201, r.text
    w.run, w.discrepancy = r.json()["id"], r.json()["discrepancies"][0]["id"]
    return w


async def test_every_role_on_every_v1_route(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    w = await build_world(client, app, keys)
    async with app.state.db.session() as s:
        endpoint = await s.get(WebhookEndpoint, w.endpoint)
        assert endpoint is not None
        w.endpoint_sealed = endpoint.secret_sealed
    problems: list[str] = []
    for (method, path), expected in EXPECTED.items():
        for role in ROLES:
            call = CALLS[(method, path)](w, role)
            headers = Keys.h(k) if (k := w.key(role)) else {}
            if method == "POST":
                # shared by owner, other and finance (admin shares finance's service, and a
                # 403 replays, so it gets its own key)
                scope = "admin" if role == "admin" else "shared"
                headers["Idempotency-Key"] = f"matrix-{path}-{scope}"
            r = await client.request(
                method, call.url, json=call.body, params=call.params, headers=headers
            )
            where = f"{method} {path} as {role}"
            if r.status_code != expected[role]:
                problems.append(
                    f"{where}: {r.status_code}, expected {expected[role]}: {r.text[:200]}"
                )
                continue
            if r.headers.get("idempotent-replayed"):
                problems.append(f"{where}: answered with a replay of another caller's request")
            if r.status_code >= 400 or r.headers["content-type"] != "application/json":
                continue
            doc = r.json()
            if role in SLUG and doc.get("service") not in (None, SLUG[role]):
                problems.append(f"{where}: answered another service's object {doc['service']}")
            shows = SHOWS_OWNER.get((method, path))
            if shows is not None and shows(w, doc) != (role != "other"):
                problems.append(f"{where}: the owner's objects {'not ' * (role != 'other')}shown")
            shows_other = SHOWS_OTHER.get((method, path))
            if shows_other is not None and role == "other" and not shows_other(w, doc):
                problems.append(f"{where}: the caller's own objects are missing")
    # the refused calls changed nothing: the endpoint they all tried is still enabled,
    # with its secret, not being rotated
    async with app.state.db.session() as s:
        endpoint = await s.get(WebhookEndpoint, w.endpoint)
    assert endpoint is not None and endpoint.status == "enabled", endpoint
    assert endpoint.secret_sealed == w.endpoint_sealed and endpoint.previous_secret_sealed is None
    assert not problems, "\n".join(problems)
