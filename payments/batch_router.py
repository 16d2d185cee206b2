"""HTTP API of invoice batches (thin: parse, authorise, call the service).

The body is read here rather than by FastAPI's model, so that every invalid item is
reported (``batch_invalid`` with one error per row) instead of the first one only.
Its size is bounded by ``REGIE_MAX_BATCH_BODY_BYTES`` (``BodyLimitMiddleware``)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from payments.batch_schemas import MAX_BATCH, InvoiceBatchOut
from payments.schemas import INVOICE_ID
from payments.service import PaymentsService
from regie.kit.auth import Principal, authenticate
from regie.kit.errors import API_ERRORS, ApiError, content_type_error, is_json
from regie.kit.guards import NOT_PARSED, parsed_json
from regie.kit.idempotency import IdempotencyKey, idempotent_post

router = APIRouter(prefix="/v1", tags=["invoice batches"])

BatchId = Annotated[str, Path(max_length=40, pattern=r"^bat_[0-9A-Z]{26}$")]

_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "title": "InvoiceBatchCreate",
                "required": ["invoices"],
                "additionalProperties": False,
                "properties": {
                    "invoices": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": MAX_BATCH,
                        "items": {"$ref": "#/components/schemas/InvoiceCreate"},
                        "description": "Each item is the body of POST /v1/invoices.",
                    }
                },
            }
        }
    },
}


def _svc(request: Request) -> PaymentsService:
    return request.app.state.payments  # type: ignore[no-any-return]


async def _items(request: Request) -> Any:
    ctype = request.headers.get("content-type")
    if not is_json(ctype) and await request.body():
        # 415, as every JSON route: the edge guard reads a form or multipart body as such,
        # not as JSON, so taking JSON from it would pass what the guard refuses (a NUL)
        raise content_type_error(ctype)
    body = parsed_json(request.scope)  # the edge guard parsed it already (2-5 MB)
    if body is NOT_PARSED:
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "invalid_json", "The request body is not valid JSON.") from None
    if not isinstance(body, dict) or "invoices" not in body:
        raise ApiError(422, "parameter_missing", "Field required.", param="invoices")
    unknown = sorted(set(body) - {"invoices"})
    if unknown:
        raise ApiError(
            422, "parameter_unknown", "Extra inputs are not permitted.", param=unknown[0]
        )
    return body["invoices"]


@router.post(
    "/invoice-batches",
    status_code=201,
    response_model=InvoiceBatchOut,
    responses=API_ERRORS,
    openapi_extra={"requestBody": _BODY},
    summary="Create up to 10,000 invoices at once, all or none",
)
async def create_batch(
    request: Request,
    principal: Annotated[Principal, Depends(authenticate)],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    svc = _svc(request)
    items = await _items(request)
    return await idempotent_post(
        request,
        principal.idempotency_scope,
        idempotency_key,
        {"invoices": items},
        lambda claim: svc.create_batch(principal, items, claim),
    )


@router.get(
    "/invoice-batches/{batch_id}",
    response_model=InvoiceBatchOut,
    responses=API_ERRORS,
    summary="Retrieve a batch and a page of its invoices",
)
async def get_batch(
    batch_id: BatchId,
    request: Request,
    principal: Annotated[Principal, Depends(authenticate)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    starting_after: Annotated[
        str | None,
        Query(pattern=INVOICE_ID, description="The id of the last invoice of the page before"),
    ] = None,
) -> InvoiceBatchOut:
    return await _svc(request).get_batch(
        principal, batch_id, limit=limit, starting_after=starting_after
    )
