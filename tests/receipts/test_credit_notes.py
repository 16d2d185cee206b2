"""Credit notes one can find: the refund's answer and the invoice name each one and where
to download it; the citizen's receipt page lists them; each says it is a credit note, why
the money was given back, what remains paid, and the PSP's reference of the refund."""

from __future__ import annotations

import datetime as dt
import html
import io
import logging
from typing import Any

import httpx
from pypdf import PdfReader
from sqlalchemy import select

from payments.events import RefundSucceeded
from payments.models import Invoice, Refund
from receipts.codes import from_snapshot
from receipts.models import Receipt
from regie.kit.uow import unit_of_work
from tests.conftest import BASE_URL, Keys, create_invoice, pay, token_of
from tests.receipts.test_receipts_db import pdf_text


async def refund(
    client: httpx.AsyncClient, key: str, inv: dict[str, Any], amount: int, reason: str
) -> httpx.Response:
    return await client.post(
        f"/v1/invoices/{inv['id']}/refunds",
        json={"amount": amount, "reason": reason},
        headers=Keys.h(key, **{"Idempotency-Key": f"{inv['id']}-{amount}"}),
    )


async def paid_and_refunded(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> tuple[dict[str, Any], dict[str, Any]]:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    r = await refund(client, keys.urbanisme, inv, 1000, "dossier incomplet")
    assert r.status_code == 201, r.text
    return inv, r.json()


async def test_the_refunds_answer_and_the_invoice_name_each_credit_note_and_its_url(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv, answer = await paid_and_refunded(client, app, keys)
    year = dt.datetime.now(dt.UTC).year
    number = f"AV-{year}-000001"
    url = f"{BASE_URL}/v1/invoices/{inv['id']}/credit-notes/{number}.pdf"
    assert answer["credit_note"] == {"number": number, "url": url}
    listed = (
        await client.get(f"/v1/invoices/{inv['id']}/refunds", headers=Keys.h(keys.urbanisme))
    ).json()
    assert listed["data"][0]["credit_note"] == {"number": number, "url": url}
    view = (await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))).json()
    assert view["credit_notes"] == [
        {"object": "credit_note", "number": number, "refund": answer["id"], "amount": 1000,
         "currency": "EUR", "status": "issued", "url": url}
    ]  # fmt: skip
    pdf = await client.get(url.removeprefix(BASE_URL), headers=Keys.h(keys.urbanisme))
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert f'filename="avoir-{number}.pdf"' in pdf.headers["content-disposition"]
    # a second refund: its own credit note, both listed on the invoice
    second = await refund(client, keys.urbanisme, inv, 500, "erreur de tarif")
    assert second.json()["credit_note"]["number"] == f"AV-{year}-000002"
    view = (await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))).json()
    assert [n["number"] for n in view["credit_notes"]] == [number, f"AV-{year}-000002"]
    # an invoice without refunds has none, and a pending refund has no credit note yet
    other = await create_invoice(client, keys.urbanisme, reference="OTHER")
    view = (await client.get(f"/v1/invoices/{other['id']}", headers=Keys.h(keys.urbanisme))).json()
    assert view["credit_notes"] == []


