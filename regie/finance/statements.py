"""The workspace's bank statements: the imports so far, and an upload (camt.053).

Thin like ``runs``: the import goes through ``app.state.reconciliation`` (the service
``POST /v1/bank-statements`` uses), recorded under the signed-in key's id.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reconciliation.service import ReconciliationService
from reconciliation.sources.errors import SourceError
from regie.finance.auth import FinanceRoute, Officer, current_officer, require_csrf
from regie.finance.errors import reason_text
from regie.finance.forms import uploaded_file
from regie.finance.pages import show
from regie.finance.words import word
from regie.kit.errors import ApiError
from regie.kit.web import page_lang

router = APIRouter(prefix="/finance", include_in_schema=False, route_class=FinanceRoute)
OfficerDep = Annotated[Officer, Depends(current_officer)]
CsrfChecked = [Depends(require_csrf)]


def _svc(request: Request) -> ReconciliationService:
    return request.app.state.reconciliation  # type: ignore[no-any-return]


async def _statements_page(
    request: Request,
    officer: Officer,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    lang = page_lang(request)
    imports = await _svc(request).list_bank_statements()
    coverage = await _svc(request).statements.coverage()
    shown = request.query_params.get("imported")
    notice = None
    if shown:
        found = next((i for i in imports if i["id"] == shown), None)
        if found is not None:
            again = request.query_params.get("again") == "1"
            notice = word(
                "already_imported" if again else "imported",
                lang,
                filename=found["filename"],
                entries=found["entries"],
                duplicates=found["duplicates"],
            )
    return show(
        request,
        "finance/statements.html",
        lang=lang,
        officer=officer,
        nav="statements",
        status_code=status_code,
        switch_path="/finance/bank-statements",
        imports=imports,
        coverage=coverage,
        notice=notice,
        error=error,
    )


@router.get("/bank-statements", response_class=HTMLResponse)
async def statements_page(request: Request, officer: OfficerDep) -> Response:
    return await _statements_page(request, officer)


@router.post("/bank-statements", dependencies=CsrfChecked, response_class=HTMLResponse)
async def upload_statement(request: Request, officer: OfficerDep) -> Response:
    lang = page_lang(request)
    upload = await uploaded_file(await request.form(), "camt053")
    if upload is None:
        return await _statements_page(
            request, officer, error=word("err_no_file", lang), status_code=422
        )
    name, data = upload
    try:
        done = await _svc(request).import_bank_statement(data, name, officer.principal.key_id)
    except SourceError as err:
        return await _statements_page(
            request, officer, error=word("err_file", lang, reason=err.text(lang)), status_code=422
        )
    except ApiError as err:
        return await _statements_page(
            request,
            officer,
            error=word("err_refused", lang, reason=reason_text(err, lang)),
            status_code=err.status,
        )
    again = "&again=1" if done.get("already_imported") else ""
    return RedirectResponse(
        f"/finance/bank-statements?imported={done['id']}{again}", status_code=303
    )
