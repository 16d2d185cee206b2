"""A run's bank statements: read and checked before the run stores anything, then stored (a
mixin of ``service.ReconciliationService``).

A run reads the bank's entries from the database, with the statements it was given among
them, so these are stored before it reads, and only once every check a run makes on its
inputs has passed: the PSP, the period, every file read (``StatementImporter.parse``: what
its import would refuse) and dated in the period (``run_checks.check_statements_period``),
the report; then the files are stored together, all or none (a file refused against the
files before it, which only storing finds, leaves none stored: a review found the first
file of such a run kept). A run refused for its inputs therefore stores nothing. A statement stays
imported when the run fails after that for another reason (the PSP or the database failing):
it is a valid file, its import is recorded with who made it, and the same file given again is
recognised by its SHA-256 and not counted twice. Imports are never taken back: an overlapping
file imported meanwhile may rest on this one's entries (it adds only what this one lacks).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from reconciliation.imports import ParsedStatement, StatementImporter
from reconciliation.run_checks import check_statements_period


class RunStatements:
    statements: StatementImporter

    def _parse_statements(
        self, files: Sequence[tuple[str, bytes]], first: dt.date, last: dt.date
    ) -> list[ParsedStatement]:
        """Every file read and checked, as its import would check it, and dated in the
        period, before anything is stored."""
        parsed = [self.statements.parse(data, name) for name, data in files]
        check_statements_period([p.file for p in parsed], first, last)
        return parsed

    async def _store_statements(self, parsed: Sequence[ParsedStatement], actor: str) -> None:
        """All in one transaction: a file refused against the ones before it (an entry's
        reference reused with another amount) leaves none of them stored."""
        await self.statements.store_all(parsed, actor)
