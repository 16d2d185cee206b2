"""Tables owned by ``webhooks.outbound``: client services' endpoints, the outbox of
notifications (one row per endpoint and fact), every delivery attempt and every resend.

A client service registers endpoints (URLs); each notified domain event becomes one
outbox row per active endpoint of the invoice's service (``webhook_deliveries``), written
in the transaction that changed the invoice. The worker delivers due rows, records every
attempt (``webhook_delivery_attempts``) and reschedules failures on
``rules.RETRY_SCHEDULE``.

The body is serialised once, when the row is written, and stored: every retry and every
resend sends the same bytes (only the signature's timestamp changes).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    ColumnClause,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    literal_column,
    text,
)
from sqlmodel import Column, Field, SQLModel

from regie.kit.database import UTCDateTime

#: ``'pending'`` written into the SQL, for a query that should read the partial index
#: ``ix_webhook_deliveries_endpoint_due`` (``WHERE status = 'pending'``): compared with a
#: bound parameter, ``status = $1``, the index cannot be used in a prepared statement's
#: generic plan (asyncpg prepares every statement; PostgreSQL may switch to a generic plan
#: after five executions), which cannot prove its predicate.
PENDING: ColumnClause[str] = literal_column("'pending'", String())


class WebhookEndpoint(SQLModel, table=True):
    """A client service's notification URL and the secret regie signs with.

    HMAC needs the secret itself, so it is kept sealed (``regie.kit.sealing``: AES-GCM
    under a key derived from ``REGIE_SECRET_KEY``, bound to this row's id), never in
    clear; it is shown once (at creation and at each rotation) and never in a list, a
    log, an error or the idempotency table. During a rotation the former secret still
    signs, next to the new one, until ``previous_secret_expires_at``. A deleted endpoint
    keeps its row (its deliveries' history points at it) without any secret.
    """

    __tablename__ = "webhook_endpoints"

    id: str = Field(primary_key=True, max_length=40)
    service_id: str = Field(foreign_key="services.id", index=True, max_length=40)
    url: str = Field(max_length=2048)
    description: str | None = Field(default=None, max_length=500)
    secret_sealed: str = Field(max_length=255)  # "" once deleted
    previous_secret_sealed: str | None = Field(default=None, max_length=255)
    previous_secret_expires_at: dt.datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime())
    )
    status: str = Field(default="enabled", max_length=16)  # enabled | disabled | deleted
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class WebhookDelivery(SQLModel, table=True):
    """One notification to one endpoint (the outbox row).

    ``seq`` is assigned by the database at insert: notifications about one invoice are
    written under that invoice's row lock, so ``seq`` orders them as they happened and
    the worker delivers them in that order per endpoint.

    ``lane``: ``rules.LANE_BATCH`` for a batch's ``invoice.created``, ``rules.LANE_SINGLE``
    for every other; a claim takes an endpoint's single lane before its batch lane
    (``claims``).
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("id", name="uq_webhook_deliveries_id"),
        UniqueConstraint("endpoint_id", "source_key", name="uq_webhook_delivery_endpoint_source"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_order", "endpoint_id", "invoice_id", "seq"),
        Index("ix_webhook_deliveries_service", "service_id", "id"),
        # an endpoint's pending rows of a lane by due time: a claim reads the first few of
        # each lane (claims)
        Index(
            "ix_webhook_deliveries_endpoint_due",
            "endpoint_id",
            "lane",
            "next_attempt_at",
            "seq",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
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
    lane: int = Field(  # rules.LANES: 0 first, then 1 (a batch's invoice.created)
        default=0, sa_column=Column(SmallInteger, nullable=False, server_default="0")
    )
    attempts: int = 0  # every attempt ever started (each claim starts and numbers one)
    failures: int = 0  # consecutive failures since the row was (re)queued
    next_attempt_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    claimed_until: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    claim_token: str | None = Field(default=None, max_length=40)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    last_attempt_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    delivered_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # the body (payer names) was emptied after REGIE_NOTIFICATION_RETENTION_DAYS
    payload_pruned_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
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


class WebhookDeliveryResend(SQLModel, table=True):
    """One resend of a delivery (``POST /v1/webhook-deliveries/{id}/resend``): who asked (the
    API key's id), when, and what the delivery's status was then. A resend puts the
    delivery back to ``pending`` on a fresh schedule; this row is the stored event that
    explains that change (the attempts that follow are ``webhook_delivery_attempts``)."""

    __tablename__ = "webhook_delivery_resends"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(foreign_key="webhook_deliveries.id", index=True, max_length=40)
    service_id: str = Field(max_length=40)
    key_id: str = Field(max_length=40)
    status_before: str = Field(max_length=16)
    at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class EndpointChange(SQLModel, table=True):
    """One change of an endpoint's status (``POST /v1/webhook-endpoints/{id}/disable`` or
    ``/enable``, ``DELETE``): who made it (the API key's id), when, from what status to
    what. A disabled endpoint's notifications wait, a deleted one's pending ones fail
    (``endpoint deleted``): this row, written in the transaction of the change, is the
    stored event that explains it."""

    __tablename__ = "webhook_endpoint_changes"

    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: str = Field(foreign_key="webhook_endpoints.id", index=True, max_length=40)
    service_id: str = Field(max_length=40)
    key_id: str = Field(max_length=40)
    status_before: str = Field(max_length=16)
    status_after: str = Field(max_length=16)
    at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
