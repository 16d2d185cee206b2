"""The workspace's invoices search finds a text in whatever Unicode form it is typed: the
references are stored in NFKC, the texts in NFC (payments/schemas.py, migration 0039), so the
query is brought to the same forms before it is compared (the page and its CSV)."""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import Keys, create_invoice
from tests.finance.conftest import sign_in

FOUND_ONE = "Factures trouvées\u00a0: 1"


@pytest.fixture
async def stored(client: httpx.AsyncClient, keys: Keys) -> None:
    await create_invoice(client, keys.urbanisme, reference="RÉF-12", amount=1000,
                         description="Réfection de la toiture",
                         payer={"name": "Hélène Dupré"})  # fmt: skip
    await create_invoice(client, keys.urbanisme, reference="PC-77", amount=2000,
                         description="Droits de place \ufb01xes")  # fmt: skip
    await create_invoice(client, keys.etat_civil, reference="EC-1", amount=350,
                         description="Acte de naissance")  # fmt: skip
    assert (await sign_in(client, keys.finance)).status_code == 303


async def _csv_references(client: httpx.AsyncClient, q: str) -> list[str]:
    r = await client.get(f"/finance/invoices.csv?q={quote(q)}")
    assert r.status_code == 200, r.text
    return [row["reference"] for row in csv.DictReader(io.StringIO(r.text.lstrip("\ufeff")))]


@pytest.mark.parametrize(
    ("q", "reference"),
    [
        ("Re\u0301fection", "RÉF-12"),  # a decomposed "é" (macOS, some spreadsheets) in a text
        ("he\u0301le\u0300ne", "RÉF-12"),  # in the payer's name
        ("RE\u0301F-12", "RÉF-12"),  # in a reference
        ("\uff30\uff23-\uff17\uff17", "PC-77"),  # fullwidth letters and digits (ＰＣ-７７)
        ("PC\uff0d77", "PC-77"),  # a fullwidth hyphen-minus
        ("\ufb01xes", "PC-77"),  # a ligature stored as typed (NFC keeps it) is found as such
    ],
)
async def test_a_query_in_another_unicode_form_finds_the_invoice(
    client: httpx.AsyncClient, stored: None, q: str, reference: str
) -> None:
    """A decomposed "é" or a fullwidth "７" was compared as typed with the stored NFC text or
    NFKC reference: "Factures trouvées : 0", an empty CSV."""
    r = await client.get(f"/finance/invoices?q={quote(q)}")
    assert r.status_code == 200
    assert FOUND_ONE in r.text and reference in r.text, q
    assert await _csv_references(client, q) == [reference]
