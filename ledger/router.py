"""``GET /v1/ledger/accounts`` and ``/v1/ledger/entries`` (finance and admin keys)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from ledger.schemas import AccountBalance, AccountList, Entry, EntryLine, EntryList
from ledger.service import LedgerService
from regie.kit.auth import Principal, authenticate, require_role
from regie.kit.errors import ApiError
from regie.kit.instants import Instant
from regie.kit.tenancy import Role

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])
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
                currency=b.currency,
                debit=b.debit,
                credit=b.credit,
                balance=b.balance,
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
    invoice: Annotated[str | None, Query(max_length=40)] = None,
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
