"""Tables owned by ``receipts``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, LargeBinary, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from regie.kit.database import UTCDateTime


class Receipt(SQLModel, table=True):
    """An issued receipt or credit note: the exact PDF issued, its SHA-256, and the frozen
    snapshot it was rendered from (rendering is deterministic for given library versions,
    so the snapshot re-renders to the same bytes until reportlab or the fonts change)."""

    __tablename__ = "receipts"
    __table_args__ = (
        UniqueConstraint("service_id", "kind", "number", name="uq_receipt_service_kind_number"),
        UniqueConstraint("issuer", "kind", "number", name="uq_receipt_issuer_kind_number"),
        UniqueConstraint("source_key", name="uq_receipt_source_key"),
        Index("ix_receipts_number", "number"),
    )

    id: str = Field(primary_key=True, max_length=40)
    service_id: str = Field(max_length=40)
    # the legal entity that issued it, whose series its number belongs to: the SIREN, or
    # the service's slug (see receipts.issuers); receipts issued before issuers were shared
    # carry their service's slug, as their numbers were the service's own
    issuer: str = Field(max_length=40)
    invoice_id: str = Field(index=True, max_length=40)
    payment_id: str | None = Field(default=None, max_length=40)
    source_key: str = Field(max_length=120)  # what caused it: one receipt per cause
    kind: str = Field(max_length=16)  # receipt | credit_note
    number: str = Field(max_length=32)
    refers_to: str | None = Field(default=None, max_length=40)  # credit note -> receipt id
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    language: str = Field(max_length=5)
    document: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    sha256: str = Field(max_length=64)
    pdf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    issued_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class CreditNoteCancellation(SQLModel, table=True):
    """A credit note cancelled because its refund failed after it succeeded (the bank
    returned the money: the payer was not refunded). Issued credit notes are never changed
    (append-only); this record says, next to it, that it no longer holds and why."""

    __tablename__ = "credit_note_cancellations"
    __table_args__ = (UniqueConstraint("credit_note_id", name="uq_cancellation_credit_note"),)

    id: str = Field(primary_key=True, max_length=40)
    service_id: str = Field(max_length=40)
    invoice_id: str = Field(index=True, max_length=40)
    credit_note_id: str = Field(max_length=40)  # the receipts row (kind credit_note)
    refund_id: str = Field(max_length=40)
    reason: str = Field(max_length=200)
    canceled_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