async def test_the_citizens_receipt_page_lists_the_refunds_with_their_credit_notes(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv, answer = await paid_and_refunded(client, app, keys)
    number = answer["credit_note"]["number"]
    token = token_of(inv)
    page = await client.get(f"/pay/{token}/receipt")
    link = f"/pay/{token}/credit-notes/{number}.pdf"
    assert f'href="{link}"' in page.text
    assert "10,00" in page.text and "dossier incomplet" in page.text
    pdf = await client.get(link)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert f'filename="avoir-{number}.pdf"' in pdf.headers["content-disposition"]
    api = await client.get(
        answer["credit_note"]["url"].removeprefix(BASE_URL), headers=Keys.h(keys.urbanisme)
    )
    assert pdf.content == api.content
    # another bill's link does not serve it; an unknown number is 404
    other = await create_invoice(client, keys.urbanisme, reference="OTHER")
    await pay(client, other, apply=app)
    assert (
        await client.get(f"/pay/{token_of(other)}/credit-notes/{number}.pdf")
    ).status_code == 404
    assert (await client.get(f"/pay/{token}/credit-notes/AV-1999-000001.pdf")).status_code == 404
    assert (await client.get(f"/pay/nope/credit-notes/{number}.pdf")).status_code == 404


async def test_a_credit_note_says_it_is_one_why_what_remains_and_the_psps_reference(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv, answer = await paid_and_refunded(client, app, keys)
    async with app.state.db.session() as s:
        note = (await s.execute(select(Receipt).where(Receipt.kind == "credit_note"))).scalar_one()
        row = (await s.execute(select(Refund))).scalar_one()
    assert row.provider_refund_id and row.provider_refund_id.startswith("re_sim_")
    text = pdf_text((await app.state.receipts.pdf(note))[0]).replace("\n", " ")
    assert "Motif du remboursement : dossier incomplet" in text
    assert "Reste payé sur la facture après cet avoir : 15,00 €" in text
    assert row.provider_refund_id in text and row.id not in text
    assert "dix euros" in text
    # its verification page calls it a credit note
    url = note.document["verify_url"]
    path, code = url.removeprefix(BASE_URL).split("?c=")
    page = await client.get(path, params={"c": code})
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "Vérification d'un avoir" in text and "Cet avoir est authentique" in text
    assert "reçu" not in text.split("<main")[1].lower()
    en = await client.get(path, params={"c": code, "lang": "en"})
    assert "Credit note check" in en.text and "This credit note is genuine" in en.text
    assert "receipt" not in en.text.split("<main")[1].lower()  # (but for the URLs' path)


async def test_a_refund_of_an_invoice_without_a_receipt_issues_no_credit_note_and_says_which(
    client: httpx.AsyncClient, app: Any, keys: Keys, caplog: Any
) -> None:
    """A credit note corrects a receipt; with none to correct (data from before receipts,
    say) nothing is issued, and the log names the invoice for whoever must look."""
    inv = await create_invoice(client, keys.urbanisme)  # never paid: no receipt
    async with app.state.db.session() as s:
        service_id = (await s.get(Invoice, inv["id"])).service_id  # type: ignore[union-attr]
    event = RefundSucceeded(inv["id"], service_id, 1000, "EUR", "api", "ref_x", "pay_x", False)
    caplog.set_level(logging.ERROR, logger="regie.receipts")
    async with unit_of_work(app.state.db, app.state.bus) as uow:
        await app.state.receipts.on_refund_succeeded(uow, event)
        await uow.commit()
    [record] = [r for r in caplog.records if r.name == "regie.receipts"]
    assert record.getMessage() == "refund of an invoice without a receipt"
    assert record.invoice == inv["id"]
    async with app.state.db.session() as s:
        assert (await s.execute(select(Receipt))).scalars().all() == []


async def test_a_credit_note_is_issued_when_the_money_is_given_back_not_when_it_was_paid(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    """Its row, its frozen document and its PDF's creation date all carry the refund's
    time, never the date of the receipt it corrects."""
    await paid_and_refunded(client, app, keys)
    async with app.state.db.session() as s:
        receipt, note = (await s.execute(select(Receipt).order_by(Receipt.kind.desc()))).scalars()
        row = (await s.execute(select(Refund))).scalar_one()
    assert receipt.kind == "receipt" and note.kind == "credit_note"
    doc = from_snapshot(note.document)
    assert doc.issued_at is not None
    assert doc.issued_at == doc.paid_at == note.issued_at  # the refund's, as it says
    assert receipt.issued_at < row.created_at <= note.issued_at
    created = PdfReader(io.BytesIO((await app.state.receipts.pdf(note))[0])).metadata
    assert created.creation_date == note.issued_at.replace(microsecond=0)
