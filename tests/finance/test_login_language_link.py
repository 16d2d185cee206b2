"""The sign-in page keeps where the officer was going (``next``) through a refused key, but
its language link did not: after a wrong key, "English" led to ``/finance/login?lang=en``,
and signing in from there landed on the dashboard instead of the page asked for. The link
of the refusal's page now keeps ``next``, as the link of the sign-in page itself does."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.conftest import Keys
from tests.finance.conftest import csrf_of

TARGET = "/finance/invoices?q=PC-2026"


def form_action(html: str) -> str:
    m = re.search(r'<form method="post" action="([^"]+)"', html)
    assert m, html[:500]
    return unescape(m.group(1))


def language_link(html: str) -> dict[str, list[str]]:
    m = re.search(r'<a class="lang-switch" href="([^"]+)"', html)
    assert m, html[:500]
    href = urlsplit(unescape(m.group(1)))
    assert href.path == "/finance/login"
    return parse_qs(href.query)


async def test_the_language_link_after_a_refused_key_keeps_where_the_officer_was_going(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    page = await client.get("/finance/login", params={"next": TARGET})
    assert language_link(page.text) == {"next": [TARGET], "lang": ["en"]}

    refused = await client.post(
        form_action(page.text),
        data={"csrf": csrf_of(page.text), "key": "rk_test_not_a_key", "next": TARGET},
    )
    assert refused.status_code == 401
    assert language_link(refused.text) == {"next": [TARGET], "lang": ["en"]}

    # from that link, in English, the key signs in and goes where the officer was going
    link = language_link(refused.text)
    english = await client.get("/finance/login", params={k: v[0] for k, v in link.items()})
    assert '<html lang="en">' in english.text
    r = await client.post(
        form_action(english.text),
        data={"csrf": csrf_of(english.text), "key": keys.finance, "next": TARGET},
    )
    assert r.status_code == 303 and r.headers["location"] == TARGET


async def test_without_next_the_refusals_language_link_is_the_plain_sign_in_page(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/finance/login")
    refused = await client.post(
        form_action(page.text), data={"csrf": csrf_of(page.text), "key": "rk_test_not_a_key"}
    )
    assert refused.status_code == 401
    assert language_link(refused.text) == {"lang": ["en"]}
