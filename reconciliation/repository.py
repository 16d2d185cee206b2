"""Queries for reconciliation (never commits): bank statement imports, runs, their
discrepancies and suggestions, and the decisions on them. The ledger's side is read in
``reconciliation.ledger_reads``."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col

from reconciliation.coverage import CLOSING, OPENING, BalanceRow, closing_on
from reconciliation.models import (
    BankBalanceRow,
    BankEntryRow,
    BankStatementImport,
    ReconDecision,
    ReconDiscrepancy,
    ReconRun,
    ReconSuggestion,
)
from reconciliation.records import BankLine
from reconciliation.sources.camt053_model import BOOKED
from reconciliation.statement_keys import Earlier
from regie.kit.bulk import bulk_insert

# -- bank statements ----------------------------------------------------------------------


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


# -- runs and decisions -------------------------------------------------------------------


async def list_runs(s: AsyncSession, limit: int) -> list[ReconRun]:
    stmt = select(ReconRun).order_by(col(ReconRun.created_at).desc(), col(ReconRun.id).desc())
    return list((await s.execute(stmt.limit(limit))).scalars())


async def resolved_amounts(s: AsyncSession, run_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """Per run and currency, the sum of the absolute amounts of its discrepancies that a
    decision in force has settled since."""
    if not run_ids:
        return {}
    stmt = (
        select(
            col(ReconDiscrepancy.run_id),
            col(ReconDiscrepancy.currency),
            func.sum(func.abs(col(ReconDiscrepancy.amount))),
        )
        .join(ReconDecision, col(ReconDecision.key) == col(ReconDiscrepancy.key))
        .where(
            col(ReconDiscrepancy.run_id).in_(list(run_ids)),
            col(ReconDecision.superseded_by).is_(None),
        )
        .group_by(col(ReconDiscrepancy.run_id), col(ReconDiscrepancy.currency))
    )
    out: dict[str, dict[str, int]] = {}
    for run_id, currency, amount in await s.execute(stmt):
        out.setdefault(run_id, {})[currency] = int(amount or 0)
    return out


async def runs_before(s: AsyncSession, day: dt.date) -> list[tuple[str, dt.date, dt.date, Any]]:
    """The runs of periods ending before ``day``, latest first (by period end, then as
    run; 400 at most): id, period, tie-outs (``run_rows.carried_from`` reads them)."""
    t = ReconRun.__table__  # type: ignore[attr-defined]
    stmt = (
        select(t.c.id, t.c.period_from, t.c.period_to, t.c.tie_outs)
        .where(t.c.period_to < day)
        .order_by(t.c.period_to.desc(), t.c.created_at.desc(), t.c.id.desc())
    )
    rows = (await s.execute(stmt.limit(400))).all()
    return [(i, _date(a), _date(b), list(x or [])) for i, a, b, x in rows]  # fmt: skip


async def get_run(s: AsyncSession, run_id: str) -> ReconRun | None:
    return await s.get(ReconRun, run_id)


async def discrepancies(s: AsyncSession, run_id: str) -> list[ReconDiscrepancy]:
    stmt = select(ReconDiscrepancy).where(col(ReconDiscrepancy.run_id) == run_id)
    stmt = stmt.order_by(col(ReconDiscrepancy.category), col(ReconDiscrepancy.key))
    return list((await s.execute(stmt)).scalars())


async def suggestions(s: AsyncSession, run_id: str) -> list[ReconSuggestion]:
    stmt = select(ReconSuggestion).where(col(ReconSuggestion.run_id) == run_id)
    return list((await s.execute(stmt.order_by(col(ReconSuggestion.key)))).scalars())


async def current_decisions(
    s: AsyncSession, keys: Sequence[str] | None = None
) -> dict[str, ReconDecision]:
    """The decision in force per key (the latest, not superseded)."""
    stmt = select(ReconDecision).where(col(ReconDecision.superseded_by).is_(None))
    out: dict[str, ReconDecision] = {}
    if keys is None:
        rows = list((await s.execute(stmt)).scalars())
    else:
        rows = []
        keys = list(keys)
        for i in range(0, len(keys), 500):
            part = stmt.where(col(ReconDecision.key).in_(keys[i : i + 500]))
            rows.extend((await s.execute(part)).scalars())
    for d in rows:
        out[d.key] = d
    return out


async def insert_discrepancies(s: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """A run's discrepancies, in the session's transaction (``COPY`` on PostgreSQL: ten
    thousand rows took a tenth of the time of batched inserts)."""
    await bulk_insert(s, ReconDiscrepancy.__table__, rows)  # type: ignore[attr-defined]


async def insert_suggestions(s: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await s.execute(insert(ReconSuggestion), list(rows))


async def run_decisions(s: AsyncSession, run_id: str) -> dict[str, ReconDecision]:
    """The decision in force for each of a run's discrepancies and suggestions, in one
    query (a run of ten thousand discrepancies asked for them 500 keys at a time)."""
    keys = (
        select(col(ReconDiscrepancy.key))
        .where(col(ReconDiscrepancy.run_id) == run_id)
        .union(select(col(ReconSuggestion.key)).where(col(ReconSuggestion.run_id) == run_id))
    )
    stmt = select(ReconDecision).where(
        col(ReconDecision.superseded_by).is_(None), col(ReconDecision.key).in_(keys)
    )
    return {d.key: d for d in (await s.execute(stmt)).scalars()}


# the advisory locks' first number for the deciders of a key ("recd"), for the imports of
# an account's statements ("recs"), and for the confirmations ("recc"); the second is the
# key's, the account's, or one for every confirmation
DECISION_LOCKS = 0x7265_6364
IMPORT_LOCKS = 0x7265_6373
CONFIRM_LOCKS = 0x7265_6363


async def _advisory_lock(s: AsyncSession, space: int, name: str) -> None:
    """A transaction-scoped advisory lock on ``name`` in ``space`` (PostgreSQL; SQLite's
    transactions already write one at a time, ``BEGIN IMMEDIATE``)."""
    if (await s.connection()).dialect.name != "postgresql":
        return
    of_name = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big", signed=True)
    await s.execute(
        text("SELECT pg_advisory_xact_lock(:space, :key)"), {"space": space, "key": of_name}
    )


async def lock_imports_of(s: AsyncSession, account: str) -> None:
    """Waits until no other transaction imports statements of ``account``, and keeps the
    others waiting until this one ends: each import then reads what the one before stored
    (three overlapping files at once made two collide twice: a 500)."""
    await _advisory_lock(s, IMPORT_LOCKS, account)


async def lock_decisions_of(s: AsyncSession, key: str) -> None:
    """Waits until no other transaction decides on ``key``, and keeps the others waiting
    until this one ends (PostgreSQL: a transaction-scoped advisory lock, which holds where
    there is no row to lock yet, as for a first decision). On SQLite the transaction
    already writes alone (``BEGIN IMMEDIATE``)."""
    await _advisory_lock(s, DECISION_LOCKS, key)


async def lock_confirmations(s: AsyncSession) -> None:
    """Waits until no other transaction confirms a suggestion, and keeps the others waiting
    until this one ends: two suggestions sharing a payout or a credit, confirmed at once,
    each found the other not confirmed yet. Taken before the key's (``lock_decisions_of``),
    which no one holding a key's waits for."""
    await _advisory_lock(s, CONFIRM_LOCKS, "confirm")


