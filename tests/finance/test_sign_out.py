"""Signing out ends the session everywhere, not only in the browser that signed out: a copy
of its cookie (another browser, a proxy's log, a stolen disk) is refused from then on. The
session lives in its signed cookie, so "sign out" stores the session's identity (the SHA-256
of its random CSRF token, never the token) until the session's absolute end (on SQLite and
PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import httpx
from sqlalchemy import select

from regie.finance.models import SignedOutSession
from regie.finance.session import COOKIE
from regie.kit.database import utcnow
from regie.maintenance import prune
from tests.conftest import BASE_URL, Keys
from tests.finance.conftest import csrf_of, sign_in


def copy_of(app: Any, client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Another browser holding a copy of ``client``'s session cookie."""
    cookie = client.cookies.get(COOKIE, path="/finance")
    assert cookie, "signed in: the session cookie is set"
    other = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)
    other.cookies.set(COOKIE, cookie, path="/finance")
    return other


async def stored(app: Any) -> list[SignedOutSession]:
    async with app.state.db.session() as s:
        return list((await s.execute(select(SignedOutSession))).scalars())


async def test_a_copy_of_the_cookie_is_refused_once_the_officer_signs_out(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    await sign_in(client, keys.finance)
    dashboard = await client.get("/finance/")
    csrf = csrf_of(dashboard.text)
    async with copy_of(app, client) as copy:
        assert (await copy.get("/finance/ledger")).status_code == 200  # the copy works
        r = await client.post("/finance/logout", data={"csrf": csrf})
        assert (r.status_code, r.headers["location"]) == (303, "/finance/login?reason=logged_out")
        r = await copy.get("/finance/ledger")
        assert (r.status_code, r.headers["location"]) == (303, "/finance/login?reason=logged_out")
        assert "Max-Age=0" in r.headers["set-cookie"]  # the copy's cookie is cleared too
        # the sign-in page offers the form, it does not send the copy back to the workspace
        copy.cookies.set(COOKIE, client.cookies.get(COOKIE, path="/finance") or "", path="/finance")
        page = await copy.get("/finance/login")
        assert page.status_code == 200 and 'name="key"' in page.text
    [row] = await stored(app)
    assert row.session_hash == hashlib.sha256(csrf.encode()).hexdigest()
    assert csrf not in (row.session_hash, row.key_id)  # the token itself is never stored
    assert row.key_id.startswith("key_")
    # kept until the session's absolute end (12 h by default), not for ever
    remaining = row.expires_at - utcnow()
    assert dt.timedelta(hours=11) < remaining <= dt.timedelta(hours=12)


async def test_another_session_of_the_same_key_stays_signed_in(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    await sign_in(client, keys.finance)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL
    ) as colleague:
        await sign_in(colleague, keys.finance)  # the same key, another browser
        csrf = csrf_of((await client.get("/finance/")).text)
        await client.post("/finance/logout", data={"csrf": csrf})
        assert (await colleague.get("/finance/")).status_code == 200
    assert (await client.get("/finance/")).status_code == 303


async def test_signing_out_twice_stores_one_row_and_is_no_error(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    await sign_in(client, keys.finance)
    csrf = csrf_of((await client.get("/finance/")).text)
    async with copy_of(app, client) as copy:
        first = await client.post("/finance/logout", data={"csrf": csrf})
        again = await copy.post("/finance/logout", data={"csrf": csrf})  # a replayed form
    assert first.status_code == again.status_code == 303
    assert len(await stored(app)) == 1


async def test_a_session_never_signed_in_stores_nothing_when_signing_out(
    app: Any, client: httpx.AsyncClient
) -> None:
    page = await client.get("/finance/login")
    r = await client.post("/finance/logout", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 303
    assert await stored(app) == []


async def test_the_rows_are_pruned_once_their_session_has_ended(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    await sign_in(client, keys.finance)
    await client.post(
        "/finance/logout", data={"csrf": csrf_of((await client.get("/finance/")).text)}
    )
    [row] = await stored(app)
    settings = app.state.settings
    before = await prune(app.state.db, settings, now=row.expires_at - dt.timedelta(seconds=1))
    assert before.signed_out_sessions == 0 and len(await stored(app)) == 1
    after = await prune(app.state.db, settings, now=row.expires_at)
    assert after.signed_out_sessions == 1 and await stored(app) == []


async def test_signing_out_again_from_another_tab_goes_to_the_sign_in_page(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """Two tabs of the workspace: the officer signs out in one, then presses "Sign out" in
    the other, whose form carries the same token. The cookie is gone (the first sign-out
    cleared it), so there is nothing left to end: the second tab lands on the sign-in page
    saying the officer is signed out, not on a 403 "form refused" page. A copy of the
    cookie signing out a session ended elsewhere is the same."""
    await sign_in(client, keys.finance)
    csrf = csrf_of((await client.get("/finance/")).text)
    async with copy_of(app, client) as copy:
        r = await client.post("/finance/logout", data={"csrf": csrf})
        assert r.status_code == 303
        again = await client.post("/finance/logout", data={"csrf": csrf})  # the other tab
        assert (again.status_code, again.headers["location"]) == (
            303,
            "/finance/login?reason=logged_out",
        )
        r = await copy.post("/finance/logout", data={"csrf": csrf})  # ended elsewhere
        assert (r.status_code, r.headers["location"]) == (303, "/finance/login?reason=logged_out")
    assert len(await stored(app)) == 1  # ended once


async def test_a_sign_out_of_a_live_session_without_its_token_is_still_refused(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await sign_in(client, keys.finance)
    r = await client.post("/finance/logout", data={"csrf": "forged"})
    assert r.status_code == 403
    assert (await client.get("/finance/ledger")).status_code == 200  # still signed in
