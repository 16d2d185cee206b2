"""What the workspace's run page and reports say (SQLite and PostgreSQL): the PDF in the
page's language, who decided said by the key, never a raw id, and the resolve form's
hint saying what is kept (the key, not a person's name)."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
from pypdf import PdfReader

from tests.conftest import Keys
from tests.finance.test_runs import (
    item_ids,
    lost_and_unexpected,
    page_text,
    payout_named_by_an_off_credit,
    run_id_of,
    signed_in,
    start,
)
from tests.finance.test_runs import settings as settings  # noqa: F401


def pdf_text(r: httpx.Response) -> str:
    assert r.status_code == 200 and r.content.startswith(b"%PDF"), r.text[:300]
    return " ".join(
        " ".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages).split()
    )


async def test_the_pdf_follows_the_page_language_and_names_the_key(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    await lost_and_unexpected(app, client, keys)
    csrf = await signed_in(client, keys)
    run_id = run_id_of(await start(client, csrf))
    (dsc,) = item_ids((await client.get(f"/finance/runs/{run_id}")).text, "d")
    r = await client.post(
        f"/finance/runs/{run_id}/discrepancies/{dsc}/resolve", data={"csrf": csrf, "note": "Vu"}
    )
    assert r.status_code == 303
    fr = pdf_text(await client.get(f"/finance/runs/{run_id}.pdf"))
    assert "Rapprochement du " in fr and "Absent du grand livre" in fr
    assert "Résolution : Vu — Régie de recettes, clé finance rk_test_fin_…" in fr
    assert "key_" not in fr
    en = pdf_text(await client.get(f"/finance/runs/{run_id}.pdf?lang=en"))
    assert "Reconciliation, " in en and "Missing in the ledger" in en
    assert "Resolution: Vu — Régie de recettes, finance key rk_test_fin_…" in en
    rows = list(csv.DictReader(io.StringIO((await client.get(f"/finance/runs/{run_id}.csv")).text)))
    assert rows[0]["category"] == "missing_in_ledger" and rows[0]["status"] == "resolved"
    assert rows[0]["resolved_by"] == "Régie de recettes, clé finance rk_test_fin_…"


async def test_the_resolve_hint_says_the_key_is_kept_not_a_name(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    await lost_and_unexpected(app, client, keys)
    csrf = await signed_in(client, keys)
    run_id = run_id_of(await start(client, csrf))
    fr = page_text(await client.get(f"/finance/runs/{run_id}"))
    assert "votre nom" not in fr and "conservée avec la clé de connexion" in fr
    en = page_text(await client.get(f"/finance/runs/{run_id}?lang=en"))
    assert "your name" not in en and "kept with the key you signed in with" in en


async def test_the_run_page_names_the_statement_imported_before_that_it_read(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    csrf = await signed_in(client, keys)
    await payout_named_by_an_off_credit(app, client, keys, csrf)  # uploads releve.xml
    run_id = run_id_of(await start(client, csrf))  # given no statement
    fr = page_text(await client.get(f"/finance/runs/{run_id}"))
    said = fr.replace("\u00a0", " ")
    assert (
        "Sources : lignes lues chez le prestataire simulator ; relevé releve.xml importé le" in said
    )
    en = page_text(await client.get(f"/finance/runs/{run_id}?lang=en"))
    assert "statement releve.xml imported on" in en
