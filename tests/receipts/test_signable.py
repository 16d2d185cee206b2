"""A receipt a French public body can sign: the amount in words, the VAT mention of a public
body's fees, the issuer's contact details and régie, the payer's address, and PDF metadata
that tell when and by whom it was issued."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from typing import Any

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from receipts.amount_words import amount_in_words
from receipts.codes import from_snapshot, snapshot
from receipts.models import Receipt
from receipts.render import render_pdf
from regie.kit.tenancy import set_contact
from tests.conftest import Keys, create_invoice, pay, token_of
from tests.receipts.test_render import make_doc, text_of

ISSUED = dt.datetime(2026, 3, 14, 9, 33, 41, tzinfo=dt.UTC)


def signable(**changes: Any) -> Any:
    fields: dict[str, Any] = {
        "amount_in_words": amount_in_words(125950, "EUR", "fr"),
        "vat_article": "256 B",
        "issuer_email": "etat-civil@evry.fr",
        "issuer_phone": "01 60 91 60 91",
        "issuer_hours": "Du lundi au vendredi, 8 h 30 – 17 h",
        "regie_name": "Régie de recettes de l'état civil",
        "payer_address": ("12 rue des Lilas", "91000 Évry-Courcouronnes"),
        "issued_at": ISSUED,
    }
    return make_doc(**(fields | changes))


@pytest.mark.parametrize(
    ("amount", "currency", "lang", "words"),
    [
        (125950, "EUR", "fr", "mille deux cent cinquante-neuf euros et cinquante centimes"),
        (125950, "EUR", "en", "one thousand, two hundred and fifty-nine euros and fifty cents"),
        (2500, "EUR", "fr", "vingt-cinq euros"),
        (2500, "EUR", "en", "twenty-five euros"),
        (850, "EUR", "en", "eight euros and fifty cents"),
        (850, "EUR", "fr", "huit euros et cinquante centimes"),
        (100, "EUR", "en", "one euro"),
        (101, "EUR", "en", "one euro and one cent"),
        (1, "EUR", "en", "zero euros and one cent"),
        (100000000, "EUR", "en", "one million euros"),
        (100000000, "EUR", "fr", "un million d'euros"),
        (850, "USD", "en", "eight dollars and fifty cents"),
        (101, "EUR", "fr", "un euro et un centime"),
        (100, "EUR", "fr", "un euro"),
        (8000000, "EUR", "fr", "quatre-vingt mille euros"),
        (1200, "XPF", "fr", "mille deux cents francs CFP"),
        (205, "MAD", "en", "two point zero five MAD"),
        # Swiss francs, which num2words does not name: francs and centimes, as said in Geneva
        (205, "CHF", "fr", "deux francs suisses et cinq centimes"),
        (100, "CHF", "fr", "un franc suisse"),
        (205, "CHF", "en", "two Swiss francs and five centimes"),
        # "livre" is feminine: une livre, vingt et une livres (un penny stays masculine)
        (100, "GBP", "fr", "une livre"),
        (101, "GBP", "fr", "une livre et un penny"),
        (2100, "GBP", "fr", "vingt et une livres"),
        (8150, "GBP", "fr", "quatre-vingt-une livres et cinquante pence"),
        (100100, "GBP", "fr", "mille une livres"),
        (100000000, "GBP", "fr", "un million de livres"),
        (100000100, "GBP", "fr", "un million une livres"),
        (200, "GBP", "fr", "deux livres"),
        (100, "GBP", "en", "one pound sterling"),
    ],
)
def test_the_amount_reads_in_words(amount: int, currency: str, lang: str, words: str) -> None:
    assert amount_in_words(amount, currency, lang) == words


def test_a_receipt_a_public_body_can_sign_in_french() -> None:
    text = text_of(render_pdf(signable()))
    for expected in [
        "mille deux cent cinquante-neuf euros et cinquante centimes",
        "TVA non applicable, art. 256 B du CGI",
        "etat-civil@evry.fr",
        "01 60 91 60 91",
        "Du lundi au vendredi, 8 h 30 – 17 h",
        "Régie de recettes de l'état civil",
        "12 rue des Lilas",
        "91000 Évry-Courcouronnes",
    ]:
        assert expected in text.replace("\n", " "), expected


def test_a_receipt_a_public_body_can_sign_in_english() -> None:
    doc = signable(language="en")
    doc = dataclasses.replace(doc, amount_in_words=amount_in_words(125950, "EUR", "en"))
    text = text_of(render_pdf(doc)).replace("\n", " ")
    assert "one thousand, two hundred and fifty-nine euros and fifty cents" in text
    assert "VAT not applicable, art. 256 B of the French General Tax Code (CGI)" in text


def test_the_vat_article_is_the_one_given() -> None:
    text = text_of(render_pdf(signable(vat_article="261 4 4°")))
    assert "TVA non applicable, art. 261 4 4° du CGI" in text.replace("\n", " ")


def test_the_pdf_metadata_name_the_issue_date_the_document_and_the_issuer() -> None:
    meta = PdfReader(io.BytesIO(render_pdf(signable()))).metadata
    assert meta is not None
    assert meta["/CreationDate"] == "D:20260314093341+00'00'"
    assert meta.title == "Reçu de paiement 2026-000042"
    assert meta.author == "Mairie d'Évry – État civil"


def test_the_new_fields_survive_the_snapshot() -> None:
    doc = signable()
    assert from_snapshot(snapshot(doc)) == doc
    # an older snapshot, without them, still loads and renders as it did
    old = snapshot(make_doc())
    for name in ("amount_in_words", "vat_article", "issuer_email", "issuer_phone",
                 "issuer_hours", "regie_name", "payer_address", "issued_at"):  # fmt: skip
        old.pop(name, None)
    assert render_pdf(from_snapshot(old)) == render_pdf(make_doc())


async def test_an_issued_receipt_carries_the_services_settings_and_the_payers_address(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    async with app.state.db.session() as s:
        await set_contact(
            s, "urbanisme", address="1 place de la Mairie, 31000 Villeneuve",
            email="urbanisme@villeneuve.fr", phone="05 61 00 00 00",
            opening_hours="Lundi–vendredi 9 h – 12 h", regie_name="Régie de l'urbanisme",
        )  # fmt: skip
        await s.commit()
    payer = {"name": "Camille Martin", "address": "12 rue des Lilas\n31000 Villeneuve"}
    inv = await create_invoice(client, keys.urbanisme, payer=payer)
    assert inv["payer"]["address"] == "12 rue des Lilas\n31000 Villeneuve"
    await pay(client, inv, apply=app)
    async with app.state.db.session() as s:
        (receipt,) = (await s.execute(select(Receipt))).scalars().all()
    pdf, _ = await app.state.receipts.pdf(receipt)
    text = text_of(pdf).replace("\n", " ")
    for expected in [
        "vingt-cinq euros",
        "TVA non applicable, art. 256 B du CGI",
        "urbanisme@villeneuve.fr",
        "05 61 00 00 00",
        "Lundi–vendredi 9 h – 12 h",
        "Régie de l'urbanisme",
        "12 rue des Lilas",
        "31000 Villeneuve",
    ]:
        assert expected in text, expected
    meta = PdfReader(io.BytesIO(pdf)).metadata
    assert meta is not None
    issued = receipt.issued_at.astimezone(dt.UTC)
    assert meta["/CreationDate"] == issued.strftime("D:%Y%m%d%H%M%S+00'00'")
    assert meta.author == "Mairie – Urbanisme"
    html = (await client.get(f"/pay/{token_of(inv)}/receipt")).text
    for expected in (
        "vingt-cinq euros",
        "urbanisme@villeneuve.fr",
        "Régie de l&#39;urbanisme",
        "12 rue des Lilas",
    ):
        assert expected in html, expected
    # a credit note carries its service's settings of the day it is issued
    async with app.state.db.session() as s:
        await set_contact(
            s, "urbanisme", email="regie@villeneuve.fr", phone="05 61 99 99 99",
            opening_hours="Mardi 14 h – 17 h",
        )  # fmt: skip
        await s.commit()
    r = await client.post(
        f"/v1/invoices/{inv['id']}/refunds", json={"amount": 1000}, headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 201, r.text
    async with app.state.db.session() as s:
        note = (await s.execute(select(Receipt).where(Receipt.kind == "credit_note"))).scalar_one()
    issuer = {k: note.document[k] for k in ("issuer_email", "issuer_phone", "issuer_hours")}
    assert issuer == {
        "issuer_email": "regie@villeneuve.fr",
        "issuer_phone": "05 61 99 99 99",
        "issuer_hours": "Mardi 14 h – 17 h",
    }
    assert note.document["regie_name"] == "Régie de l'urbanisme"


async def test_the_vat_article_is_a_setting(
    client: httpx.AsyncClient, settings_factory: Any
) -> None:
    from regie.kit.settings import Settings

    assert Settings().vat_exemption_article == "256 B"
    assert Settings(vat_exemption_article="261 4 4°").vat_exemption_article == "261 4 4°"


async def expires_in(app: Any, inv: dict[str, Any], delta: dt.timedelta) -> None:
    from sqlalchemy import update

    from payments.models import Invoice

    async with app.state.db.session() as s:
        at = dt.datetime.now(dt.UTC) + delta
        await s.execute(update(Invoice).where(Invoice.id == inv["id"]).values(expires_at=at))  # type: ignore[arg-type]
        await s.commit()


CONTACT = ("urbanisme@villeneuve.fr", 'href="mailto:urbanisme@villeneuve.fr"', "05 61 00 00 00",
           'href="tel:+33561000000"', "Lundi–vendredi 9 h – 12 h", "1 place de la Mairie")  # fmt: skip


async def test_the_expired_link_and_contact_pages_show_how_to_reach_the_service(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    async with app.state.db.session() as s:
        await set_contact(
            s, "urbanisme", address="1 place de la Mairie, 31000 Villeneuve",
            email="urbanisme@villeneuve.fr", phone="05 61 00 00 00",
            opening_hours="Lundi–vendredi 9 h – 12 h",
        )  # fmt: skip
        await s.commit()
    # the link expired: "contact the town hall for a new one", and how
    inv = await create_invoice(client, keys.urbanisme)
    await expires_in(app, inv, -dt.timedelta(minutes=1))
    page = await client.get(f"/pay/{token_of(inv)}")
    assert "expiré" in page.text
    for expected in CONTACT:
        assert expected in page.text, expected
    # the PSP refuses to open the payment: "contact the town hall", and how
    from payments.providers.base import ProviderError

    async def refuse(*args: Any) -> Any:
        raise ProviderError("invalid_request", "account not activated")

    sim = app.state.payments.provider
    sim.create_checkout = refuse
    try:
        late = await create_invoice(client, keys.urbanisme, reference="LATE")
        answer = await client.post(f"/pay/{token_of(late)}/checkout")
    finally:
        del sim.create_checkout
    assert answer.status_code == 502 and "contactez" in answer.text.lower()
    for expected in CONTACT:
        assert expected in answer.text, expected
    # an open bill that can be paid shows no contact block
    open_inv = await create_invoice(client, keys.urbanisme, reference="OPEN")
    assert "urbanisme@villeneuve.fr" not in (await client.get(f"/pay/{token_of(open_inv)}")).text
    # a service without contact details shows none
    other = await create_invoice(client, keys.etat_civil, reference="EC")
    await expires_in(app, other, -dt.timedelta(minutes=1))
    assert "mailto:" not in (await client.get(f"/pay/{token_of(other)}")).text
