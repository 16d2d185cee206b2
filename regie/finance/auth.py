"""Who is signed in to the finance workspace, the session cookie, and the CSRF check.

The cookie is signed with a key derived from ``REGIE_SECRET_KEY``, HttpOnly,
SameSite=Strict, limited to ``/finance`` and Secure when served over https (always in
production). On every request the key it names is read again: a key revoked (or no longer
a finance key) ends the session.
Every form carries the session's CSRF token; a POST without it, or with another, is
refused with a 403 page. ``FinanceRoute`` turns these refusals into pages and writes the
session back when it was used (the idle limit counts from its last use).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from reconciliation.sources.errors import file_name
from regie.finance.repository import is_signed_out
from regie.finance.repository import sign_out as store_sign_out
from regie.finance.session import (
    COOKIE,
    COOKIE_PATH,
    Policy,
    Problem,
    Session,
    csrf_matches,
    decode,
    encode,
    new_session,
    signing_key,
)
from regie.finance.words import word
from regie.kit.auth import Principal
from regie.kit.database import utcnow
from regie.kit.errors import ApiError
from regie.kit.settings import Settings
from regie.kit.tenancy import Role, find_active_key_by_id, is_test_key
from regie.kit.uploads import refuse_large_files
from regie.kit.web import page_lang, render

LOGIN_PATH = "/finance/login"
LOGOUT_PATH = "/finance/logout"
# a workspace form has at most one file (a statement, or Stripe's CSV) and four other fields;
# Starlette's defaults (a thousand of each, small files held in memory) are not the pages'
FORM_MAX_FILES = 1
FORM_MAX_FIELDS = 10


@dataclass(frozen=True)
class Officer:
    """A finance officer signed in with a finance key (its id and its service's slug)."""

    principal: Principal
    session: Session

    @property
    def csrf(self) -> str:
        return self.session.csrf


class LoginRequired(Exception):
    """No usable session: go to the login page (saying why when there is something to say)."""

    def __init__(self, reason: str | None = None, *, clear: bool = False) -> None:
        super().__init__(reason or "login required")
        self.reason = reason
        self.clear = clear


class CsrfRefused(Exception):
    """A POST without the session's CSRF token."""


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def now_seconds() -> int:
    return int(time.time())


def policy(settings: Settings) -> Policy:
    return Policy.of(settings.finance_session_idle_minutes, settings.finance_session_max_hours)


def read_session(request: Request) -> tuple[Session | None, Problem | None]:
    settings = _settings(request)
    return decode(
        request.cookies.get(COOKIE),
        signing_key(settings.secret_key),
        policy(settings),
        now_seconds(),
    )


def keep_session(request: Request, session: Session) -> None:
    """Write ``session`` into the response's cookie (``FinanceRoute`` does it)."""
    request.state.finance_session = session


def set_cookie(response: Response, session: Session, settings: Settings) -> None:
    remaining = session.expires_at(policy(settings)) - now_seconds()
    response.set_cookie(
        COOKIE,
        encode(session, signing_key(settings.secret_key)),
        max_age=max(remaining, 0),
        path=COOKIE_PATH,
        secure=settings.https,
        httponly=True,
        samesite="strict",
    )


def clear_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        COOKIE,
        path=COOKIE_PATH,
        secure=settings.https,
        httponly=True,
        samesite="strict",
    )


async def officer_for_key(request: Request, session: Session) -> Principal | LoginRequired:
    """The principal of the session's key while the key is active and a finance key (and
    not a test key in production) and the session was not signed out; otherwise why not
    (the key and the sign-out are read in one database session)."""
    assert session.key_id is not None
    async with request.app.state.db.session() as s:
        found = await find_active_key_by_id(s, session.key_id)
        signed_out = found is not None and await is_signed_out(s, session.csrf)
    if signed_out:
        return LoginRequired("logged_out", clear=True)
    if found is None:
        return LoginRequired("revoked", clear=True)
    key, service = found
    if key.role != Role.finance.value:
        return LoginRequired("revoked", clear=True)
    if _settings(request).env == "production" and is_test_key(key.prefix):
        return LoginRequired("revoked", clear=True)
    return Principal(key.id, service.id, service.slug, Role.finance)


async def current_officer(request: Request) -> Officer:
    """The signed-in officer (a dependency of every page but the login page; read once a
    request: ``require_csrf`` asks first)."""
    found: Officer | None = getattr(request.state, "finance_officer", None)
    if found is not None:
        return found
    session, problem = read_session(request)
    if session is None or session.key_id is None:
        # a cookie that was not sent is not cleared: a link from another site arrives
        # without the SameSite=Strict cookie, and clearing it there signed the officer out
        clear = problem not in (None, "missing")
        raise LoginRequired("expired" if problem == "expired" else None, clear=clear)
    principal = await officer_for_key(request, session)
    if isinstance(principal, LoginRequired):
        raise principal
    touched = session.touched(now_seconds())
    if touched is not None:
        keep_session(request, touched)
    officer = Officer(principal, touched or session)
    request.state.finance_officer = officer
    return officer


async def sign_out(request: Request) -> None:
    """Ends the request's session everywhere, not only in this browser: a copy of its
    cookie is refused from now on (``models.SignedOutSession``). A session without a key
    (before sign-in) has nothing to end."""
    session, _ = read_session(request)
    if session is None or session.key_id is None:
        return
    ends = dt.datetime.fromtimestamp(
        session.issued_at + policy(_settings(request)).max_seconds, dt.UTC
    )
    async with request.app.state.db.session() as s:
        await store_sign_out(s, session.csrf, session.key_id, utcnow(), ends)
        await s.commit()


