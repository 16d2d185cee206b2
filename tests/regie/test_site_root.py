"""The site root and the favicon: a small page saying what regie is and for whom, with a
link to the API reference, instead of a JSON 404 (issue 11, Pages)."""

from __future__ import annotations

from tests.conftest import Keys


async def test_the_root_is_a_small_page_in_french_by_default(client, app) -> None:
    r = await client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert '<html lang="fr">' in r.text
    assert "<h1>" in r.text
    assert "services publics" in r.text  # what this is
    assert "lien de paiement" in r.text  # for whom: the citizen with a bill...
    assert 'href="/docs"' in r.text  # ... and the service's developers
    assert r.headers["Content-Security-Policy"].startswith("default-src 'self'")


async def test_the_root_in_english_and_its_language_switch(client, app) -> None:
    r = await client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in r.text
    assert "public services" in r.text
    assert 'href="/docs"' in r.text
    assert 'href="/?lang=fr"' in r.text
    r = await client.get("/?lang=fr")
    assert '<html lang="fr">' in r.text


async def test_the_root_needs_no_key_and_unknown_paths_stay_json_404(
    client, app, keys: Keys
) -> None:
    assert (await client.get("/", headers=Keys.h(keys.urbanisme))).status_code == 200
    r = await client.get("/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/json")


async def test_a_favicon_is_served(client, app) -> None:
    r = await client.get("/favicon.ico")
    assert r.status_code == 200
    assert r.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert r.headers["content-type"] in ("image/vnd.microsoft.icon", "image/x-icon")
    svg = await client.get("/static/favicon.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content
    page = (await client.get("/")).text
    assert 'rel="icon" href="/favicon.ico"' in page
    assert 'href="/static/favicon.svg" type="image/svg+xml"' in page
