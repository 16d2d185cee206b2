"""The run's reports through the API (SQLite and PostgreSQL): the longest note the API
accepts still gives a PDF, in this run and the next (decisions hold by key), and who
resolved is said by the key's service, never its raw id."""

from __future__ import annotations

import csv
import io

import httpx
from pypdf import PdfReader

from tests.conftest import Keys
from tests.reconciliation.test_reconcile_api import _period, _upload, camt
from tests.reconciliation.test_reconcile_api import settings as settings  # noqa: F401

LONGEST_NOTE = ("Subvention de la prefecture. " * 69)[:2000]


async def test_the_longest_note_gives_a_pdf_in_this_run_and_the_next(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    fin = Keys.h(keys.finance)
    assert (
        await _upload(client, keys.finance, camt([("BNK-1", "1500.00", "SUBV")]))
    ).status_code == 201
    run = (await client.post("/v1/reconciliations", json=_period(), headers=fin)).json()
    credit = run["discrepancies"][0]
    r = await client.post(
        f"/v1/reconciliations/{run['id']}/discrepancies/{credit['id']}/resolve",
        json={"note": LONGEST_NOTE}, headers=fin,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    later = (await client.post("/v1/reconciliations", json=_period(), headers=fin)).json()
    for run_id in (run["id"], later["id"]):
        pdf = await client.get(f"/v1/reconciliations/{run_id}.pdf", headers=fin)
        assert pdf.status_code == 200, pdf.text
        text = " ".join(
            " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages).split()
        )
        assert "Subvention de la prefecture. Subvention" in text
        assert "key_" not in text and "by the finance key of Régie de recettes (" in text
        rows = list(csv.DictReader(io.StringIO(
            (await client.get(f"/v1/reconciliations/{run_id}.csv", headers=fin)).text)))  # fmt: skip
        assert rows[0]["resolution_note"] == LONGEST_NOTE
        assert rows[0]["resolved_by"] == f"Régie de recettes, finance key {keys.finance[:12]}…"