async def require_csrf(request: Request) -> None:
    """The form's ``csrf`` field is the session's token (a dependency of every POST). Past
    the sign-in and sign-out forms, the officer is signed in before the form is read: the
    session before sign-in, which anyone gets, or a signed-out one, never has a file read."""
    session, _ = read_session(request)
    if session is None:  # refused before its form (a file, maybe) is read
        raise CsrfRefused()
    if request.url.path not in (LOGIN_PATH, LOGOUT_PATH):
        await current_officer(request)  # else to the sign-in page, the form unread
    # read once here with the pages' own bounds (the routes' ``request.form()`` get this
    # copy): a longer form is a 400 page, as the API's uploads bound theirs
    try:
        form = await request.form(max_files=FORM_MAX_FILES, max_fields=FORM_MAX_FIELDS)
    except HTTPException as exc:
        if exc.status_code != 400 or not str(exc.detail).startswith("Too many"):
            raise  # a body too large (413), a malformed form: their own pages
        raise ApiError(  # Starlette's 400 for a form past these bounds, in the page's words
            400,
            "form_too_many_parts",
            f"A form takes at most {FORM_MAX_FILES} file and {FORM_MAX_FIELDS} fields.",
        ) from exc
    if not csrf_matches(session, form.get("csrf")):
        raise CsrfRefused()
    # each file up to REGIE_MAX_UPLOAD_BYTES (the body's limit allows the form's framing)
    refuse_large_files(form.multi_items(), request.app.state.settings.max_upload_bytes, file_name)


async def require_csrf_to_sign_out(request: Request) -> bool:
    """The sign-out's ``require_csrf``: whether there is a session to end, its form's token
    checked. None left (signed out in another tab: the cookie is gone) is False, not a
    refusal: nothing to end, and nothing a forged form could change."""
    session, _ = read_session(request)
    if session is None or session.key_id is None:
        return False
    await require_csrf(request)
    return True


def start_anonymous(request: Request) -> Session:
    """The visitor's session before login (it carries the login form's CSRF token)."""
    session, _ = read_session(request)
    if session is None:
        session = new_session(None, now_seconds())
        keep_session(request, session)
    return session


def _login_redirect(request: Request, exc: LoginRequired) -> Response:
    # why (an expired session, a revoked key, signed out), and the way back to the page
    # asked for when the officer was only away too long (signed out or revoked: start over)
    query = [f"reason={exc.reason}"] if exc.reason else []
    if (
        exc.reason in (None, "expired")
        and request.method == "GET"
        and request.url.path != "/finance/"
    ):
        here = request.url.path + ("?" + request.url.query if request.url.query else "")
        query.append("next=" + quote(here, safe=""))
    target = LOGIN_PATH + ("?" + "&".join(query) if query else "")
    response = RedirectResponse(target, status_code=303)
    if exc.clear:
        clear_cookie(response, _settings(request))
    return response


# a form's action -> the page it is on: a run's decisions and heal are on the run's page
_FORM_PAGE = re.compile(r"(/finance/runs/[A-Za-z0-9_]{1,64})/(?:discrepancies|suggestions|heal)\b")
FORM_PAGES = ("/finance/runs", "/finance/bank-statements")


def form_page(path: str) -> str | None:
    """The workspace page a form posted to ``path`` is on (where it can be sent again), or
    None for the sign-in and sign-out forms (their page is the sign-in page)."""
    if found := _FORM_PAGE.match(path):
        return found.group(1)
    return path if path in FORM_PAGES else None


def csrf_refused_page(request: Request) -> Response:
    lang = page_lang(request)
    back = form_page(request.url.path)
    link = (back, word("back_to_form", lang)) if back else (LOGIN_PATH, word("back_to_login", lang))
    return render(
        request,
        "finance/message.html",
        lang=lang,
        status_code=403,
        switch_path=link[0],
        ft=lambda key, **kw: word(key, lang, **kw),
        title=word("csrf_title", lang),
        body=word("csrf_body", lang),
        link=link,
    )


class FinanceRoute(APIRoute):
    """A workspace route: a missing session goes to the login page, a refused CSRF token
    is a 403 page, and a session used (or just made) goes back out in the cookie."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except LoginRequired as exc:
                return _login_redirect(request, exc)
            except CsrfRefused:
                return csrf_refused_page(request)
            session: Session | None = getattr(request.state, "finance_session", None)
            if session is not None:
                set_cookie(response, session, _settings(request))
            return response

        return handler


# the longest ``next`` kept (a longer one, a deep link cut by a mail client, say, leads to
# the dashboard): browsers and proxies keep addresses of 2,000 characters
MAX_NEXT = 2000


def safe_next(target: str | None) -> str:
    """Where to go after login: a workspace page only (never another site, nor a page out of
    the workspace by dot segments, written plainly or percent-encoded), of at most
    ``MAX_NEXT`` characters."""
    if (
        target
        and len(target) <= MAX_NEXT
        and target.startswith("/finance/")
        and not target.startswith("//")
        and "\\" not in target
        and all(c.isprintable() and not c.isspace() for c in target)
        and not {".", ".."} & set(unquote(target.split("?", 1)[0]).split("/"))
    ):
        return target
    return "/finance/"
