"""Tables owned by ``reconciliation``: imported bank statements and their entries, runs with
their discrepancies and suggestions, and the decisions finance officers take on them.

Decisions are append-only: a resolution is never deleted, only superseded by a later one
on the same key (``superseded_by``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Date, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from regie.kit.database import UTCDateTime


def _ts(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class BankStatementImport(SQLModel, table=True):
    __tablename__ = "bank_statement_imports"

    id: str = Field(primary_key=True, max_length=40)
    sha256: str = Field(max_length=64, unique=True)
    filename: str = Field(max_length=255)
    version: str = Field(max_length=10)
    message_id: str = Field(max_length=140)
    account: str = Field(max_length=64)
    currency: str = Field(max_length=3)
    statements: int = 0
    entries: int = 0
    duplicates: int = 0  # entries already imported from an overlapping file
    problems: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # the highest electronic sequence number in the file (up to 18 digits: BIGINT)
    last_sequence: int | None = Field(default=None, sa_column=Column(BigInteger))
    actor: str = Field(max_length=40)
    created_at: dt.datetime = _ts()


class BankEntryRow(SQLModel, table=True):
    __tablename__ = "bank_entries"
    __table_args__ = (
        UniqueConstraint("account", "bank_reference", name="uq_bank_entry_reference"),
        Index("ix_bank_entries_account_booking", "account", "booking_date"),
    )

    id: int | None = Field(default=None, primary_key=True)
    import_id: str = Field(foreign_key="bank_statement_imports.id", index=True, max_length=40)
    statement_id: str = Field(max_length=140)
    account: str = Field(max_length=64)
    bank_reference: str = Field(max_length=140)
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    direction: str = Field(max_length=6)  # credit | debit
    currency: str = Field(max_length=3)
    status: str = Field(max_length=35)  # ``camt053_reader.MAX_STATUS``: stored whole
    reversal: bool = False
    booking_date: dt.date = Field(sa_column=Column(Date, nullable=False))
    value_date: dt.date | None = Field(default=None, sa_column=Column(Date))
    text: str = Field(default="", sa_column=Column(Text, nullable=False))


class BankBalanceRow(SQLModel, table=True):
    """A statement's booked balances (OPBD, PRCD, CLBD), one row per import: a statement
    issued again (or a bank reusing its statement ids) adds rows, never replaces them.
    The bank tie-out reads the latest CLBD, by date, then by import. An issue of a statement
    created before one imported already (``statement_created``) keeps no rows: the later
    issue's balances are kept, whatever the order of the imports."""

    __tablename__ = "bank_balances"
    __table_args__ = (Index("ix_bank_balances_statement", "account", "statement_id"),)

    id: int | None = Field(default=None, primary_key=True)
    import_id: str = Field(foreign_key="bank_statement_imports.id", max_length=40)
    account: str = Field(max_length=64)
    statement_id: str = Field(max_length=140)
    type: str = Field(max_length=8)
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))  # signed
    currency: str = Field(max_length=3)
    date: dt.date = Field(sa_column=Column(Date, nullable=False))
    electronic_sequence: int | None = Field(default=None, sa_column=Column(BigInteger))
    # the statement's ``CreDtTm`` (else its file's), as the bank wrote it (ISO, with its
    # offset when it had one): which of two issues of a statement is the later
    statement_created: str | None = Field(default=None, max_length=40)
    # on a CLBD row: what the statement's opening balance and booked entries add up to, when
    # that is not this closing balance (``camt053_checks.computed_closing``); else NULL
    computed: int | None = Field(default=None, sa_column=Column(BigInteger))


class ReconRun(SQLModel, table=True):
    __tablename__ = "recon_runs"

    id: str = Field(primary_key=True, max_length=40)
    period_from: dt.date = Field(sa_column=Column(Date, nullable=False))
    period_to: dt.date = Field(sa_column=Column(Date, nullable=False))
    as_of: dt.date = Field(sa_column=Column(Date, nullable=False))
    provider: str = Field(max_length=20)
    sources: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    inputs_sha256: str = Field(max_length=64)
    summary: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    tie_outs: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    actor: str = Field(max_length=40)
    created_at: dt.datetime = _ts()


class ReconDiscrepancy(SQLModel, table=True):
    __tablename__ = "recon_discrepancies"

    id: str = Field(primary_key=True, max_length=40)
    run_id: str = Field(foreign_key="recon_runs.id", index=True, max_length=40)
    key: str = Field(max_length=300, index=True)
    category: str = Field(max_length=32)
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    psp_reference: str | None = Field(default=None, max_length=255)
    payout_id: str | None = Field(default=None, max_length=255)
    bank_reference: str | None = Field(default=None, max_length=140)
    ledger_entry: str | None = Field(default=None, max_length=40)
    detail: str = Field(default="", max_length=500)


class ReconSuggestion(SQLModel, table=True):
    __tablename__ = "recon_suggestions"

    id: str = Field(primary_key=True, max_length=40)
    run_id: str = Field(foreign_key="recon_runs.id", index=True, max_length=40)
    key: str = Field(max_length=600, index=True)
    kind: str = Field(max_length=20)
    payout_ids: list[str] = Field(sa_column=Column(JSON, nullable=False))
    bank_references: list[str] = Field(sa_column=Column(JSON, nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    reason: str = Field(max_length=200)
    # each side item by item (``records.Side``): [{"id"|"reference", "amount", "date"}], in
    # the order of the ids above; NULL in a suggestion stored before they were kept
    payout_items: list[dict[str, Any]] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    bank_items: list[dict[str, Any]] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    # the decision in force on its key when the run read the decisions (the one its matching
    # followed; NULL: none, as in every suggestion stored before 0031). A decision in force
    # now that is another was taken after the run: it applies from the next run
    applied_decision_id: str | None = Field(default=None, max_length=40)


class ReconDecision(SQLModel, table=True):
    """A finance officer's decision on a discrepancy (``resolve``) or a suggestion
    (``confirm``/``reject``), by its stable key: it holds in every later run."""

    __tablename__ = "recon_decisions"
    # one decision in force per key, whatever races: a second one in force is refused by the
    # database itself (``Decisions._decide`` also serialises the deciders of a key)
    __table_args__ = (
        Index(
            "ux_recon_decisions_in_force",
            "key",
            unique=True,
            postgresql_where=text("superseded_by IS NULL"),
            sqlite_where=text("superseded_by IS NULL"),
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    key: str = Field(max_length=600, index=True)
    action: str = Field(max_length=10)  # resolve | confirm | reject
    note: str = Field(max_length=2000)
    actor: str = Field(max_length=40)
    run_id: str = Field(max_length=40)
    created_at: dt.datetime = _ts()
    superseded_by: str | None = Field(default=None, max_length=40)
