"""API shapes of the notifications: endpoints and deliveries, as the client sees them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

DeliveryStatus = Literal["pending", "delivered", "failed"]


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048)]
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = (
        None
    )


class EndpointOut(BaseModel):
    id: str
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    service: str
    url: str
    description: str | None
    status: Literal["enabled", "disabled"]
    previous_secret_expires_at: dt.datetime | None = Field(
        description="During a rotation: until when the former secret still signs too"
    )
    created_at: dt.datetime


class EndpointCreated(EndpointOut):
    secret: str | None = Field(
        description="The signing secret (whsec_…), shown this once. null in an idempotent "
        "replay: secrets are never stored for replays (see secret_note)"
    )
    secret_note: str | None = None


class EndpointRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # StrictInt: a string ("2"), a boolean or a float is refused, never coerced
    overlap_hours: StrictInt | None = Field(
        default=None,
        ge=0,
        le=7 * 24,
        description="How long the former secret still signs too (both signatures are "
        "sent); 0 ends it now. Default: REGIE_WEBHOOK_SECRET_OVERLAP_HOURS (24)",
    )


class EndpointDeleted(BaseModel):
    id: str
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    deleted: Literal[True] = True


class EndpointList(BaseModel):
    object: Literal["list"] = "list"
    data: list[EndpointOut]
    has_more: bool
    next_starting_after: str | None


class AttemptOut(BaseModel):
    number: int
    outcome: str
    status_code: int | None
    error: str | None
    duration_ms: int
    started_at: dt.datetime


class DeliveryOut(BaseModel):
    id: str
    object: Literal["webhook_delivery"] = "webhook_delivery"
    service: str
    endpoint: str
    event_id: str
    event_type: str
    invoice: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    payload_pruned_at: dt.datetime | None = Field(
        description="When the body was deleted after the retention period (no resend then)"
    )


class ResendOut(BaseModel):
    at: dt.datetime
    key: str = Field(description="The id of the API key that asked for it")
    status_before: DeliveryStatus = Field(description="What the resend changed to pending")


class DeliveryDetail(DeliveryOut):
    attempt_history: list[AttemptOut]
    resend_history: list[ResendOut] = Field(description="Each resend asked, oldest first")


class DeliveryList(BaseModel):
    object: Literal["list"] = "list"
    data: list[DeliveryOut]
    has_more: bool
    next_starting_after: str | None
