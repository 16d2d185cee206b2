"""The citizen's receipt links of a bill that is not paid: a browser gets a page in the
citizen's language (it showed the API's raw JSON, or, for the HTML receipt, "this payment
link does not exist" about a link that does), saying there is no receipt yet and linking
the bill's pay page. A client that does not ask for HTML keeps the one JSON error shape."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Keys, create_invoice, pay, token_of

# what a browser sends when it opens a link
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def is_page(r: httpx.Response) -> bool:
    return r.headers["content-type"].startswith("text/html") and "<h1>" in r.text


async def test_a_browser_opening_the_receipt_of_an_unpaid_bill_gets_a_page(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    token = token_of(inv)
    fr = await client.get(f"/pay/{token}/receipt.pdf", headers={**BROWSER, "Accept-Language": "fr"})
    assert fr.status_code == 404 and is_page(fr), fr.text
    assert "Pas encore de reçu" in fr.text and "pas été payée" in fr.text
    assert f'href="/pay/{token}?lang=fr"' in fr.text  # where the bill stands
    en = await client.get(f"/pay/{token}/receipt.pdf?lang=en", headers=BROWSER)
    assert en.status_code == 404 and is_page(en)
    assert "No receipt yet" in en.text and f'href="/pay/{token}?lang=en"' in en.text
    # the accessible HTML receipt says the same, not that the link does not exist
    html = await client.get(f"/pay/{token}/receipt?lang=fr", headers=BROWSER)
    assert html.status_code == 404 and "Pas encore de reçu" in html.text
    assert "introuvable" not in html.text
    # paid, both give the receipt
    await pay(client, inv, apply=app)
    pdf = await client.get(f"/pay/{token}/receipt.pdf", headers=BROWSER)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert (await client.get(f"/pay/{token}/receipt", headers=BROWSER)).status_code == 200


async def test_an_unknown_link_is_the_pay_pages_not_found_page(client: httpx.AsyncClient) -> None:
    r = await client.get("/pay/no-such-token/receipt.pdf", headers=BROWSER)
    assert r.status_code == 404 and is_page(r)
    assert "Lien de paiement introuvable" in r.text  # as /pay/no-such-token says it
    assert "Lien de paiement introuvable" in (await client.get("/pay/no-such-token")).text


async def test_a_client_not_asking_for_html_keeps_the_json_error(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    for accept in ("*/*", "application/json", "application/json, text/html;q=0.5"):
        r = await client.get(f"/pay/{token_of(inv)}/receipt.pdf", headers={"Accept": accept})
        assert r.status_code == 404, accept
        assert r.json() == {
            "error": {
                "type": "not_found_error",
                "code": "resource_missing",
                "message": "No such receipt.",
            }
        }, accept
    r = await client.get("/pay/no-such-token/receipt.pdf", headers={"Accept": "*/*"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "resource_missing"
