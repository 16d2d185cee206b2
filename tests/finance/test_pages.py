"""The workspace's pages with data: the dashboard's balances, the ledger at a date with
natural signs, the invoices search and its CSV export (ASGI app, SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from html import unescape

import pytest

import regie.finance.router as finance_router
from regie.finance.forms import invoice_filters
from regie.kit.database import utcnow
from tests.conftest import Keys, create_invoice, pay
from tests.finance.conftest import sign_in

NBSP = "\u00a0"


def row_of(html: str, account: str) -> list[str]:
    """The cells of the table row whose header cell is ``account``."""
    m = re.search(
        r"<tr>\s*<th scope=\"row\"><code>" + re.escape(account) + r"</code></th>(.*?)</tr>",
        html,
        re.S,
    )
    assert m, f"no row for {account}"
    return [
        unescape(re.sub(r"<[^>]+>", "", c)).strip()
        for c in re.findall(r"<td[^>]*>(.*?)</td>", m.group(1), re.S)
    ]


@pytest.fixture
async def paid(client, app, keys: Keys) -> dict:
    """Two invoices of urbanisme (one paid), one of état civil; signed in as finance."""
    first = await create_invoice(client, keys.urbanisme, reference="PC-1", amount=8500,
                                 description="Permis de construire")  # fmt: skip
    await create_invoice(client, keys.urbanisme, reference="PC-2", amount=1234,
                         description="=HYPERLINK(\"http://evil\")",
                         payer={"name": "@Dominique Lefèvre"})  # fmt: skip
    await create_invoice(client, keys.etat_civil, reference="EC-1", amount=350,
                         description="Acte de naissance")  # fmt: skip
    result = await pay(client, first, apply=app)
    assert result.response.status_code == 303
    r = await sign_in(client, keys.finance)
    assert r.status_code == 303
    return first


async def test_the_dashboard_shows_the_clearing_and_bank_balances(client, app, paid) -> None:
    r = await client.get("/finance/")
    assert r.status_code == 200
    cells = row_of(r.text, "assets:psp:simulator")
    assert cells[0] == "EUR"
    fee = int(re.sub(r"\D", "", cells[1]))
    assert 0 < 8500 - fee < 8500  # 85,00 € less the simulator's fee
    assert "Aucune écriture pour l'instant." in unescape(r.text)  # no payout to the bank yet
    assert r.headers["content-security-policy"].startswith("default-src 'self'")
    assert r.headers["cache-control"] == "no-store"


async def test_the_ledger_shows_natural_signs_and_types(client, app, paid) -> None:
    r = await client.get("/finance/ledger")
    assert r.status_code == 200
    income = row_of(r.text, "income:urbanisme")
    # type, balance (natural sign), debits, credits, currency, PCG account
    assert income == ["Produit", f"97,34{NBSP}€", f"0,00{NBSP}€", f"97,34{NBSP}€", "EUR", "706000"]
    receivable = row_of(r.text, "receivable:urbanisme")
    assert receivable[:4] == ["Actif", f"12,34{NBSP}€", f"97,34{NBSP}€", f"85,00{NBSP}€"]
    assert row_of(r.text, "expenses:psp_fees")[0] == "Charge"
    assert re.search(r"EUR\u00a0: débits = crédits = ", r.text)
    en = await client.get("/finance/ledger?lang=en")
    assert row_of(en.text, "income:urbanisme")[:2] == ["Income", "€97.34"]


async def test_a_date_that_is_not_one_is_not_captioned_as_the_day_asked_for(
    client, app, paid
) -> None:
    """?at=2026-02-30 shows today's balances with the error at the field; the caption said
    "asked for <today>", a day the officer never asked for."""
    caption = re.compile(r"<caption[^>]*>([^<]*)</caption>")
    for lang, asked in (("fr", "demandés"), ("en", "asked for")):
        page = unescape((await client.get(f"/finance/ledger?at=2026-02-30&lang={lang}")).text)
        (said,) = caption.findall(page)
        assert asked not in said and ("à cet instant" in said or "as of now" in said), said


async def test_the_ledger_captions_a_day_not_over_as_the_balances_of_now(client, app, paid) -> None:
    """Today's table said "balances at the end of the day" under "these are the balances of
    this instant": a day that is over is captioned by its end, one not over by now."""
    caption = re.compile(r"<caption[^>]*>([^<]*)</caption>")
    today = caption.findall(unescape((await client.get("/finance/ledger?lang=fr")).text))
    assert today and "au soir" not in today[0] and "à cet instant" in today[0]
    en = caption.findall(unescape((await client.get("/finance/ledger?lang=en")).text))
    assert en and "end of" not in en[0] and "as of now" in en[0]
    ahead = (utcnow() + dt.timedelta(days=3)).date().isoformat()
    later = caption.findall(
        unescape((await client.get(f"/finance/ledger?at={ahead}&lang=fr")).text)
    )
    assert later and "à cet instant" in later[0]


