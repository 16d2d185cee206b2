"""HTTP API of the notifications to client services (thin: parse, authorise, call)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from regie.kit.auth import Principal, authenticate
from regie.kit.idempotency import IdempotencyKey, idempotent_post
from webhooks.outbound.schemas import (
    DeliveryDetail,
    DeliveryList,
    DeliveryStatus,
    EndpointCreate,
    EndpointCreated,
    EndpointDeleted,
    EndpointList,
    EndpointOut,
    EndpointRotate,
)
from webhooks.outbound.service import NotificationsService

router = APIRouter(prefix="/v1", tags=["notifications"])

ENDPOINT_ID = r"^whe_[0-9A-Z]{26}$"
DELIVERY_ID = r"^del_[0-9A-Z]{26}$"
EndpointId = Annotated[str, Path(max_length=40, pattern=ENDPOINT_ID)]
DeliveryId = Annotated[str, Path(max_length=40, pattern=DELIVERY_ID)]
# A list's cursor is an id of what it lists: the lists page by keyset on ids (newest first,
# ``id < starting_after``), so any other text would be read as a place in the list (a
# truncated id sorts after every id: the first page again, for ever; an empty one before
# all: an empty page saying there is no more), as payments.schemas.INVOICE_ID says
EndpointCursor = Annotated[
    str | None,
    Query(pattern=ENDPOINT_ID, description="The id of the last endpoint of the page before"),
]
DeliveryCursor = Annotated[
    str | None,
    Query(pattern=DELIVERY_ID, description="The id of the last notification of the page before"),
]
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed request"},
    401: {"description": "Missing or invalid API key"},
    403: {"description": "Wrong role"},
    404: {"description": "Not found"},
    409: {"description": "Conflict"},
    413: {"description": "Body too large"},
    422: {"description": "Invalid parameter (a URL regie will not call is 422)"},
}


def _svc(request: Request) -> NotificationsService:
    return request.app.state.notifications  # type: ignore[no-any-return]


@router.post(
    "/webhook-endpoints",
    status_code=201,
    response_model=EndpointCreated,
    responses=ERRORS,
    summary="Register a notification URL (the signing secret is shown only in this answer)",
)
async def create_endpoint(
    body: EndpointCreate,
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
        lambda claim: svc.endpoints.create(principal, body, claim),
    )


@router.get(
    "/webhook-endpoints",
    response_model=EndpointList,
    responses=ERRORS,
    summary="List notification URLs (without their secrets)",
)
async def list_endpoints(
    request: Request,
    principal: Annotated[Principal, Depends(authenticate)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    starting_after: EndpointCursor = None,
) -> EndpointList:
    return await _svc(request).endpoints.list(principal, limit=limit, starting_after=starting_after)


@router.get(
    "/webhook-endpoints/{endpoint_id}",
    response_model=EndpointOut,
    responses=ERRORS,
    summary="Retrieve a notification URL (without its secret)",
)
async def get_endpoint(
    endpoint_id: EndpointId,
    request: Request,
    principal: Annotated[Principal, Depends(authenticate)],
) -> EndpointOut:
    return await _svc(request).endpoints.get(principal, endpoint_id)


@router.post(
    "/webhook-endpoints/{endpoint_id}/disable",
    response_model=EndpointOut,
    responses=ERRORS,
    summary="Stop notifying this URL (what is pending waits until it is enabled again)",
)
async def disable_endpoint(
    endpoint_id: EndpointId,
    request: Request,
    principal: Annotated[Principal, Depends(authenticate)],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return await _set_status(request, principal, endpoint_id, "disabled", idempotency_key)


@router.post(
    "/webhook-endpoints/{endpoint_id}/enable",
    response_model=EndpointOut,
    responses=ERRORS,
    summary="Notify this URL again (what waited goes out, in order)",
)
async def enable_endpoint(
    endpoint_id: EndpointId,
    request: Request,
    principal: Annotated[Principal, Depends(authenticate)],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return await _set_status(request, principal, endpoint_id, "enabled", idempotency_key)


async def _set_status(
    request: Request, principal: Principal, endpoint_id: str, status: str, key: str | None
) -> JSONResponse:
    svc = _svc(request)
    return await idempotent_post(
        request,
        principal.idempotency_scope,
        key,
        {},
        lambda claim: svc.endpoints.set_status(principal, endpoint_id, status, claim),
    )


@router.post(
    "/webhook-endpoints/{endpoint_id}/rotate-secret",
    response_model=EndpointCreated,
    responses=ERRORS,
    summary="A new signing secret, shown only in this answer; the former one keeps "
    "signing next to it during the overlap",
)
async def rotate_endpoint_secret(
    endpoint_id: EndpointId,
    request: Request,
    principal: Annotated[Principal, Depends(authenticate)],
    body: EndpointRotate | None = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    svc = _svc(request)
    hours = body.overlap_hours if body and body.overlap_hours is not None else None
    if hours is None:
        hours = request.app.state.settings.webhook_secret_overlap_hours
    return await idempotent_post(
        request,
        principal.idempotency_scope,
        idempotency_key,
        body.model_dump(mode="json") if body else {},
        lambda claim: svc.endpoints.rotate_secret(
            principal, endpoint_id, dt.timedelta(hours=hours), claim
        ),
    )


@router.delete(
    "/webhook-endpoints/{endpoint_id}",
    response_model=EndpointDeleted,
    responses=ERRORS,
    summary="Delete a notification URL (its secret is erased; what was pending is given up)",
)
async def delete_endpoint(
    endpoint_id: EndpointId,
    request: Request,
    principal: Annotated[Principal, Depends(authenticate)],
) -> EndpointDeleted:
    return await _svc(request).endpoints.delete(principal, endpoint_id)


@router.get(
    "/webhook-deliveries",
    response_model=DeliveryList,
    responses=ERRORS,
    summary="List notifications sent or to send, newest first",
)
async def list_deliveries(
    request: Request,
    principal: Annotated[Principal, Depends(authenticate)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    starting_after: DeliveryCursor = None,
    status: DeliveryStatus | None = None,
    endpoint: Annotated[str | None, Query(max_length=40, pattern=ENDPOINT_ID)] = None,
    invoice: Annotated[str | None, Query(max_length=40, pattern=r"^inv_[0-9A-Z]{26}$")] = None,
) -> DeliveryList:
    return await _svc(request).list_deliveries(
        principal,
        limit=limit,
        starting_after=starting_after,
        status=status,
        endpoint=endpoint,
        invoice=invoice,
    )


@router.get(
    "/webhook-deliveries/{delivery_id}",
    response_model=DeliveryDetail,
    responses=ERRORS,
    summary="Retrieve a notification with every attempt",
)
async def get_delivery(
    delivery_id: DeliveryId,
    request: Request,
    principal: Annotated[Principal, Depends(authenticate)],
) -> DeliveryDetail:
    return await _svc(request).get_delivery(principal, delivery_id)


@router.post(
    "/webhook-deliveries/{delivery_id}/resend",
    response_model=DeliveryDetail,
    responses=ERRORS,
    summary="Send a notification again, now (same event id and body)",
)
async def resend_delivery(
    delivery_id: DeliveryId,
    request: Request,
    principal: Annotated[Principal, Depends(authenticate)],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    svc = _svc(request)
    return await idempotent_post(
        request,
        principal.idempotency_scope,
        idempotency_key,
        {},
        lambda claim: svc.resend(principal, delivery_id, claim),
    )
