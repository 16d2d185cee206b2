"""Notifications to client services: tables, API shapes and the pure rules.

A client service registers endpoints (URLs); each notified domain event becomes one
outbox row per active endpoint of the invoice's service (``webhook_deliveries``), written
in the transaction that changed the invoice. The worker delivers due rows, records every
attempt (``webhook_delivery_attempts``) and reschedules failures on ``RETRY_SCHEDULE``.

The body is serialised once, when the row is written, and stored: every retry and every
resend sends the same bytes (only the signature's timestamp changes).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from payments.events import (
    InvoiceCanceled,
    InvoiceDisputed,
    InvoiceEvent,
    InvoiceExpired,
    InvoicePaid,
    PaymentFailed,
    RefundSucceeded,
)
from regie.kit.database import UTCDateTime

# ---------------------------------------------------------------- pure rules

#: Domain event -> notification type. Only these are sent to client services.
EVENT_TYPES: dict[type[InvoiceEvent], str] = {
    InvoicePaid: "invoice.paid",
    PaymentFailed: "invoice.payment_failed",
    InvoiceCanceled: "invoice.canceled",
    InvoiceExpired: "invoice.expired",
    RefundSucceeded: "invoice.refunded",
    InvoiceDisputed: "invoice.disputed",
}

#: Delays before the 2nd, 3rd, … 8th attempt; after the 8th failure the row is given up.
RETRY_SCHEDULE: tuple[dt.timedelta, ...] = (
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
    dt.timedelta(hours=6),
    dt.timedelta(hours=24),
    dt.timedelta(hours=48),
)
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1


def retry_delay(failures: int) -> dt.timedelta | None:
    """Delay before the next attempt after ``failures`` consecutive failed attempts
    (``failures >= 1``); ``None`` means give up."""
    if failures < 1:
        raise ValueError("failures starts at 1")
    if failures > len(RETRY_SCHEDULE):
        return None
    return RETRY_SCHEDULE[failures - 1]


def source_key(ev: InvoiceEvent, event_type: str) -> str:
    """What makes a notification unique: the same fact never gives two rows per endpoint,
    however often the PSP repeats itself."""
    if isinstance(ev, RefundSucceeded):
        ident = ev.refund_id
    elif isinstance(ev, InvoiceDisputed):
        ident = ev.dispute_id
    elif isinstance(ev, InvoicePaid | PaymentFailed):
        ident = ev.payment_id
    else:
        ident = ev.invoice_id
    return f"{event_type}:{ident}"


def build_payload(
    event_id: str, event_type: str, created: dt.datetime, invoice: dict[str, Any]
) -> str:
    """The notification body, serialised once (compact JSON, UTF-8)."""
    doc = {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": int(created.timestamp()),
        "data": {"object": invoice},
    }
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


# ------------------------------------------------------------------- tables


class WebhookEndpoint(SQLModel, table=True):
    """A client service's notification URL and the secret regie signs with.

    The secret is kept as given (HMAC needs it, as Stripe keeps its endpoint secrets);
    it is shown once at creation and never in a list, a log or an error.
    """

    __tablename__ = "webhook_endpoints"

    id: str = Field(primary_key=True, max_length=40)
    service_id: str = Field(foreign_key="services.id", index=True, max_length=40)
    url: str = Field(max_length=2048)
    description: str | None = Field(default=None, max_length=500)
    secret: str = Field(max_length=100)
    status: str = Field(default="enabled", max_length=16)  # enabled | disabled
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class WebhookDelivery(SQLModel, table=True):
    """One notification to one endpoint (the outbox row).

    ``seq`` is assigned by the database at insert: notifications about one invoice are
    written under that invoice's row lock, so ``seq`` orders them as they happened and
    the worker delivers them in that order per endpoint.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("id", name="uq_webhook_deliveries_id"),
        UniqueConstraint("endpoint_id", "source_key", name="uq_webhook_delivery_endpoint_source"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_order", "endpoint_id", "invoice_id", "seq"),
        Index("ix_webhook_deliveries_service", "service_id", "id"),
    )

    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(max_length=40)
    service_id: str = Field(max_length=40)
    endpoint_id: str = Field(foreign_key="webhook_endpoints.id", max_length=40)
    event_id: str = Field(max_length=40)
    event_type: str = Field(max_length=40)
    invoice_id: str = Field(max_length=40)
    source_key: str = Field(max_length=120)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(max_length=16)  # pending | delivered | failed (given up)
    attempts: int = 0  # every attempt, ever
    failures: int = 0  # consecutive failures since the row was (re)queued
    next_attempt_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    claimed_until: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    claim_token: str | None = Field(default=None, max_length=40)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    last_attempt_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    delivered_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class WebhookDeliveryAttempt(SQLModel, table=True):
    """One HTTP attempt of a delivery, with what the receiver answered (or why not)."""

    __tablename__ = "webhook_delivery_attempts"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(foreign_key="webhook_deliveries.id", index=True, max_length=40)
    service_id: str = Field(max_length=40)
    number: int
    outcome: str = Field(max_length=16)  # delivered | failed
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=500)
    duration_ms: int
    started_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


# --------------------------------------------------------------- API shapes

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
    status: str
    created_at: dt.datetime


class EndpointCreated(EndpointOut):
    secret: str


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


class DeliveryDetail(DeliveryOut):
    attempt_history: list[AttemptOut]


class DeliveryList(BaseModel):
    object: Literal["list"] = "list"
    data: list[DeliveryOut]
    has_more: bool
    next_starting_after: str | None
