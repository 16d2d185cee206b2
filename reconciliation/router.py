"""``/v1/reconciliations`` and ``/v1/bank-statements`` (finance keys only). Thin: parse the
request (JSON or multipart with files), call the service, answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from reconciliation.inputs import (
    STATEMENT_READS,
    STATEMENT_TYPES,
    header_filename,
    read_upload,
    run_request,
    upload_limit,
)
from reconciliation.report import to_csv
from reconciliation.report_pdf import to_pdf
from reconciliation.schemas import (
    PERIOD_FROM,
    PERIOD_TO,
    BankCoverageOut,
    BankStatementList,
    BankStatementOut,
    Decision,
    NoteIn,
    RunCreate,
    RunList,
    RunOut,
    decision_out,
    run_list_item,
    run_out,
)
from reconciliation.service import ReconciliationService
from reconciliation.sources.errors import SourceError, file_name
from regie.kit.auth import Principal, authenticate, require_role
from regie.kit.errors import ApiError, content_type_error
from regie.kit.tenancy import Role
from regie.kit.uploads import refuse_large_files

router = APIRouter(prefix="/v1/reconciliations", tags=["reconciliation"])
statements = APIRouter(prefix="/v1/bank-statements", tags=["reconciliation"])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid API key"},
    403: {"description": "Needs a finance key"},
    404: {"description": "No such reconciliation, discrepancy or suggestion"},
    413: {"description": "Upload too large"},
    422: {"description": "Invalid period, or a file regie cannot read (named with its line)"},
}
_FILES = {
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "required": ["period_from", "period_to"],
            "properties": {
                "period_from": {"type": "string", "format": "date", "description": PERIOD_FROM},
                "period_to": {"type": "string", "format": "date", "description": PERIOD_TO},
                "as_of": {"type": "string", "format": "date"},
                "provider": {"type": "string", "description": "The PSP (default: REGIE_PSP)"},
                "stripe_csv": {
                    "type": "string",
                    "format": "binary",
                    "description": "Stripe's itemised payout reconciliation report",
                },
                "camt053": {
                    "type": "array",
                    "items": {"type": "string", "format": "binary"},
                    "description": "camt.053 bank statements (001.02 to 001.08)",
                },
            },
        }
    },
    "application/json": {"schema": RunCreate.model_json_schema()},
}


def _svc(request: Request) -> ReconciliationService:
    return request.app.state.reconciliation  # type: ignore[no-any-return]


def _finance(principal: Principal) -> Principal:
    require_role(principal, Role.finance)
    return principal


def file_error(err: SourceError, param: str) -> ApiError:
    return ApiError(422, "file_invalid", str(err), param=param)


@router.post(
    "",
    status_code=201,
    response_model=RunOut,
    responses={**ERRORS, 415: {"description": "Neither multipart/form-data nor JSON"}},
    summary="Run a reconciliation of a period",
    openapi_extra={"requestBody": {"required": True, "content": _FILES}},
)
async def create_run(
    request: Request, principal: Annotated[Principal, Depends(authenticate)]
) -> RunOut:
    _finance(principal)
    req = await run_request(request, principal.key_id)
    try:
        run_id = await _svc(request).start_run(req)
    except SourceError as err:
        param = "stripe_csv" if req.stripe_csv and err.filename == req.stripe_csv[0] else "camt053"
        raise file_error(err, param) from None
    return await _view(request, run_id)


async def _view(request: Request, run_id: str) -> RunOut:
    v = await _svc(request).get_run(run_id)
    return run_out(v.run, v.discrepancies, v.suggestions, v.decisions)


@router.get(
    "",
    response_model=RunList,
    responses=ERRORS,
    summary="Reconciliation runs, newest first",
    description="Each run with its summary and tie-outs, without its discrepancies and "
    "suggestions (the fields are left out, never empty): GET /v1/reconciliations/{run_id} "
    "gives them.",
)
async def list_runs(
    request: Request,
    principal: Annotated[Principal, Depends(authenticate)],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> RunList:
    _finance(principal)
    return RunList(data=[run_list_item(r) for r in await _svc(request).list_runs(limit)])


@router.get(
    "/{run_id}.csv",
    responses={**ERRORS, 200: {"content": {"text/csv": {}}, "description": "The discrepancies"}},
    response_class=Response,
    summary="A run's discrepancies as CSV",
)
async def run_csv(
    request: Request, run_id: str, principal: Annotated[Principal, Depends(authenticate)]
) -> Response:
    _finance(principal)
    run = await _view(request, run_id)
    labels = await _svc(request).actor_labels(run)
    return Response(
        to_csv(run, labels), media_type="text/csv; charset=utf-8", headers=_download(run, "csv")
    )


@router.get(
    "/{run_id}.pdf",
    responses={**ERRORS, 200: {"content": {"application/pdf": {}}, "description": "The report"}},
    response_class=Response,
    summary="A run's report as PDF",
)
async def run_pdf(
    request: Request, run_id: str, principal: Annotated[Principal, Depends(authenticate)]
) -> Response:
    _finance(principal)
    run = await _view(request, run_id)
    labels = await _svc(request).actor_labels(run)
    return Response(
        to_pdf(run, labels), media_type="application/pdf", headers=_download(run, "pdf")
    )


def _download(run: RunOut, ext: str) -> dict[str, str]:
    name = f"reconciliation-{run.period_from}-{run.period_to}-{run.id}.{ext}"
    return {"content-disposition": f'attachment; filename="{name}"', "cache-control": "no-store"}


@router.get(
    "/{run_id}",
    response_model=RunOut,
    responses=ERRORS,
    summary="A run, with its discrepancies and suggestions",
)
async def get_run(
    request: Request, run_id: str, principal: Annotated[Principal, Depends(authenticate)]
) -> RunOut:
    _finance(principal)
    return await _view(request, run_id)


class HealOut(BaseModel):
    missing_in_ledger: int
    events: int = Field(description="PSP events fetched and applied that the inbox lacked")


@router.post(
    "/{run_id}/heal",
    response_model=HealOut,
    responses=ERRORS,
    summary="Fetch and apply the PSP events behind a run's missing_in_ledger discrepancies",
)
async def heal(
    request: Request, run_id: str, principal: Annotated[Principal, Depends(authenticate)]
) -> HealOut:
    _finance(principal)
    return HealOut(**await _svc(request).heal(run_id))


@router.post(
    "/{run_id}/discrepancies/{discrepancy_id}/resolve",
    response_model=Decision,
    responses=ERRORS,
    summary="Resolve a discrepancy (a note is required; it holds in later runs)",
)
async def resolve(
    request: Request,
    run_id: str,
    discrepancy_id: str,
    principal: Annotated[Principal, Depends(authenticate)],
    body: NoteIn | None = None,
) -> Decision:
    _finance(principal)
    note = body.note if body else ""  # no body: the note is missing (param "note")
    d = await _svc(request).resolve(run_id, discrepancy_id, note, principal.key_id)
    out = decision_out(d)
    assert out is not None
    return out


async def _decide(
    request: Request, run_id: str, sid: str, action: str, note: str, actor: str
) -> Decision:
    d = await _svc(request).decide_suggestion(run_id, sid, action, note, actor)
    out = decision_out(d)
    assert out is not None
    return out


@router.post(
    "/{run_id}/suggestions/{suggestion_id}/confirm",
    response_model=Decision,
    responses={
        **ERRORS,
        409: {
            "description": "Another confirmed suggestion claims one of its payouts or bank "
            "credits (suggestion_conflict): reject that one first"
        },
    },
    summary="Confirm a suggested match (the next run matches it)",
)
async def confirm(
    request: Request,
    run_id: str,
    suggestion_id: str,
    principal: Annotated[Principal, Depends(authenticate)],
    body: NoteIn | None = None,
) -> Decision:
    _finance(principal)
    note = body.note if body else ""
    return await _decide(request, run_id, suggestion_id, "confirm", note, principal.key_id)


@router.post(
    "/{run_id}/suggestions/{suggestion_id}/reject",
    response_model=Decision,
    responses=ERRORS,
    summary="Reject a suggested match (it is not suggested again)",
)
async def reject(
    request: Request,
    run_id: str,
    suggestion_id: str,
    principal: Annotated[Principal, Depends(authenticate)],
    body: NoteIn | None = None,
) -> Decision:
    _finance(principal)
    note = body.note if body else ""
    return await _decide(request, run_id, suggestion_id, "reject", note, principal.key_id)


# the media types a statement is read from as the body (the workspace and multipart aside)
@statements.post(
    "",
    status_code=201,
    response_model=BankStatementOut,
    responses={**ERRORS, 415: {"description": "Neither multipart/form-data nor XML"}},
    summary="Import a camt.053 bank statement (idempotent by SHA-256 and by entry reference)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
                "application/xml": {"schema": {"type": "string", "format": "binary"}},
                "text/xml": {"schema": {"type": "string", "format": "binary"}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            },
        },
        "parameters": [
            {
                "name": "X-Filename",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "The file's name when it is sent as the body: ASCII, a name in "
                "another alphabet percent-encoded in UTF-8 (r%C3%A9lev%C3%A9.xml)",
            }
        ],
    },
)
async def import_statement(
    request: Request, principal: Annotated[Principal, Depends(authenticate)]
) -> BankStatementOut:
    _finance(principal)
    ctype = request.headers.get("content-type", "")
    media = ctype.split(";", 1)[0].strip().lower()
    if media == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=5)
        refuse_large_files(form.multi_items(), upload_limit(request), file_name)
        upload = form.get("file")
        if upload is None:
            raise ApiError(
                422, "parameter_missing", "Send the statement as the file field.", param="file"
            )
        name, data = await read_upload(upload, "file")
    elif media in STATEMENT_TYPES:
        name, data = header_filename(request), await request.body()
    else:
        raise content_type_error(ctype or None, reads=STATEMENT_READS)
    try:
        view = await _svc(request).import_bank_statement(data, name, principal.key_id)
    except SourceError as err:
        raise file_error(err, "file") from None
    return BankStatementOut(**view)  # type: ignore[arg-type]


@statements.get(
    "", response_model=BankStatementList, responses=ERRORS, summary="Imported bank statements"
)
async def list_statements(
    request: Request,
    principal: Annotated[Principal, Depends(authenticate)],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> BankStatementList:
    _finance(principal)
    svc = _svc(request)
    rows = await svc.list_bank_statements(limit)
    return BankStatementList(
        data=[BankStatementOut(**r) for r in rows],  # type: ignore[arg-type]
        coverage=[BankCoverageOut(**c) for c in await svc.statements.coverage()],  # type: ignore[arg-type]
    )


__all__ = ["router", "statements"]
