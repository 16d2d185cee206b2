"""Importing camt.053 bank statements, idempotently.

The same file (by SHA-256) is recognised and not counted twice; a file repeating entries
already imported (overlapping statements) stores only the new ones, by the bank's entry
reference, and says how many it skipped. A statement for another account or currency than
regie's is refused, naming the file and line; nothing of such a file is stored.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from reconciliation import repository as repo
from reconciliation.models import BankBalanceRow, BankEntryRow, BankStatementImport
from reconciliation.normalise import entry_text
from reconciliation.sources.camt053 import BankStatementFile, parse_camt053
from reconciliation.sources.camt053_checks import sequence_gaps
from reconciliation.sources.errors import SourceError
from regie.kit.database import Database, utcnow
from regie.kit.ids import new_id


@dataclass(frozen=True)
class ParsedStatement:
    file: BankStatementFile
    account: str
    currency: str

    @property
    def filename(self) -> str:
        return self.file.filename

    @property
    def sha256(self) -> str:
        return self.file.sha256


def _compact(iban: str | None) -> str | None:
    return None if iban is None else iban.replace(" ", "").upper()


class StatementImporter:
    def __init__(
        self, db: Database, iban: str | None, currency: str | None, max_bytes: int
    ) -> None:
        self.db = db
        self.iban = _compact(iban)
        self.currency = currency.upper() if currency else None
        self.max_bytes = max_bytes

    def parse(self, data: bytes, filename: str) -> ParsedStatement:
        """Read and check a file; raise ``SourceError`` for anything regie will not store."""
        f = parse_camt053(data, filename, max_bytes=self.max_bytes)
        if not f.statements:
            raise SourceError(filename, None, "the file holds no statement")
        accounts, currencies = set(), set()
        for st in f.statements:
            account = _compact(st.account)
            if not account:
                raise SourceError(filename, st.line, f"statement {st.id} names no account")
            if self.iban and account != self.iban:
                raise SourceError(
                    filename,
                    st.line,
                    f"statement {st.id} is for account {account}, not regie's bank account",
                )
            cur = st.currency or (st.entries[0].currency if st.entries else None)
            if self.currency and cur and cur != self.currency:
                raise SourceError(
                    filename,
                    st.line,
                    f"statement {st.id} is in {cur}; regie's bank account is in {self.currency}",
                )
            for e in st.entries:
                if self.currency and e.currency != self.currency:
                    raise SourceError(
                        filename,
                        e.line,
                        f"entry in {e.currency}; the account is in {self.currency}",
                    )
            accounts.add(account)
            currencies.add(cur or "")
        if len(accounts) > 1:
            raise SourceError(
                filename, None, "the file mixes several accounts; import one account per file"
            )
        return ParsedStatement(f, accounts.pop(), sorted(currencies)[-1] or (self.currency or ""))

    async def import_file(self, data: bytes, filename: str, actor: str) -> dict[str, object]:
        return await self.store(self.parse(data, filename), actor)

    async def store(self, p: ParsedStatement, actor: str) -> dict[str, object]:
        async with self.db.session() as s:
            existing = await repo.import_by_sha(s, p.sha256)
            if existing is not None:
                return {**self.view(existing), "already_imported": True}
            entries: list[dict[str, object]] = []
            seen: set[str] = set()
            refs = []
            for st in p.file.statements:
                for n, e in enumerate(st.entries):
                    refs.append(e.bank_reference or f"{st.id}#{n + 1}")
            known = await repo.existing_references(s, p.account, refs)
            duplicates = 0
            i = 0
            for st in p.file.statements:
                for e in st.entries:
                    ref = refs[i]
                    i += 1
                    if ref in known or ref in seen:
                        duplicates += 1
                        continue
                    seen.add(ref)
                    day = e.booking_date or e.value_date
                    if day is None:
                        raise SourceError(
                            p.filename, e.line, "entry without a booking or value date"
                        )
                    entries.append(
                        {
                            "statement_id": st.id,
                            "account": p.account,
                            "bank_reference": ref[:140],
                            "amount": e.amount,
                            "direction": e.direction,
                            "currency": e.currency,
                            "status": e.status[:8],
                            "reversal": e.reversal,
                            "booking_date": day,
                            "value_date": e.value_date,
                            "text": entry_text(e),
                        }
                    )
            problems = list(p.file.problems)
            last = await repo.last_sequence(s, p.account)
            if last is not None:
                problems += sequence_gaps(last, p.file.statements)
            imp = BankStatementImport(
                id=new_id("bsi"),
                sha256=p.sha256,
                filename=p.filename[:255],
                version=p.file.version,
                message_id=p.file.message_id[:140],
                account=p.account,
                currency=p.currency,
                statements=len(p.file.statements),
                entries=len(entries),
                duplicates=duplicates,
                problems=problems,
                last_sequence=max(
                    (
                        st.electronic_sequence
                        for st in p.file.statements
                        if st.electronic_sequence is not None
                    ),
                    default=None,
                ),
                actor=actor,
                created_at=utcnow(),
            )
            s.add(imp)
            await s.flush()
            for row in entries:
                row["import_id"] = imp.id
            for k in range(0, len(entries), 1000):
                await s.execute(insert(BankEntryRow), entries[k : k + 1000])
            balances = [
                {
                    "import_id": imp.id,
                    "account": p.account,
                    "statement_id": st.id,
                    "type": b.type[:8],
                    "amount": b.amount,
                    "currency": b.currency,
                    "date": b.date,
                }
                for st in p.file.statements
                for b in st.balances
                if b.type in ("OPBD", "PRCD", "CLBD")
            ]
            for b in balances:
                try:
                    async with s.begin_nested():
                        await s.execute(insert(BankBalanceRow), [b])
                except IntegrityError:
                    pass  # the same statement's balance, from an overlapping file
            try:
                await s.commit()
            except IntegrityError:  # the same file, imported concurrently
                await s.rollback()
                again = await repo.import_by_sha(s, p.sha256)
                if again is None:
                    raise
                return {**self.view(again), "already_imported": True}
            return {**self.view(imp), "already_imported": False}

    @staticmethod
    def view(i: BankStatementImport) -> dict[str, object]:
        return {
            "id": i.id,
            "filename": i.filename,
            "sha256": i.sha256,
            "version": i.version,
            "message_id": i.message_id,
            "account": i.account,
            "currency": i.currency,
            "statements": i.statements,
            "entries": i.entries,
            "duplicates": i.duplicates,
            "problems": list(i.problems),
            "created_at": i.created_at.isoformat() if i.created_at else None,
        }