async def confirmations_naming(s: AsyncSession, parts: Sequence[str]) -> list[ReconDecision]:
    """The confirmations in force whose key holds any of ``parts`` as text (ids as a
    suggestion's key holds them): the candidates whose sides the caller compares."""
    if not parts:
        return []
    stmt = select(ReconDecision).where(
        col(ReconDecision.superseded_by).is_(None),
        col(ReconDecision.action) == "confirm",
        or_(*(col(ReconDecision.key).contains(p, autoescape=True) for p in parts)),
    )
    return list((await s.execute(stmt)).scalars())


async def suggestion_of(s: AsyncSession, run_id: str, key: str) -> ReconSuggestion | None:
    stmt = select(ReconSuggestion).where(
        col(ReconSuggestion.run_id) == run_id, col(ReconSuggestion.key) == key
    )
    return (await s.execute(stmt.limit(1))).scalar_one_or_none()


async def decision_in_force(s: AsyncSession, key: str) -> ReconDecision | None:
    """The decision in force on ``key`` (call ``lock_decisions_of`` first: then no other
    can be added meanwhile)."""
    stmt = select(ReconDecision).where(
        col(ReconDecision.key) == key, col(ReconDecision.superseded_by).is_(None)
    )
    return (await s.execute(stmt)).scalar_one_or_none()


def _current_runs() -> Any:
    """The runs that stand for their period: each run unless a later one (by creation, then
    id, as ``list_runs`` orders them) covers its whole period, the same period or a wider
    one, and so checked it again. The latest run of each period, and not a one-day run that
    a later run of its month re-did."""
    r = ReconRun.__table__.alias("r")  # type: ignore[attr-defined]
    later = ReconRun.__table__.alias("later")  # type: ignore[attr-defined]
    covered = (
        select(later.c.id)
        .where(later.c.period_from <= r.c.period_from, later.c.period_to >= r.c.period_to)
        .where(
            (later.c.created_at > r.c.created_at)
            | ((later.c.created_at == r.c.created_at) & (later.c.id > r.c.id))
        )
    )
    return select(r.c.id).where(~covered.exists())


async def count_open(s: AsyncSession) -> int:
    """Open discrepancies across the runs that stand for their period (``_current_runs``),
    each discrepancy (its stable key) once: one with no decision in force. A decision holds
    by the key, so a discrepancy resolved in one run is resolved in all."""
    d = ReconDiscrepancy.__table__  # type: ignore[attr-defined]
    x = ReconDecision.__table__  # type: ignore[attr-defined]
    decided = select(x.c.id).where(x.c.key == d.c.key, x.c.superseded_by.is_(None))
    stmt = select(func.count(func.distinct(d.c.key))).where(
        d.c.run_id.in_(_current_runs()), ~decided.exists()
    )
    return int((await s.execute(stmt)).scalar() or 0)
