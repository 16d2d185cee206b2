"""Signing in and out of the finance workspace, its cookie, CSRF, refused and revoked keys
(through the ASGI app, on SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from html import unescape

from fastapi import Response

from regie.finance.auth import set_cookie
from regie.finance.router import router
from regie.finance.session import (
    COOKIE,
    Policy,
    Session,
    decode,
    encode,
    new_session,
    signing_key,
)
from regie.kit.settings import Settings
from regie.kit.tenancy import revoke_key
from tests.conftest import Keys
from tests.finance.conftest import csrf_of, sign_in


async def test_pages_need_a_session_and_send_you_to_the_login_page(client, app) -> None:
    r = await client.get("/finance/")
    assert (r.status_code, r.headers["location"]) == (303, "/finance/login")
    r = await client.get("/finance/ledger?at=2026-10-31")
    assert r.headers["location"] == "/finance/login?next=%2Ffinance%2Fledger%3Fat%3D2026-10-31"
    for path in ("/finance/invoices", "/finance/invoices.csv"):
        r = await client.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/finance/login")


async def test_a_finance_key_signs_in_with_a_strict_httponly_cookie_without_the_key(
    client, app, keys: Keys
) -> None:
    page = await client.get("/finance/login")
    assert page.status_code == 200
    assert 'type="password"' in page.text and "Clé d'API finance" in unescape(page.text)
    r = await client.post("/finance/login", data={"key": keys.finance, "csrf": csrf_of(page.text)})
    assert (r.status_code, r.headers["location"]) == (303, "/finance/")
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    for attribute in ("HttpOnly", "Path=/finance", "SameSite=strict", "Max-Age=28800"):
        assert attribute in cookie
    assert "Secure" not in cookie  # development: http://127.0.0.1 must work
    assert keys.finance not in cookie and keys.finance[12:] not in cookie
    r = await client.get("/finance/")
    assert r.status_code == 200
    assert "Tableau de bord" in r.text and "Connecté\u00a0: tresorerie" in r.text
    # signing in gave a new CSRF token: the login form's is worthless now
    assert csrf_of(r.text) != csrf_of(page.text)


def test_the_cookie_is_secure_in_production() -> None:
    settings = Settings(env="production", secret_key="x" * 40)
    response = Response()
    set_cookie(response, new_session("key_1", int(time.time())), settings)
    cookie = response.headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie


async def test_after_login_you_land_where_you_were_going_but_only_inside_the_workspace(
    client, app, keys: Keys
) -> None:
    r = await sign_in(client, keys.finance, next_path="/finance/ledger?at=2026-10-31")
    assert r.headers["location"] == "/finance/ledger?at=2026-10-31"
    client.cookies.clear()
    evils = ("//evil.example/finance/", "https://evil.example/", "/pay/x", "/finance/\\x",
             # dot segments leave the workspace once the browser resolves them
             "/finance/../../x", "/finance/..//evil.example", "/finance/%2e%2e/pay/x",
             "/finance/%2E%2E%2F..%2Fx", "/finance/runs/./../../x")  # fmt: skip
    for evil in evils:
        r = await sign_in(client, keys.finance, next_path=evil)
        assert r.headers["location"] == "/finance/", evil
        client.cookies.clear()


async def test_service_and_admin_keys_are_refused_with_a_clear_message(
    client, app, keys: Keys
) -> None:
    r = await sign_in(client, keys.urbanisme)
    assert r.status_code == 403
    assert (
        "Cette clé est une clé de service\u00a0: l'espace finances demande une clé finance."
        in unescape(r.text)
    )
    assert 'aria-invalid="true"' in r.text
    r = await sign_in(client, keys.admin)
    assert r.status_code == 403 and "clé d'administration" in unescape(r.text)
    assert (await client.get("/finance/")).status_code == 303  # still not signed in


async def test_an_unknown_key_is_refused_in_english_too(client, app, keys: Keys) -> None:
    client.headers["Accept-Language"] = "en-GB,en;q=0.9"
    r = await sign_in(client, keys.finance + "x")
    assert r.status_code == 401
    assert "This key is unknown or has been revoked." in r.text
    assert '<html lang="en">' in r.text
    r = await sign_in(client, "")
    assert r.status_code == 401


async def test_a_post_without_the_sessions_csrf_token_is_a_403_page(
    client, app, keys: Keys
) -> None:
    page = await client.get("/finance/login")
    for data in ({"key": keys.finance}, {"key": keys.finance, "csrf": "forged"}):
        r = await client.post("/finance/login", data=data)
        assert r.status_code == 403
        assert "Formulaire refusé" in r.text and "Rien n'a été modifié" in unescape(r.text)
        assert r.headers["content-type"].startswith("text/html")
    client.cookies.clear()
    r = await client.post("/finance/login", data={"key": keys.finance, "csrf": csrf_of(page.text)})
    assert r.status_code == 403  # no session at all
    assert (await client.get("/finance/")).status_code == 303


async def test_logout_needs_the_csrf_token_and_ends_the_session(client, app, keys: Keys) -> None:
    await sign_in(client, keys.finance)
    dashboard = await client.get("/finance/")
    r = await client.post("/finance/logout", data={"csrf": "forged"})
    assert r.status_code == 403
    assert (await client.get("/finance/")).status_code == 200  # still signed in
    r = await client.post("/finance/logout", data={"csrf": csrf_of(dashboard.text)})
    assert (r.status_code, r.headers["location"]) == (303, "/finance/login?reason=logged_out")
    assert 'regie_finance=""' in r.headers["set-cookie"] and "Max-Age=0" in r.headers["set-cookie"]
    r = await client.get("/finance/")
    assert r.status_code == 303
    r = await client.get("/finance/login?reason=logged_out")
    assert "Vous êtes déconnecté." in r.text


async def test_a_revoked_key_is_signed_out_at_its_next_request(client, app, keys: Keys) -> None:
    await sign_in(client, keys.finance)
    assert (await client.get("/finance/ledger")).status_code == 200
    async with app.state.db.session() as s:
        await revoke_key(s, keys.finance)
        await s.commit()
    r = await client.get("/finance/ledger")
    assert (r.status_code, r.headers["location"]) == (303, "/finance/login?reason=revoked")
    assert "Max-Age=0" in r.headers["set-cookie"]
    r = await client.get("/finance/login?reason=revoked")
    assert "Votre clé a été révoquée" in r.text
    r = await sign_in(client, keys.finance)
    assert r.status_code == 401


async def test_an_expired_or_forged_session_sends_you_back_to_the_login_page(
    client, app, keys: Keys, settings: Settings
) -> None:
    await sign_in(client, keys.finance)
    key_id = _key_id_of(client, settings)
    now = int(time.time())
    key = signing_key(settings.secret_key)
    idle = settings.finance_session_idle_minutes * 60
    stale = Session(key_id, "c" * 43, now - idle - 5, now - idle - 5)
    use_cookie(client, encode(stale, key))
    r = await client.get("/finance/")
    assert (r.status_code, r.headers["location"]) == (303, "/finance/login?reason=expired")
    old = Session(key_id, "c" * 43, now - settings.finance_session_max_hours * 3600, now)
    use_cookie(client, encode(old, key))
    r = await client.get("/finance/")
    assert r.headers["location"] == "/finance/login?reason=expired"
    forged = encode(Session(key_id, "c" * 43, now, now), signing_key("another secret"))
    use_cookie(client, forged)
    r = await client.get("/finance/")
    assert r.headers["location"] == "/finance/login"
    fresh = encode(Session(key_id, "c" * 43, now, now), key)
    use_cookie(client, fresh)
    assert (await client.get("/finance/")).status_code == 200


async def test_a_used_session_is_written_again_with_its_new_last_use(
    client, app, keys: Keys, settings: Settings
) -> None:
    await sign_in(client, keys.finance)
    key_id = _key_id_of(client, settings)
    now = int(time.time())
    used = Session(key_id, "c" * 43, now - 3600, now - 600)
    use_cookie(client, encode(used, signing_key(settings.secret_key)))
    r = await client.get("/finance/")
    assert r.status_code == 200
    assert r.headers["set-cookie"].startswith(f"{COOKIE}=")
    fresh = encode(Session(key_id, "c" * 43, now - 3600, now), signing_key(settings.secret_key))
    use_cookie(client, fresh)
    r = await client.get("/finance/")
    assert "set-cookie" not in r.headers  # used a moment ago: nothing to write


def test_every_post_of_the_workspace_checks_the_csrf_token() -> None:
    posts = [route for route in router.routes if "POST" in getattr(route, "methods", set())]
    assert posts
    for route in posts:
        calls = [d.call.__name__ for d in route.dependant.dependencies]
        # (the sign-out's own check: a session to end has its token checked)
        assert {"require_csrf", "require_csrf_to_sign_out"} & set(calls), route.path


def use_cookie(client, value: str) -> None:
    client.cookies.clear()
    # http.cookiejar files a dotless host under "<host>.local"
    client.cookies.set(COOKIE, value, domain="testserver.local", path="/finance")


def _key_id_of(client, settings: Settings) -> str:
    value = client.cookies.get(COOKIE)
    session, _ = decode(
        value, signing_key(settings.secret_key), Policy(10**6, 10**6), int(time.time())
    )
    assert session is not None and session.key_id
    return session.key_id


async def test_the_login_page_says_how_long_a_session_lasts(settings_factory) -> None:
    import httpx

    from regie.app import create_app

    app = create_app(settings_factory(finance_session_idle_minutes=90, finance_session_max_hours=1))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            r = await c.get("/finance/login?lang=en")
    assert "the session lasts 90 minutes without activity, 1 hour at most." in r.text


async def test_a_link_from_another_site_is_bounced_without_touching_the_session(
    client, app, keys: Keys
) -> None:
    """A signed-in officer following a link from another site (an e-mail, another tool)
    arrives without the SameSite=Strict cookie: the sign-in page set a new anonymous session
    over theirs, signing them out in every tab (a review found it). Such a request
    (``Sec-Fetch-Site: cross-site``, no session) now gets a page that goes to the same
    address from the site itself, where the cookie is sent, and no cookie."""
    assert (await sign_in(client, keys.finance)).status_code == 303
    signed = client.cookies.get("regie_finance")
    assert signed
    client.cookies.clear()  # what a navigation from another site carries
    # a workspace page reached so sends to the sign-in page, and clears no cookie (it
    # cleared the one it had not been sent: the officer was signed out)
    r = await client.get("/finance/runs", headers={"sec-fetch-site": "cross-site"})
    assert r.status_code == 303 and r.headers["location"].startswith("/finance/login?next=")
    assert "set-cookie" not in r.headers, r.headers
    target = "/finance/login?next=%2Ffinance%2Fruns%3Fx%3D%22%3E"
    r = await client.get(target, headers={"sec-fetch-site": "cross-site"})
    assert r.status_code == 200 and "set-cookie" not in r.headers, r.headers
    refresh = '<meta http-equiv="refresh" content="0; url=/finance/login?next=%2Ffinance%2Fruns%3Fx%3D%22%3E">'
    assert refresh in r.text and 'href="/finance/login?next=' in r.text  # and a link
    assert r.headers["cache-control"] == "no-store"
    # from the site itself the session comes along: straight to the page
    client.cookies.set("regie_finance", signed, path="/finance")
    r = await client.get(target, headers={"sec-fetch-site": "same-origin"})
    assert r.status_code == 303 and r.headers["location"] == "/finance/runs?x=%22%3E"
    # without the header (an older browser, a script), the sign-in page as before
    client.cookies.clear()
    r = await client.get("/finance/login")
    assert r.status_code == 200 and "regie_finance=" in r.headers.get("set-cookie", "")
