"""What a run reads from PostgreSQL beside the PSP's report: the ledger's items (all of them,
or all but the payments the bulk path reads itself), the imported bank entries and the
tie-outs. A mixin of ``service.ReconciliationService``: on the bulk path these reads run
while DuckDB settles the report's pairs."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from reconciliation import bank_repository as bank_repo
from reconciliation import ledger_reads
from reconciliation.book import told_until
from reconciliation.config import ReconConfig
from reconciliation.coverage import BalanceRow, closing_rows, coverage
from reconciliation.ledger_copy import GRACE, day_start
from reconciliation.records import BankLine, LedgerItem, PspLine, TieOut
from reconciliation.weekend_opening import LaterOpening, later_openings
from regie.kit.database import Database


@dataclass(frozen=True)
class Sides:
    """What ``RunSides._sides`` read: ``statements`` are the imports the bank's entries and
    closing balances came from, as a run's sources name them (``bank_repository.imports_by_id``)."""

    others: list[LedgerItem]
    bank: list[BankLine]
    tie_outs: list[TieOut]
    statements: list[dict[str, Any]]
    # per currency, the last day the bank's statements cover (``Inputs.bank_covered_until``)
    # the days they do not tell of (``Inputs.bank_gaps``) and the statements that do not
    # follow on though no day lies between them (``Inputs.bank_breaks``)
    bank_covered: dict[str, dt.date]
    bank_gaps: dict[str, tuple[tuple[dt.date, dt.date], ...]]
    bank_breaks: dict[str, tuple[tuple[dt.date, dt.date], ...]]


