"""Headers and exposure: nosniff and no-store on API and PDF answers, HSTS and Secure
cookies when served over https (not on the http demo), /docs without a CDN, and /docs,
/openapi.json and /metrics configurable (metrics behind a bearer token in production)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from regie.app import create_app
from regie.kit.settings import Settings
from tests.conftest import Keys, _truncate, create_invoice, pay
from tests.finance.test_login import csrf_of

HTTPS_URL = "https://regie.example.org"


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    await _truncate(settings.database_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=settings.base_url) as c:
            yield app, c


def production(settings_factory: Callable[..., Settings], **more: Any) -> Settings:
    """Production settings on the test database (the start checks are another test's)."""
    settings = settings_factory(
        env="production",
        base_url=HTTPS_URL,
        psp="stripe",  # the simulator refuses production; no call reaches Stripe here
        stripe_api_key="sk_live_exposure_tests_only",
        stripe_webhook_secrets="whsec_exposure_tests_only",
        stripe_api_base="http://127.0.0.1:9",
        **more,
    )
    object.__setattr__(settings, "check_production", lambda: None)
    return settings


async def test_api_pdf_and_error_answers_are_nosniff_and_no_store(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    invoice = await create_invoice(client, keys.urbanisme)
    await pay(client, invoice, apply=app)
    answers = {
        "list": await client.get("/v1/invoices", headers=Keys.h(keys.urbanisme)),
        "one": await client.get(f"/v1/invoices/{invoice['id']}", headers=Keys.h(keys.urbanisme)),
        "401": await client.get("/v1/invoices"),
        "404": await client.get("/v1/nothing-here", headers=Keys.h(keys.urbanisme)),
        "pdf": await client.get(
            f"/v1/invoices/{invoice['id']}/receipt.pdf", headers=Keys.h(keys.urbanisme)
        ),
        "health": await client.get("/healthz"),
        "openapi": await client.get("/openapi.json"),
    }
    assert answers["pdf"].headers["content-type"] == "application/pdf", answers["pdf"].text
    for name, r in answers.items():
        assert r.headers.get("x-content-type-options") == "nosniff", (name, r.headers)
        assert "no-store" in r.headers.get("cache-control", ""), (name, r.headers)
        # served over http (the demo): no HSTS, which a browser would keep for a year
        assert "strict-transport-security" not in r.headers, name
    static = await client.get("/static/regie.css")
    assert static.status_code == 200
    assert static.headers.get("x-content-type-options") == "nosniff"
    assert "no-store" not in static.headers.get("cache-control", "")  # assets may be cached


async def test_over_https_every_answer_has_hsts_and_every_cookie_is_secure(
    settings_factory: Callable[..., Settings],
) -> None:
    async with serving(production(settings_factory, docs_enabled=True)) as (_, client):
        for path in ("/healthz", "/v1/invoices", "/finance/login", "/openapi.json", "/nothing"):
            r = await client.get(path)
            assert r.headers.get("strict-transport-security", "").startswith("max-age="), path
        page = await client.get("/finance/login?lang=en")  # sets the language cookie
        cookies = page.headers.get_list("set-cookie")
        assert cookies and all(re.search(r";\s*Secure", c) for c in cookies), cookies


async def test_the_finance_session_cookie_is_secure_over_https_and_not_on_the_http_demo(
    settings_factory: Callable[..., Settings],
) -> None:
    from regie.kit.tenancy import Role, create_key, create_service

    for base_url, secure in ((HTTPS_URL, True), ("http://127.0.0.1:8000", False)):
        # (on https the default secret key is refused: a deployment sets its own)
        settings = settings_factory(base_url=base_url, secret_key="test-secret-" + "x" * 32)
        async with serving(settings) as (app, client):
            async with app.state.db.session() as s:
                treso = await create_service(s, "tresorerie", "Régie de recettes")
                key = (await create_key(s, treso, Role.finance, live=False))[1]
                await s.commit()
            page = await client.get("/finance/login")
            r = await client.post("/finance/login", data={"key": key, "csrf": csrf_of(page.text)})
            assert r.status_code == 303, r.text
            cookies = r.headers.get_list("set-cookie")
            assert cookies, r.headers
            for cookie in cookies:
                assert bool(re.search(r";\s*Secure", cookie, re.I)) is secure, (base_url, cookie)


async def test_docs_serve_swagger_ui_from_an_installed_package_without_a_cdn(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    html = page.text
    scripts = re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", html)
    styles = re.findall(r"<link[^>]*\bhref=\"([^\"]+)\"", html)
    assert scripts and styles
    for url in scripts + styles:
        assert url.startswith("/"), url  # same origin: no CDN, no third party
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 0
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)  # no inline script either
    assert "cdn" not in html.lower() and "https://" not in html
    assert "script-src 'self'" in page.headers["content-security-policy"]
    bundle = await client.get(next(u for u in scripts if "swagger-ui-bundle" in u))
    assert b"SwaggerUIBundle" in bundle.content
    assert (await client.get("/openapi.json")).json()["info"]["title"] == "regie"
    assert (await client.get("/redoc")).status_code == 404  # it loaded from a CDN


async def test_docs_and_openapi_are_off_in_production_unless_enabled(
    settings_factory: Callable[..., Settings],
) -> None:
    for settings, served in (
        (production(settings_factory), False),
        (production(settings_factory, docs_enabled=True), True),
        (settings_factory(docs_enabled=False), False),
        (settings_factory(), True),
    ):
        async with serving(settings) as (_, client):
            for path in ("/docs", "/openapi.json"):
                r = await client.get(path)
                assert (r.status_code == 200) is served, (settings.env, path, r.status_code)
                if not served:
                    assert r.json()["error"]["type"] == "not_found_error"


async def test_metrics_ask_for_the_bearer_token_and_are_off_in_production_without_one(
    settings_factory: Callable[..., Settings],
) -> None:
    token = "m3trics-t0ken-for-the-scraper"
    async with serving(settings_factory(metrics_token=token)) as (_, client):
        latin1: dict[bytes, bytes] = {b"Authorization": b"Bearer \xe9"}  # no 500 either
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}, latin1):
            r = await client.get("/metrics", headers=headers)
            assert r.status_code == 401, (headers, r.text)
            assert r.json()["error"]["code"] == "metrics_token_required"
            assert r.headers["www-authenticate"].startswith("Bearer")
        r = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and "regie_" in r.text
    async with serving(production(settings_factory, metrics_token=token)) as (_, client):
        assert (await client.get("/metrics")).status_code == 401
        r = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
    async with serving(production(settings_factory)) as (_, client):
        assert (await client.get("/metrics")).status_code == 404
    async with serving(settings_factory()) as (_, client):  # development: open, as before
        assert (await client.get("/metrics")).status_code == 200


def test_the_metrics_token_is_a_secret_that_never_prints() -> None:
    settings = Settings(metrics_token="m3trics-t0ken-for-the-scraper")
    assert "m3trics" not in repr(settings) and "m3trics" not in str(settings.model_dump())
