"""A form the browser could not have sent from the page (a multipart body without its
boundary, a part without a name) and a method the page does not take (typing the
sign-out's address) are pages in the officer's language: Starlette's own English reasons
("Missing boundary in multipart.", "Method not allowed.") never reach a French page, and
nothing is stored."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Keys
from tests.finance.test_error_pages import is_page
from tests.finance.test_runs import page_text, signed_in

BODIES = {
    "no boundary": ("multipart/form-data", b"csrf=x"),
    "no name": (
        "multipart/form-data; boundary=b",
        b"--b\r\nContent-Disposition: form-data\r\n\r\nabc\r\n--b--\r\n",
    ),
}
WORDS = {
    "fr": ("Formulaire illisible", "rien n'a été enregistré", "Requête refusée"),
    "en": ("Form could not be read", "nothing was stored", "Request refused"),
}
STARLETTE = ("Missing boundary", "Content-Disposition", "must be provided", "multipart")


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("body", sorted(BODIES))
async def test_a_malformed_form_is_a_page_in_the_officers_language(
    client: httpx.AsyncClient, keys: Keys, lang: str, body: str
) -> None:
    await signed_in(client, keys)
    content_type, content = BODIES[body]
    r = await client.post(
        "/finance/bank-statements",
        content=content,
        headers={"content-type": content_type, "accept-language": lang},
    )
    assert r.status_code == 400 and is_page(r), r.text[:300]
    text = page_text(r)
    title, nothing, generic = WORDS[lang]
    assert title in text and nothing in text, text[:600]
    assert generic not in text
    assert not any(s in text for s in STARLETTE), text[:600]
    listing = await client.get("/finance/bank-statements", headers={"accept-language": lang})
    assert "importé :" not in page_text(listing) and "imported:" not in page_text(listing)


@pytest.mark.parametrize(
    ("lang", "title"), [("fr", "Cette adresse ne s'ouvre pas ainsi"), ("en", "Not this way")]
)
async def test_a_method_the_page_does_not_take_is_said_in_words(
    client: httpx.AsyncClient, keys: Keys, lang: str, title: str
) -> None:
    await signed_in(client, keys)
    r = await client.get("/finance/logout", headers={"accept-language": lang})
    assert r.status_code == 405 and is_page(r), r.text[:300]
    assert r.headers["allow"] == "POST"
    text = page_text(r)
    assert title in text and "Method not allowed" not in text, text[:600]