class RunSides:
    db: Database
    config: ReconConfig

    async def _sides(
        self,
        provider: str,
        lo: dt.datetime,
        hi: dt.datetime,
        since: dt.datetime,
        until: dt.datetime,
        period_from: dt.date,
        period_to: dt.date,
        psp_lines: Sequence[PspLine],
        *,
        psp_complete: bool,
        payments: bool,
    ) -> Sides:
        """On a connection of its own: the ledger's items booked in ``[lo, hi)`` (with its
        payments unless ``payments`` is false), the bank's entries around the period and
        the tie-outs of the period (``[since, until)``), and the imported statements those
        entries and the bank's closing balance came from. The PSP's tie-out needs every
        line of the PSP's side (``psp_complete``: a run without an uploaded report, whose
        lines are all read by then). All of it from one snapshot (PostgreSQL's repeatable
        read): statements imported meanwhile are in the bank's entries, closing balances and
        coverage alike, or in none of them."""
        async with self.db.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            others = [
                item
                async for item in ledger_reads.ledger_items(
                    conn, provider, lo, hi, payments=payments
                )
            ]
            account = self.config.bank_iban or await self._bank_account()
            bank: list[BankLine] = []
            imports: set[str] = set()
            covered: dict[str, dt.date] = {}
            gaps: dict[str, tuple[tuple[dt.date, dt.date], ...]] = {}
            breaks: dict[str, tuple[tuple[dt.date, dt.date], ...]] = {}
            # the statements' balances, read once: the coverage and the bank tie-out's
            # closing balance are both worked out from them
            balances: list[BalanceRow] = []
            if account:
                bank, imports = await bank_repo.bank_lines(
                    conn, account, period_from - GRACE, period_to + GRACE
                )
                balances = (await bank_repo.balance_rows(conn, account)).get(account, [])
                covered, gaps, breaks = coverage(balances, period_to)
            tie_outs = await self._tie_outs(
                conn, provider, account, psp_complete, psp_lines, since, until,
                (period_from, period_to), imports, balances,
            )  # fmt: skip
            statements = await bank_repo.imports_by_id(conn, imports) if imports else []
        return Sides(others, bank, tie_outs, statements, covered, gaps, breaks)

    async def _bank_account(self) -> str | None:
        async with self.db.session() as s:
            return await bank_repo.any_bank_account(s)

    async def _tie_outs(
        self,
        conn: AsyncConnection,
        provider: str,
        account: str | None,
        psp_complete: bool,
        psp_lines: Sequence[PspLine],
        since: dt.datetime,
        until: dt.datetime,
        period: tuple[dt.date, dt.date],
        imports: set[str],
        balances: list[BalanceRow],
    ) -> list[TieOut]:
        """The tie-outs; the imports of the closing balances used are added to
        ``imports``. No bank tie-out of a currency whose statements end more than ``GRACE``
        before the period: the run reads the ledger's payouts from then on, so what was in
        transit on the day they end is not counted, and they tell nothing of the period (as
        with no statement, its payouts are in transit)."""
        period_from, period_to = period
        out: list[TieOut] = []
        if psp_complete:
            ledger = await ledger_reads.movement(
                conn, ledger_reads.psp_account(provider), since, until
            )
            psp: dict[str, int] = defaultdict(int)
            for line in psp_lines:
                psp[line.currency] += line.net
            for cur in sorted(set(ledger) | set(psp)):
                out.append(TieOut("psp_clearing", cur, ledger.get(cur, 0), psp.get(cur, 0)))
        if account:
            # each currency's closing balance against the ledger's at the end of its day: the
            # period's last (or its last bank day's), or an earlier one when the month's last
            # statements are not in; when none closes in the period, a later statement's
            # opening balance that is the period's end's (``weekend_opening``)
            closing = closing_rows(balances, period_to)
            later = later_openings(balances, period_to)
            at: dict[dt.date, dict[str, int]] = {}
            for cur in sorted(set(closing) | set(later)):
                shut = closing.get(cur)
                if cur in later and (shut is None or self._none_closes(shut[1], period)):
                    tie = await self._opening_tie_out(conn, account, later[cur], period_to, at)
                    if tie is not None:
                        out.append(tie)
                        imports.add(later[cur].import_id)
                        continue
                if shut is None:
                    continue
                amount, day, row = shut
                if day < period_from - GRACE:
                    continue
                if told_until(day) >= period_to:  # Friday's balance is Saturday the 31st's
                    day = period_to
                if day not in at:
                    at[day] = await self._bank_balance(conn, day)
                # a closing balance its statement's entries do not add up to: compared as
                # the bank states it, the tie-out saying what the entries make
                unbalanced = None
                if row.computed is not None:
                    unbalanced = (row.statement.rsplit("#", 1)[0], row.computed)
                out.append(
                    TieOut("bank", cur, at[day].get(cur, 0), amount, as_of=day,
                           unbalanced=unbalanced)
                )  # fmt: skip
                imports.add(row.import_id)
        return out

    @staticmethod
    def _none_closes(day: dt.date, period: tuple[dt.date, dt.date]) -> bool:
        """Whether a closing balance of ``day``, the last on or before the period's end,
        is of no day of the period (and not the period's end's either: Friday's is the
        weekend's)."""
        return day < period[0] and told_until(day) < period[1]

    async def _opening_tie_out(
        self,
        conn: AsyncConnection,
        account: str,
        o: LaterOpening,
        period_to: dt.date,
        at: dict[dt.date, dict[str, int]],
    ) -> TieOut | None:
        """The bank tie-out on a later statement's opening balance, as of the period's end,
        when no imported entry is booked on the days between them; else None."""
        if o.quiet is not None and await bank_repo.booked_between(
            conn, account, o.currency, *o.quiet
        ):
            return None
        if period_to not in at:
            at[period_to] = await self._bank_balance(conn, period_to)
        ledger = at[period_to].get(o.currency, 0)
        return TieOut("bank", o.currency, ledger, o.amount, as_of=period_to,
                      opening_of=(o.statement, o.day))  # fmt: skip

    async def _bank_balance(self, conn: AsyncConnection, day: dt.date) -> dict[str, int]:
        """The ledger's bank account's balance per currency at ``day``'s end."""
        return await ledger_reads.balance_at(
            conn,
            ledger_reads.bank_account(self.config.bank_account),
            day_start(day + dt.timedelta(days=1)),
        )
