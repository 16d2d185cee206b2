"""A run's period counts UTC days (the ledger's), where the ledger page and the FEC count
Paris days: a payment at 23:30 UTC on 31 October (00:30 in Paris on 1 November) is in the
October run's payments and clearing movement, and not in the ledger page's 31 October nor
in October's FEC. Every place a run's period is shown or asked for says its days are UTC
days, so the two Octobers are never two totals without a word of why."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from reconciliation.report import summary_lines
from reconciliation.schemas import run_out
from tests.conftest import Keys
from tests.finance.test_run_reports import pdf_text
from tests.finance.test_runs import page_text, signed_in
from tests.payments.test_simulator_payouts import paid_invoice
from tests.reconciliation.months import OCT_FIRST, OCT_LAST, UTC, run
from tests.test_year_boundaries import Clock

LATE = dt.datetime(2026, 10, 31, 23, 30, tzinfo=UTC)  # 00:30 on 1 November in Paris
EN = "The period's days are UTC days"
FR = "Les jours de la période sont des jours UTC"


async def test_a_runs_period_says_it_counts_utc_days_where_the_ledger_page_counts_paris_days(
    app: Any, client: httpx.AsyncClient, keys: Keys, clock: Clock
) -> None:
    clock.set(LATE)
    await paid_invoice(client, app, keys.urbanisme, reference="L", amount=3000)
    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=UTC))
    doc = await run(client, keys, OCT_FIRST, OCT_LAST)
    # the two Octobers: the run's holds the payment, the ledger page's 31 October does not
    assert doc["summary"]["matched_amount"] == {"EUR": 3000}
    ties = {t["name"]: t["ledger"] for t in doc["tie_outs"]}
    assert ties["psp_clearing"] == 3000 - 70
    csrf = await signed_in(client, keys)
    assert csrf
    ledger = page_text(await client.get("/finance/ledger?at=2026-10-31&lang=en"))
    assert "Paris time" in ledger and "assets:psp:simulator" not in ledger

    # the run's page, its PDF, the form that starts a run and the command line's summary
    # say which days the run counts, in the page's language
    page = f"/finance/runs/{doc['id']}"
    assert FR in page_text(await client.get(f"{page}?lang=fr"))
    assert EN in page_text(await client.get(f"{page}?lang=en"))
    assert FR in pdf_text(await client.get(f"{page}.pdf?lang=fr"))
    assert EN in pdf_text(await client.get(f"{page}.pdf?lang=en"))
    assert "jours UTC" in page_text(await client.get("/finance/runs?lang=fr"))
    assert "UTC days" in page_text(await client.get("/finance/runs?lang=en"))
    view = await app.state.reconciliation.get_run(doc["id"])
    assert any(EN in line for line in summary_lines(run_out(view.run, view.discrepancies)))
