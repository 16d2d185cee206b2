"""What a receipt's verification (its QR code's page and the API) says through the life of
its payment: a chargeback makes it ``disputed``, never "genuine"; a lost dispute reads as
refunded, a won one as genuine again; and any code typed in, however odd, is answered."""

from __future__ import annotations

import html
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from receipts.models import Receipt
from regie.app import create_app
from tests.conftest import BASE_URL, Keys, create_invoice, pay
from tests.payments.test_disputes import apply_all, dispute_event, psp_refund


async def the_receipt(app: Any) -> Receipt:
    async with app.state.db.session() as s:
        (receipt,) = (await s.execute(select(Receipt).where(Receipt.kind == "receipt"))).scalars()
    return receipt


def path_and_code(receipt: Receipt) -> tuple[str, str]:
    path, code = receipt.document["verify_url"].removeprefix(BASE_URL).split("?c=")
    return path, code


async def paid_invoice(client: httpx.AsyncClient, app: Any, keys: Keys) -> dict[str, Any]:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    r = await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))
    assert r.json()["status"] == "paid"
    return {"invoice": inv["id"], "ppid": r.json()["payments"][0]["provider_payment_id"]}


async def invoice_status(client: httpx.AsyncClient, keys: Keys, paid: dict[str, Any]) -> str:
    r = await client.get(f"/v1/invoices/{paid['invoice']}", headers=Keys.h(keys.urbanisme))
    return str(r.json()["status"])


async def verified(client: httpx.AsyncClient, app: Any) -> str:
    """The status both verification API routes give the receipt (they must agree)."""
    receipt = await the_receipt(app)
    _, code = path_and_code(receipt)
    answers = {
        (await client.get(url, params={"c": code})).json()["status"]
        for url in (
            f"/v1/receipts/{receipt.issuer}/{receipt.number}/verify",
            f"/v1/receipts/{receipt.number}/verify",
        )
    }
    assert len(answers) == 1, answers
    return answers.pop()