async def test_the_ledger_at_a_date_before_any_entry_is_empty(client, app, paid) -> None:
    r = await client.get("/finance/ledger?at=2020-01-31")
    assert r.status_code == 200
    assert "Aucune écriture au 31 janvier 2020." in r.text
    r = await client.get("/finance/ledger?at=31/01/2020")
    assert r.status_code == 400
    assert 'aria-invalid="true"' in r.text and "AAAA-MM-JJ" in r.text


async def test_the_invoices_search_sees_every_service_and_filters(client, app, paid) -> None:
    r = await client.get("/finance/invoices")
    assert r.status_code == 200
    assert "Factures trouvées\u00a0: 3" in r.text
    assert "URBANISME-2026" in r.text or "URBANISME-" in r.text
    assert "ETAT-CIVIL-" in r.text
    r = await client.get("/finance/invoices?q=permis")
    assert "Factures trouvées\u00a0: 1" in r.text and "PC-1" in r.text
    r = await client.get("/finance/invoices?q=lefèvre")  # the payer's name, any case
    assert "Factures trouvées\u00a0: 1" in r.text and "PC-2" in r.text
    # any case of a letter outside ASCII too, on SQLite as on PostgreSQL
    r = await client.get("/finance/invoices?q=LEFÈVRE")
    assert "Factures trouvées\u00a0: 1" in r.text and "PC-2" in r.text
    r = await client.get("/finance/invoices?status=paid")
    assert "Factures trouvées\u00a0: 1" in r.text and "Payée" in r.text
    r = await client.get("/finance/invoices?service=etat-civil")
    assert "Factures trouvées\u00a0: 1" in r.text and "EC-1" in r.text
    r = await client.get("/finance/invoices?q=100%25")  # a LIKE wildcard is a character
    assert "Factures trouvées\u00a0: 0" in r.text
    r = await client.get("/finance/invoices?to=2020-01-01")
    assert "Factures trouvées\u00a0: 0" in r.text
    r = await client.get("/finance/invoices?from=2020-01-01&status=lost")
    assert r.status_code == 400 and "Ce statut n&#39;existe pas." in r.text
    assert "Factures trouvées\u00a0: 3" in r.text  # the other filters still apply


async def test_the_invoices_are_paginated(client, app, paid, monkeypatch) -> None:
    monkeypatch.setattr(finance_router, "PAGE_SIZE", 2)
    r = await client.get("/finance/invoices")
    assert "Factures, page 1 sur 2" in r.text
    assert r.text.count('<tr>\n    <th scope="row">') == 2
    assert 'href="/finance/invoices?page=2" rel="next"' in r.text
    r = await client.get("/finance/invoices?page=2")
    assert "Factures, page 2 sur 2" in r.text
    assert r.text.count('<tr>\n    <th scope="row">') == 1
    assert 'href="/finance/invoices?" rel="prev"' in r.text or 'rel="prev"' in r.text


async def test_a_page_past_the_last_shows_the_last(client, app, paid, monkeypatch) -> None:
    """``?page=5`` of 2 pages (a bookmark, or a link from before a filter narrowed the
    search) said "3 invoices found" above no table and no way to the pages: its caption
    read "page 2 of 2", its rows were those of page 5 (none)."""
    monkeypatch.setattr(finance_router, "PAGE_SIZE", 2)
    r = await client.get("/finance/invoices?page=5")
    assert r.status_code == 200
    assert "Factures trouvées\u00a0: 3" in r.text
    assert "Factures, page 2 sur 2" in r.text
    assert r.text.count('<tr>\n    <th scope="row">') == 1
    assert 'rel="prev"' in r.text and 'rel="next"' not in r.text
    r = await client.get("/finance/invoices?page=5&service=etat-civil")  # one page of one
    assert r.text.count('<tr>\n    <th scope="row">') == 1 and "EC-1" in r.text


