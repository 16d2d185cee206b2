"""Queries for reconciliation (never commits): runs, their discrepancies and suggestions,
the decisions on them, and the advisory locks of imports and decisions. Bank statements'
queries are in ``reconciliation.bank_repository``, the ledger's side is read in
``reconciliation.ledger_reads``."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from reconciliation.models import (
    ReconDecision,
    ReconDiscrepancy,
    ReconRun,
    ReconSuggestion,
)
from regie.kit.bulk import bulk_insert


def _date(value: Any) -> dt.date:
    """A day as SQLite hands it back (text) or PostgreSQL (a date)."""
    return dt.date.fromisoformat(value) if isinstance(value, str) else value  # type: ignore[no-any-return]


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