async def test_a_charged_back_payment_verifies_as_disputed_on_the_api_and_the_page(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """The payer's bank withdrew the funds: the QR code must not vouch for a payment the
    régie no longer holds (it said "authentique")."""
    paid = await paid_invoice(client, app, keys)
    await apply_all(app, [dispute_event(app=app, paid=paid, etype="dispute.opened", amount=2500)])
    assert await invoice_status(client, keys, paid) == "disputed"
    assert await verified(client, app) == "disputed"
    receipt = await the_receipt(app)
    path, code = path_and_code(receipt)
    fr = await client.get(path, params={"c": code})
    assert fr.status_code == 200
    fr_text = html.unescape(fr.text)
    assert "authentique" not in fr_text
    assert "le paiement est contesté" in fr_text and "25,00" in fr_text
    assert 'class="alert warning"' in fr.text
    en = await client.get(path, params={"c": code, "lang": "en"})
    assert "genuine" not in en.text and "the payment is disputed" in html.unescape(en.text)
    old = await client.get(f"/receipts/verify/{receipt.number}", params={"c": code, "lang": "fr"})
    assert "le paiement est contesté" in html.unescape(old.text)


@pytest.mark.parametrize(("outcome", "after"), [("lost", "refunded"), ("won", "genuine")])
async def test_a_closed_dispute_verifies_as_refunded_when_lost_and_genuine_when_won(
    app: Any, client: httpx.AsyncClient, keys: Keys, outcome: str, after: str
) -> None:
    paid = await paid_invoice(client, app, keys)
    await apply_all(app, [dispute_event(app=app, paid=paid, etype="dispute.opened", amount=2500)])
    assert await verified(client, app) == "disputed"
    closed = dispute_event(app=app, paid=paid, etype="dispute.closed", amount=2500, status=outcome)
    await apply_all(app, [closed])
    assert await verified(client, app) == after
    receipt = await the_receipt(app)
    path, code = path_and_code(receipt)
    page = html.unescape((await client.get(path, params={"c": code})).text)
    assert "contesté" not in page
    assert ("remboursé" in page) == (outcome == "lost")


async def test_a_part_of_the_payment_lost_in_a_dispute_does_not_verify_as_genuine(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """Only part of the payment was withdrawn, and the dispute was lost: refunded (or in
    part), as the invoice says, never genuine."""
    paid = await paid_invoice(client, app, keys)
    await apply_all(app, [dispute_event(app=app, paid=paid, etype="dispute.opened", amount=1000)])
    assert await verified(client, app) == "disputed"
    closed = dispute_event(app=app, paid=paid, etype="dispute.closed", amount=1000, status="lost")
    await apply_all(app, [closed])
    status = await invoice_status(client, keys, paid)
    assert status in ("refunded", "partially_refunded")
    assert await verified(client, app) == status


async def test_a_refund_during_a_dispute_verifies_as_disputed_then_partly_refunded_once_won(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """A refund applied while the invoice is disputed leaves it disputed: the receipt says
    disputed (it said genuine), then partly refunded when the dispute is won."""
    paid = await paid_invoice(client, app, keys)
    opened = dispute_event(app=app, paid=paid, etype="dispute.opened", amount=2000)
    await apply_all(app, [opened, await psp_refund(app, paid["ppid"], 500)])
    assert await invoice_status(client, keys, paid) == "disputed"
    assert await verified(client, app) == "disputed"
    closed = dispute_event(app=app, paid=paid, etype="dispute.closed", amount=2000, status="won")
    await apply_all(app, [closed])
    assert await verified(client, app) == "partially_refunded"


async def test_a_non_ascii_verification_code_is_unknown_on_every_route_not_a_500(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """Anyone may type a code: one with an accented letter (or any character outside
    ASCII) is "unknown" (a 404 page, or JSON), not a 500 (hmac.compare_digest refused it)."""
    await pay(client, await create_invoice(client, keys.urbanisme), apply=app)
    receipt = await the_receipt(app)
    path, _ = path_and_code(receipt)
    pages = [path, f"/receipts/verify/{receipt.number}"]  # the QR code's, and the older one
    apis = [
        f"/v1/receipts/{receipt.issuer}/{receipt.number}/verify",
        f"/v1/receipts/{receipt.number}/verify",
    ]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # a 500 is a 500
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as public:
        for code in ("É", "éABCDEFGH", "ß", "😀", "１２３", "A\u00a0B"):
            for url in pages:
                r = await public.get(url, params={"c": code})
                assert r.status_code == 404, (url, code, r.status_code)
            for url in apis:
                r = await public.get(url, params={"c": code})
                assert r.status_code == 200, (url, code, r.status_code)
                assert r.json()["status"] == "unknown", (url, code)


async def test_receipts_printed_before_a_change_of_secret_key_still_verify_after_it(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings_factory: Any
) -> None:
    """The code on a receipt is what was printed: a change of REGIE_SECRET_KEY (it leaked)
    cannot reprint the paper, and every receipt and credit note issued before it read
    "unknown" (no receipt matches this number and code) on the QR code's page, the payer's
    proof of payment called false. New receipts get codes under the new key."""
    paid = await paid_invoice(client, app, keys)
    await apply_all(app, [await psp_refund(app, paid["ppid"], 500)])
    async with app.state.db.session() as s:
        before = list((await s.execute(select(Receipt).order_by(Receipt.number))).scalars())
    assert {r.kind for r in before} == {"receipt", "credit_note"}
    rotated = create_app(settings_factory(secret_key="a-new-key-after-a-leak-" + "x" * 20))
    async with (
        rotated.router.lifespan_context(rotated),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=rotated), base_url=BASE_URL) as c,
    ):
        for r in before:
            path, code = path_and_code(r)
            api = await c.get(f"/v1/receipts/{r.issuer}/{r.number}/verify", params={"c": code})
            assert api.json()["status"] in ("partially_refunded", "genuine"), (r.number, api.text)
            page = await c.get(path, params={"c": code})
            assert page.status_code == 200 and "Aucun reçu" not in html.unescape(page.text)
            # a wrong code is still unknown
            wrong = "A" * 10 if code != "A" * 10 else "B" * 10
            api = await c.get(f"/v1/receipts/{r.issuer}/{r.number}/verify", params={"c": wrong})
            assert api.json()["status"] == "unknown"
        inv = await create_invoice(c, keys.urbanisme, reference="AFTER")
        await pay(c, inv, apply=rotated)
        async with rotated.state.db.session() as s:
            new = (
                await s.execute(select(Receipt).where(Receipt.invoice_id == inv["id"]))
            ).scalar_one()
        path, code = path_and_code(new)
        assert (await c.get(path, params={"c": code})).status_code == 200


async def test_the_page_refuses_a_link_the_api_refuses_instead_of_cutting_it(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """The API answers 422 for a code longer than 32 characters, and 404 (no such receipt)
    for a number or an issuer of another shape than a receipt's; the QR code's page cut
    them to 32 (41) characters and looked that up: a code followed by 30 spaces and
    anything (a link that is not the printed one) said "authentique". The page now answers
    as the API does: 422 for such a code, in its language, naming no document; 404 (no
    receipt matches) for such a number or issuer, never looked up cut."""
    await pay(client, await create_invoice(client, keys.urbanisme), apply=app)
    receipt = await the_receipt(app)
    path, code = path_and_code(receipt)
    long_code = code + " " * 30 + "X"  # cut to 32 and stripped, it was the code
    cases = [
        (path, long_code, 422),
        (f"/receipts/verify/{receipt.number}", long_code, 422),
        (f"/receipts/verify/{receipt.issuer}/{receipt.number}{'0' * 30}", code, 404),
        (f"/receipts/verify/{receipt.number}{'0' * 30}", code, 404),
        (f"/receipts/verify/{receipt.issuer}/{receipt.number[:-1]}", code, 404),
        (f"/receipts/verify/{'9' * 41}/{receipt.number}", code, 404),
    ]
    for url, c, status in cases:
        api = "/v1" + url.replace("/receipts/verify/", "/receipts/", 1) + "/verify"
        assert (await client.get(api, params={"c": c})).status_code == status, (api, c)
        for lang, words, not_there in (
            ("fr", "Ce lien de vérification est mal formé", "authentique"),
            ("en", "This verification link is malformed", "genuine"),
        ):
            page = await client.get(url, params={"c": c, "lang": lang})
            assert page.status_code == status, (url, c, page.status_code)
            text = html.unescape(page.text)
            assert not_there not in text and 'class="summary"' not in text, (url, c)
            if status == 422:
                assert words in text, (url, c)
            else:
                assert (
                    "Aucun reçu ne correspond" if lang == "fr" else "No receipt matches"
                ) in text
    # the printed link still verifies, spaces around its code still forgiven
    page = await client.get(path, params={"c": f" {code} ", "lang": "fr"})
    assert page.status_code == 200 and "authentique" in html.unescape(page.text)