async def test_the_csv_export_has_every_match_exact_amounts_and_no_formula(
    client, app, paid
) -> None:
    r = await client.get("/finance/invoices.csv")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"].startswith('attachment; filename="invoices-')
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 3
    by_ref = {x["reference"]: x for x in rows}
    assert by_ref["PC-1"]["amount_total"] == "85.00" and by_ref["PC-1"]["amount_paid"] == "85.00"
    assert by_ref["PC-1"]["status"] == "paid" and by_ref["PC-1"]["paid_at"].endswith("Z")
    assert by_ref["EC-1"]["amount_total"] == "3.50" and by_ref["EC-1"]["service"] == "etat-civil"
    assert by_ref["PC-2"]["description"] == '\'=HYPERLINK("http://evil")'
    assert by_ref["PC-2"]["payer_name"] == "'@Dominique Lefèvre"
    r = await client.get("/finance/invoices.csv?service=urbanisme&status=open")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [x["reference"] for x in rows] == ["PC-2"]


async def test_the_csv_export_streams_past_one_batch(client, app, keys: Keys, monkeypatch) -> None:
    import payments.service.search as search

    monkeypatch.setattr(search, "EXPORT_BATCH", 2)
    for i in range(5):
        await create_invoice(client, keys.urbanisme, reference=f"B-{i}", amount=100 + i)
    await sign_in(client, keys.finance)
    r = await client.get("/finance/invoices.csv")
    refs = [x["reference"] for x in csv.DictReader(io.StringIO(r.text))]
    assert refs == [f"B-{i}" for i in reversed(range(5))]  # newest first, each once


async def test_pages_are_in_english_from_accept_language(client, app, paid) -> None:
    client.headers["Accept-Language"] = "en-GB,en;q=0.8"
    for path, title in (
        ("/finance/", "Dashboard"),
        ("/finance/ledger", "Ledger balances"),
        ("/finance/invoices", "Invoices"),
    ):
        r = await client.get(path)
        assert '<html lang="en">' in r.text and f"<h1>{title}</h1>" in r.text, path
        assert 'hreflang="fr"' in r.text


async def test_every_page_holds_its_slice_of_the_newest_first_order(
    client, app, keys: Keys, monkeypatch
) -> None:
    """The pages in the older half are read from the oldest invoice and turned round
    (``search.page_window``): walked one by one, the pages give every invoice once, newest
    first, as the CSV export does, filtered or not."""
    monkeypatch.setattr(finance_router, "PAGE_SIZE", 3)
    for i in range(8):
        slug = keys.urbanisme if i % 3 else keys.etat_civil
        await create_invoice(client, slug, reference=f"W-{i}", amount=100 + i)
    await sign_in(client, keys.finance)
    ref = re.compile(r'<span class="note">(W-\d)</span>')
    for filters, count in (("", 8), ("service=urbanisme&", 5)):
        export = await client.get(f"/finance/invoices.csv?{filters}")
        expected = [x["reference"] for x in csv.DictReader(io.StringIO(export.text))]
        assert len(expected) == count
        walked: list[str] = []
        for number in range(1, -(-count // 3) + 1):
            r = await client.get(f"/finance/invoices?{filters}page={number}")
            assert r.status_code == 200
            walked += ref.findall(r.text)
        assert walked == expected


@pytest.mark.parametrize(
    ("lang", "days", "utc"),
    [
        ("fr", "Les jours de création sont des jours de Paris", "Les heures du CSV sont en UTC"),
        ("en", "Creation days are Paris days", "The CSV's times are UTC"),
    ],
)
async def test_the_invoices_form_says_its_days_are_paris_days_and_the_csvs_times_utc(
    client, app, paid, lang: str, days: str, utc: str
) -> None:
    r = await client.get(f"/finance/invoices?lang={lang}")
    assert r.status_code == 200
    page = unescape(r.text).replace(NBSP, " ")
    hint = re.search(r'<p class="hint" id="days-hint">(.*?)</p>', page, re.S)
    assert hint and days in hint.group(1) and utc in hint.group(1), page
    for name in ("from", "to"):  # read out with each date field
        field = re.search(rf'<input id="{name}"[^>]*>', page)
        assert field and re.search(r'aria-describedby="[^"]*\bdays-hint\b', field.group(0))
    # what the hint says: a day is Paris's (1 November begins at 23:00 UTC on 31 October)…
    query = invoice_filters({"from": "2026-11-01", "to": "2026-11-01"}, []).query()
    assert query.created_gte == dt.datetime(2026, 10, 31, 23, tzinfo=dt.UTC)
    assert query.created_lt == dt.datetime(2026, 11, 1, 23, tzinfo=dt.UTC)
    # …and the CSV's times are UTC
    rows = list(csv.DictReader(io.StringIO((await client.get("/finance/invoices.csv")).text)))
    assert rows and all(x["created_at"].endswith("Z") for x in rows)
