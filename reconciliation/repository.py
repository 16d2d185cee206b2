"""Queries for reconciliation (never commits). The ledger side is read with plain
statements streamed row by row: a year of a city is a million payments, and no ORM object
is built for them."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col

from ledger.posting import bank as bank_account
from ledger.posting import psp as psp_account
from reconciliation.models import (
    BankBalanceRow,
    BankEntryRow,
    BankStatementImport,
    ReconDecision,
    ReconDiscrepancy,
    ReconRun,
    ReconSuggestion,
)
from reconciliation.records import BankLine, LedgerItem
from regie.kit.database import UTCDateTime


def _times(sql: str) -> Any:
    """A statement whose ``since``/``until`` are bound as UTC instants on every backend."""
    return text(sql).bindparams(
        bindparam("since", type_=UTCDateTime()), bindparam("until", type_=UTCDateTime())
    )


# the regie id inside a source key ("payment:pay_x:succeeded" -> "pay_x")
_PAYMENTS_SQL = """
    SELECT p.provider_payment_id, e.id, e.effective_at, l.debit - l.credit, l.currency,
           COALESCE(p.fee, 0), COALESCE(p.fee_currency, p.currency)
    FROM ledger_entries e
    JOIN ledger_lines l ON l.entry_id = e.id AND l.account = :psp
    JOIN payments p ON p.invoice_id = e.invoice_id
     AND e.source_key IN (:pay || p.id || :succeeded, :pay || p.id || :over)
    WHERE e.kind IN ('payment_succeeded', 'overpayment')
      AND e.effective_at >= :since AND e.effective_at < :until
      AND p.provider_payment_id IS NOT NULL
