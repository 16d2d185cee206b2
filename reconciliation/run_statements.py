"""A run's bank statements: checked before the run stores anything, stored once every check
has passed, and taken back when the run fails after that (a mixin of
``service.ReconciliationService``).

A run reads the bank's entries from the database, with the statements it was given among
them, so these are stored before it reads; whatever refuses the run afterwards (nothing to
reconcile in the period, the PSP or the database failing) removes the imports this run made,
their entries and their balances: a refused run stores nothing. A file that was already
imported (by its SHA-256) is not this run's, and stays."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete
from sqlmodel import col

from reconciliation.imports import ParsedStatement, StatementImporter
from reconciliation.models import BankBalanceRow, BankEntryRow, BankStatementImport
from reconciliation.sources.errors import SourceError
from regie.kit.database import Database


class RunStatements:
    db: Database
    statements: StatementImporter

    def _parse_statements(self, files: Sequence[tuple[str, bytes]]) -> list[ParsedStatement]:
        """Every file read and checked, as its import would check it, before anything is
        stored."""
        parsed = [self.statements.parse(data, name) for name, data in files]
        for p in parsed:
            for st in p.file.statements:
                for e in st.entries:
                    if e.booking_date is None and e.value_date is None:
                        raise SourceError(
                            p.filename, e.line, "entry without a booking or value date"
                        )
        return parsed

    async def _store_statements(self, parsed: Sequence[ParsedStatement], actor: str) -> list[str]:
        """Stores the statements; the ids of the imports made now (not those already there)."""
        made: list[str] = []
        try:
            for p in parsed:
                view = await self.statements.store(p, actor)
                if not view["already_imported"]:
                    made.append(str(view["id"]))
        except BaseException:
            await self._forget_statements(made)
            raise
        return made

    async def _forget_statements(self, import_ids: Sequence[str]) -> None:
        """Removes the imports ``import_ids`` with their entries and balances."""
        if not import_ids:
            return
        ids = list(import_ids)
        async with self.db.session() as s:
            await s.execute(delete(BankEntryRow).where(col(BankEntryRow.import_id).in_(ids)))
            await s.execute(delete(BankBalanceRow).where(col(BankBalanceRow.import_id).in_(ids)))
            await s.execute(delete(BankStatementImport).where(col(BankStatementImport.id).in_(ids)))
            await s.commit()
