"""A suggestion shows both of its sides: the payout's amount and expected day beside the bank
credit's amount and booking day, and what differs, in the API, the pages and the PDF; one
stored before both sides were kept says so instead of showing nothing."""

from __future__ import annotations

import io
import re
from typing import Any

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import text

from regie.kit.settings import Settings
from regie.kit.web import format_iso_date
from tests.conftest import Keys
from tests.finance.test_runs import (
    item_ids,
    page_text,
    payout_named_by_an_off_credit,
    run_id_of,
    signed_in,
    start,
)
from tests.reconciliation.test_reconcile_api import IBAN


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


async def run_with_a_suggestion(app: Any, client: httpx.AsyncClient, keys: Keys) -> tuple[Any, str]:
    """Signed in, a payout and a bank credit naming it one cent more, and a run of today:
    the payout and the run's id."""
    csrf = await signed_in(client, keys)
    payout = await payout_named_by_an_off_credit(app, client, keys, csrf)
    return payout, run_id_of(await start(client, csrf))


def euros(minor: int) -> str:
    """French money as the pages write it (``25,01\u00a0€``)."""
    return f"{minor // 100},{minor % 100:02d}\u00a0€"


async def test_the_api_gives_each_side_of_a_suggestion_and_the_difference(
    app, client: httpx.AsyncClient, keys: Keys
) -> None:
    payout, run_id = await run_with_a_suggestion(app, client, keys)
    r = await client.get(f"/v1/reconciliations/{run_id}", headers=Keys.h(keys.finance))
    (s,) = r.json()["suggestions"]
    assert s["payouts"] == [
        {"id": payout.id, "amount": payout.amount, "date": payout.arrival_date.isoformat()}
    ]
    (credit,) = s["bank_credits"]
    assert (credit["reference"], credit["amount"]) == ("BNK-P", payout.amount + 1)
    assert s["amount"] == payout.amount + 1 and s["payout_amount"] == payout.amount
    assert s["difference"] == 1


async def test_the_page_shows_both_sides_and_what_the_bank_received_more(
    app, client: httpx.AsyncClient, keys: Keys
) -> None:
    payout, run_id = await run_with_a_suggestion(app, client, keys)
    page = await client.get(f"/finance/runs/{run_id}")
    words = page_text(page)
    expected = f"attendu le {format_iso_date(payout.arrival_date.isoformat(), 'fr')}"
    assert f"Virement du prestataire {payout.id} {expected} {euros(payout.amount)}" in words
    assert "Crédit en banque BNK-P comptabilisé le" in words
    assert euros(payout.amount + 1) in words
    assert f"La banque a reçu {euros(1)} de plus que le ou les virements." in words
    assert "ne conserve" not in words and "date d'avant" not in words
    english = page_text(await client.get(f"/finance/runs/{run_id}?lang=en"))
    assert "The bank received €0.01 more than the payout or payouts." in english


async def test_the_pdf_lists_both_sides_with_their_amounts_and_the_difference(
    app, client: httpx.AsyncClient, keys: Keys
) -> None:
    payout, run_id = await run_with_a_suggestion(app, client, keys)
    pdf = (await client.get(f"/finance/runs/{run_id}.pdf")).content
    lines = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).splitlines()
    assert any(payout.id in line for line in lines), "the payout's id was cut across lines"
    said = " ".join(" ".join(lines).split())
    assert "BNK-P" in said
    assert f"attendu le {format_iso_date(payout.arrival_date.isoformat(), 'fr')}" in said
    assert euros(payout.amount).replace("\u00a0", " ") in said.replace("\u00a0", " ")
    assert "Écart (banque − virements)" in said


async def test_a_suggestion_stored_before_both_sides_were_kept_says_so(
    app, client: httpx.AsyncClient, keys: Keys
) -> None:
    _payout, run_id = await run_with_a_suggestion(app, client, keys)
    async with app.state.db.session() as s:  # as migration 0023 leaves the older rows
        await s.execute(text("UPDATE recon_suggestions SET payout_items = NULL, bank_items = NULL"))
        await s.commit()
    r = await client.get(f"/v1/reconciliations/{run_id}", headers=Keys.h(keys.finance))
    (x,) = r.json()["suggestions"]
    assert (x["payouts"], x["bank_credits"], x["payout_amount"], x["difference"]) == (None,) * 4
    page = await client.get(f"/finance/runs/{run_id}")
    assert "date d'avant que regie conserve les deux côtés" in page_text(page)
    assert len(item_ids(page.text, "s")) == 1
    pdf = (await client.get(f"/finance/runs/{run_id}.pdf")).content
    assert "BNK-P" in " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


async def test_an_open_suggestion_is_said_open_in_french_in_the_feminine(
    app, client: httpx.AsyncClient, keys: Keys
) -> None:
    """*Une* suggestion: its tag on the French page, and its status in the French PDF, read
    "Ouverte", as "Confirmée" and "Rejetée" do; they read "Ouvert", the word of an écart
    (seen on the README's tour)."""
    _payout, run_id = await run_with_a_suggestion(app, client, keys)
    page = (await client.get(f"/finance/runs/{run_id}")).text
    (item,) = re.findall(r'<li class="item" id="s-sug_.*?</h3>', page, re.S)
    (tag,) = re.findall(r'<span class="tag [^"]*">([^<]*)</span>', item)
    assert tag == "Ouverte"
    pdf = (await client.get(f"/finance/runs/{run_id}.pdf")).content  # the page's language
    said = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())
    assert said.endswith("diffère. Ouverte"), said[-300:]
    english = (await client.get(f"/finance/runs/{run_id}?lang=en")).text
    (item,) = re.findall(r'<li class="item" id="s-sug_.*?</h3>', english, re.S)
    assert re.findall(r'<span class="tag [^"]*">([^<]*)</span>', item) == ["Open"]
