"""A file the readers refuse, and a period a run refuses, said in the page's language: in
French on a French page, in English on an English one (the API's words, with days in words
as the pages write them). Nothing is stored."""

from __future__ import annotations

from html import unescape
from typing import Any

import httpx
import pytest

from regie.kit.database import utcnow
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.finance.test_runs import signed_in, upload
from tests.reconciliation.test_reconcile_api import IBAN, camt

NBSP = "\u00a0"
EN = {"accept-language": "en"}


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


def usd_entry() -> bytes:
    """A statement of the EUR account with an entry in USD (on line 1: one line of XML)."""
    return camt([("BNK-1", "10.00", "A"), ("BNK-2", "5.00", "B")]).replace(
        b'<Amt Ccy="EUR">5.00</Amt>', b'<Amt Ccy="USD">5.00</Amt>'
    )


def net_off() -> bytes:
    """A Stripe report whose line 2 says net 8.13 for gross 8.50 less fee 0.38."""
    today = utcnow().date()
    return (
        "automatic_payout_id,balance_transaction_id,created,currency,gross,fee,net,"
        f"reporting_category\npo_1,txn_1,{today} 10:00:00,eur,8.50,0.38,8.13,charge\n"
    ).encode()


async def test_a_statement_in_another_currency_is_refused_in_the_page_language(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    csrf = await signed_in(client, keys)
    r = await upload(client, csrf, usd_entry(), "usd_entry.xml")
    assert r.status_code == 422
    assert (
        f"Erreur{NBSP}: Ce fichier ne peut pas être lu{NBSP}: usd_entry.xml, ligne 1{NBSP}: "
        f"relevé STMT-1{NBSP}: l'écriture est en USD, le compte en EUR"
    ) in unescape(r.text)
    assert "the entry is in USD" not in r.text
    r = await client.post(
        "/finance/bank-statements",
        data={"csrf": csrf},
        files={"camt053": ("usd_entry.xml", usd_entry(), "application/xml")},
        headers=EN,
    )
    assert r.status_code == 422
    assert (
        "Error: This file cannot be read: usd_entry.xml, line 1: "
        "statement STMT-1: the entry is in USD, the account in EUR"
    ) in unescape(r.text)
    listing = await client.get("/finance/bank-statements")
    assert '<th scope="row">' not in listing.text  # nothing imported


async def test_a_stripe_report_whose_net_is_off_is_refused_in_the_page_language(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    csrf = await signed_in(client, keys)
    today = utcnow().date().isoformat()
    form = {"csrf": csrf, "period_from": today, "period_to": today}
    files = {"stripe_csv": ("payouts.csv", net_off(), "text/csv")}
    r = await client.post("/finance/runs", data=form, files=files)
    assert r.status_code == 422
    assert (
        f"Ce fichier ne peut pas être lu{NBSP}: payouts.csv, ligne 2{NBSP}: "
        "brut 8.50 - frais 0.38 = 8.12, mais le net est 8.13"
    ) in unescape(r.text)
    assert "but net is" not in r.text
    r = await client.post("/finance/runs", data=form, files=files, headers=EN)
    assert r.status_code == 422
    assert (
        "This file cannot be read: payouts.csv, line 2: gross 8.50 - fee 0.38 = 8.12, "
        "but net is 8.13"
    ) in unescape(r.text)
    page = await client.get("/finance/runs")
    assert "Aucun rapprochement pour l'instant." in unescape(page.text)


async def test_a_period_with_nothing_to_reconcile_is_said_in_the_page_language(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    csrf = await signed_in(client, keys)
    form = {"csrf": csrf, "period_from": "2019-01-01", "period_to": "2019-01-31"}
    r = await client.post("/finance/runs", data=form)
    assert r.status_code == 422
    assert (
        f"Refusé{NBSP}: Rien à rapprocher du 1er janvier 2019 au 31 janvier 2019{NBSP}: aucune "
        "ligne du "
        "prestataire, aucune écriture du grand livre et aucune écriture bancaire sur cette "
        "période."
    ) in unescape(r.text)
    r = await client.post("/finance/runs", data=form, headers=EN)
    assert r.status_code == 422
    assert (
        "Refused: Nothing to reconcile from 1 January 2019 to 31 January 2019: no PSP line, no "
        "ledger entry and no bank entry in that period."
    ) in unescape(r.text)
    assert "from 2019-01-01" not in unescape(r.text)


@pytest.mark.parametrize(
    ("data", "french", "english"),
    [
        (b"<Document><Stmt></Document>", "la balise Stmt (ouverte ligne 1) est fermée par la balise Document",
         "not XML: Opening and ending tag mismatch: Stmt line 1 and Document"),
        (b"releve du mois", "il ne commence pas par une balise",
         "not XML: Start tag expected, '<' not found"),
        (b"\x00" * 64, "le fichier ne contient que des octets nuls, aucun texte",
         "the file holds only NUL bytes, no text"),
    ],
)  # fmt: skip
async def test_a_file_that_is_not_xml_is_described_in_french_on_a_french_page(
    client: httpx.AsyncClient, keys: Keys, data: bytes, french: str, english: str
) -> None:
    """libxml2 describes a broken file in English: the French page said "ce n'est pas du
    XML : Opening and ending tag mismatch…", and a file of NUL bytes "Document is empty"
    (``sources.parser_words``). The API and an English page keep the parser's words."""
    csrf = await signed_in(client, keys)
    r = await upload(client, csrf, data, "releve.xml")
    assert r.status_code == 422
    page = unescape(r.text)
    assert french in page and english.removeprefix("not XML: ") not in page
    r = await client.post(
        "/finance/bank-statements",
        data={"csrf": csrf},
        files={"camt053": ("releve.xml", data, "application/xml")},
        headers=EN,
    )
    assert r.status_code == 422 and english in unescape(r.text)
    api = await client.post(
        "/v1/bank-statements",
        files={"file": ("releve.xml", data, "application/xml")},
        headers=Keys.h(keys.finance),
    )
    assert api.status_code == 422 and english in api.json()["error"]["message"]