"""
_PAYMENTS = _times(_PAYMENTS_SQL + "ORDER BY e.effective_at, e.id")
_PAYMENTS_UNORDERED = _times(_PAYMENTS_SQL)  # the bulk path orders what it reads back
_REFUNDS = _times(
    """
    SELECT r.provider_refund_id, e.id, e.effective_at, l.debit - l.credit, l.currency
    FROM ledger_entries e
    JOIN ledger_lines l ON l.entry_id = e.id AND l.account = :psp
    JOIN refunds r ON r.invoice_id = e.invoice_id
     AND e.source_key IN (:ref || r.id || :succeeded, :ref || r.id || :reversed)
    WHERE e.kind LIKE 'refund%'
      AND e.effective_at >= :since AND e.effective_at < :until
      AND r.provider_refund_id IS NOT NULL
    ORDER BY e.effective_at, e.id
    """
)
# disputes and payouts: their source keys carry the PSP's own ids
_OTHERS = _times(
    """
    SELECT e.source_key, e.kind, e.id, e.effective_at, l.account, l.debit - l.credit, l.currency
    FROM ledger_entries e
    JOIN ledger_lines l ON l.entry_id = e.id
    WHERE (e.kind LIKE 'dispute%' OR e.kind LIKE 'payout%')
      AND l.account = :psp
      AND e.effective_at >= :since AND e.effective_at < :until
    ORDER BY e.effective_at, e.id
    """
)
_MOVEMENT = _times(
    """
    SELECT l.currency, COALESCE(SUM(l.debit - l.credit), 0)
    FROM ledger_lines l JOIN ledger_entries e ON e.id = l.entry_id
    WHERE l.account = :account AND e.effective_at >= :since AND e.effective_at < :until
    GROUP BY l.currency
    """
)


def _ledger_args(provider: str, since: dt.datetime, until: dt.datetime) -> dict[str, Any]:
    return {
        "psp": psp_account(provider),
        "since": since,
        "until": until,
        "pay": "payment:",
        "ref": "refund:",
        "succeeded": ":succeeded",
        "over": ":overpayment",
        "reversed": ":reversed",
    }


async def ledger_items(
    conn: AsyncConnection,
    provider: str,
    since: dt.datetime,
    until: dt.datetime,
    *,
    payments: bool = True,
) -> AsyncIterator[LedgerItem]:
    """Every PSP object the ledger booked in ``[since, until)``, one item per entry: the
    payments first (unless ``payments`` is false: the bulk path reads them itself), then
    refunds, then disputes and payouts."""
    args = _ledger_args(provider, since, until)
    if payments:
        async for ref, entry, at, gross, cur, fee, fee_cur in _rows(conn, _PAYMENTS, args):
            yield LedgerItem(
                "payment", ref, int(gross), int(fee) if fee_cur == cur else 0, cur, (entry,),
                _aware(at),
            )  # fmt: skip
    result = await conn.stream(_REFUNDS, args)
    async for ref, entry, at, gross, cur in result:
        yield LedgerItem("refund", ref, int(gross), 0, cur, (entry,), _aware(at))
    result = await conn.stream(_OTHERS, args)
    async for key, kind, entry, at, _account, amount, cur in result:
        _, ref, _what = key.split(":", 2)
        if kind.startswith("payout"):
            yield LedgerItem("payout", ref, int(amount), 0, cur, (entry,), _aware(at))
        else:
            fee = -int(amount) if kind.startswith("dispute_fee") else 0
            gross = 0 if kind.startswith("dispute_fee") else int(amount)
            yield LedgerItem("dispute", ref, gross, fee, cur, (entry,), _aware(at))


async def _rows(conn: AsyncConnection, stmt: Any, args: dict[str, Any]) -> AsyncIterator[Any]:
    """Stream a statement's rows. On PostgreSQL, through asyncpg's own cursor, prefetching
    10,000 rows a round trip (SQLAlchemy's row processing costs more than the query on a
    million rows); elsewhere, through SQLAlchemy."""
    if conn.dialect.name != "postgresql":
        async for row in await conn.stream(stmt, args):
            yield row
        return
    sql, params = _compiled(conn, stmt, args)
    await conn.exec_driver_sql("SELECT 1")  # asyncpg cursors live inside a transaction
    raw = (await conn.get_raw_connection()).driver_connection
    assert raw is not None
    async for record in raw.cursor(sql, *params, prefetch=10_000):
        yield tuple(record)


def _compiled(conn: AsyncConnection, stmt: Any, args: dict[str, Any]) -> tuple[str, list[Any]]:
    """A statement as asyncpg runs it: its SQL with ``$n`` and its parameters in order."""
    compiled = stmt.compile(dialect=conn.dialect)
    params = [
        compiled.binds[name].type.bind_processor(conn.dialect)(args[name])  # type: ignore[misc]
        if compiled.binds[name].type.bind_processor(conn.dialect)
        else args[name]
        for name in compiled.positiontup or []
    ]
    return compiled.string, params


def payments_query(
    conn: AsyncConnection, provider: str, since: dt.datetime, until: dt.datetime
) -> tuple[str, list[Any]]:
    """The ledger's payments query as asyncpg runs it (for the bulk path on PostgreSQL):
    its rows are (ref, entry, effective_at, gross, currency, fee, fee currency)."""
    return _compiled(conn, _PAYMENTS_UNORDERED, _ledger_args(provider, since, until))


def _aware(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)  # type: ignore[no-any-return]


async def movement(
    conn: AsyncConnection, account: str, since: dt.datetime, until: dt.datetime
) -> dict[str, int]:
    rows = (
        await conn.execute(_MOVEMENT, {"account": account, "since": since, "until": until})
    ).all()
    return {cur: int(total) for cur, total in rows}


async def balance_at(conn: AsyncConnection, account: str, until: dt.datetime) -> dict[str, int]:
    return await movement(conn, account, dt.datetime(1970, 1, 1, tzinfo=dt.UTC), until)


def bank_ledger_account(name: str) -> str:
    return bank_account(name)


# -- bank statements ----------------------------------------------------------------------


async def import_by_sha(s: AsyncSession, sha256: str) -> BankStatementImport | None:
    stmt = select(BankStatementImport).where(col(BankStatementImport.sha256) == sha256)
    return (await s.execute(stmt)).scalar_one_or_none()


async def existing_references(s: AsyncSession, account: str, refs: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(refs), 500):
        chunk = list(refs[i : i + 500])
        stmt = select(col(BankEntryRow.bank_reference)).where(
            col(BankEntryRow.account) == account, col(BankEntryRow.bank_reference).in_(chunk)
        )
        found.update((await s.execute(stmt)).scalars())
    return found


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
) -> list[BankLine]:
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
        )
        .where(t.c.account == account, t.c.booking_date >= since, t.c.booking_date <= until)
        .where(t.c.status == "BOOK")
        .order_by(t.c.booking_date, t.c.bank_reference)
    )
    return [
        BankLine(ref, int(amount), direction, cur, _date(day), text_ or "", stmt_id)
        for ref, amount, direction, cur, day, text_, stmt_id in (await conn.execute(stmt)).all()
    ]


def _date(value: Any) -> dt.date:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value  # type: ignore[no-any-return]


async def closing_balance(
    conn: AsyncConnection, account: str, until: dt.date
) -> dict[str, tuple[int, dt.date]]:
    """The last closing booked balance (CLBD) per currency on or before ``until``."""
    t = BankBalanceRow.__table__  # type: ignore[attr-defined]
    stmt = (
        select(t.c.currency, t.c.amount, t.c.date)
        .where(t.c.account == account, t.c.type == "CLBD", t.c.date <= until)
        .order_by(t.c.date, t.c.id)
    )
    out: dict[str, tuple[int, dt.date]] = {}
    for cur, amount, day in (await conn.execute(stmt)).all():
        out[cur] = (int(amount), _date(day))
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


async def decision_in_force(s: AsyncSession, key: str) -> ReconDecision | None:
    stmt = select(ReconDecision).where(
        col(ReconDecision.key) == key, col(ReconDecision.superseded_by).is_(None)
    )
    return (await s.execute(stmt.with_for_update())).scalar_one_or_none()


async def count_open(s: AsyncSession) -> int:
    """Discrepancies of the latest run with no resolution in force."""
    latest = (await list_runs(s, 1)) or None
    if not latest:
        return 0
    rows = await discrepancies(s, latest[0].id)
    decided = await current_decisions(s, [d.key for d in rows])
    return sum(1 for d in rows if d.key not in decided)
