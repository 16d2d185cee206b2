"""End to end, offline: demo payments, a refund, a simulator payout, the generated camt.053
and itemised payout CSV; a clean reconciliation from the API with either PSP source; then a
planted fault (a lost webhook) found by the CLI and the API."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from payments.providers.simulator.camt053 import GRANT_AMOUNT, booking_day
from payments.providers.simulator.commands import bank_statement_file, settlement_report
from payments.providers.simulator.records import BANK_TZ
from regie.kit.database import utcnow
from regie.kit.settings import Settings
from tests.conftest import Keys, create_invoice, pay
from tests.payments.test_simulator_payouts import paid_invoice, refund, sim


async def payout_files(settings: Settings, arrival: dt.date) -> tuple[bytes, bytes, dict[str, str]]:
    """The bank's camt.053 and the PSP's itemised report for a payout made today, and the
    period that holds it. The payout arrives on the bank's day (Paris), which is not always
    today's UTC date (from 23:00 UTC in winter it is tomorrow): the period runs from the
    earlier of the two to the day the bank books it (that day, or Monday on a weekend), and
    the bank's statement is written at that day's end."""
    today = utcnow().date()
    first, booked = min(today, arrival), max(today, booking_day(arrival))
    written = dt.datetime.combine(booked, dt.time(23, 59), BANK_TZ)
    camt = (await bank_statement_file(settings, first, booked, now=written)).content
    csv_ = (await settlement_report(settings, first, booked)).content
    return camt, csv_, {"period_from": first.isoformat(), "period_to": booked.isoformat()}


async def test_demo_month_reconciles_clean_then_a_lost_webhook_is_found(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, tmp_path: Path
) -> None:
    fin = Keys.h(keys.finance)
    first = await paid_invoice(client, app, keys.urbanisme, reference="A", amount=2500)
    await paid_invoice(client, app, keys.etat_civil, reference="B", amount=1234)
    await refund(client, keys.urbanisme, first, 1000)
    made = await sim(app).pay_out()
    assert len(made) == 1
    await app.state.applier.process_batch()
    camt, csv_, period = await payout_files(settings, made[0].payout.arrival_date)
    first, booked = period["period_from"], period["period_to"]

    r = await client.post(
        "/v1/reconciliations", data=period, headers=fin,
        files={"camt053": ("releve.xml", camt, "application/xml")},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    run = r.json()
    assert run["discrepancies"] == [] and run["suggestions"] == [], run["discrepancies"]
    s = run["summary"]
    assert (s["matched_count"], s["payouts_matched"], s["open"]) == (3, 1, 0)
    assert s["matched_amount"] == {"EUR": 2500 + 1234}
    ties = {(t["name"], t["currency"]): t for t in run["tie_outs"]}
    assert ties[("psp_clearing", "EUR")]["difference"] == 0
    assert ties[("bank", "EUR")]["source"] == made[0].payout.amount
    assert ties[("bank", "EUR")]["difference"] == 0
    assert run["sources"][1]["kind"] == "camt053" and len(run["sources"][1]["sha256"]) == 64

    # the same with Stripe's itemised payout report as the PSP's side
    r = await client.post(
        "/v1/reconciliations", data=period, headers=fin,
        files={"stripe_csv": ("payouts.csv", csv_, "text/csv")},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["discrepancies"] == [] and r.json()["summary"]["payouts_matched"] == 1

    # the same report from the command line: clean too, and with the PSP's word in a report
    # the command builds no PSP adapter (nor imports one), nor a progress bar off a terminal
    env = {
        **os.environ,
        "REGIE_DATABASE_URL": settings.database_url,
        "REGIE_BANK_IBAN": settings.bank_iban,
        "REGIE_LOG_LEVEL": "WARNING",
    }
    report = tmp_path / "payouts.csv"
    report.write_bytes(csv_)
    cli = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "regie.cli", "reconcile", "--from",
         first, "--to", booked, "--stripe-csv", str(report),
         "--format", "json"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr[-3000:]
    doc = json.loads(cli.stdout)
    assert doc["discrepancies"] == [] and doc["summary"]["payouts_matched"] == 1
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in cli.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "reconciliation.service" in imported  # the reading works
    unwanted = {"payments.providers.adapters", "payments.providers.simulator", "rich.progress"}
    assert not unwanted & imported, sorted(unwanted & imported)

    # a planted fault: a payment whose webhook never arrived
    lost = await create_invoice(client, keys.urbanisme, amount=777, reference="C")
    await pay(client, lost)
    async with app.state.db.session() as session:
        await session.execute(text("DELETE FROM webhook_inbox WHERE status = 'pending'"))
        await session.commit()
    cli = subprocess.run(
        [sys.executable, "-m", "regie.cli", "reconcile", "--from", first,
         "--to", booked, "--format", "json"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert cli.returncode == 1, cli.stderr
    doc = json.loads(cli.stdout)
    assert [(d["category"], d["amount"], d["status"]) for d in doc["discrepancies"]] == [
        ("missing_in_ledger", 777, "open")
    ]
    assert {"summary", "tie_outs", "discrepancies"} <= set(doc)
    assert {"id", "psp_reference", "payout_id", "bank_reference", "ledger_entry"} <= set(
        doc["discrepancies"][0]
    )
    bad = subprocess.run(
        [sys.executable, "-m", "regie.cli", "reconcile", "--from", first,
         "--to", booked, "--camt053", "/nonexistent.xml"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2 and "nonexistent.xml" in bad.stderr and "Traceback" not in bad.stderr

    r = await client.post("/v1/reconciliations", json=period, headers=fin)
    api = r.json()
    assert [(d["category"], d["amount"]) for d in api["discrepancies"]] == [
        ("missing_in_ledger", 777)
    ]
    # healing applies the PSP's event through the normal path; the next run is clean
    r = await client.post(f"/v1/reconciliations/{api['id']}/heal", headers=fin)
    assert r.json()["events"] >= 1
    r = await client.post("/v1/reconciliations", json=period, headers=fin)
    assert r.json()["discrepancies"] == []


async def test_a_late_credit_is_suggested_and_a_grant_resolved_both_hold_in_the_next_run(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings
) -> None:
    fin = Keys.h(keys.finance)
    await paid_invoice(client, app, keys.urbanisme, reference="A", amount=2500)
    made = await sim(app).pay_out()
    await app.state.applier.process_batch()
    today = utcnow().date()
    last = today + dt.timedelta(days=20)  # the bank books the payout 8 days late
    # the bank writes on ``last`` (it writes no statement for days to come)
    written = dt.datetime.combine(last, dt.time(20), dt.UTC)
    camt = (await bank_statement_file(settings, today, last, quirks=True, now=written)).content
    period = {"period_from": today.isoformat(), "period_to": last.isoformat(),
              "as_of": last.isoformat()}  # fmt: skip
    r = await client.post(
        "/v1/reconciliations", data=period, headers=fin,
        files={"camt053": ("releve.xml", camt, "application/xml")},
    )  # fmt: skip
    run = r.json()
    assert [(s["payout_ids"], s["status"]) for s in run["suggestions"]] == [
        ([made[0].payout.id], "open")
    ]
    assert [(d["category"], d["amount"]) for d in run["discrepancies"]] == [
        ("unexpected_bank_credit", GRANT_AMOUNT)
    ]
    assert run["summary"]["payouts_matched"] == 0
    base = f"/v1/reconciliations/{run['id']}"
    r = await client.post(
        f"{base}/suggestions/{run['suggestions'][0]['id']}/confirm", json={}, headers=fin
    )
    assert r.status_code == 200 and r.json()["action"] == "confirm"
    note = {"note": "Subvention de la préfecture"}
    r = await client.post(
        f"{base}/discrepancies/{run['discrepancies'][0]['id']}/resolve", json=note, headers=fin
    )
    assert r.status_code == 200
    again = (await client.post("/v1/reconciliations", json=period, headers=fin)).json()
    assert again["summary"]["payouts_matched"] == 1 and again["suggestions"] == []
    assert [(d["category"], d["status"]) for d in again["discrepancies"]] == [
        ("unexpected_bank_credit", "resolved")
    ]
    assert again["summary"]["open"] == 0
