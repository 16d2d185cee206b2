"""An auditor's cross-check of one realistic month (``audit_month.october``): every place
regie shows the same money shows the same figure for the same period, or says why not.
The API's balances, the workspace's ledger page and dashboard, the FEC (API and command
line), the CSV export, a reconciliation run's tie-outs and its summary, CSV and PDF, each
invoice's amounts and its receipts, against the ledger's entries."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select

from ledger.export import day_bounds, pcg_account
from payments.providers.simulator.commands import bank_statement_file
from receipts.models import Receipt
from regie.kit.money import format_money
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.finance.conftest import sign_in
from tests.finance.test_run_reports import pdf_text
from tests.reconciliation.audit_month import LATE, october
from tests.reconciliation.months import OCT_FIRST, OCT_LAST, UTC, run
from tests.test_year_boundaries import Clock

PSP, BANK = "assets:psp:simulator", "assets:bank:main"
Balances = dict[str, tuple[int, int]]  # account -> (debit, credit), EUR


async def api_balances(client: httpx.AsyncClient, fin: dict[str, str], at: dt.datetime | None) -> Balances:  # fmt: skip
    params = {"as_of": at.isoformat()} if at else {}
    r = await client.get("/v1/ledger/accounts", params=params, headers=fin)
    assert r.status_code == 200, r.text
    return {a["account"]: (a["debit"], a["credit"]) for a in r.json()["data"] if a["currency"] == "EUR"}  # fmt: skip


def net(b: Balances, account: str) -> int:
    d, k = b.get(account, (0, 0))
    return d - k


def cents(text: str) -> int:
    """A page's money (``-€12.34``, ``−12,34 €``) in minor units: EUR has two decimals."""
    digits = int(re.sub(r"\D", "", text))
    return -digits if ("-" in text or "−" in text) else digits


def page_rows(html: str) -> dict[str, list[int]]:
    """account -> the amounts of its row (a ``num`` cell each)."""
    out = {}
    for account, rest in re.findall(
        r'<th scope="row"><code>([^<]+)</code></th>(.*?)</tr>', html, re.S
    ):
        out[account] = [
            cents(x) for x in re.findall(r'<td class="num[^"]*"[^>]*>([^<]*)</td>', rest)
        ]
    return out


def fec_amount(text: str) -> int:
    return int(Decimal(text.replace(",", ".")) * 100)


def fec_totals(
    body: bytes,
) -> tuple[dict[str, tuple[int, int]], dict[str, tuple[int, int]], set[str]]:
    """(opening per CompteNum, movements per CompteNum, the entries' days) of a FEC."""
    rows = list(csv.reader(io.StringIO(body.decode("iso8859_15")), delimiter="|"))
    head, rows = rows[0], rows[1:]
    i = {name: n for n, name in enumerate(head)}
    opening: dict[str, tuple[int, int]] = defaultdict(lambda: (0, 0))
    moves: dict[str, tuple[int, int]] = defaultdict(lambda: (0, 0))
    days = set()
    for r in rows:
        into = opening if r[i["JournalCode"]] == "AN" else moves
        d, k = into[r[i["CompteNum"]]]
        into[r[i["CompteNum"]]] = (d + fec_amount(r[i["Debit"]]), k + fec_amount(r[i["Credit"]]))
        if r[i["JournalCode"]] != "AN":
            days.add(r[i["EcritureDate"]])
    return dict(opening), dict(moves), days


def by_pcg(b: Balances) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for account, (d, k) in b.items():
        out[pcg_account(account)[0]] += d - k
    return {a: v for a, v in out.items() if v}


def moved(after: Balances, before: Balances) -> Balances:
    return {
        a: (after.get(a, (0, 0))[0] - before.get(a, (0, 0))[0],
            after.get(a, (0, 0))[1] - before.get(a, (0, 0))[1])
        for a in set(after) | set(before)
    }  # fmt: skip


