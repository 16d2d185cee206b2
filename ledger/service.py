"""Ledger use cases.

``post`` runs inside the caller's transaction (the service that makes the state change
owns it), so an entry commits or rolls back with its cause. Sealing, verification,
balances and exports own their transactions (verification and exports: one read-only
snapshot each).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable, insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from ledger import repository as repo
from ledger.models import ChainSeal, JournalEntry, JournalLine, PspPosting
from ledger.posting import (
    CURRENT_FORM,
    FORMS,
    GENESIS,
    Posting,
    chain_hash,
    check_balanced,
    reverse,
)
from ledger.snapshot import Balance, ExportLine, LedgerSnapshot, open_snapshot
from regie.kit.bulk import bulk_insert, no_gc
from regie.kit.database import Database, utcnow
from regie.kit.ids import new_id

SEAL_LOCK_KEY = 0x7265_6769_6500  # "regie" — advisory lock id of the chain sealer


def new_entry_writes(entry: NewEntry) -> list[Executable]:
    """The two Core INSERTs of one balanced entry whose source the caller creates in this
    very transaction (a new invoice id: nobody can have posted it), for the caller to send
    with its own writes (``regie.kit.bulk.write_together``); the unique index on the
    source key still guards it."""
    (entry_row,), line_rows = _rows_of([entry])
    # one single-row INSERT per row: SQLAlchemy caches their compiled form (not a
    # multi-row VALUES one's, which it compiled again on every call)
    return [
        insert(JournalEntry.__table__).values(entry_row),  # type: ignore[attr-defined]
        *(insert(JournalLine.__table__).values(row) for row in line_rows),  # type: ignore[attr-defined]
    ]


async def post(
    session: AsyncSession,
    *,
    source_key: str,
    kind: str,
    postings: Sequence[Posting],
    effective_at: dt.datetime | None = None,
    service_id: str | None = None,
    invoice_id: str | None = None,
    description: str = "",
    reverses_id: str | None = None,
    psp: PspRef | None = None,
) -> str | None:
    """Write one balanced entry; returns its id, or None if ``source_key`` was already posted
    (the unique index decides, in the same statement: exactly once). With ``psp``, the
    entry books that PSP object: each of its lines on the PSP's account is kept as a
    ``PspPosting`` too, in the same transaction."""
    check_balanced(postings)
    entry = NewEntry(
        source_key, kind, postings, effective_at or utcnow(), service_id, invoice_id,
        description, reverses_id,
    )  # fmt: skip
    (entry_row,), line_rows = _rows_of([entry])
    if not await repo.insert_entry_once(session, entry_row, line_rows):
        return None  # posted already, or concurrently under the same source key
    if psp is not None:
        rows = psp_posting_rows(entry_row, postings, psp)
        if rows:
            await session.execute(insert(PspPosting.__table__), rows)  # type: ignore[attr-defined]
    return str(entry_row["id"])


@dataclass(frozen=True)
class PspRef:
    """The PSP object an entry books (``post``'s ``psp``): the PSP's clearing account, the
    object's id there, and the fee the PSP took on it and the currency it took it in."""

    account: str
    reference: str
    fee: int = 0
    fee_currency: str | None = None


def psp_posting_rows(
    entry_row: dict[str, Any], postings: Sequence[Posting], psp: PspRef
) -> list[dict[str, Any]]:
    """The ``PspPosting`` rows of an entry: one a line on ``psp.account``, its fee counted in
    the line's currency only (0 when the PSP took it in another)."""
    return [
        {
            "entry_id": entry_row["id"],
            "kind": entry_row["kind"],
            "account": p.account,
            "reference": psp.reference,
            "effective_at": entry_row["effective_at"],
            "amount": p.debit - p.credit,
            "currency": p.currency,
            "fee": psp.fee if (psp.fee_currency or p.currency) == p.currency else 0,
        }
        for p in postings
        if p.account == psp.account
    ]


@dataclass(frozen=True)
class NewEntry:
    """One entry of ``post_many``: the arguments of ``post`` for a new source."""

    source_key: str
    kind: str
    postings: Sequence[Posting]
    effective_at: dt.datetime
    service_id: str | None = None
    invoice_id: str | None = None
    description: str = ""
    reverses_id: str | None = None


async def post_many(session: AsyncSession, entries: Sequence[NewEntry]) -> list[str]:
    """Write many balanced entries of sources created in this very transaction (a batch of
    new invoices): ``new_entry_writes`` in bulk, the entries then the lines each in
    one COPY (PostgreSQL) or executemany (SQLite). Returns the entries' ids, in order."""
    with no_gc():
        entry_rows, line_rows = _rows_of(entries)
    await bulk_insert(session, JournalEntry.__table__, entry_rows)  # type: ignore[attr-defined]
    await bulk_insert(session, JournalLine.__table__, line_rows)  # type: ignore[attr-defined]
    return [str(r["id"]) for r in entry_rows]


def _rows_of(entries: Sequence[NewEntry]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    now = utcnow()
    entry_rows: list[dict[str, Any]] = []
    line_rows: list[dict[str, Any]] = []
    for e in entries:
        check_balanced(e.postings)
        entry_id = new_id("je")
        entry_rows.append(
            {
                "id": entry_id,
                "source_key": e.source_key,
                "kind": e.kind,
                "service_id": e.service_id,
                "invoice_id": e.invoice_id,
                "description": e.description[:300],
                "reverses_id": e.reverses_id,
                "effective_at": e.effective_at,
                "created_at": now,
            }
        )
        line_rows.extend(
            {
                "entry_id": entry_id,
                "position": i,
                "account": p.account,
                "currency": p.currency,
                "debit": p.debit,
                "credit": p.credit,
            }
            for i, p in enumerate(e.postings)
        )
    return entry_rows, line_rows


async def post_reversal(
    session: AsyncSession,
    *,
    original_source_key: str,
    source_key: str,
    kind: str,
    effective_at: dt.datetime | None = None,
) -> str | None:
    """A correcting entry that mirrors the original's lines and points at it."""
    original = await repo.entry_by_source(session, original_source_key)
    if original is None:
        return None
    lines = (await repo.lines_of(session, [original.id]))[original.id]
    postings = reverse(Posting(x.account, x.currency, x.debit, x.credit) for x in lines)
    return await post(
        session,
        source_key=source_key,
        kind=kind,
        postings=postings,
        effective_at=effective_at,
        service_id=original.service_id,
        invoice_id=original.invoice_id,
        description=f"reversal of {original.id}",
        reverses_id=original.id,
    )


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    sealed: int
    unsealed: int
    first_bad_entry: str | None = None
    reason: str | None = None
    # the last sealed entry verified: (position, hash), for the reader to keep and give
    # back to a later ``verify`` (a chain alone cannot show that its tail was removed)
    head: tuple[int, str] | None = None


class LedgerService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def balances(
        self, as_of: dt.datetime | None = None, account_prefix: str | None = None
    ) -> list[Balance]:
        async with self.db.session() as s:
            rows = await repo.balances(s, as_of, account_prefix)
        return [Balance(a, c, d, k) for a, c, d, k in rows]

    async def entries(self, **filters: object) -> list[tuple[JournalEntry, list[JournalLine]]]:
        async with self.db.session() as s:
            entries = await repo.list_entries(s, **filters)  # type: ignore[arg-type]
            lines = await repo.lines_of(s, [e.id for e in entries])
        return [(e, lines[e.id]) for e in entries]

    async def seal(self, batch: int = 500) -> int:
        """Append up to ``batch`` committed, unsealed entries to the hash chain, lowest
        sequence number first.

        The chain's order is the sealing order: an entry whose transaction commits late is
        simply sealed in a later batch, so nothing waits on anything at posting time. The
        entries awaiting their seal are read from ``ledger_unsealed`` (filled by a trigger
        in the entry's own transaction), and taken out of it in the transaction that seals
        them: each committed entry is sealed once, however late it commits.
        """
        async with self.db.session() as s:
            if self.db.is_postgres:
                await s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SEAL_LOCK_KEY})
            head = await repo.chain_head(s)
            while True:
                queued = await repo.queued_unsealed(s, batch)
                entries = await repo.unsealed_of(s, queued)
                await repo.dequeue_unsealed(s, queued)
                if entries or not queued:
                    break
            if not entries:
                await s.commit()  # (nothing, or rows of entries sealed already: taken out)
                return 0
            lines = await repo.lines_of(s, [e.id for e in entries])
            prev = head.hash if head else GENESIS
            position = head.position if head else 0
            now = utcnow()
            for e in entries:
                position += 1
                h = chain_hash(prev, repo.canonical(e, lines[e.id]), CURRENT_FORM)
                s.add(
                    ChainSeal(
                        position=position,
                        entry_id=e.id,
                        prev_hash=prev,
                        hash=h,
                        form=CURRENT_FORM,
                        sealed_at=now,
                    )
                )
                prev = h
            await s.commit()
        return len(entries)

    async def verify(self, page: int = 1000, head: tuple[int, str] | None = None) -> VerifyResult:
        """Recompute the chain; name the first entry that no longer matches. With ``head``
        (a position and hash an earlier ``verify`` gave), the chain must still hold that
        seal: one removed, or the chain rewritten up to it, fails. The unsealed entries are
        counted on the ledger itself; one of them that is not in ``ledger_unsealed`` (the
        sealer's only source) fails too: it would stay out of the chain for ever.

        Everything is read from one snapshot (``Database.snapshot``: one REPEATABLE READ,
        READ ONLY transaction on PostgreSQL, a deferred one on SQLite), so the result is the
        ledger of the moment verify began: what is posted or sealed while it reads is in
        none of its reads, and on SQLite it takes no write lock (writers go on)."""
        checked = 0
        prev = GENESIS
        after = 0
        async with self.db.snapshot() as s:
            while True:
                seals = await repo.seals_page(s, after, page)
                if not seals:
                    break
                entries = await repo.entries_by_id(s, [x.entry_id for x in seals])
                lines = await repo.lines_of(s, list(entries))
                for seal in seals:
                    bad = _check_seal(seal, entries.get(seal.entry_id), lines, prev, after)
                    if bad is not None:
                        return VerifyResult(False, checked, 0, seal.entry_id, bad)
                    if head is not None and seal.position == head[0] and seal.hash != head[1]:
                        return VerifyResult(
                            False, checked, 0, seal.entry_id,
                            f"the entry at position {head[0]} is not the recorded head"
                            " (another hash)",
                        )  # fmt: skip
                    prev, after = seal.hash, seal.position
                    checked += 1
            unsealed = await repo.count_unsealed(s)
            lost = await repo.first_unqueued(s) if unsealed else None
        if head is not None and after < head[0]:
            return VerifyResult(
                False, checked, unsealed, None,
                f"the chain ends at position {after}, before the recorded head"
                f" (position {head[0]})",
            )  # fmt: skip
        if lost is not None:
            return VerifyResult(
                False, checked, unsealed, lost,
                "entry is not sealed and no longer awaits its seal (its row in"
                " ledger_unsealed was deleted): it would never be sealed",
            )  # fmt: skip
        return VerifyResult(True, checked, unsealed, head=(after, prev) if after else None)

    def snapshot(self) -> AbstractAsyncContextManager[LedgerSnapshot]:
        """The ledger as of now, for reads that must be of one moment (an export's lines and
        its opening balances): one read-only transaction (``ledger.snapshot``)."""
        return open_snapshot(self.db)

    async def export_lines(self, start: dt.datetime, end: dt.datetime) -> AsyncIterator[ExportLine]:
        """Stream lines of entries effective in [start, end), in entry order, from one
        snapshot: an entry posted while they are read is not among them."""
        async with self.snapshot() as snap:
            async for x in snap.lines(start, end):
                yield x


def _check_seal(
    seal: ChainSeal,
    entry: JournalEntry | None,
    lines: dict[str, list[JournalLine]],
    prev: str,
    after: int,
) -> str | None:
    """Why ``seal`` does not verify after the seal at position ``after`` (hash ``prev``),
    or None."""
    if entry is None:
        return "entry is missing"
    if seal.prev_hash != prev or seal.position != after + 1:
        return "chain is broken before this entry"
    try:
        check_balanced([Posting(x.account, x.currency, x.debit, x.credit) for x in lines[entry.id]])
    except ValueError as exc:
        return f"entry is invalid: {exc}"
    canonical = repo.canonical(entry, lines[entry.id])
    if seal.form not in FORMS or chain_hash(prev, canonical, seal.form) != seal.hash:
        return "entry was altered after sealing"
    return None
