"""The citizen's pay pages answer a mistake with a page in the citizen's language, never
the API's JSON in English: the checkout's address opened as a link (GET: a bookmark, a
refresh, an address copied from the history), an address under a pay link that does not
exist, a NUL character in the return page's query string. Each says nothing was paid and
leads back to the bill. A client that does not ask for a page (curl's ``*/*``, an API
client) keeps the one JSON error shape, as the receipt's PDF does."""

from __future__ import annotations

import html
import re

import httpx
import pytest

from tests.conftest import Keys, create_invoice, token_of

WORDS = {
    "fr": {
        "wrong_way": "Cette page ne s'ouvre pas ainsi",
        "nothing": "Rien n'a été payé",
        "back": "Revenir à la facture",
        "not_found": "Lien de paiement introuvable",
    },
    "en": {
        "wrong_way": "This page does not open this way",
        "nothing": "Nothing was paid",
        "back": "Back to the bill",
        "not_found": "Payment link not found",
    },
}
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
ENGLISH_API = ("Method not allowed", "Not found.", "NUL character", '"error"')


def text_of(r: httpx.Response) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r.text)))


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_a_mistake_under_a_pay_link_is_a_page_in_the_citizens_language(
    client: httpx.AsyncClient, keys: Keys, lang: str
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    token = token_of(inv)
    words = WORDS[lang]
    head = {"accept-language": lang, "accept": BROWSER}
    answers = {
        "checkout opened as a link": (405, f"/pay/{token}/checkout", "wrong_way"),
        "an address that does not exist": (404, f"/pay/{token}/nothing", "not_found"),
        "a NUL in the query": (400, f"/pay/{token}/return?payment=%00", "wrong_way"),
    }
    for what, (status, path, title) in answers.items():
        r = await client.get(path, headers=head)
        assert r.status_code == status, (what, r.text[:300])
        assert r.headers["content-type"].startswith("text/html"), (what, r.text[:300])
        text = text_of(r)
        assert f'<html lang="{lang}">' in r.text, what
        assert words[title] in text, (what, text[:500])
        assert not any(s in text for s in ENGLISH_API), (what, text[:500])
        assert f'href="/pay/{token}"' in r.text and words["back"] in text, what
        if title == "wrong_way":
            assert words["nothing"] in text, what
    assert (await client.get(f"/pay/{token}/checkout", headers=head)).headers["allow"] == "POST"
    curl = await client.get(f"/pay/{token}/checkout", headers={"accept": "*/*"})
    assert curl.status_code == 405 and curl.json()["error"]["code"] == "method_not_allowed"
    api = await client.get("/v1/nothing", headers=Keys.h(keys.urbanisme))
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
