"""Tables owned by ``ledger``: journal entries, their lines, the hash-chain seals, the
entries awaiting their seal, and the PSP postings (the lines on a PSP's clearing account that book a PSP object, with that
object's id at the PSP: what reconciliation reads).

All but the entries awaiting their seal are append-only: on PostgreSQL, triggers reject UPDATE and DELETE and a deferred
constraint trigger rejects an entry whose lines do not balance (migration 0002).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, Integer, SmallInteger, String
from sqlmodel import Field, SQLModel

from regie.kit.database import UTCDateTime


class JournalEntry(SQLModel, table=True):
    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_effective", "effective_at"),)

    seq: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    id: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    source_key: str = Field(sa_column=Column(String(200), unique=True, nullable=False))
    kind: str = Field(max_length=40)
    service_id: str | None = Field(default=None, max_length=40, index=True)
    invoice_id: str | None = Field(default=None, max_length=40, index=True)
    description: str = Field(default="", max_length=300)
    reverses_id: str | None = Field(default=None, max_length=40)
    effective_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class JournalLine(SQLModel, table=True):
    __tablename__ = "ledger_lines"
    __table_args__ = (
        Index("ix_ledger_lines_account_currency", "account", "currency"),
        CheckConstraint(
            "(debit > 0 AND credit = 0) OR (debit = 0 AND credit > 0)",
            name="ck_ledger_line_one_side",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    entry_id: str = Field(foreign_key="ledger_entries.id", index=True, max_length=40)
    position: int
    account: str = Field(max_length=120)
    currency: str = Field(max_length=3)
    debit: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    credit: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class PspPosting(SQLModel, table=True):
    """A line on a PSP's clearing account that books a PSP object (a payment), kept at
    posting, in the entry's transaction, with what reconciliation compares it on: the
    object's id at the PSP and the fee the PSP took on it, in the line's currency (0 when
    it took none, or took it in another currency). One row a line: reconciliation reads the
    ledger's payments of a year from this one table, with no join (``ledger_psp_postings``
    is written by ``service.post`` only, and filled for older entries by migration 0021)."""

    __tablename__ = "ledger_psp_postings"
    __table_args__ = (Index("ix_ledger_psp_postings_window", "account", "effective_at"),)

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    entry_id: str = Field(foreign_key="ledger_entries.id", index=True, max_length=40)
    kind: str = Field(max_length=40)  # the entry's
    account: str = Field(max_length=120)
    reference: str = Field(max_length=255)  # the object's id at the PSP
    effective_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))  # debit - credit
    currency: str = Field(max_length=3)
    fee: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class ChainSeal(SQLModel, table=True):
    """Position of an entry in the hash chain. Sealed in batches by the worker."""

    __tablename__ = "ledger_seals"

    position: int = Field(primary_key=True)
    entry_id: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    # the canonical form the hash was computed with (ledger.posting.FORMS)
    form: int = Field(default=1, sa_column=Column(SmallInteger, nullable=False, server_default="1"))
    sealed_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class UnsealedEntry(SQLModel, table=True):
    """An entry awaiting its seal, by sequence number: put here by a trigger on
    ``ledger_entries`` in the transaction that inserts the entry, taken out by the sealer in
    the transaction that seals it (migration 0032). The sealer reads this short table,
    never the whole ledger; ``verify`` counts the unsealed entries without it."""

    __tablename__ = "ledger_unsealed"

    seq: int = Field(
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False
        )
    )
