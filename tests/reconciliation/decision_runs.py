"""Runs to decide on, for the decisions' tests: a run with an unexpected bank credit (a
discrepancy) and a run with a suggestion (a credit naming a payout with another amount)."""

from __future__ import annotations

from typing import Any

import httpx

from regie.kit.database import utcnow
from tests.conftest import Keys
from tests.payments.test_simulator_payouts import paid_invoice, sim
from tests.reconciliation.test_reconcile_api import IBAN, camt

__all__ = ["IBAN", "run_with_credit", "run_with_suggestion", "period"]


def period() -> dict[str, str]:
    today = utcnow().date().isoformat()
    return {"period_from": today, "period_to": today}


async def upload(client: httpx.AsyncClient, key: str, data: bytes) -> None:
    r = await client.post("/v1/bank-statements",
                          files={"file": ("releve.xml", data, "application/xml")},
                          headers=Keys.h(key))  # fmt: skip
    assert r.status_code == 201, r.text


async def new_run(client: httpx.AsyncClient, keys: Keys) -> dict[str, Any]:
    r = await client.post("/v1/reconciliations", json=period(), headers=Keys.h(keys.finance))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def run_with_credit(client: httpx.AsyncClient, keys: Keys) -> tuple[dict[str, Any], str]:
    """A run whose one discrepancy is an unexpected bank credit of 123.45; (run, its id)."""
    await upload(client, keys.finance, camt([("BNK-1", "123.45", "SUBVENTION")]))
    run = await new_run(client, keys)
    (d,) = [x for x in run["discrepancies"] if x["category"] == "unexpected_bank_credit"]
    return run, d["id"]


async def run_with_suggestion(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> tuple[dict[str, Any], str]:
    """A run with one suggestion: a credit naming a payout, one cent short."""
    await paid_invoice(client, app, keys.urbanisme, reference="A", amount=2500)
    (made,) = await sim(app).pay_out()
    await app.state.applier.process_batch()
    p = made.payout
    short = p.amount - 1
    await upload(client, keys.finance,
                 camt([("BNK-S", f"{short // 100}.{short % 100:02d}", f"VIR {p.id}")]))  # fmt: skip
    run = await new_run(client, keys)
    (s,) = run["suggestions"]
    return run, s["id"]
