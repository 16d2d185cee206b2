"""Importing camt.053 bank statements, idempotently.

The same file (by SHA-256) is recognised and not counted twice; a file repeating entries
already imported (overlapping statements) stores only the new ones, by the bank's entry
reference or, without one, by the entry's content (``statement_keys``), and says how many it
skipped. A statement for another account or currency than regie's, or with a booked
balance or entry in another currency than its account's, is refused, naming the file and
line; nothing of such a file is stored. Balances are kept per import: a statement issued
again with other content is reported, and its later closing balance is the one used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from reconciliation import bank_repository as bank_repo
from reconciliation import bare_pending
from reconciliation import repository as repo
from reconciliation.coverage import told
from reconciliation.models import BankBalanceRow, BankEntryRow, BankStatementImport
from reconciliation.normalise import entry_text
from reconciliation.sources.camt053 import BankStatementFile, Entry, parse_camt053
from reconciliation.sources.camt053_account import compact_iban, import_account
from reconciliation.sources.camt053_checks import (
    BOOKED_BALANCES,
    sequence_gaps,
    unbalanced_closings,
)
from reconciliation.sources.camt053_model import CREDIT, DEBIT
from reconciliation.sources.errors import SourceError
from reconciliation.sources.messages import msg
from reconciliation.sources.values import money_text
from reconciliation.statement_keys import (
    created_text,
    entry_keys,
    issued_earlier,
    legacy_keys,
    rebooked_problem,
    reissue_problem,
)
from regie.kit.database import Database, utcnow
from regie.kit.ids import new_id

# an entry's direction (``camt053_model.CREDIT``, ``DEBIT``) in a refusal's words
_DIRECTIONS = {CREDIT: msg("direction_credit"), DEBIT: msg("direction_debit")}


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


class StatementImporter:
    def __init__(
        self, db: Database, iban: str | None, currency: str | None, max_bytes: int
    ) -> None:
        self.db = db
        self.iban = compact_iban(iban)
        self.currency = currency.upper() if currency else None
        self.max_bytes = max_bytes

    def parse(self, data: bytes, filename: str) -> ParsedStatement:
        """Read and check a file; raise ``SourceError`` for anything regie will not store
        (``import_account``: ``regie bank-statement show`` makes the same checks)."""
        f = parse_camt053(data, filename, max_bytes=self.max_bytes)
        account, currency = import_account(f, self.iban, self.currency)
        return ParsedStatement(f, account, currency)

    async def import_file(self, data: bytes, filename: str, actor: str) -> dict[str, object]:
        return await self.store(self.parse(data, filename), actor)

    async def store(self, p: ParsedStatement, actor: str) -> dict[str, object]:
        return (await self.store_all([p], actor))[0]

    async def store_all(
        self, parsed: Sequence[ParsedStatement], actor: str
    ) -> list[dict[str, object]]:
        """The files stored in one transaction, in order: all, or none when one is refused
        (a reference reused with another amount, against what the files before it hold)."""
        try:
            return await self._store_all(parsed, actor)
        except IntegrityError:
            # another import committed the same file, or some of the same entries, while
            # this one ran (SQLite, or another account's lock): once more, against what it
            # stored (then: already imported, or those entries counted as duplicates)
            return await self._store_all(parsed, actor)

    async def _store_all(
        self, parsed: Sequence[ParsedStatement], actor: str
    ) -> list[dict[str, object]]:
        async with self.db.session() as s:
            for account in sorted({p.account for p in parsed}):  # one import at a time
                await repo.lock_imports_of(s, account)
            done = [await self._store(s, p, actor) for p in parsed]
            await s.commit()
            return done

    async def _store(self, s: AsyncSession, p: ParsedStatement, actor: str) -> dict[str, object]:
        existing = await bank_repo.import_by_sha(s, p.sha256)
        if existing is not None:
            return {**self.view(existing), "already_imported": True}
        entries: list[dict[str, object]] = []
        seen: dict[str, tuple[int, str, str]] = {}
        seen_day: dict[str, dt.date] = {}
        rebooked: list[str] = []  # entries imported before, booked here on another day
        refs = entry_keys(p.file.statements)
        legacy = legacy_keys(p.file.statements)
        known = await bank_repo.existing_references(
            s,
            p.account,
            refs
            + [x for x in legacy if x is not None]
            + bare_pending.bare_references(p.file.statements),
        )
        settled = await bare_pending.settle(s, p.account, p.file.statements, refs, known)
        matched_legacy: set[str] = set()
        duplicates = 0
        added: dict[int, int] = {}  # per statement (its index): the entries it adds
        i = 0
        for n, st in enumerate(p.file.statements):
            for e in st.entries:
                ref, old = refs[i], legacy[i]
                i += 1
                stored = known.get(ref)
                same = (stored[:3] if stored else None) or seen.get(ref)
                first_day = stored[4] if stored else seen_day.get(ref)
                if same is None and old is not None and old not in matched_legacy:
                    # stored before under its bare NtryRef: the same entry only with the
                    # same amount, direction and currency (another day's entry 1 is
                    # not), and only once
                    former = known.get(old)
                    if former is not None and former[:3] == (e.amount, e.direction, e.currency):
                        same = former[:3]
                        matched_legacy.add(old)
                day = e.booking_date or e.value_date
                assert day is not None  # the reader refuses an entry without a date
                if same is not None:
                    self._same_entry(p.filename, e, ref, same)
                    duplicates += 1
                    if first_day is not None and first_day != day:
                        rebooked.append(rebooked_problem(ref, day, first_day))
                    continue
                seen[ref], seen_day[ref] = (e.amount, e.direction, e.currency), day
                added[n] = added.get(n, 0) + 1
                entries.append(
                    {
                        "statement_id": st.id,
                        "account": p.account,
                        "bank_reference": ref,
                        "amount": e.amount,
                        "direction": e.direction,
                        "currency": e.currency,
                        "status": e.status,
                        "reversal": e.reversal,
                        "booking_date": day,
                        "value_date": e.value_date,
                        "text": entry_text(e),
                    }
                )
        problems = list(p.file.problems) + settled + rebooked
        last = await bank_repo.last_sequence(s, p.account)
        first = next((st for st in p.file.statements if st.electronic_sequence), None)
        if last is not None and first is not None:
            # the file's own gaps are in its problems already: only the link to the last
            problems += sequence_gaps(last, [first])
        created = [created_text(st, p.file.created_at) for st in p.file.statements]
        older: set[int] = set()  # the statements issued before the ones imported already
        for n, st in enumerate(p.file.statements):
            if st.closing is not None:
                earlier = await bank_repo.earlier_closing(
                    s, p.account, st.id, st.electronic_sequence, st.closing.date
                )
                if issued_earlier(created[n], earlier):
                    older.add(n)
                found = reissue_problem(st, earlier, added.get(n, 0), created[n])
                if found:
                    problems.append(found)
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
        # a statement whose entries do not add up to its closing balance: what they add up
        # to, kept beside it for the bank tie-out to say (``BankBalanceRow.computed``)
        computed = unbalanced_closings(p.file.statements)
        balances = [
            {
                "import_id": imp.id,
                "account": p.account,
                "statement_id": st.id,
                "type": b.type,
                "amount": b.amount,
                "currency": b.currency,
                "date": b.date,
                "electronic_sequence": st.electronic_sequence,
                "statement_created": created[n],
                "computed": computed.get(b.line) if b.type == "CLBD" else None,
            }
            for n, st in enumerate(p.file.statements)
            for b in st.balances
            if b.type in BOOKED_BALANCES and n not in older
        ]
        if balances:  # every import keeps its own: the history of a statement issued again
            await s.execute(insert(BankBalanceRow), balances)
        return {**self.view(imp), "already_imported": False}

    @staticmethod
    def _same_entry(filename: str, e: Entry, ref: str, same: tuple[int, str, str]) -> None:
        """An entry whose reference is already imported must be that entry: the same
        reference on another amount, direction or currency is not a duplicate to skip
        silently (a bank reusing its ``NtryRef`` per statement), so the file is refused."""
        if same == (e.amount, e.direction, e.currency):
            return
        amount, direction, currency = same
        raise SourceError(
            filename,
            e.line,
            msg(
                "reference_reused",
                ref=ref,
                direction=_DIRECTIONS.get(e.direction, e.direction),
                amount=money_text(e.amount, e.currency),
                other_direction=_DIRECTIONS.get(direction, direction),
                other_amount=money_text(amount, currency),
            ),
        )

    async def coverage(self) -> list[dict[str, object]]:
        """What the imported statements tell, per account and currency (``coverage.told``):
        the first and last day, the last closing balance, the days never imported, and the
        statements that do not open on the day before's closing balance."""
        async with self.db.engine.connect() as conn:
            by_account = await bank_repo.balance_rows(conn)
        return [
            {
                "account": account,
                "currency": t.currency,
                "first_day": t.first.isoformat(),
                "last_day": t.last.isoformat(),
                "closing_balance": t.closing,
                "gaps": [{"from": lo.isoformat(), "to": hi.isoformat()} for lo, hi in t.gaps],
                "breaks": [
                    {"day": day.isoformat(), "after": before.isoformat()}
                    for day, before in t.breaks
                ],
            }
            for account, rows in sorted(by_account.items())
            for t in told(rows)
        ]

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
