"""The sign-in form answers the API's JSON for a key or a ``next`` over the route's
``Form(max_length=...)``: FastAPI's validation error goes to the JSON handler
(``regie.kit.http_errors._validation``), never to the workspace's pages, though the README
says the workspace's errors are pages, "never the API's JSON", and the route itself means
to say "err_key_invalid" for a key longer than ``MAX_KEY_LENGTH``. An officer pasting more
than the key (a whole e-mail), or coming from a long deep link (``next``), sees raw JSON."""

from __future__ import annotations

from html import unescape

import httpx

from tests.conftest import Keys
from tests.finance.conftest import csrf_of


async def test_a_pasted_key_over_1000_characters_gets_the_sign_in_page(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    csrf = csrf_of((await client.get("/finance/login")).text)
    pasted = f"{keys.finance}\n-- \nTrésorerie municipale\n" + "x" * 1000  # the e-mail too
    r = await client.post("/finance/login", data={"key": pasted, "csrf": csrf})
    assert r.headers["content-type"].startswith("text/html"), (r.status_code, r.text[:300])
    assert r.status_code == 401
    assert "Cette clé est inconnue ou a été révoquée." in unescape(r.text)


async def test_a_long_next_address_still_signs_in(client: httpx.AsyncClient, keys: Keys) -> None:
    deep = "/finance/invoices?q=" + "a" * 2100
    page = await client.get("/finance/login", params={"next": deep})
    assert page.status_code == 200
    csrf = csrf_of(page.text)
    r = await client.post("/finance/login", data={"key": keys.finance, "csrf": csrf, "next": deep})
    assert r.status_code == 303, (r.status_code, r.headers.get("content-type"), r.text[:300])
