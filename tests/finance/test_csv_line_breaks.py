"""CSV injection through a line break: ``regie.kit.spreadsheet.safe_cell`` puts a ``'``
before a formula start at the start of a value and after a ``;`` or ``,`` in it, because
Excel in a French locale splits a ``.csv`` on ``;``. Read that way, a quote that does not
open a field is plain text, so a line break inside a value ends the row there, and what
follows the break starts a new row's first cell, which nothing guards. A description
``"Permis\\n=1+2;x"`` (or a bank remittance text) gives a live ``=1+2`` cell."""

from __future__ import annotations

import csv
import io

import httpx

from tests.conftest import Keys, create_invoice
from tests.finance.test_runs import signed_in
from tests.reconciliation.test_reconcile_api import _period, _upload, camt
from tests.reconciliation.test_reconcile_api import settings as settings  # noqa: F401

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def live_cells(text: str) -> list[tuple[str, str]]:
    """The cells that start a formula when the file is split on either separator (the
    model of tests/finance/test_spreadsheet_exports.py)."""
    found = []
    for sep in (",", ";"):
        for row in csv.reader(io.StringIO(text), delimiter=sep):
            found += [(sep, c) for c in row if c.startswith(FORMULA_STARTS)]
    return found


async def test_an_invoice_description_with_a_line_break_cannot_start_a_formula_cell(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await create_invoice(client, keys.urbanisme, description="Permis\n=1+2;x")
    await signed_in(client, keys)
    got = await client.get("/finance/invoices.csv")
    assert got.status_code == 200
    assert live_cells(got.text) == [], got.text


async def test_a_bank_remittance_with_a_line_break_cannot_start_a_formula_cell(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    """Anyone can wire 0.01 € to the town's IBAN; the remittance text becomes the detail of
    an unexpected bank credit, in the run's CSV (API and workspace)."""
    fin = Keys.h(keys.finance)
    r = await _upload(client, keys.finance, camt([("BNK-1", "0.01", "SUBV\n=1+2;x")]))
    assert r.status_code == 201, r.text
    run = (await client.post("/v1/reconciliations", json=_period(), headers=fin)).json()
    assert run["discrepancies"][0]["detail"] == "SUBV\n=1+2;x"
    api = await client.get(f"/v1/reconciliations/{run['id']}.csv", headers=fin)
    assert live_cells(api.text) == [], api.text
    await signed_in(client, keys)
    page = await client.get(f"/finance/runs/{run['id']}.csv")
    assert live_cells(page.text) == [], page.text
