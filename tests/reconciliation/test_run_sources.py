"""A run names every file its bank side came from: the statements it was given, and the
statements imported before whose entries or closing balance it read (by file, SHA-256 and
day of import), in the API, on the page and in the PDF."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from reconciliation.report import DAY_ZONE
from regie.kit.i18n import format_day
from regie.kit.settings import Settings
from tests.conftest import Keys, create_invoice, pay
from tests.reconciliation.test_reconcile_api import IBAN, _period, camt


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


async def test_a_run_names_the_statements_imported_before_that_it_read(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    fin = Keys.h(keys.finance)
    await pay(client, await create_invoice(client, keys.urbanisme, amount=1000, reference="S"))
    earlier = camt([("BNK-E", "12.34", "SUBVENTION")], stmt="STMT-E")
    r = await client.post("/v1/bank-statements", headers=fin,
                          files={"file": ("octobre.xml", earlier, "application/xml")})  # fmt: skip
    assert r.status_code in (200, 201), r.text
    given = camt([("BNK-G", "5.00", "AUTRE")], stmt="STMT-G", seq=2)
    r = await client.post(
        "/v1/reconciliations", data=_period(), headers=fin,
        files={"camt053": ("releve.xml", given, "application/xml")},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    sources = r.json()["sources"]
    sha = {"octobre.xml": hashlib.sha256(earlier).hexdigest(),
           "releve.xml": hashlib.sha256(given).hexdigest()}  # fmt: skip
    kinds = [(s["kind"], s.get("filename"), s.get("sha256")) for s in sources]
    assert ("camt053", "releve.xml", sha["releve.xml"]) in kinds  # given: listed once
    assert ("bank_statement", "octobre.xml", sha["octobre.xml"]) in kinds
    assert [k for k in kinds if k[1] == "releve.xml"] == [
        ("camt053", "releve.xml", sha["releve.xml"])
    ]
    (imported,) = [s for s in sources if s["kind"] == "bank_statement"]
    assert imported["imported_at"][:10] == _period()["period_from"]

    run_id = r.json()["id"]
    pdf = (await client.get(f"/v1/reconciliations/{run_id}.pdf", headers=fin)).content
    words = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())
    # the day of the import in Paris, as every page and report gives it (at 23:30 UTC in
    # winter, already the next day's; the test compared the UTC day and failed in that hour)
    day = dt.datetime.fromisoformat(imported["imported_at"]).astimezone(DAY_ZONE).date()
    assert f"statement octobre.xml imported on {format_day(day, 'en')}" in words
    assert f"file releve.xml (SHA-256 {sha['releve.xml'][:12]})" in words


async def test_a_run_without_any_statement_names_none(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    fin = Keys.h(keys.finance)
    await pay(client, await create_invoice(client, keys.urbanisme, amount=1000, reference="S"))
    r = await client.post("/v1/reconciliations", json=_period(), headers=fin)
    assert r.status_code == 201, r.text
    assert [s["kind"] for s in r.json()["sources"]] == ["psp"]