async def test_a_months_figures_agree_across_regies_views(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock
) -> None:
    month = await october(app, client, keys, clock)
    fin = Keys.h(keys.finance)
    now = await api_balances(client, fin, None)

    # ---- the trial balance holds, and nothing is left on a receivable once paid
    assert sum(d for d, _ in now.values()) == sum(k for _, k in now.values())
    assert net(now, "receivable:urbanisme") == net(now, "receivable:etat-civil") == 0

    # ---- the FEC of 6..31 October (Paris days): the opening is the balances at the start
    # of the 6th in Paris, the movements those of the days up to the end of the 31st in
    # Paris; the payment at 23:30 UTC on the 31st is 1 November's, in neither
    lo, hi = day_bounds(dt.date(2026, 10, 6), OCT_LAST)
    assert hi == dt.datetime(2026, 10, 31, 23, tzinfo=UTC) < LATE
    before, after = await api_balances(client, fin, lo), await api_balances(client, fin, hi)
    r = await client.get("/v1/ledger/fec", params={"from": "2026-10-06", "to": "2026-10-31", "siren": "213105554"}, headers=fin)  # fmt: skip
    assert r.status_code == 200, r.text
    opening, moves, days = fec_totals(r.content)
    assert sum(d for d, _ in moves.values()) == sum(k for _, k in moves.values())
    assert sum(d for d, _ in opening.values()) == sum(k for _, k in opening.values())
    # the opening carries the income and expenses as one result (120/129): assets alike
    for pcg in ("467100", "512000", "411000"):
        assert opening.get(pcg, (0, 0))[0] - opening.get(pcg, (0, 0))[1] == by_pcg(before).get(pcg, 0), pcg  # fmt: skip
    assert {a: d - k for a, (d, k) in moves.items() if d - k} == by_pcg(moved(after, before))
    assert max(days) < "20261101" and "20261006" <= min(days)
    # the command line writes the same bytes
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "REGIE_DATABASE_URL": settings.database_url}
    cli = subprocess.run(
        [sys.executable, "-m", "regie.cli", "ledger", "export", "--format", "fec",
         "--from", "2026-10-06", "--to", "2026-10-31", "--output", "-", "--siren", "213105554"],
        capture_output=True, env=env, timeout=120,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout == r.content
    # ---- the CSV export of the same days: per account, the same movements
    cli = subprocess.run(
        [sys.executable, "-m", "regie.cli", "ledger", "export", "--format", "csv",
         "--from", "2026-10-06", "--to", "2026-10-31"],
        capture_output=True, env=env, timeout=120, text=True,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    csv_moves: dict[str, tuple[int, int]] = defaultdict(lambda: (0, 0))
    for row in csv.DictReader(io.StringIO(cli.stdout)):
        d, k = csv_moves[row["account"]]
        csv_moves[row["account"]] = (d + int(row["debit"]), k + int(row["credit"]))
        assert dt.datetime.fromisoformat(row["effective_at"]) < hi
    assert dict(csv_moves) == {a: v for a, v in moved(after, before).items() if v != (0, 0)}

    # ---- the workspace: the ledger page at 31 October (Paris) and the dashboard (now)
    assert (await sign_in(client, keys.finance)).status_code == 303
    page = await client.get("/finance/ledger", params={"at": "2026-10-31", "lang": "en"})
    assert page.status_code == 200, page.text
    rows = page_rows(page.text)
    assert {a: (v[1], v[2]) for a, v in rows.items()} == after
    assert rows[PSP][0] == net(after, PSP) and rows[BANK][0] == net(after, BANK)
    assert rows["income:urbanisme"][0] == -net(after, "income:urbanisme")  # natural sign
    dash = page_rows((await client.get("/finance/")).text)
    assert dash == {PSP: [net(now, PSP)], BANK: [net(now, BANK)]}

    # ---- a reconciliation of October (UTC days): the PSP tie-out's ledger side is the
    # clearing account's movement over the UTC month, the 23:30 payment included; the bank
    # tie-out's ledger side is the bank account's balance at the end of the 31st (UTC)
    oct_lo, oct_hi = dt.datetime(2026, 10, 1, tzinfo=UTC), dt.datetime(2026, 11, 1, tzinfo=UTC)
    b0, b1 = await api_balances(client, fin, oct_lo), await api_balances(client, fin, oct_hi)
    camt = (await bank_statement_file(settings, OCT_FIRST, OCT_LAST, now=dt.datetime(2026, 11, 2, 22, tzinfo=UTC))).content  # fmt: skip
    doc = await run(client, keys, OCT_FIRST, OCT_LAST, {"camt053": ("releve.xml", camt, "application/xml")})  # fmt: skip
    ties = {t["name"]: t for t in doc["tie_outs"]}
    assert ties["psp_clearing"]["ledger"] == net(b1, PSP) - net(b0, PSP)
    assert ties["psp_clearing"]["difference"] == 0, doc["tie_outs"]
    assert ties["bank"]["ledger"] == net(b1, BANK), doc["tie_outs"]
    assert ties["bank"]["difference"] == 0, doc["tie_outs"]
    s = doc["summary"]
    assert doc["discrepancies"] == [], doc["discrepancies"]
    # ---- its CSV and PDF say the same
    csv_r = await client.get(f"/v1/reconciliations/{doc['id']}.csv", headers=fin)
    assert list(csv.DictReader(io.StringIO(csv_r.content.decode("utf-8-sig")))) == []
    text = pdf_text(await client.get(f"/v1/reconciliations/{doc['id']}.pdf", headers=fin))
    money = format_money(s["matched_amount"]["EUR"], "EUR", "en")
    assert f"matched: {s['matched_count']} items; payments {money}" in text
    for t in doc["tie_outs"]:
        ledger, source = (format_money(t[k], "EUR", "en") for k in ("ledger", "source"))
        assert f"tie-out {t['name']} (EUR): ledger {ledger}," in text and source in text

    # ---- each invoice's amounts against its entries, and its receipts against its payments
    async with app.state.db.session() as db:
        receipts = list((await db.execute(select(Receipt))).scalars())
    for label, inv in month.invoices.items():
        body = (await client.get(f"/v1/invoices/{inv}", headers=fin)).json()
        entries = (await client.get("/v1/ledger/entries", params={"invoice": inv}, headers=fin)).json()["data"]  # fmt: skip
        paid = sum(x["debit"] for e in entries if e["kind"] == "payment_succeeded" for x in e["lines"] if x["account"] == PSP)  # fmt: skip
        refunded = sum(x["debit"] - x["credit"] for e in entries if e["kind"].startswith("refund") for x in e["lines"] if x["account"].startswith("income:"))  # fmt: skip
        kept = sum(x["debit"] - x["credit"] for e in entries if e["kind"].startswith("dispute_") and e["kind"] not in ("dispute_fee",) for x in e["lines"] if x["account"] == "expenses:disputes")  # fmt: skip
        assert body["amount_paid"] == paid, label
        assert body["amount_refunded"] == refunded + kept, (label, entries)
        mine = [x for x in receipts if x.invoice_id == inv]
        assert sum(x.amount for x in mine if x.kind == "receipt") == sum(
            p["amount"]
            for p in body["payments"]
            if p["status"] in ("succeeded", "refunded", "partially_refunded")
        ), label
        assert sum(x.amount for x in mine if x.kind == "credit_note") == refunded, label
