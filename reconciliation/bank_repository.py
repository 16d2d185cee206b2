"""Queries of bank statements for reconciliation (never commits): the imports, their
entries (found by their keys, moved, compared) and balances, and the bank's lines and
closing balances a run reads. Runs and decisions are in ``reconciliation.repository``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col

from reconciliation.coverage import CLOSING, OPENING, BalanceRow, closing_on
from reconciliation.models import BankBalanceRow, BankEntryRow, BankStatementImport
from reconciliation.records import BankLine
from reconciliation.sources.camt053_model import BOOKED
from reconciliation.statement_keys import Earlier


async def import_by_sha(s: AsyncSession, sha256: str) -> BankStatementImport | None:
    stmt = select(BankStatementImport).where(col(BankStatementImport.sha256) == sha256)
    return (await s.execute(stmt)).scalar_one_or_none()


async def existing_references(
    s: AsyncSession, account: str, refs: Sequence[str]
) -> dict[str, tuple[int, str, str, str, dt.date]]:
    """Of ``refs``, those already imported for ``account``, with their entry's amount,
    direction, currency, status and booking day."""
    found: dict[str, tuple[int, str, str, str, dt.date]] = {}
    for i in range(0, len(refs), 500):
        chunk = list(refs[i : i + 500])
        stmt = select(
            col(BankEntryRow.bank_reference),
            col(BankEntryRow.amount),
            col(BankEntryRow.direction),
            col(BankEntryRow.currency),
            col(BankEntryRow.status),
            col(BankEntryRow.booking_date),
        ).where(col(BankEntryRow.account) == account, col(BankEntryRow.bank_reference).in_(chunk))
        for ref, amount, direction, currency, status, day in await s.execute(stmt):
            found[ref] = (int(amount), direction, currency, status, _date(day))
    return found


async def rekey_entry(s: AsyncSession, account: str, key: str, new_key: str) -> None:
    """The entry stored under ``key`` is stored under ``new_key`` from now on."""
    await s.execute(
        update(BankEntryRow)
        .where(col(BankEntryRow.account) == account, col(BankEntryRow.bank_reference) == key)
        .values(bank_reference=new_key)
    )


# what makes two rows of ``bank_entries`` one entry, beyond their key and import
_ENTRY_CONTENT = ("amount", "direction", "currency", "status", "reversal", "booking_date",
                  "value_date", "text")  # fmt: skip


async def entry_contents(
    s: AsyncSession, account: str, keys: Sequence[str]
) -> dict[str, tuple[object, ...]]:
    """Of ``keys``, those stored for ``account``, with what their entry says
    (``_ENTRY_CONTENT``, dates as dates)."""
    t = BankEntryRow.__table__  # type: ignore[attr-defined]
    stmt = select(t.c.bank_reference, *(t.c[c] for c in _ENTRY_CONTENT)).where(
        t.c.account == account, t.c.bank_reference.in_(list(keys))
    )
    found: dict[str, tuple[object, ...]] = {}
    for key, amount, direction, currency, status, reversal, day, value, txt in await s.execute(
        stmt
    ):
        found[key] = (int(amount), direction, currency, status, bool(reversal), _date(day),
                      None if value is None else _date(value), txt)  # fmt: skip
    return found


async def earlier_closing(
    s: AsyncSession, account: str, statement_id: str, sequence: int | None, day: dt.date
) -> Earlier | None:
    """The latest import's closing balance (CLBD) of the same statement: the same id,
    closing day and electronic sequence number (if it has one; a bank reusing its id, or
    even its number, every day writes another statement each day). (file name, amount,
    currency, day, the statement's creation time or None)."""
    b = BankBalanceRow.__table__  # type: ignore[attr-defined]
    i = BankStatementImport.__table__  # type: ignore[attr-defined]
    stmt = (
        select(i.c.filename, b.c.amount, b.c.currency, b.c.date, b.c.statement_created)
        .join(i, i.c.id == b.c.import_id)
        .where(b.c.account == account, b.c.statement_id == statement_id, b.c.type == "CLBD")
        .where(b.c.date == day)
        .order_by(b.c.id.desc())
        .limit(1)
    )
    if sequence is not None:
        stmt = stmt.where(b.c.electronic_sequence == sequence)
    row = (await s.execute(stmt)).first()
    if row is None:
        return None
    return Earlier(row[0], int(row[1]), row[2], _date(row[3]).isoformat(), row[4])


async def booked_between(
    conn: AsyncConnection, account: str, currency: str, first: dt.date, last: dt.date
) -> int:
    """How many booked entries of ``account`` in ``currency`` are dated ``first`` to
    ``last`` (the days a later statement's opening balance must have nothing booked on)."""
    t = BankEntryRow.__table__  # type: ignore[attr-defined]
    stmt = select(func.count()).where(
        t.c.account == account, t.c.currency == currency, t.c.status == BOOKED,
        t.c.booking_date >= first, t.c.booking_date <= last,
    )  # fmt: skip
    return int((await conn.execute(stmt)).scalar_one())


async def last_sequence(s: AsyncSession, account: str) -> int | None:
    """The highest electronic sequence number imported for ``account`` so far."""
    stmt = select(func.max(BankStatementImport.last_sequence)).where(
        col(BankStatementImport.account) == account
    )
    value = (await s.execute(stmt)).scalar()
    return None if value is None else int(value)


async def list_imports(s: AsyncSession, limit: int = 100) -> list[BankStatementImport]:
    stmt = select(BankStatementImport).order_by(col(BankStatementImport.created_at).desc())
    return list((await s.execute(stmt.limit(limit))).scalars())


async def bank_lines(
    conn: AsyncConnection, account: str, since: dt.date, until: dt.date
) -> tuple[list[BankLine], set[str]]:
    """The booked entries of ``account`` in ``[since, until]``, and the imports they came
    from."""
    t = BankEntryRow.__table__  # type: ignore[attr-defined]
    stmt = (
        select(
            t.c.bank_reference,
            t.c.amount,
            t.c.direction,
            t.c.currency,
            t.c.booking_date,
            t.c.text,
            t.c.statement_id,
            t.c.import_id,
            t.c.reversal,
        )
        .where(t.c.account == account, t.c.booking_date >= since, t.c.booking_date <= until)
        .where(t.c.status == BOOKED)  # the parser's one form (``camt053_model.entry_status``)
        .order_by(t.c.booking_date, t.c.bank_reference)
    )
    lines: list[BankLine] = []
    imports: set[str] = set()
    for ref, amount, direction, cur, day, text_, stmt_id, import_id, reversal in (
        await conn.execute(stmt)
    ).all():
        day_ = _date(day)
        lines.append(
            BankLine(ref, int(amount), direction, cur, day_, text_ or "", stmt_id, bool(reversal))
        )
        imports.add(import_id)
    return lines, imports


async def imports_by_id(conn: AsyncConnection, ids: Iterable[str]) -> list[dict[str, Any]]:
    """The imports ``ids`` as a run's sources name them (file, SHA-256, when imported), in
    the order they were imported."""
    t = BankStatementImport.__table__  # type: ignore[attr-defined]
    wanted = sorted(set(ids))
    rows: list[Any] = []
    for i in range(0, len(wanted), 500):
        part = wanted[i : i + 500]
        stmt = select(t.c.id, t.c.filename, t.c.sha256, t.c.created_at).where(t.c.id.in_(part))
        rows.extend((await conn.execute(stmt)).all())
    rows.sort(key=lambda r: (r[3], r[0]))  # (UTCDateTime: aware instants on both databases)
    return [
        {"kind": "bank_statement", "filename": name, "sha256": sha,
         "imported_at": at.isoformat()}
        for _id, name, sha, at in rows
    ]  # fmt: skip


def _date(value: Any) -> dt.date:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value  # type: ignore[no-any-return]


async def closing_balance(
    conn: AsyncConnection, account: str, until: dt.date
) -> dict[str, tuple[int, dt.date, str]]:
    """The last closing booked balance (CLBD) per currency on or before ``until``, with its
    day and its import (``coverage.closing_on``: the day's last statement, whatever order
    its files came in; of a statement issued again, the one imported last)."""
    return closing_on((await balance_rows(conn, account)).get(account, []), until)


async def balance_rows(
    conn: AsyncConnection, account: str | None = None
) -> dict[str, list[BalanceRow]]:
    """The statements' opening and closing booked balances, per account (of ``account``
    alone when given), as ``coverage`` reads them."""
    t = BankBalanceRow.__table__  # type: ignore[attr-defined]
    stmt = (
        select(t.c.account, t.c.id, t.c.import_id, t.c.statement_id, t.c.electronic_sequence,
               t.c.currency, t.c.type, t.c.amount, t.c.date, t.c.computed)
        .where(t.c.type.in_((*OPENING, CLOSING)))
    )  # fmt: skip
    if account is not None:
        stmt = stmt.where(t.c.account == account)
    out: dict[str, list[BalanceRow]] = {}
    for acc, id_, import_id, st, seq, cur, type_, amount, day, computed in (
        await conn.execute(stmt)
    ).all():
        row = BalanceRow(
            int(id_), import_id, f"{st}#{seq}", cur, type_, int(amount), _date(day),
            None if computed is None else int(computed),
        )  # fmt: skip
        out.setdefault(acc, []).append(row)
    return out


async def any_bank_account(s: AsyncSession) -> str | None:
    stmt = select(col(BankStatementImport.account)).order_by(
        col(BankStatementImport.created_at).desc()
    )
    return (await s.execute(stmt.limit(1))).scalar_one_or_none()
