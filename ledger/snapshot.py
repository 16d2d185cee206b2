"""Reads of the ledger as of one moment (``LedgerService.snapshot``): an export's lines,
read by pages, and the balances of before its first day, all from one transaction
(``Database.snapshot``), so that what is posted meanwhile is in none of them."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from ledger import repository as repo
from regie.kit.database import Database

PAGE = 1000  # entries read at a time: an export never holds the whole period in memory


@dataclass(frozen=True)
class Balance:
    account: str
    currency: str
    debit: int
    credit: int

    @property
    def balance(self) -> int:
        return self.debit - self.credit


@dataclass(frozen=True)
class ExportLine:
    entry_seq: int
    entry_id: str
    kind: str
    effective_at: dt.datetime
    description: str
    invoice_id: str | None
    account: str
    currency: str
    debit: int
    credit: int
    source_key: str = ""  # what posted it (refund:ref_…:succeeded, payout:po_…:paid)


class LedgerSnapshot:
    """The ledger as it was when the snapshot opened."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def balances(
        self, as_of: dt.datetime | None = None, account_prefix: str | None = None
    ) -> list[Balance]:
        rows = await repo.balances(self._s, as_of, account_prefix)
        return [Balance(a, c, d, k) for a, c, d, k in rows]

    async def lines(
        self, start: dt.datetime, end: dt.datetime, page: int = PAGE
    ) -> AsyncIterator[ExportLine]:
        """Stream the lines of the entries effective in [start, end), in entry order, read
        ``page`` entries at a time."""
        after: int | None = None
        while True:
            entries = await repo.list_entries(
                self._s,
                limit=page,
                starting_after=after,
                invoice_id=None,
                effective_gte=start,
                effective_lt=end,
            )
            if not entries:
                return
            lines = await repo.lines_of(self._s, [e.id for e in entries])
            for e in entries:
                for x in lines[e.id]:
                    yield ExportLine(
                        e.seq or 0, e.id, e.kind, e.effective_at, e.description, e.invoice_id,
                        x.account, x.currency, x.debit, x.credit, e.source_key,
                    )  # fmt: skip
            after = entries[-1].seq


@asynccontextmanager
async def open_snapshot(db: Database) -> AsyncIterator[LedgerSnapshot]:
    async with db.snapshot() as s:
        yield LedgerSnapshot(s)
