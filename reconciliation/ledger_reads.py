"""The ledger's side of a reconciliation, as queries (never commits): what the ledger booked
for the PSP's objects in a period, and account movements and balances. A year of a city is
a million payments: they are read with plain statements streamed row by row (the bulk path
has them handed over with ``COPY``: ``ledger_copy``), and no ORM object is built."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterable
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.posting import bank as bank_account
from ledger.posting import psp as psp_account
from reconciliation.records import LedgerItem
from regie.kit.database import UTCDateTime

__all__ = [
    "balance_at",
    "bank_account",
    "entry_times",
    "ledger_items",
    "movement",
    "psp_account",
]


def _times(sql: str) -> Any:
    """A statement whose ``since``/``until`` are bound as UTC instants on every backend."""
    return text(sql).bindparams(
        bindparam("since", type_=UTCDateTime()), bindparam("until", type_=UTCDateTime())
    )


# the ledger's payments: the lines on the PSP's account that book a payment, kept at posting
# with the payment's id at the PSP and its fee (``ledger.models.PspPosting``: no join); and a
# fee the PSP reported after the payment's success, booked then on its own entry
# (``psp_fee``: only such a fee has a PSP posting), as a fee and no money of the payment
# (gross 0), which matching counts with the payment's entry (``matching._late_fees``).
# ``ledger_copy``'s read for the bulk path is the same.
_PAYMENTS_SQL = """
    SELECT x.reference, x.entry_id, x.effective_at,
           CASE WHEN x.kind = 'psp_fee' THEN 0 ELSE x.amount END, x.currency, x.fee
    FROM ledger_psp_postings x
    WHERE x.account = :psp AND x.kind IN ('payment_succeeded', 'overpayment', 'psp_fee')
      AND x.effective_at >= :since AND x.effective_at < :until
"""
_PAYMENTS = _times(_PAYMENTS_SQL + "ORDER BY x.effective_at, x.entry_id, x.amount, x.currency")
# refunds: what a refund's success booked (out of income, or, for an overpayment given back,
# out of what was owed to the payer: ``overpayment_refunded``) and its reversal, each with
# the PSP fee booked with it (``refund:ref_…:fee``, reversed with the refund: ``:fee_reversed``;
# one indexed look-up by source key per refund entry, in the same statement), as a fee on
# the PSP's line reads (negative when the PSP gave part of its fee back)
_REFUNDS = _times(
    """
    SELECT r.provider_refund_id, e.id, e.effective_at, l.debit - l.credit, l.currency,
           COALESCE(fl.credit - fl.debit, 0)
    FROM ledger_entries e
    JOIN ledger_lines l ON l.entry_id = e.id AND l.account = :psp
    JOIN refunds r ON r.invoice_id = e.invoice_id
     AND e.source_key IN (:ref || r.id || :succeeded, :ref || r.id || :reversed)
    LEFT JOIN ledger_entries fe
      ON fe.source_key = :ref || r.id
         || CASE WHEN e.kind = 'refund_reversed' THEN :fee_reversed ELSE :fee END
    LEFT JOIN ledger_lines fl
      ON fl.entry_id = fe.id AND fl.account = :psp AND fl.currency = l.currency
    WHERE e.kind IN ('refund_succeeded', 'overpayment_refunded', 'refund_reversed')
      AND e.effective_at >= :since AND e.effective_at < :until
      AND r.provider_refund_id IS NOT NULL
    ORDER BY e.effective_at, e.id, l.debit - l.credit, l.currency
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
    ORDER BY e.effective_at, e.id, l.debit - l.credit, l.currency
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
        "fee": ":fee",
        "fee_reversed": ":fee_reversed",
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
        async for ref, entry, at, gross, cur, fee in _rows(conn, _PAYMENTS, args):
            yield LedgerItem("payment", ref, int(gross), int(fee), cur, (entry,), _aware(at))
    result = await conn.stream(_REFUNDS, args)
    async for ref, entry, at, gross, cur, fee in result:
        yield LedgerItem("refund", ref, int(gross), int(fee), cur, (entry,), _aware(at))
    result = await conn.stream(_OTHERS, args)
    async for key, kind, entry, at, _account, amount, cur in result:
        _, ref, _what = key.split(":", 2)
        if kind.startswith("payout"):  # the payout (paid, reconciled), or its failure
            way = 1 if kind == "payout_failed" else -1
            yield LedgerItem("payout", ref, int(amount), 0, cur, (entry,), _aware(at), way=way)
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


def _aware(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)  # type: ignore[no-any-return]


_ENTRY_TIMES = text("SELECT id, effective_at FROM ledger_entries WHERE id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)
_IDS_A_QUERY = 10_000  # PostgreSQL takes at most 32,767 parameters a statement


async def entry_times(conn: AsyncConnection, ids: Iterable[str]) -> dict[str, dt.datetime]:
    """When each of these ledger entries took effect (the bulk path's leftover payments:
    their instants are not in PostgreSQL's hand-over). Entries are never changed or
    removed, so a read after the hand-over's snapshot gives what it would have."""
    wanted = sorted(set(ids))
    out: dict[str, dt.datetime] = {}
    for i in range(0, len(wanted), _IDS_A_QUERY):
        chunk = wanted[i : i + _IDS_A_QUERY]
        for entry, at in (await conn.execute(_ENTRY_TIMES, {"ids": chunk})).all():
            out[entry] = _aware(at)
    missing = [e for e in wanted if e not in out]
    if missing:
        raise LookupError(f"ledger entries read a moment ago are gone: {', '.join(missing[:5])}")
    return out


async def movement(
    conn: AsyncConnection, account: str, since: dt.datetime, until: dt.datetime
) -> dict[str, int]:
    rows = (
        await conn.execute(_MOVEMENT, {"account": account, "since": since, "until": until})
    ).all()
    return {cur: int(total) for cur, total in rows}


async def balance_at(conn: AsyncConnection, account: str, until: dt.datetime) -> dict[str, int]:
    return await movement(conn, account, dt.datetime(1970, 1, 1, tzinfo=dt.UTC), until)
