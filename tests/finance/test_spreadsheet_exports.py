"""The exports a finance officer opens in a spreadsheet or prints (the run's CSV and PDF,
the invoices CSV of the workspace): accents Excel reads, no formula cell whatever the
locale's separator, a resolution dated on the day the pages show."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import httpx
from pypdf import PdfReader

from reconciliation.report import sources_text
from reconciliation.report_pdf import to_pdf
from reconciliation.schemas import Decision, DiscrepancyOut, RunOut
from regie.kit.web import format_date
from tests.conftest import Keys, create_invoice
from tests.finance.test_runs import signed_in
from tests.reconciliation.test_reconcile_api import _period, _upload, camt
from tests.reconciliation.test_reconcile_api import settings as settings  # noqa: F401

BOM = b"\xef\xbb\xbf"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


async def test_the_run_csv_keeps_its_accents_when_excel_opens_it(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    """A finance officer double-clicks the run's CSV (GET /v1/reconciliations/{id}.csv): Excel
    reads a CSV without a byte order mark in the Windows code page (cp1252 in France), so the
    note "Subvention de l'État" and "Régie de recettes" in resolved_by show as
    "Subvention de l'Ã‰tat" and "RÃ©gie de recettes". They should see their accents: the file
    should start with the UTF-8 byte order mark, as Excel needs to read it as UTF-8."""
    fin = Keys.h(keys.finance)
    assert (
        await _upload(client, keys.finance, camt([("BNK-1", "15.00", "SUBV")]))
    ).status_code == 201
    run = (await client.post("/v1/reconciliations", json=_period(), headers=fin)).json()
    d = run["discrepancies"][0]
    r = await client.post(
        f"/v1/reconciliations/{run['id']}/discrepancies/{d['id']}/resolve",
        json={"note": "Subvention de l'État"}, headers=fin,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    got = await client.get(f"/v1/reconciliations/{run['id']}.csv", headers=fin)
    assert got.status_code == 200
    assert "Subvention de l'État".encode() in got.content  # UTF-8 it is…
    assert got.content.startswith(BOM), got.content[:40]  # …but Excel is not told so


async def test_the_invoices_csv_keeps_its_accents_when_excel_opens_it(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    """The invoices export of the workspace (/finance/invoices.csv), opened in Excel: the
    payer "Hélène Dupré" reads "HÃ©lÃ¨ne DuprÃ©" (no byte order mark, so Excel reads the
    UTF-8 bytes as cp1252). It should read "Hélène Dupré": the file should start with the
    UTF-8 byte order mark."""
    await create_invoice(
        client,
        keys.urbanisme,
        amount=2500,
        payer={"name": "Hélène Dupré", "email": "h@example.org"},
    )
    await signed_in(client, keys)
    got = await client.get("/finance/invoices.csv")
    assert got.status_code == 200
    assert "Hélène Dupré".encode() in got.content
    assert got.content.startswith(BOM), got.content[:40]


async def test_a_bank_remittance_cannot_start_a_formula_cell_in_a_french_excel(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    """Anyone can wire 0.01 € to the town's IBAN with the remittance text
    "SUBV;=1+2;": it becomes the detail of an unexpected bank credit, written unquoted in
    the run's CSV (Python's csv module quotes only fields holding a comma, a quote or a line
    end). Excel in a French locale splits a CSV on ";" (the list separator of the locale),
    so the officer's spreadsheet gets a cell "=1+2" — a live formula (with =WEBSERVICE(…)
    and CHAR(…), one that sends the sheet away). The prefix "'" only guards the start of
    the whole value. Read with either separator, no cell should start a formula."""
    fin = Keys.h(keys.finance)
    remittance = "SUBV;=1+2;"
    r = await _upload(client, keys.finance, camt([("BNK-1", "0.01", remittance)]))
    assert r.status_code == 201, r.text
    run = (await client.post("/v1/reconciliations", json=_period(), headers=fin)).json()
    assert run["discrepancies"][0]["detail"] == remittance
    text = (await client.get(f"/v1/reconciliations/{run['id']}.csv", headers=fin)).text
    for sep in (",", ";"):
        cells = [c for row in csv.reader(io.StringIO(text), delimiter=sep) for c in row]
        live = [c for c in cells if c.startswith(FORMULA_STARTS)]
        assert live == [], (sep, live)


def _resolved_run(resolved_at: dt.datetime) -> RunOut:
    at = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
    return RunOut(
        id="run_1", period_from=dt.date(2026, 11, 1), period_to=dt.date(2026, 11, 30),
        as_of=dt.date(2026, 12, 2), provider="stripe", sources=[], inputs_sha256="ab" * 32,
        actor="key_1", created_at=at,
        summary={"matched_count": 0, "matched_amount": {}, "payouts_matched": 0, "in_transit": [],
                 "open": 0, "resolved": 1,
                 "categories": [{"category": "unexpected_bank_credit", "currency": "EUR",
                                 "count": 1, "amount": 1500}]},
        tie_outs=[],
        discrepancies=[
            DiscrepancyOut(id="dsc_1", category="unexpected_bank_credit", amount=1500,
                           currency="EUR", status="resolved", psp_reference=None, payout_id=None,
                           bank_reference="BNK-1", ledger_entry=None, detail="SUBV",
                           resolution=Decision(action="resolve", note="Subvention",
                                               actor="key_2", created_at=resolved_at)),
        ],
    )  # fmt: skip


def test_the_pdf_dates_a_resolution_on_the_day_the_page_shows() -> None:
    """An officer resolves a discrepancy at 00:30 on 1 December (Paris time; 23:30 UTC on
    30 November). The run's page says the resolution was made on 1 December (the workspace
    shows Paris days), but the printed report (to_pdf, in French) says "le 2026-11-30": a
    UTC day, not marked as one (the run's own time says "UTC", the resolution's date does
    not). The PDF filed with the accounts should date the resolution 1 December, as the
    page does."""
    run = _resolved_run(dt.datetime(2026, 11, 30, 23, 30, tzinfo=dt.UTC))
    pdf = PdfReader(io.BytesIO(to_pdf(run, lang="fr")))
    text = " ".join(" ".join(p.extract_text() for p in pdf.pages).split())
    line = re.search(r"Résolution\s*: Subvention.*", text)
    assert line, text
    said = line.group(0)[:200]
    assert "2026-11-30" not in said, said
    assert any(
        x in said for x in ("2026-12-01", "01/12/2026", "1 décembre 2026", "1er décembre 2026")
    ), said


def test_a_statement_imported_late_in_the_utc_day_is_dated_as_the_pages_show() -> None:
    """A statement imported at 23:30 UTC on 30 November (00:30 on 1 December in Paris): the
    run's sources line said "importé le 30 novembre" (the UTC day) in the PDF and on the run's
    page, where the rest of the page (the run's own time) says 1 December."""
    sources = [{"kind": "bank_statement", "filename": "releve.xml", "sha256": "ab" * 32,
                "imported_at": "2026-11-30T23:30:00+00:00"}]  # fmt: skip
    assert "importé le 1er décembre 2026" in sources_text(sources, "fr")
    assert format_date(sources[0]["imported_at"], "fr") == "1er décembre 2026"
