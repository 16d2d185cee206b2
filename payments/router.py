"""HTTP API of ``payments`` (thin: parse, authorise, call the service)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from payments.schemas import (
    INVOICE_ID,
    CancelRequest,
    InvoiceCreate,
    InvoiceList,
    InvoiceOut,
    PaymentOut,
    RefundCreate,
    RefundList,
    RefundOut,
    reference_key,
)
from payments.service import PaymentsService
from payments.states import InvoiceStatus
from regie.kit.auth import Principal, authenticate
from regie.kit.errors import API_ERRORS
from regie.kit.idempotency import IdempotencyKey, idempotent_post
from regie.kit.instants import Instant

# each operation names its one tag (/docs lists an operation under every tag it has)
router = APIRouter(prefix="/v1")

InvoiceId = Annotated[str, Path(max_length=40, pattern=INVOICE_ID)]
PaymentId = Annotated[str, Path(max_length=40, pattern=r"^pay_[0-9A-Z]{26}$")]
ERRORS = API_ERRORS


def _svc(request: Request) -> PaymentsService:
    return request.app.state.payments  # type: ignore[no-any-return]


@router.post(
    "/invoices",
    tags=["invoices"],
    status_code=201,
    response_model=InvoiceOut,
    responses=ERRORS,
    summary="Create an invoice",
)
async def create_invoice(
    body: InvoiceCreate,
    request: Request,
    principal: Annotated[Principal, Depends(authenticate)],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    svc = _svc(request)
    return await idempotent_post(
        request,
        principal.idempotency_scope,
        idempotency_key,
        body.model_dump(mode="json"),
        lambda claim: svc.create_invoice(principal, body, claim),
        replay=svc.with_payer,
    )


@router.get(
    "/invoices",
    response_model=InvoiceList,
    responses=ERRORS,
    summary="List invoices",
    tags=["invoices"],
)
async def list_invoices(
    request: Request,
    principal: Annotated[Principal, Depends(authenticate)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    starting_after: Annotated[
        str | None,
        Query(pattern=INVOICE_ID, description="The id of the last invoice of the page before"),
    ] = None,
    status: InvoiceStatus | None = None,
    reference: Annotated[str | None, Query(max_length=100)] = None,
    created_gte: Annotated[
        Instant | None, Query(description="Created at or after (ISO 8601 with zone)")
    ] = None,
    created_lt: Annotated[
        Instant | None, Query(description="Created before (ISO 8601 with zone)")
    ] = None,
    metadata_key: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.:-]{1,40}$")] = None,
    metadata_value: Annotated[str | None, Query(max_length=500)] = None,
) -> InvoiceList:
    for name, value in (("created_gte", created_gte), ("created_lt", created_lt)):
        if value is not None and value.tzinfo is None:
            from regie.kit.errors import ApiError

            raise ApiError(
                422,
                "parameter_invalid",
                "Give a time zone (e.g. 2026-11-24T00:00:00Z).",
                param=name,
            )
    return await _svc(request).list_invoices(
        principal,
        limit=limit,
        starting_after=starting_after,
        status=status.value if status else None,
        # stored in NFKC: the same reference is found in any form it is written in
        reference=reference_key(reference) if reference is not None else None,
        created_gte=created_gte,
        created_lt=created_lt,
        metadata_key=metadata_key,
        metadata_value=metadata_value,
    )


@router.get(
    "/invoices/{invoice_id}",
    tags=["invoices"],
    response_model=InvoiceOut,
    responses=ERRORS,
    summary="Retrieve an invoice",
)
async def get_invoice(
    invoice_id: InvoiceId, request: Request, principal: Annotated[Principal, Depends(authenticate)]
) -> InvoiceOut:
    return await _svc(request).get_invoice(principal, invoice_id)


@router.post(
    "/invoices/{invoice_id}/cancel",
    tags=["invoices"],
    response_model=InvoiceOut,
    responses=ERRORS,
    summary="Cancel an open invoice",
)
async def cancel_invoice(
    invoice_id: InvoiceId,
    request: Request,
    principal: Annotated[Principal, Depends(authenticate)],
    body: CancelRequest | None = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    svc = _svc(request)
    payload = body.model_dump(mode="json") if body else {}
    return await idempotent_post(
        request,
        principal.idempotency_scope,
        idempotency_key,
        payload,
        lambda claim: svc.cancel_invoice(
            principal, invoice_id, claim, reason=body.reason if body else None
        ),
        replay=svc.with_payer,
    )


@router.get(
    "/payments/{payment_id}",
    response_model=PaymentOut,
    responses=ERRORS,
    tags=["payments"],
    summary="Retrieve a payment",
)
async def get_payment(
    payment_id: PaymentId, request: Request, principal: Annotated[Principal, Depends(authenticate)]
) -> PaymentOut:
    return await _svc(request).get_payment(principal, payment_id)


@router.post(
    "/invoices/{invoice_id}/refunds",
    status_code=201,
    response_model=RefundOut,
    responses={
        202: {"model": RefundOut, "description": "Accepted; the PSP settles it later"},
        502: {"description": "The PSP refused the refund"},
        **ERRORS,
    },
    tags=["refunds"],
    summary="Refund all or part of a paid invoice",
)
async def create_refund(
    invoice_id: InvoiceId,
    request: Request,
    principal: Annotated[Principal, Depends(authenticate)],
    body: RefundCreate | None = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    svc = _svc(request)
    data = body or RefundCreate()
    return await idempotent_post(
        request,
        principal.idempotency_scope,
        idempotency_key,
        data.model_dump(mode="json"),
        lambda claim: svc.refunds.create(principal, invoice_id, data, claim),
    )


@router.get(
    "/invoices/{invoice_id}/refunds",
    response_model=RefundList,
    responses=ERRORS,
    tags=["refunds"],
    summary="List an invoice's refunds and what is still refundable",
)
async def list_refunds(
    invoice_id: InvoiceId, request: Request, principal: Annotated[Principal, Depends(authenticate)]
) -> RefundList:
    return await _svc(request).refunds.list(principal, invoice_id)
