"""The simulator's card page after its form is sent: every answer to the form is a redirect
(post/redirect/get), so the browser's Back or reload never sends the card form again."""

from __future__ import annotations

import base64
import datetime as dt
import html
import re

import httpx
import pytest

from payments.providers.simulator.cards import KEPT_MASK
from payments.providers.simulator.refused import LIFE, Refused, dump, load
from tests.conftest import Keys, create_invoice, start_checkout

GOOD = {"card_number": "4242 4242 4242 4242", "expiry": "12/39", "cvc": "123"}
SUMMARY = {"fr": "Il y a un problème", "en": "There is a problem"}
EXPIRY_ERROR = {
    "fr": "La date d'expiration n'est pas valide ou est passée.",
    "en": "The expiry date is not valid or has passed.",
}


def _cookie_payloads(client: httpx.AsyncClient) -> str:
    """Every cookie the client holds, its signed body decoded where it is one."""
    out = []
    for value in client.cookies.jar:
        body = (value.value or "").split(".")[0]
        try:
            out.append(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode())
        except (ValueError, UnicodeDecodeError):
            out.append(value.value or "")
    return "\n".join(out)


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_a_refused_card_form_answers_a_redirect_to_the_card_page(
    client, app, keys: Keys, lang: str
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    checkout_id, path = await start_checkout(client, inv)
    r = await client.post(f"{path}?lang={lang}", data={**GOOD, "expiry": "13/20", "cvc": "1"})
    assert r.status_code == 303, r.status_code
    assert r.headers["location"] == f"/_simulator/checkout/{checkout_id}?lang={lang}"
    for _ in range(2):  # shown, then reloaded: a plain GET, the same errors and typing
        page = await client.get(r.headers["location"])
        assert page.status_code == 200
        text = html.unescape(page.text)
        assert f'<html lang="{lang}">' in text
        summary = re.search(r'<div class="error-summary"(.*?)</div>', text, re.S)
        assert summary and SUMMARY[lang] in summary.group(1)
        assert re.findall(r'<a href="#(\w+)">', summary.group(1)) == ["expiry", "cvc"]
        assert EXPIRY_ERROR[lang] in text
        assert re.search(r'<input id="expiry"[^>]* value="13/20"', text)
        kept = re.search(r'<input id="card_number"[^>]* value="([^"]*)"', text)
        assert kept and kept.group(1) == "•••• •••• •••• 4242"
        assert not re.search(r'<input id="cvc"[^>]* value=', text)
    # what is kept between the form and its page holds no card number nor code
    assert "4242424242424242" not in _cookie_payloads(client)
    assert "4242 4242 4242 4242" not in _cookie_payloads(client)
    # another checkout's card page does not show these errors
    other = await create_invoice(client, keys.urbanisme, reference="PC-2026-0002")
    _, other_path = await start_checkout(client, other)
    assert "error-summary" not in (await client.get(other_path)).text
    # the card, typed right this time, pays; the page then forgets the errors
    r = await client.post(path, data={**GOOD, "card_number": KEPT_MASK + "4242"})
    assert r.status_code == 303 and "/return?payment=" in r.headers["location"]
    assert "error-summary" not in (await client.get(path)).text


def test_what_travels_to_the_card_page_is_its_own_recent_and_unaltered() -> None:
    now = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
    form = Refused(("invalid_expiry",), number=KEPT_MASK + "4242", expiry="13/20")
    token = dump(form, "cs_sim_A", "whsec_test_a", now)
    assert load(token, "cs_sim_A", "whsec_test_a", now + dt.timedelta(minutes=1)) == form
    assert load(token, "cs_sim_B", "whsec_test_a", now) is None  # another card page's
    assert load(token, "cs_sim_A", "whsec_test_b", now) is None  # signed with another secret
    assert load(token, "cs_sim_A", "whsec_test_a", now + LIFE + dt.timedelta(seconds=1)) is None
    assert load(token[:-2], "cs_sim_A", "whsec_test_a", now) is None  # altered
    assert load(None, "cs_sim_A", "whsec_test_a", now) is None
    full = Refused(("invalid_expiry",), number="4242 4242 4242 4242", expiry="13/20")
    assert load(dump(full, "cs_sim_A", "k", now), "cs_sim_A", "k", now) == Refused(
        ("invalid_expiry",), expiry="13/20"
    )  # only a kept number (its last four digits) is ever written
