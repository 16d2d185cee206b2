"""Queries of ``ledger``. Never commits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    Select,
    String,
    delete,
    func,
    insert,
    literal,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine
from sqlmodel import col

from ledger.models import ChainSeal, JournalEntry, JournalLine, UnsealedEntry
from ledger.posting import CanonicalEntry


async def entry_by_source(s: AsyncSession, source_key: str) -> JournalEntry | None:
    stmt = select(JournalEntry).where(col(JournalEntry.source_key) == source_key)
    return (await s.execute(stmt)).scalar_one_or_none()


LINE_COLUMNS = ("position", "account", "currency", "debit", "credit")


async def insert_entry_once(
    s: AsyncSession, entry: dict[str, Any], lines: Sequence[dict[str, Any]]
) -> bool:
    """Insert an entry and its lines unless an entry with its source key exists (committed,
    or being inserted by a transaction that then commits: the unique index makes that one
    wait). True when inserted. No lookup first and no savepoint: on PostgreSQL one
    statement (``INSERT … ON CONFLICT DO NOTHING RETURNING`` as a CTE that the lines'
    INSERT selects from, so no entry means no line); on SQLite two."""
    entries = JournalEntry.__table__  # type: ignore[attr-defined]
    table = JournalLine.__table__  # type: ignore[attr-defined]
    conn = await s.connection()
    if conn.dialect.name == "postgresql":
        new = (
            postgresql.insert(entries)
            .values(entry)
            .on_conflict_do_nothing(index_elements=["source_key"])
            .returning(entries.c.id)
            .cte("new_entry")
        )
        # each line's values as bound parameters beside the new entry's id (a VALUES
        # list would put the values in SQLAlchemy's cache key: compiled on every call)
        types: dict[str, TypeEngine[Any]] = {
            "position": Integer(),
            "account": String(),
            "currency": String(),
        }
        selects = [
            select(
                new.c.id,
                *(literal(line[c], types.get(c, BigInteger())) for c in LINE_COLUMNS),
            )
            for line in lines
        ]
        stmt = (
            insert(table)
            .from_select(["entry_id", *LINE_COLUMNS], union_all(*selects))
            .add_cte(new)
            .returning(table.c.entry_id)
        )
        return bool((await s.execute(stmt)).first())
    first = (
        sqlite.insert(entries).values(entry).on_conflict_do_nothing(index_elements=["source_key"])
    )
    if not (await s.execute(first.returning(entries.c.id))).first():
        return False
    await s.execute(insert(table), list(lines))
    return True


async def lines_of(s: AsyncSession, entry_ids: Sequence[str]) -> dict[str, list[JournalLine]]:
    out: dict[str, list[JournalLine]] = {e: [] for e in entry_ids}
    if not entry_ids:
        return out
    stmt = (
        select(JournalLine)
        .where(col(JournalLine.entry_id).in_(entry_ids))
        .order_by(col(JournalLine.entry_id), col(JournalLine.position))
    )
    for line in (await s.execute(stmt)).scalars():
        out[line.entry_id].append(line)
    return out


async def invoice_balance(s: AsyncSession, invoice_id: str, account: str, currency: str) -> int:
    """Debit minus credit of ``account`` over the entries booked on one invoice."""
    stmt = (
        select(func.coalesce(func.sum(JournalLine.debit - JournalLine.credit), 0))
        .join(JournalEntry, col(JournalEntry.id) == col(JournalLine.entry_id))
        .where(
            col(JournalEntry.invoice_id) == invoice_id,
            col(JournalLine.account) == account,
            col(JournalLine.currency) == currency,
        )
    )
    return int((await s.execute(stmt)).scalar_one())


async def invoice_entries(
    s: AsyncSession, invoice_id: str, kinds: Sequence[str]
) -> list[JournalEntry]:
    """The entries of those ``kinds`` booked on one invoice, in the order they were made."""
    stmt = (
        select(JournalEntry)
        .where(col(JournalEntry.invoice_id) == invoice_id, col(JournalEntry.kind).in_(kinds))
        .order_by(col(JournalEntry.seq))
    )
    return list((await s.execute(stmt)).scalars())


async def balances(
    s: AsyncSession, as_of: dt.datetime | None, account_prefix: str | None
) -> list[tuple[str, str, int, int]]:
    """(account, currency, total debit, total credit) per account and currency."""
    stmt = (
        select(
            col(JournalLine.account),
            col(JournalLine.currency),
            func.coalesce(func.sum(JournalLine.debit), 0),
            func.coalesce(func.sum(JournalLine.credit), 0),
        )
        .join(JournalEntry, col(JournalEntry.id) == col(JournalLine.entry_id))
        .group_by(col(JournalLine.account), col(JournalLine.currency))
        .order_by(col(JournalLine.account), col(JournalLine.currency))
    )
    if as_of is not None:
        stmt = stmt.where(col(JournalEntry.effective_at) < as_of)
    if account_prefix:
        stmt = stmt.where(col(JournalLine.account).startswith(account_prefix, autoescape=True))
    return [(a, c, int(d), int(k)) for a, c, d, k in (await s.execute(stmt)).all()]


async def list_entries(
    s: AsyncSession,
    *,
    limit: int,
    starting_after: int | None,
    invoice_id: str | None,
    effective_gte: dt.datetime | None,
    effective_lt: dt.datetime | None,
) -> list[JournalEntry]:
    stmt = select(JournalEntry)
    if starting_after is not None:
        stmt = stmt.where(col(JournalEntry.seq) > starting_after)
    if invoice_id is not None:
        stmt = stmt.where(col(JournalEntry.invoice_id) == invoice_id)
    if effective_gte is not None:
        stmt = stmt.where(col(JournalEntry.effective_at) >= effective_gte)
    if effective_lt is not None:
        stmt = stmt.where(col(JournalEntry.effective_at) < effective_lt)
    stmt = stmt.order_by(col(JournalEntry.seq)).limit(limit)
    return list((await s.execute(stmt)).scalars())


async def chain_head(s: AsyncSession) -> ChainSeal | None:
    stmt = select(ChainSeal).order_by(col(ChainSeal.position).desc()).limit(1)
    return (await s.execute(stmt)).scalar_one_or_none()


async def queued_unsealed(s: AsyncSession, limit: int) -> list[int]:
    """The sequence numbers of the first ``limit`` entries awaiting their seal (committed:
    an entry and its row in ``ledger_unsealed`` commit together), lowest first."""
    stmt = select(col(UnsealedEntry.seq)).order_by(col(UnsealedEntry.seq)).limit(limit)
    return list((await s.execute(stmt)).scalars())


async def unsealed_of(s: AsyncSession, seqs: Sequence[int]) -> list[JournalEntry]:
    """The entries numbered ``seqs`` that are not sealed yet, in sequence order (one sealed
    meanwhile by a sealer that keeps no ``ledger_unsealed``, the one of before migration
    0032 during a deploy, is left out)."""
    if not seqs:
        return []
    sealed = select(col(ChainSeal.position)).where(col(ChainSeal.entry_id) == col(JournalEntry.id))
    stmt = (
        select(JournalEntry)
        .where(col(JournalEntry.seq).in_(seqs), ~sealed.exists())
        .order_by(col(JournalEntry.seq))
    )
    return list((await s.execute(stmt)).scalars())


async def dequeue_unsealed(s: AsyncSession, seqs: Sequence[int]) -> None:
    if seqs:
        await s.execute(delete(UnsealedEntry).where(col(UnsealedEntry.seq).in_(seqs)))


def unsealed_count_statement() -> Select[int]:
    """The entries not sealed yet, counted by an anti-join (``NOT EXISTS``): ``NOT IN`` the
    seals is checked row by row against every seal once their ids overflow ``work_mem``,
    a plan that never ends on a year's ledger."""
    sealed = select(col(ChainSeal.position)).where(col(ChainSeal.entry_id) == col(JournalEntry.id))
    return select(func.count()).select_from(JournalEntry).where(~sealed.exists())


