"""Receipts issued with the payment: numbering, downloads, verification, integrity."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re

import pytest
from pypdf import PdfReader
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from receipts.models import Receipt
from tests.conftest import Keys, create_invoice, pay, start_checkout, token_of
from webhooks.inbound.models import InboxEvent


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


async def receipts_of(app) -> list[Receipt]:
    async with app.state.db.session() as s:
        return list((await s.execute(select(Receipt).order_by(Receipt.number))).scalars())


async def test_a_paid_invoice_has_a_downloadable_receipt(client, app, keys: Keys) -> None:
    inv = await create_invoice(client, keys.urbanisme, payer={"name": "Hélène Dupré"})
    r = await client.get(f"/v1/invoices/{inv['id']}/receipt.pdf", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "receipt_missing"
    assert (await client.get(f"/pay/{token_of(inv)}/receipt.pdf")).status_code == 404
    await pay(client, inv, apply=app)
    (receipt,) = await receipts_of(app)
    assert re.fullmatch(r"\d{4}-000001", receipt.number)
    r = await client.get(f"/v1/invoices/{inv['id']}/receipt.pdf", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["x-receipt-sha256"] == hashlib.sha256(r.content).hexdigest()
    assert (r.content, r.headers["x-receipt-sha256"]) == await app.state.receipts.pdf(receipt)
    body = pdf_text(r.content)
    for expected in (
        receipt.number,
        "Hélène Dupré",
        "25,00",
        "4242",
        inv["number"],
        "PC-2026-0001",
        "Mairie – Urbanisme",
    ):
        assert expected in body, expected
    # the citizen gets the same bytes, and an accessible HTML version
    citizen = await client.get(f"/pay/{token_of(inv)}/receipt.pdf")
    assert citizen.content == r.content
    html = await client.get(f"/pay/{token_of(inv)}/receipt")
    assert html.status_code == 200 and receipt.number in html.text and "Hélène Dupré" in html.text
    # another service cannot fetch it; finance can
    other = await client.get(
        f"/v1/invoices/{inv['id']}/receipt.pdf", headers=Keys.h(keys.etat_civil)
    )
    assert other.status_code == 404
    assert (
        await client.get(f"/v1/invoices/{inv['id']}/receipt.pdf", headers=Keys.h(keys.finance))
    ).status_code == 200


async def test_the_qr_code_url_verifies_and_a_code_wrong_by_one_character_does_not(
    client, app, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme, payer={"name": "Hélène Dupré"})
    await pay(client, inv, apply=app)
    (receipt,) = await receipts_of(app)
    url = receipt.document["verify_url"]
    assert url.startswith("http://testserver/receipts/verify/")
    assert url in pdf_text((await app.state.receipts.pdf(receipt))[0]).replace("\n", "")
    path, code = url.removeprefix("http://testserver").split("?c=")
    page = await client.get(f"{path}?c={code}")
    assert page.status_code == 200
    assert "authentique" in page.text and "25,00" in page.text
    assert "Hélène" not in page.text and "camille" not in page.text  # no personal data
    api = await client.get(f"/v1/receipts/{receipt.number}/verify", params={"c": code})
    assert api.json()["status"] == "genuine"
    assert api.json()["amount"] == 2500
    for i in range(len(code)):
        wrong = code[:i] + ("A" if code[i] != "A" else "B") + code[i + 1 :]
        assert (
            await client.get(f"/v1/receipts/{receipt.number}/verify", params={"c": wrong})
        ).json()["status"] == "unknown"
    assert (await client.get(f"{path}?c=WRONGCODE1")).status_code == 404
    # the code is compared in full: shorter, longer or wrong at the end is unknown
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # base32
    wrong_last = [code[:-1] + c for c in alphabet if c != code[-1]][:3]
    truncated = [code[:n] for n in range(1, len(code))]
    longer = [code + c for c in "A7Z"] + [code + code]
    for bad in truncated + longer + wrong_last:
        answer = await client.get(f"/v1/receipts/{receipt.number}/verify", params={"c": bad})
        assert answer.json()["status"] == "unknown", bad
    for bad in (code[:-1], code + "A", wrong_last[0]):
        assert (await client.get(path, params={"c": bad})).status_code == 404, bad
    # and the genuine code still answers, in any case and with surrounding spaces
    for good in (code, code.lower(), f" {code} "):
        answer = await client.get(f"/v1/receipts/{receipt.number}/verify", params={"c": good})
        assert answer.json()["status"] == "genuine", good


async def test_numbers_are_per_issuer_and_a_duplicate_event_issues_nothing(
    client, app, keys: Keys
) -> None:
    a = await create_invoice(client, keys.urbanisme, reference="A")
    b = await create_invoice(client, keys.urbanisme, reference="B")
    c = await create_invoice(client, keys.etat_civil, reference="C")
    for inv in (a, b, c):
        await pay(client, inv, apply=app)
    # redeliver every simulator event: the inbox dedupes, nothing is issued twice
    await app.state.payments.provider.redeliver_pending()
    await app.state.applier.process_batch()
    numbers = sorted((r.service_id, r.number[-6:]) for r in await receipts_of(app))
    assert [n for _, n in numbers].count("000001") == 2
    assert len(numbers) == 3 and sorted(n for _, n in numbers) == ["000001", "000001", "000002"]


async def test_a_rolled_back_payment_gives_its_number_back(
    client, app, keys: Keys, monkeypatch
) -> None:
    import receipts.service as receipts_service

    invoices = [await create_invoice(client, keys.urbanisme, reference=f"R{i}") for i in range(3)]
    for inv in invoices:
        await pay(client, inv)
    # the paying transaction fails after its receipt number was allocated (the last step,
    # just before the commit): the number goes back
    real = receipts_service.verification_code
    calls = {"n": 0}

    def flaky(secret, receipt_id):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("crashed after the number")
        return real(secret, receipt_id)

    monkeypatch.setattr(receipts_service, "verification_code", flaky)
    await app.state.applier.process_batch()
    async with app.state.db.session() as s:
        failed = (
            (
                await s.execute(
                    select(InboxEvent).where(
                        InboxEvent.attempts == 1, InboxEvent.status == "pending"
                    )
                )
            )
            .scalars()
            .all()
        )
        assert len(failed) == 1
        await s.execute(
            text(
                "UPDATE webhook_inbox SET next_attempt_at = created_at_placeholder".replace(
                    "created_at_placeholder", "received_at"
                )
            )
        )
        await s.commit()
    await app.state.applier.process_batch()
    numbers = sorted(r.number[-6:] for r in await receipts_of(app))
    assert numbers == ["000001", "000002", "000003"]


async def test_stored_pdf_equals_a_fresh_render_of_its_snapshot(client, app, keys: Keys) -> None:
    from receipts.codes import from_snapshot
    from receipts.render import render_pdf

    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    (receipt,) = await receipts_of(app)
    assert render_pdf(from_snapshot(receipt.document)) == (await app.state.receipts.pdf(receipt))[0]


@pytest.mark.postgres
async def test_receipts_cannot_be_changed_on_postgres(client, app, keys: Keys) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    async with app.state.db.session() as s:
        with pytest.raises(DBAPIError, match="never changed"):
            await s.execute(text("UPDATE receipts SET amount = 1"))


@pytest.mark.postgres
@pytest.mark.timeout(300)
async def test_100_concurrent_payments_get_100_consecutive_numbers(client, app, keys: Keys) -> None:
    invoices = [
        await create_invoice(client, keys.urbanisme, reference=f"C{i:03d}") for i in range(100)
    ]
    for inv in invoices:
        checkout_id, path = await start_checkout(client, inv)
        r = await client.post(
            path, data={"card_number": "4242424242424242", "expiry": "12/39", "cvc": "123"}
        )
        assert r.status_code == 303
    async with app.state.db.session() as s:
        ids = list((await s.execute(select(InboxEvent.id))).scalars())
    assert len(ids) == 100
    results = await asyncio.gather(*(app.state.applier.process_one(i) for i in ids))
    assert all(results)
    numbers = sorted(int(r.number[-6:]) for r in await receipts_of(app))
    assert numbers == list(range(1, 101))


async def test_a_business_payer_gets_a_factur_x_receipt(client, app, keys: Keys) -> None:
    from facturx import get_facturx_xml_from_pdf, xml_check_xsd
    from sqlalchemy import update

    from regie.kit.tenancy import Service

    async with app.state.db.session() as s:  # the issuer needs its SIRET for Factur-X
        await s.execute(update(Service).values(identifier="21310555400017"))
        await s.commit()
    inv = await create_invoice(
        client,
        keys.urbanisme,
        payer={
            "name": "SARL Dupont Travaux",
            "company_id": "73282932000074",
            "vat_number": "FR40303265045",
        },
    )
    await pay(client, inv, apply=app)
    (receipt,) = await receipts_of(app)
    pdf, _ = await app.state.receipts.pdf(receipt)
    filename, xml = get_facturx_xml_from_pdf(io.BytesIO(pdf))
    assert filename == "factur-x.xml"
    assert xml_check_xsd(xml, flavor="factur-x", level="basic")
    assert (
        b"SARL Dupont Travaux" in xml and b"73282932000074" in xml and inv["number"].encode() in xml
    )
    assert receipt.number in pdf_text(pdf)  # still a readable receipt
    # and a private payer's receipt carries no XML
    private = await create_invoice(client, keys.urbanisme, reference="P-1")
    await pay(client, private, apply=app)
    plain = [r for r in await receipts_of(app) if r.invoice_id == private["id"]][0]
    assert not get_facturx_xml_from_pdf(io.BytesIO((await app.state.receipts.pdf(plain))[0]))[1]
