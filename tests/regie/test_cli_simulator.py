"""``regie simulator payout | settlement-report | bank-statement``, run as real
subprocesses against the test database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from lxml import etree

from payments.providers.simulator.camt053 import NAMESPACE
from payments.providers.simulator.records import bank_day
from regie.kit.bank_days import is_bank_day, previous_bank_day
from tests.conftest import Keys, create_invoice, pay
from tests.payments.test_simulator_reports import balance, check_order

REGIE = str(Path(sys.executable).parent / "regie")
NS = {"c": NAMESPACE}


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [REGIE, "simulator", *args], env=env, capture_output=True, text=True, timeout=120
    )


def cli_env(app: Any, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")}
    env["REGIE_DATABASE_URL"] = app.state.settings.database_url
    env["REGIE_BASE_URL"] = "http://127.0.0.1:9"  # no regie listens: events wait to be re-sent
    env["REGIE_LOG_LEVEL"] = "ERROR"
    return {**env, **extra}


async def test_pay_out_then_write_the_csv_and_the_bank_statement(
    client: httpx.AsyncClient, app: Any, keys: Keys, tmp_path: Path
) -> None:
    for reference, amount in (("A", 2500), ("B", 1234)):
        inv = await create_invoice(client, keys.urbanisme, reference=reference, amount=amount)
        await pay(client, inv, apply=app)
    r = await client.post(
        f"/v1/invoices/{inv['id']}/refunds",
        json={"amount": 234},
        headers=Keys.h(keys.urbanisme, **{"Idempotency-Key": "cli-refund"}),
    )
    assert r.status_code == 201, r.text
    env = cli_env(app)

    paid = run(["payout"], env)
    assert paid.returncode == 0, paid.stderr
    (line,) = paid.stdout.splitlines()
    payout_id = line.split()[0]
    assert payout_id.startswith("po_sim_")
    assert "€33.93" in line and "3 transaction(s)" in line and "events queued" in line
    again = run(["payout"], env)
    assert again.returncode == 0 and again.stdout == ""
    assert "nothing to pay out" in again.stderr

    # the worker re-sends the events the CLI could not deliver; the ledger posts the bank
    assert await app.state.payments.providers.get("simulator").redeliver_pending() == 2
    await app.state.applier.process_batch()
    bal = {(b.account, b.currency): b.balance for b in await app.state.ledger.balances()}
    assert (bal[("assets:bank:main", "EUR")], bal[("assets:psp:simulator", "EUR")]) == (3393, 0)

    today = bank_day(dt.datetime.now(dt.UTC))
    yesterday = today - dt.timedelta(days=1)
    report = tmp_path / "payouts.csv"
    done = run(["settlement-report", "--from", f"{today}", "--to", f"{today}", "--output", f"{report}"], env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "wrote 3 transaction(s) of 1 payout(s)" in done.stderr
    with report.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["automatic_payout_id"] for r in rows} == {payout_id}
    assert [(r["reporting_category"], r["gross"], r["fee"], r["net"]) for r in rows] == [
        ("charge", "25.00", "0.63", "24.37"),
        ("charge", "12.34", "0.44", "11.90"),
        ("refund", "-2.34", "0.00", "-2.34"),
    ]
    assert sum(Decimal(r["net"]) for r in rows) == Decimal("33.93")
    empty = run(["settlement-report", "--from", f"{yesterday}", "--to", f"{yesterday}"], env)
    assert empty.returncode == 0 and len(empty.stdout.splitlines()) == 1  # the header

    # the bank writes one statement per bank day up to today; a payout arriving on a
    # weekend (or a TARGET2 closing day) is booked on the next bank day, after today: it
    # waits for a later statement
    weekday = is_bank_day(today)
    previous = previous_bank_day(today)
    statement = tmp_path / "camt053.xml"
    week_ahead = today + dt.timedelta(days=7)  # days to come get no statement
    done = run(["bank-statement", "--from", f"{previous}", "--to", f"{week_ahead}", "--output", f"{statement}"], env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    written = 2 if weekday else 1
    credits = 1 if weekday else 0
    assert f"wrote {written} statement(s) with {credits} payout credit(s)" in done.stderr
    assert ("books after today" in done.stderr) is not weekday
    root = etree.parse(str(statement)).getroot()
    check_order(root)
    stmts = root.findall(".//c:Stmt", NS)
    days = [previous, today] if weekday else [previous]
    assert [s.findtext("c:Id", namespaces=NS) for s in stmts] == [f"SIMBANK-{d}" for d in days]
    created = root.findtext("c:BkToCstmrStmt/c:GrpHdr/c:CreDtTm", namespaces=NS)
    assert dt.datetime.fromisoformat(created) <= dt.datetime.now(dt.UTC)  # never to come
    assert [balance(s, "OPBD") for s in stmts] == [0, 0][: len(stmts)]
    assert [balance(s, "CLBD") for s in stmts] == ([0, 3393] if weekday else [0])
    if weekday:
        assert stmts[1].findtext("c:Ntry/c:NtryDtls/c:TxDtls/c:RmtInf/c:Ustrd", namespaces=NS) == (
            f"SIMULATOR {payout_id}"
        )
    assert stmts[0].findtext("c:Acct/c:Id/c:IBAN", namespaces=NS) == app.state.settings.bank_iban
    # a bank day's statement has the same number in any file; the next bank day's follows
    first = run(["bank-statement", "--from", f"{previous}", "--to", f"{previous}"], env)
    assert first.returncode == 0, first.stderr
    (alone,) = etree.fromstring(first.stdout.encode()).findall(".//c:Stmt", NS)
    numbers = [int(s.findtext("c:ElctrncSeqNb", namespaces=NS)) for s in [alone, *stmts]]
    assert numbers[1:] == [numbers[0], numbers[0] + 1][: len(stmts)]
    tomorrow = today + dt.timedelta(days=1)
    later = run(["bank-statement", "--from", f"{tomorrow}", "--to", f"{tomorrow}"], env)
    assert later.returncode == 2 and "no bank day" in later.stderr
    rerun = run(["bank-statement", "--from", f"{previous}", "--to", f"{week_ahead}"], env)
    again = etree.fromstring(rerun.stdout.encode()).findall(".//c:Stmt", NS)
    # the same statements again (only today's creation time moves on)

    def booked(stmts: list[Any]) -> list[tuple[str, int, list[str]]]:
        return [
            (
                s.findtext("c:Id", namespaces=NS),
                balance(s, "CLBD"),
                [e.findtext("c:AcctSvcrRef", namespaces=NS) for e in s.findall("c:Ntry", NS)],
            )
            for s in stmts
        ]

    assert booked(again) == booked(stmts)
    # --as-of: the bank as it writes on another day (the tour's month, written at its end)
    ahead = run(["bank-statement", "--from", f"{previous}", "--to", f"{week_ahead}", "--as-of", f"{week_ahead}"], env)  # fmt: skip
    assert ahead.returncode == 0, ahead.stderr
    later_root = etree.fromstring(ahead.stdout.encode())
    bank_days = [
        previous + dt.timedelta(days=i)
        for i in range((week_ahead - previous).days + 1)
        if is_bank_day(previous + dt.timedelta(days=i))
    ]
    assert len(later_root.findall(".//c:Stmt", NS)) == len(bank_days)
    header = later_root.findtext("c:BkToCstmrStmt/c:GrpHdr/c:CreDtTm", namespaces=NS)
    assert header.startswith(f"{bank_days[-1]}T23:59:59")


async def test_bad_periods_and_another_psp_are_refused(app: Any) -> None:
    env = cli_env(app)
    bad = run(["settlement-report", "--from", "2026-13-01", "--to", "2026-10-31"], env)
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr
    reversed_ = run(["bank-statement", "--from", "2026-10-31", "--to", "2026-10-01"], env)
    assert reversed_.returncode == 2 and "before --from" in reversed_.stderr
    stripe = run(["payout"], cli_env(app, REGIE_PSP="stripe"))
    assert stripe.returncode == 1 and "REGIE_PSP=stripe" in stripe.stderr