async def count_unsealed(s: AsyncSession) -> int:
    return int((await s.execute(unsealed_count_statement())).scalar_one())


async def first_unqueued(s: AsyncSession) -> str | None:
    """The first entry neither sealed nor awaiting its seal in ``ledger_unsealed`` (its row
    deleted, or the table truncated: the sealer will never seal it), or None. One
    statement, so one snapshot: an entry and its row commit together, and the sealer
    takes the row out in the transaction that seals the entry."""
    sealed = select(col(ChainSeal.position)).where(col(ChainSeal.entry_id) == col(JournalEntry.id))
    queued = select(col(UnsealedEntry.seq)).where(col(UnsealedEntry.seq) == col(JournalEntry.seq))
    stmt = (
        select(col(JournalEntry.id))
        .where(~sealed.exists(), ~queued.exists())
        .order_by(col(JournalEntry.seq))
        .limit(1)
    )
    return (await s.execute(stmt)).scalar_one_or_none()


async def seals_page(s: AsyncSession, after_position: int, limit: int) -> list[ChainSeal]:
    stmt = (
        select(ChainSeal)
        .where(col(ChainSeal.position) > after_position)
        .order_by(col(ChainSeal.position))
        .limit(limit)
    )
    return list((await s.execute(stmt)).scalars())


async def entries_by_id(s: AsyncSession, ids: Sequence[str]) -> dict[str, JournalEntry]:
    if not ids:
        return {}
    stmt = select(JournalEntry).where(col(JournalEntry.id).in_(ids))
    return {e.id: e for e in (await s.execute(stmt)).scalars()}


def canonical(entry: JournalEntry, lines: Sequence[JournalLine]) -> CanonicalEntry:
    return CanonicalEntry(
        id=entry.id,
        source_key=entry.source_key,
        kind=entry.kind,
        effective_at=entry.effective_at,
        reverses_id=entry.reverses_id,
        lines=tuple((x.account, x.currency, x.debit, x.credit) for x in lines),
        service_id=entry.service_id,
        invoice_id=entry.invoice_id,
        description=entry.description,
        seq=entry.seq,
    )
