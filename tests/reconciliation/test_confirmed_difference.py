"""A bank credit naming its payout with another amount, from the command line: the run is
not "everything matched" while the suggestion waits for a human (exit 1); once confirmed,
the payout is the bank's, and what the two sides differ by is an open discrepancy (exit 1)
until someone resolves it with a note (exit 0)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from regie.kit.database import utcnow
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.payments.test_simulator_payouts import paid_invoice, sim
from tests.reconciliation.test_reconcile_api import IBAN, camt


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


def reconcile(settings: Settings, statement: Path) -> tuple[int, dict[str, Any]]:
    today = utcnow().date().isoformat()
    env = {**os.environ, "REGIE_DATABASE_URL": settings.database_url,
           "REGIE_BANK_IBAN": settings.bank_iban, "REGIE_LOG_LEVEL": "WARNING"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "regie.cli", "reconcile", "--from", today, "--to", today,
         "--camt053", str(statement), "--format", "json"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr[-3000:]
    return done.returncode, json.loads(done.stdout)


async def test_a_credit_one_cent_short_waits_then_stays_open_until_resolved(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, tmp_path: Path
) -> None:
    fin = Keys.h(keys.finance)
    await paid_invoice(client, app, keys.urbanisme, reference="A", amount=2500)
    (made,) = await sim(app).pay_out()
    await app.state.applier.process_batch()
    payout = made.payout
    short = payout.amount - 1
    statement = tmp_path / "releve.xml"
    statement.write_bytes(
        camt([("BNK-S", f"{short // 100}.{short % 100:02d}", f"VIR {payout.id}")])
    )

    code, run = reconcile(settings, statement)
    assert code == 1, "a suggestion waits for a human: not everything matched"
    assert run["discrepancies"] == [] and run["summary"]["payouts_matched"] == 0
    (s,) = run["suggestions"]
    assert (s["payout_amount"], s["amount"], s["difference"]) == (payout.amount, short, -1)

    base = f"/v1/reconciliations/{run['id']}"
    r = await client.post(f"{base}/suggestions/{s['id']}/confirm", json={}, headers=fin)
    assert r.status_code == 200, r.text
    code, run = reconcile(settings, statement)
    assert code == 1 and run["summary"]["payouts_matched"] == 1 and run["suggestions"] == []
    (d,) = run["discrepancies"]
    assert (d["category"], d["amount"], d["status"]) == ("amount_mismatch", 1, "open")
    assert (d["payout_id"], d["bank_reference"]) == (payout.id, "BNK-S")

    note = {"note": "Frais bancaires d'un centime, vus avec la banque"}
    r = await client.post(f"/v1/reconciliations/{run['id']}/discrepancies/{d['id']}/resolve",
                          json=note, headers=fin)  # fmt: skip
    assert r.status_code == 200, r.text
    code, run = reconcile(settings, statement)
    assert code == 0
    assert [(x["category"], x["status"]) for x in run["discrepancies"]] == [
        ("amount_mismatch", "resolved")
    ]
