"""The decisions a finance officer takes on a run's page: resolve a discrepancy (a note is
required), confirm or reject a suggestion, heal what a lost webhook left missing.

Thin, like ``runs``: each goes through ``app.state.reconciliation`` (the service the API
uses), recorded under the signed-in key's id; a refused decision shows the run's page again
with the error beside its form and the note as typed.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reconciliation.decisions import MAX_NOTE, note_text
from regie.finance.auth import FinanceRoute, Officer
from regie.finance.runs import CsrfChecked, OfficerDep, not_found_page, recon_service, run_view
from regie.finance.words import word
from regie.kit.errors import ApiError, content_type_error
from regie.kit.web import page_lang

router = APIRouter(prefix="/finance", include_in_schema=False, route_class=FinanceRoute)


@router.post(
    "/runs/{run_id}/discrepancies/{discrepancy_id}/resolve",
    dependencies=CsrfChecked,
    response_class=HTMLResponse,
)
async def resolve(
    request: Request, run_id: str, discrepancy_id: str, officer: OfficerDep
) -> Response:
    lang = page_lang(request)
    note = await _form_note(request)
    if not note_text(note) or len(note.strip()) > MAX_NOTE:  # refused whole, never cut
        error = word("err_note", lang) if not note_text(note) else _too_long(note, lang)
        return await _again(request, officer, run_id, discrepancy_id, note, error, 422)
    try:
        await recon_service(request).resolve(run_id, discrepancy_id, note, officer.principal.key_id)
    except ApiError as err:
        return await _refused(request, officer, run_id, discrepancy_id, note, err)
    return RedirectResponse(
        f"/finance/runs/{run_id}?done=resolved#d-{discrepancy_id}", status_code=303
    )


async def _form_note(request: Request) -> str:
    """The note of a decision's form. The pages send these forms URL-encoded, whose text the
    edge guard refuses unless it is UTF-8; a multipart form's text fields are read as
    Latin-1 when they are not UTF-8 (``\\xff\\xfe`` would be stored as "ÿþ"), so a note
    that could be stored altered is refused (415) rather than taken. A browser sends each
    line break of a textarea as CR LF, which its ``maxlength`` counts as one character: the
    note is read with LF line breaks, as typed and counted."""
    ctype = request.headers.get("content-type", "")
    if ctype.split(";", 1)[0].strip().lower() != "application/x-www-form-urlencoded":
        raise content_type_error(ctype or None, reads="a form: application/x-www-form-urlencoded")
    return str((await request.form()).get("note", "")).replace("\r\n", "\n")


async def _again(
    request: Request, officer: Officer, run_id: str, item: str, note: str, error: str, status: int
) -> Response:
    """The run's page again, ``error`` beside ``item``'s form and its note as typed."""
    return await run_view(
        request, officer, run_id, errors={item: error}, notes={item: note}, status_code=status
    )


async def _refused(
    request: Request, officer: Officer, run_id: str, item: str, note: str, err: ApiError
) -> Response:
    """What the service refused: the workspace's not-found page for a run or an item that
    is not there, else the run's page with the service's reason beside ``item``'s form."""
    if err.status == 404:
        return not_found_page(request, officer)
    error = word("err_refused", page_lang(request), reason=err.message)
    return await _again(request, officer, run_id, item, note, error, err.status)


def _too_long(note: str, lang: str) -> str:
    return word("err_note_long", lang, limit=MAX_NOTE, length=len(note.strip()))


async def _decide(
    request: Request, run_id: str, suggestion_id: str, action: str, officer: Officer
) -> Response:
    lang = page_lang(request)
    note = await _form_note(request)
    if len(note.strip()) > MAX_NOTE:  # refused whole, never cut
        return await _again(
            request, officer, run_id, suggestion_id, note, _too_long(note, lang), 422
        )
    try:
        await recon_service(request).decide_suggestion(
            run_id, suggestion_id, action, note, officer.principal.key_id
        )
    except ApiError as err:
        return await _refused(request, officer, run_id, suggestion_id, note, err)
    return RedirectResponse(
        f"/finance/runs/{run_id}?done={action}#s-{suggestion_id}", status_code=303
    )


@router.post("/runs/{run_id}/suggestions/{suggestion_id}/confirm", dependencies=CsrfChecked)
async def confirm(
    request: Request, run_id: str, suggestion_id: str, officer: OfficerDep
) -> Response:
    return await _decide(request, run_id, suggestion_id, "confirm", officer)


@router.post("/runs/{run_id}/suggestions/{suggestion_id}/reject", dependencies=CsrfChecked)
async def reject(
    request: Request, run_id: str, suggestion_id: str, officer: OfficerDep
) -> Response:
    return await _decide(request, run_id, suggestion_id, "reject", officer)


@router.post("/runs/{run_id}/heal", dependencies=CsrfChecked)
async def heal(request: Request, run_id: str, officer: OfficerDep) -> Response:
    try:
        found = await recon_service(request).heal(run_id[:40])
    except ApiError as err:
        if err.status == 404:
            return not_found_page(request, officer)
        raise
    return RedirectResponse(
        f"/finance/runs/{run_id}?done=healed&n={found['events']}", status_code=303
    )
