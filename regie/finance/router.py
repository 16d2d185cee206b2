"""The finance workspace's pages: login and logout, the dashboard, ledger balances at a
date, and the invoices search with its CSV export (the reconciliation pages are in
``runs``).

Thin: each page reads through the services on ``app.state`` (payments, ledger,
reconciliation) and renders a template of ``regie/finance/templates/finance``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from ledger.export import pcg_account
from ledger.service import LedgerService
from payments.service import PaymentsService
from reconciliation.schemas import run_out
from reconciliation.service import ReconciliationService
from regie.finance.accounts import account_lines, trial_balances
from regie.finance.auth import (
    FinanceRoute,
    LoginRequired,
    Officer,
    clear_cookie,
    current_officer,
    keep_session,
    now_seconds,
    officer_for_key,
    read_session,
    require_csrf,
    require_csrf_to_sign_out,
    safe_next,
    sign_out,
)
from regie.finance.csv_export import COLUMNS, csv_text, invoice_cells
from regie.finance.forms import (
    PAGE_SIZE,
    STATUSES,
    day_state,
    end_of,
    invoice_filters,
    ledger_date,
    today,
)
from regie.finance.pages import period_text, show
from regie.finance.session import new_session
from regie.finance.words import duration, word
from regie.kit.database import utcnow
from regie.kit.ratelimit import RateLimits, too_many_page
from regie.kit.settings import Settings
from regie.kit.spreadsheet import BOM
from regie.kit.tenancy import Role, find_active_key, is_test_key, list_services
from regie.kit.web import page_lang

log = logging.getLogger("regie.finance")
router = APIRouter(prefix="/finance", include_in_schema=False, route_class=FinanceRoute)
OfficerDep = Annotated[Officer, Depends(current_officer)]
LOGIN_NOTICES = {
    "expired": ("notice_expired", "warning"),
    "revoked": ("notice_revoked", "warning"),
    "logged_out": ("notice_logged_out", "success"),
}
MAX_KEY_LENGTH = 200
LAST_RUNS = 5
LATEST_OPEN = 10


def _payments(request: Request) -> PaymentsService:
    return request.app.state.payments  # type: ignore[no-any-return]


def _ledger(request: Request) -> LedgerService:
    return request.app.state.ledger  # type: ignore[no-any-return]


def _reconciliation(request: Request) -> ReconciliationService:
    return request.app.state.reconciliation  # type: ignore[no-any-return]


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


# ------------------------------------------------------------------ login and logout
def _login_form(
    request: Request,
    *,
    lang: str,
    csrf: str,
    next_path: str,
    error: str | None = None,
    notice: tuple[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    settings = _settings(request)
    return show(
        request,
        "finance/login.html",
        lang=lang,
        officer=None,
        idle=duration(settings.finance_session_idle_minutes, lang),
        most=duration(settings.finance_session_max_hours * 60, lang),
        status_code=status_code,
        switch_path="/finance/login",
        csrf=csrf,
        next_path=next_path,
        error=error,
        notice=notice,
    )


def _bounce(request: Request) -> HTMLResponse:
    """The sign-in page's address again, reached from this site (a refresh, and a link)."""
    lang = page_lang(request)
    here = "/finance/login" + (f"?{request.url.query}" if request.url.query else "")
    return show(
        request,
        "finance/message.html",
        lang=lang,
        officer=None,
        switch_path="/finance/login",
        title=word("login_title", lang),
        body=word("bounce_body", lang),
        link=(here, word("bounce_link", lang)),
        refresh=here,
    )


@router.get("/login", response_class=HTMLResponse)
async def login_page(
    request: Request, next: str | None = None, reason: str | None = None
) -> Response:
    session, _ = read_session(request)
    if session is None and request.headers.get("sec-fetch-site") == "cross-site":
        # a link from another site: the SameSite=Strict session was not sent, so a new one
        # set here would replace it (signing the officer out). Go to the same address from
        # this site instead, where it is sent; no cookie now.
        return _bounce(request)
    if session is not None and session.key_id is not None:
        if not isinstance(await officer_for_key(request, session), LoginRequired):
            return RedirectResponse(safe_next(next), status_code=303)
        session = None  # its key was revoked, or it was signed out: start over
    if session is None:
        session = new_session(None, now_seconds())
        keep_session(request, session)
    notice = LOGIN_NOTICES.get(reason or "")
    return _login_form(
        request,
        lang=page_lang(request),
        csrf=session.csrf,
        next_path=safe_next(next),
        notice=notice,
    )


