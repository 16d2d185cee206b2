"""``GET /v1/ledger/accounts`` and ``/v1/ledger/entries`` (finance and admin keys)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from ledger.chart import account_type, natural_balance, normal_side
from ledger.export import (
    FEC_CONTENT_TYPE,
    FEC_ENCODING,
    day_bounds,
    left_out,
    left_out_text,
    write_fec,
)
from ledger.fec_labels import FecSources, fec_filename
from ledger.schemas import AccountBalance, AccountList, Entry, EntryLine, EntryList
from ledger.service import LedgerService
from regie.kit.auth import Principal, authenticate, require_role
from regie.kit.errors import ApiError
from regie.kit.instants import Instant
from regie.kit.tenancy import Role

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])
# the ``invoice`` filter is an invoice's id, as the other lists' id filters: any other text
# (a wrong prefix, a truncated id, an empty one) is a 422, never an empty list or the journal
INVOICE_ID = r"^inv_[0-9A-Z]{26}$"
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid API key"},
    403: {"description": "Needs a finance or admin key"},
    422: {"description": "Invalid parameter"},
}


def _svc(request: Request) -> LedgerService:
    return request.app.state.ledger  # type: ignore[no-any-return]


def _aware(name: str, value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        raise ApiError(
            422, "parameter_invalid", "Give a time zone (e.g. 2026-11-24T00:00:00Z).", param=name
        )
    return value


@router.get(
    "/accounts", response_model=AccountList, responses=ERRORS, summary="Balances per account"
)
async def accounts(
    request: Request,
    principal: Annotated[Principal, Depends(authenticate)],
    as_of: Annotated[
        Instant | None, Query(description="Balances of entries effective before this instant")
    ] = None,
    prefix: Annotated[
        str | None, Query(max_length=120, description="Account name prefix, e.g. receivable:")
    ] = None,
) -> AccountList:
    require_role(principal, Role.finance, Role.admin)
    rows = await _svc(request).balances(_aware("as_of", as_of), prefix)
    return AccountList(
        as_of=as_of,
        data=[
            AccountBalance(
                account=b.account,
                type=account_type(b.account).value,  # type: ignore[arg-type]
                normal_side=normal_side(b.account),  # type: ignore[arg-type]
                currency=b.currency,
                debit=b.debit,
                credit=b.credit,
                balance=natural_balance(b.account, b.debit, b.credit),
            )
            for b in rows
        ],
    )


@router.get(
    "/entries", response_model=EntryList, responses=ERRORS, summary="Journal entries, oldest first"
)
async def entries(
    request: Request,
    principal: Annotated[Principal, Depends(authenticate)],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    starting_after: Annotated[
        int | None, Query(ge=0, description="A seq from a previous page")
    ] = None,
    invoice: Annotated[
        str | None,
        Query(max_length=40, pattern=INVOICE_ID, description="An invoice's id: its entries"),
    ] = None,
    effective_gte: Instant | None = None,
    effective_lt: Instant | None = None,
) -> EntryList:
    require_role(principal, Role.finance, Role.admin)
    rows = await _svc(request).entries(
        limit=limit + 1,
        starting_after=starting_after,
        invoice_id=invoice,
        effective_gte=_aware("effective_gte", effective_gte),
        effective_lt=_aware("effective_lt", effective_lt),
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    data = [
        Entry(
            id=e.id,
            seq=e.seq or 0,
            kind=e.kind,
            source_key=e.source_key,
            invoice=e.invoice_id,
            description=e.description,
            reverses=e.reverses_id,
            effective_at=e.effective_at,
            lines=[
                EntryLine(account=x.account, currency=x.currency, debit=x.debit, credit=x.credit)
                for x in lines
            ],
        )
        for e, lines in rows
    ]
    return EntryList(
        data=data, has_more=has_more, next_starting_after=data[-1].seq if has_more else None
    )


@router.get(
    "/fec",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {}},
            "description": "The FEC (Fichier des Écritures Comptables), named "
            "<SIREN>FEC<YYYYMMDD>.txt after the SIREN and the period's last day",
            "headers": {
                "Regie-Left-Out": {
                    "description": "The ledger's lines of the period the file leaves out "
                    "for being in another currency than its own, counted by currency "
                    "(USD=2, XPF=1); absent when it leaves out none",
                    "schema": {"type": "string"},
                }
            },
        },
        **ERRORS,
    },
    summary="The FEC of a period (entries effective between two days, Europe/Paris)",
)
async def fec(
    request: Request,
    principal: Annotated[Principal, Depends(authenticate)],
    date_from: Annotated[dt.date, Query(alias="from", description="First day")],
    date_to: Annotated[dt.date, Query(alias="to", description="Last day: the closing date")],
    currency: Annotated[str, Query(pattern=r"^[A-Z]{3}$")] = "EUR",
    siren: Annotated[
        str | None,
        Query(pattern=r"^[0-9]{9}$", description="Default: the one the services' SIRETs share"),
    ] = None,
) -> Response:
    require_role(principal, Role.finance, Role.admin)
    if date_to < date_from:
        raise ApiError(422, "parameter_invalid", "to is before from.", param="to")
    sources: FecSources = request.app.state.fec
    siren = siren or await sources.siren()
    if siren is None:
        raise ApiError(
            422,
            "parameter_missing",
            "No SIREN to name the FEC after (the services' SIRETs share none): give siren.",
            param="siren",
        )
    lo, hi = day_bounds(date_from, date_to)
    async with _svc(request).snapshot() as ledger:  # the lines and the opening: one moment
        lines = [x async for x in ledger.lines(lo, hi)]
        opening = await ledger.balances(as_of=lo)
    pieces = await sources.pieces({x.invoice_id for x in lines if x.invoice_id})
    out = io.StringIO(newline="")
    write_fec(lines, out, currency, pieces=pieces, opening=opening, opening_day=date_from)
    headers = {
        "Content-Disposition": f'attachment; filename="{fec_filename(siren, date_to)}"',
        "Cache-Control": "no-store",
    }
    others = left_out(lines, currency)
    if others:  # (one currency a file: the others are said, never dropped silently)
        headers["Regie-Left-Out"] = left_out_text(others)
    return Response(
        out.getvalue().encode(FEC_ENCODING), media_type=FEC_CONTENT_TYPE, headers=headers
    )
