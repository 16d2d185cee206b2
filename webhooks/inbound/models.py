"""Tables owned by ``webhooks.inbound``: the inbox of PSP events."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, Text, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from regie.kit.database import UTCDateTime


class InboxEvent(SQLModel, table=True):
    """One PSP event, stored once per ``(provider, event_id)`` before anything else."""

    __tablename__ = "webhook_inbox"
    __table_args__ = (
        UniqueConstraint("provider", "event_id", name="uq_inbox_provider_event"),
        Index("ix_inbox_status_next_attempt", "status", "next_attempt_at"),
    )

    id: str = Field(primary_key=True, max_length=40)
    provider: str = Field(max_length=20)
    event_id: str = Field(max_length=255)
    event_type: str = Field(max_length=40)  # normalised, see payments.providers.base
    raw_type: str = Field(max_length=100)
    payment_ref: str | None = Field(default=None, max_length=40)
    checkout_id: str | None = Field(default=None, max_length=255)
    provider_payment_id: str | None = Field(default=None, max_length=255)
    event_created_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(max_length=16)  # pending | done | ignored | dead
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    outcome: str | None = Field(default=None, max_length=200)
    received_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    processed_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class InboxRequeue(SQLModel, table=True):
    """One re-queue of a dead letter (``regie maintenance requeue``): when, and what the
    event had been through then (its attempts and last error, which the re-queue resets or
    the next attempt replaces). A re-queue puts the event back from ``dead`` to
    ``pending``; this row, written in the re-queue's transaction, is the stored event that
    explains that change."""

    __tablename__ = "webhook_inbox_requeues"

    id: int | None = Field(default=None, primary_key=True)
    inbox_id: str = Field(foreign_key="webhook_inbox.id", index=True, max_length=40)
    attempts_before: int
    last_error_before: str | None = Field(default=None, sa_column=Column(Text))
    at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