@router.post("/login", dependencies=[Depends(require_csrf)], response_class=HTMLResponse)
async def login(
    request: Request,
    # (no max_length: FastAPI would answer a longer field with the API's JSON; the route
    # answers its page, a key longer than MAX_KEY_LENGTH unknown, a long ``next`` the
    # dashboard: ``safe_next``)
    key: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    lang = page_lang(request)
    session, _ = read_session(request)
    assert session is not None  # require_csrf found it
    raw = key.strip()
    # wrong keys count against the address, as on the API: probing stops here too
    limits: RateLimits | None = getattr(request.app.state, "rate_limits", None)
    address = limits.client_address(request.scope) if limits is not None else ""
    if limits is not None and (wait := await limits.auth_failures.over(address)) is not None:
        return too_many_page(request, wait, lang=lang, switch_path="/finance/login")
    error, status = None, 401
    role, found = None, None
    if not raw or len(raw) > MAX_KEY_LENGTH:
        error = word("err_key_invalid", lang)
    elif _settings(request).env == "production" and is_test_key(raw):
        error = word("err_key_test", lang)
    else:
        async with request.app.state.db.session() as s:
            found = await find_active_key(s, raw)
        if found is None:
            error = word("err_key_invalid", lang)
            if limits is not None:
                await limits.auth_failures.hit(address)
        elif found[0].role != Role.finance.value:
            role = found[0].role
            error, status = word("err_key_role", lang, role=word("role_" + role, lang)), 403
    if error is not None or found is None:
        log.warning("finance sign-in refused", extra={"reason": role or "invalid key"})
        return _login_form(
            request,
            lang=lang,
            csrf=session.csrf,
            next_path=safe_next(next),
            error=error,
            status_code=status,
        )
    api_key, _service = found
    keep_session(request, new_session(api_key.id, now_seconds()))  # a new CSRF token too
    log.info("finance sign-in", extra={"key_id": api_key.id})
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
async def logout(
    request: Request, live: Annotated[bool, Depends(require_csrf_to_sign_out)]
) -> Response:
    response = RedirectResponse("/finance/login?reason=logged_out", status_code=303)
    if not live:  # signed out already, in another tab: the sign-in page says so
        return response
    await sign_out(request)
    clear_cookie(response, _settings(request))
    return response


# ------------------------------------------------------------------------ dashboard
@router.get("/", response_class=HTMLResponse)
async def dashboard(request: Request, officer: OfficerDep) -> Response:
    lang = page_lang(request)
    ledger = _ledger(request)
    psp = await ledger.balances(None, "assets:psp:")
    bank = await ledger.balances(None, "assets:bank:")
    recon = _reconciliation(request)
    runs = [run_out(r) for r in await recon.list_runs(LAST_RUNS)]
    latest, latest_open = None, []
    if runs:
        view = await recon.get_run(runs[0].id)
        latest = run_out(view.run, view.discrepancies, view.suggestions, view.decisions)
        latest_open = [d for d in latest.discrepancies if d.status == "open"][:LATEST_OPEN]
    return show(
        request,
        "finance/dashboard.html",
        lang=lang,
        officer=officer,
        nav="dashboard",
        clearing=account_lines([(b.account, b.currency, b.debit, b.credit) for b in psp]),
        bank=account_lines([(b.account, b.currency, b.debit, b.credit) for b in bank]),
        told=await recon.statements.coverage(),
        as_of=utcnow(),
        open_count=await recon.open_discrepancies(),
        runs=runs,
        latest=latest,
        latest_open=latest_open,
        latest_period=period_text(str(latest.period_from), str(latest.period_to), lang)
        if latest
        else "",
        period=lambda r: period_text(str(r.period_from), str(r.period_to), lang),
    )


# --------------------------------------------------------------------------- ledger
@router.get("/ledger", response_class=HTMLResponse)
async def ledger_page(request: Request, officer: OfficerDep, at: str | None = None) -> Response:
    lang = page_lang(request)
    when = ledger_date(at, utcnow())
    rows = await _ledger(request).balances(end_of(when.day))
    lines = account_lines([(b.account, b.currency, b.debit, b.credit) for b in rows])
    return show(
        request,
        "finance/ledger.html",
        lang=lang,
        officer=officer,
        nav="ledger",
        status_code=400 if when.error else 200,
        when=when,
        day_state=day_state(when.day, today(utcnow())),
        lines=lines,
        trial=trial_balances(lines),
        pcg={x.account: pcg_account(x.account)[0] for x in lines},
    )


# ------------------------------------------------------------------------- invoices
async def _service_slugs(request: Request) -> list[str]:
    async with request.app.state.db.session() as s:
        return [svc.slug for svc in await list_services(s)]


@router.get("/invoices", response_class=HTMLResponse)
async def invoices_page(request: Request, officer: OfficerDep) -> Response:
    lang = page_lang(request)
    services = await _service_slugs(request)
    filters = invoice_filters(request.query_params, services)
    search, query = _payments(request).search, filters.query()
    # a page past the last (an old link) is the last
    found = await search.page(officer.principal, query, number=filters.page, size=PAGE_SIZE)
    return show(
        request,
        "finance/invoices.html",
        lang=lang,
        officer=officer,
        nav="invoices",
        status_code=400 if filters.errors else 200,
        filters=filters,
        services=services,
        statuses=STATUSES,
        found=found,
        pages=found.pages,
        page=found.number,
    )


@router.get("/invoices.csv")
async def invoices_csv(request: Request, officer: OfficerDep) -> Response:
    filters = invoice_filters(request.query_params, await _service_slugs(request))
    if filters.errors:  # never a file with fewer filters than asked for: the page says why
        return await invoices_page(request, officer)
    rows = _payments(request).search.stream(officer.principal, filters.query())

    async def body() -> AsyncIterator[str]:
        yield BOM + csv_text([COLUMNS])  # for Excel, which reads a CSV without it in cp1252
        batch: list[list[str]] = []
        async for row in rows:
            batch.append(invoice_cells(row))
            if len(batch) >= 500:
                yield csv_text(batch)
                batch = []
        if batch:
            yield csv_text(batch)

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="invoices-{stamp}.csv"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
