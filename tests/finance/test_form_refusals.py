"""The finance workspace's forms and downloads refuse what they cannot take whole: a filter
the CSV cannot apply, a note that is not UTF-8 (SQLite and PostgreSQL)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import Keys, create_invoice
from tests.finance.test_runs import item_ids, run_id_of, signed_in, start, upload
from tests.reconciliation.test_reconcile_api import camt
from tests.reconciliation.test_reconcile_api import settings as settings  # noqa: F401


@pytest.mark.parametrize("query", ["from=31/10/2026", "status=payee", "service=urbanism"])
async def test_the_invoices_csv_refuses_a_filter_it_cannot_apply(
    client: httpx.AsyncClient, keys: Keys, query: str
) -> None:
    """An officer types the start date the French way (31/10/2026), or follows a bookmarked
    link with a status or service that does not exist: the invoices page answers 400 and names
    the wrong field, but still offers "Download CSV", and /finance/invoices.csv answers 200
    with *every* invoice of every day, status and service — the filter silently dropped, in a
    file that says nothing of it. The CSV should be refused (4xx) like the page, never
    exported with fewer filters than were asked for."""
    await create_invoice(client, keys.urbanisme, amount=2500, reference="OLD-1")
    await signed_in(client, keys)
    page = await client.get(f"/finance/invoices?{query}")
    assert page.status_code == 400  # the page knows the filter is wrong
    got = await client.get(f"/finance/invoices.csv?{query}")
    assert got.status_code >= 400, got.text[:300]


def _multipart(csrf: str, note: bytes) -> tuple[bytes, str]:
    b = "rvwB0undary"
    body = (
        (
            f'--{b}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{csrf}\r\n'
            f'--{b}\r\nContent-Disposition: form-data; name="note"\r\n\r\n'
        ).encode()
        + note
        + f"\r\n--{b}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={b}"


@pytest.mark.parametrize("form", ["urlencoded", "multipart"])
async def test_a_note_that_is_not_utf8_is_refused_and_nothing_is_stored(
    app, client: httpx.AsyncClient, keys: Keys, form: str
) -> None:
    """A resolve form whose note is not UTF-8 (bytes FF FE then "Titre 42"; a client on a
    Windows code page, a broken proxy): the workspace answers 303 "resolved" and stores the
    note as "\ufffd\ufffdTitre 42" (form-urlencoded: the bytes replaced) or "ÿþTitre 42"
    (multipart: read as Latin-1) — an audit note the officer never wrote, now in force and
    printed in the PDF and CSV. The API refuses undecodable input with a 4xx; the workspace
    should too: a 4xx page, and no decision stored."""
    csrf = await signed_in(client, keys)
    assert (
        await upload(client, csrf, camt([("BNK-1", "123.45", "SUBV")]), "r.xml")
    ).status_code == 303
    run_id = run_id_of(await start(client, csrf))
    d = item_ids((await client.get(f"/finance/runs/{run_id}")).text, "d")[0]
    url = f"/finance/runs/{run_id}/discrepancies/{d}/resolve"
    if form == "urlencoded":
        body = f"csrf={csrf}&note=%FF%FETitre+42".encode()
        ctype = "application/x-www-form-urlencoded"
    else:
        body, ctype = _multipart(csrf, b"\xff\xfeTitre 42")
    r = await client.post(url, content=body, headers={"content-type": ctype})
    async with app.state.db.session() as s:
        stored = (await s.execute(text("SELECT note FROM recon_decisions"))).scalars().all()
    assert 400 <= r.status_code < 500 and stored == [], (r.status_code, stored)
