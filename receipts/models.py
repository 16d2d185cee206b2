"""Tables owned by ``receipts``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, LargeBinary, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from regie.kit.database import UTCDateTime


class Receipt(SQLModel, table=True):
    """An issued receipt or credit note: its number and the frozen snapshot it is rendered
    from (rendering is deterministic for given library versions, so the snapshot renders to
    the same bytes until reportlab or the fonts change). The PDF is rendered after the
    paying transaction commits and stored in ``receipt_files``; receipts issued before
    that carry their PDF and SHA-256 here."""

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
    sha256: str | None = Field(default=None, max_length=64)  # older receipts only
    pdf: bytes | None = Field(default=None, sa_column=Column(LargeBinary))  # older receipts only
    issued_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ReceiptFile(SQLModel, table=True):
    """The PDF of a receipt, rendered from its snapshot once its transaction committed
    (by the worker's render drain, or by the first download if it comes first), with its
    SHA-256. One per receipt: the primary key makes two racing renders store one file, and
    on PostgreSQL the table is append-only like ``receipts``."""

    __tablename__ = "receipt_files"

    receipt_id: str = Field(primary_key=True, max_length=40)
    sha256: str = Field(max_length=64)
    pdf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    rendered_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


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


class ReceiptRender(SQLModel, table=True):
    """A receipt whose PDF is still to be rendered: queued by the transaction that issues
    it, claimed by a worker for ``lease_until`` (another worker skips it meanwhile, and
    takes it over if that worker died), removed when its file is stored."""

    __tablename__ = "receipt_renders"

    receipt_id: str = Field(primary_key=True, max_length=40)
    queued_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    lease_until: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    attempts: int = 0
