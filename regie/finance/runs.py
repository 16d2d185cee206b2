"""The workspace's reconciliation runs: the list with the chart, start one, a run with its
discrepancies and suggestions, its CSV and PDF (the decisions taken on a run's page:
``decisions``; the bank statements: ``statements``).

Thin: every decision goes through ``app.state.reconciliation`` (the service the API uses),
recorded under the signed-in key's id like an API call.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_interval
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reconciliation.report import to_csv
from reconciliation.report_pdf import to_pdf
from reconciliation.schemas import RunOut, run_out
from reconciliation.service import ReconciliationService, RunRequest
from reconciliation.sources.errors import SourceError
from regie.finance.auth import FinanceRoute, Officer, current_officer, require_csrf
from regie.finance.chart import Labels, RunAmounts, bars_by_currency, run_chart
from regie.finance.errors import reason_text
from regie.finance.forms import TIMEZONE, date_error, parse_day, uploaded_file
from regie.finance.pages import period_text, show
from regie.finance.remarks import actor_text
from regie.finance.words import word
from regie.kit.database import utcnow
from regie.kit.errors import ApiError
from regie.kit.money import format_money
from regie.kit.web import page_lang

router = APIRouter(prefix="/finance", include_in_schema=False, route_class=FinanceRoute)
OfficerDep = Annotated[Officer, Depends(current_officer)]
CsrfChecked = [Depends(require_csrf)]
RUNS_LISTED = 50
RUNS_CHARTED = 12
DISCREPANCIES_SHOWN = 500
DONE = ("resolved", "confirm", "reject", "healed")


def recon_service(request: Request) -> ReconciliationService:
    return request.app.state.reconciliation  # type: ignore[no-any-return]


def not_found_page(request: Request, officer: Officer) -> HTMLResponse:
    lang = page_lang(request)
    return show(
        request,
        "finance/message.html",
        lang=lang,
        officer=officer,
        nav="runs",
        status_code=404,
        switch_path="/finance/runs",
        title=word("run_not_found_title", lang),
        body=word("run_not_found_body", lang),
        link=("/finance/runs", word("back_to_runs", lang)),
    )


def _period(run: RunOut, lang: str) -> str:
    return period_text(str(run.period_from), str(run.period_to), lang)


def local_time(when: dt.datetime, lang: str) -> str:
    """``4 Dec 12:19:05`` / ``4 déc. 12:19:05`` (Babel): when a run was made (Paris time, to
    the second), to tell runs of one period apart, even two made in the same minute; the
    month in words (``04/12`` reads as 12 April in English), short enough to fit a phone."""
    local = when.astimezone(ZoneInfo(TIMEZONE))
    return format_datetime(local, "d MMM HH:mm:ss", tzinfo=local.tzinfo, locale=lang)


def short_period(start: dt.date, end: dt.date, lang: str) -> str:
    """``5–8 déc. 2026`` / ``5 – 8 Dec 2026`` (Babel), ``1er oct. 2026`` for one day: a
    run's period in the chart, in the page's words and short enough for a phone."""
    text = format_interval(start, end, "yMMMd", locale="fr" if lang == "fr" else "en_GB")
    return re.sub(r"(?<!\d)1(?=[\s\u2009\u202f–])", "1er", text) if lang == "fr" else text


def charts(
    runs: list[RunOut], lang: str, resolved: dict[str, dict[str, int]] | None = None
) -> list[dict[str, Any]]:
    """Per currency: the SVG and the rows of its text alternative, newest run first (in
    the order of the runs' table below them);
    ``resolved`` says, per run and currency, how much of its discrepancies was resolved
    since (drawn apart from what is still open)."""
    resolved = resolved or {}
    amounts = [
        RunAmounts(
            f"{short_period(r.period_from, r.period_to, lang)} ({local_time(r.created_at, lang)})",
            r.summary.get("matched_amount") or {},
            r.summary.get("categories") or [],
            resolved.get(r.id, {}),
        )
        for r in runs[:RUNS_CHARTED]
    ]
    out = []
    for currency, bars in bars_by_currency(amounts).items():
        svg = run_chart(
            bars,
            Labels(
                word("chart_title", lang, currency=currency),
                word("chart_desc", lang),
                word("matched", lang),
                word("unmatched", lang),
                word("resolved", lang),
            ),
            lambda bar, c=currency: word(  # type: ignore[misc]
                "chart_bar_text",
                lang,
                matched=format_money(bar.matched, c, lang),
                unmatched=format_money(bar.unmatched, c, lang),
                resolved=format_money(bar.resolved, c, lang),
            ),
            chart_id=f"chart-{currency.lower()}",
        )
        out.append({"currency": currency, "svg": svg, "bars": bars})
    return out


# ---------------------------------------------------------------------------- runs
async def _runs_page(
    request: Request,
    officer: Officer,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    lang = page_lang(request)
    runs = [run_out(r) for r in await recon_service(request).list_runs(RUNS_LISTED)]
    resolved = await recon_service(request).resolved_amounts([r.id for r in runs[:RUNS_CHARTED]])
    today = utcnow().date()
    first = today.replace(day=1)
    default_from = (first - dt.timedelta(days=1)).replace(day=1)  # last month by default
    return show(
        request,
        "finance/runs.html",
        lang=lang,
        officer=officer,
        nav="runs",
        status_code=status_code,
        switch_path="/finance/runs",
        runs=runs,
        charts=charts(runs, lang, resolved),
        form=form
        or {
            "period_from": default_from.isoformat(),
            "period_to": (first - dt.timedelta(days=1)).isoformat(),
        },
        errors=errors or {},
        period=lambda r: _period(r, lang),
    )


@router.get("/runs", response_class=HTMLResponse)
async def runs_page(request: Request, officer: OfficerDep) -> Response:
    return await _runs_page(request, officer)


def period_errors(start: dt.date | None, end: dt.date | None, today: dt.date) -> dict[str, str]:
    """The period's mistakes, said before the service is asked."""
    errors: dict[str, str] = {}
    if start is None:
        errors["period_from"] = "err_required_date"
    if end is None:
        errors["period_to"] = "err_required_date"
    if start and end:
        if end < start:
            errors["period_to"] = "err_date_order"
        elif start > today:
            errors["period_from"] = "err_period_future"
        elif (end - start).days > 366:
            errors["period_to"] = "err_period_long"
    return errors


@router.post("/runs", dependencies=CsrfChecked, response_class=HTMLResponse)
async def start_run(request: Request, officer: OfficerDep) -> Response:
    lang = page_lang(request)
    form = await request.form()
    fields = {k: str(form.get(k, ""))[:20].strip() for k in ("period_from", "period_to")}
    start, end = parse_day(fields["period_from"]), parse_day(fields["period_to"])
    errors = {
        k: word(v, lang)
        for k, v in period_errors(start, end, utcnow().date()).items()
        if not (v == "err_required_date" and fields[k])
    }
    for k in ("period_from", "period_to"):
        if fields[k] and parse_day(fields[k]) is None:
            errors[k] = word(date_error(fields[k]), lang)
    if errors or start is None or end is None:
        return await _runs_page(request, officer, form=fields, errors=errors, status_code=422)
    stripe_csv = await uploaded_file(form, "stripe_csv")
    req = RunRequest(start, end, officer.principal.key_id, stripe_csv=stripe_csv)
    try:
        run_id = await recon_service(request).start_run(req)
    except SourceError as err:
        errors["stripe_csv"] = word("err_file", lang, reason=err.text(lang))
    except ApiError as err:
        errors[err.param if err.param in fields else "period_from"] = word(
            "err_refused", lang, reason=reason_text(err, lang)
        )
    else:
        return RedirectResponse(f"/finance/runs/{run_id}", status_code=303)
    return await _runs_page(request, officer, form=fields, errors=errors, status_code=422)


async def _run(request: Request, run_id: str) -> RunOut | None:
    try:
        v = await recon_service(request).get_run(run_id[:40])
    except ApiError as err:
        if err.status == 404:
            return None
        raise
    return run_out(v.run, v.discrepancies, v.suggestions, v.decisions)


def _download(run: RunOut, ext: str) -> dict[str, str]:
    name = f"reconciliation-{run.period_from}-{run.period_to}-{run.id}.{ext}"
    return {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    }


@router.get("/runs/{run_id}.csv")
async def run_csv(request: Request, run_id: str, officer: OfficerDep) -> Response:
    run = await _run(request, run_id)
    if run is None:
        return not_found_page(request, officer)
    labels = await recon_service(request).actor_labels(run)
    return Response(
        to_csv(run, labels, page_lang(request)),
        media_type="text/csv; charset=utf-8",
        headers=_download(run, "csv"),
    )


@router.get("/runs/{run_id}.pdf")
async def run_pdf(request: Request, run_id: str, officer: OfficerDep) -> Response:
    run = await _run(request, run_id)
    if run is None:
        return not_found_page(request, officer)
    labels = await recon_service(request).actor_labels(run)
    return Response(
        to_pdf(run, labels, page_lang(request)),
        media_type="application/pdf",
        headers=_download(run, "pdf"),
    )


async def run_view(
    request: Request,
    officer: Officer,
    run_id: str,
    *,
    errors: dict[str, str] | None = None,
    notes: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    lang = page_lang(request)
    run = await _run(request, run_id)
    if run is None:
        return not_found_page(request, officer)
    labels = await recon_service(request).actor_labels(run)
    show_all = request.query_params.get("show") == "all"
    listed = [d for d in run.discrepancies if show_all or d.status == "open"]
    done = request.query_params.get("done", "")
    return show(
        request,
        "finance/run.html",
        lang=lang,
        officer=officer,
        nav="runs",
        status_code=status_code,
        switch_path=f"/finance/runs/{run.id}",
        run=run,
        who=lambda actor: actor_text(actor, labels, lang),
        signer=lambda actor: actor_text(actor, labels, lang, signer=True),
        period=_period(run, lang),
        discrepancies=listed[:DISCREPANCIES_SHOWN],
        hidden=max(0, len(listed) - DISCREPANCIES_SHOWN),
        show_all=show_all,
        open_suggestions=sum(1 for x in run.suggestions if x.status == "open"),
        missing_in_ledger=any(
            d.category == "missing_in_ledger" and d.status == "open" for d in run.discrepancies
        ),
        done=done if done in DONE else None,
        healed=request.query_params.get("n", "0")[:6],
        errors=errors or {},
        notes=notes or {},
    )


@router.get("/runs/{run_id}", response_class=HTMLResponse)
async def run_page(request: Request, run_id: str, officer: OfficerDep) -> Response:
    return await run_view(request, officer, run_id)
