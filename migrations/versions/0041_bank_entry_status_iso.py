"""bank_entries: statuses stored before they were made ISO's code, their keys; bank_balances:
what the statements imported before 0040 add up to

Since efbf786 an entry's status is made ISO's code as the file is read (``BOOKED``,
``booked`` and ``Book`` are ``BOOK``; ``PENDING`` is ``PDNG``…,
``camt053_model.entry_status``). An entry stored before kept the status as the bank wrote
it: one written ``BOOKED`` never reached a run (the runs take ``BOOK`` only). Each such
status is brought to the code's form, with the entry's key where the key holds the status
(``statement_keys.with_status``: ``ASR-1#BOOKED`` is ``ASR-1`` once booked,
``ASR-1#pending`` is ``ASR-1#PDNG``; ``#2`` after it stays), so the same entry in a file
imported later is the entry already stored, not a second one.

An entry is left as it was stored, and its id (nothing else) logged in a warning, when
bringing it would count it twice or break the key's uniqueness: its new key is held
already (the same entry imported again since efbf786, stored under ``ASR-1`` beside
``ASR-1#BOOKED``), two entries would take one key (the first by id takes it), or its key
is a digest of its content that holds the status as written (an entry without the bank's
reference, or a key too long for its column: the digest cannot be made again from what is
stored, so brought to ``BOOK`` it would be imported again as another entry by any later
file that repeats it). Nothing is merged or deleted.

A statement imported before 0040 has no ``bank_balances.computed`` on its closing balance
(CLBD): its bank tie-out never said it did not add up. Where what is stored tells it
exactly, it is computed as the import does (``camt053_checks.computed_closing``): opening
balance (the first OPBD, else the first PRCD) + booked entries (credits +, debits −), kept
when it is not the closing balance, NULL when it is. Exactly: the import stored every entry
of its file (no duplicates skipped, as many rows as it counted), each statement id of the
file is one statement (not pages, not a reused id), and the statement has one opening and
one closing balance in one currency with its booked entries. Otherwise it stays as stored.
A closing balance imported since 0040 is computed the same way and gets the same value
(but for one imported between 0040 and efbf786, whose ``BOOKED`` entries were not counted).

The downgrade changes nothing back: the spellings before are not kept.

Revision ID: 0041
Revises: 0040
Create Date: 2026-12-05 19:00:00.000000
"""

import hashlib
import logging
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.exc import IntegrityError

revision = "0041"
down_revision = "0040"
branch_labels = None
depends_on = None

log = logging.getLogger("migrations.0041")

BATCH = 2000  # rows read, and rows written, at a time

entries = sa.table(
    "bank_entries",
    sa.column("id", sa.Integer),
    sa.column("import_id", sa.String),
    sa.column("statement_id", sa.String),
    sa.column("account", sa.String),
    sa.column("bank_reference", sa.String),
    sa.column("amount", sa.BigInteger),
    sa.column("direction", sa.String),
    sa.column("currency", sa.String),
    sa.column("status", sa.String),
)
balances = sa.table(
    "bank_balances",
    sa.column("id", sa.Integer),
    sa.column("import_id", sa.String),
    sa.column("statement_id", sa.String),
    sa.column("type", sa.String),
    sa.column("amount", sa.BigInteger),
    sa.column("currency", sa.String),
    sa.column("electronic_sequence", sa.BigInteger),
    sa.column("computed", sa.BigInteger),
)
imports = sa.table(
    "bank_statement_imports",
    sa.column("id", sa.String),
    sa.column("statements", sa.Integer),
    sa.column("entries", sa.Integer),
    sa.column("duplicates", sa.Integer),
)

# The code's rules as they were when this migration was written, copied: a migration must
# do the same whatever the code becomes (camt053_model.entry_status and BOOKED,
# statement_keys.with_status, nth and MAX_KEY).
BOOKED = "BOOK"
_STATUSES = {
    "BOOK": BOOKED, "BOOKED": BOOKED, "PDNG": "PDNG", "PENDING": "PDNG",
    "INFO": "INFO", "INFORMATION": "INFO", "FUTR": "FUTR", "FUTURE": "FUTR",
}  # fmt: skip
MAX_KEY = 140


def entry_status(written: str) -> str:
    return _STATUSES.get(written.strip().upper(), written)


def with_status(reference: str, status: str) -> str:
    if status == BOOKED:
        return reference
    key = f"{reference}#{status}"
    return key if len(key) <= MAX_KEY else "#" + hashlib.sha256(key.encode()).hexdigest()


def nth(key: str, n: int) -> str:
    if n == 1:
        return key
    numbered = f"{key}#{n}"
    if len(numbered) <= MAX_KEY:
        return numbered
    return "#" + hashlib.sha256(numbered.encode()).hexdigest()


# a key made of the entry's content (``statement_keys.entry_keys``: its digest covers the
# status as written), or a digest of a key too long for the column
_CONTENT_KEY = re.compile(r"(?:.*/)?\d{4}-\d{2}-\d{2}/(?:CRDT|DBIT)/[^/]+/[0-9a-f]{10}/\d+")
_DIGEST_KEY = re.compile(r"#[0-9a-f]{64}")
_OPENING_TYPES = ("OPBD", "PRCD")
_CLOSING_TYPE = "CLBD"


@dataclass
class Report:
    statuses: int = 0  # entries whose status was brought to ISO's code
    keys: int = 0  # of them, those whose key changed with it
    clashes: list[int] = field(default_factory=list)  # entry ids kept: their key is held
    digests: list[int] = field(default_factory=list)  # entry ids kept: key a digest
    computed: int = 0  # closing balances given what their statement adds up to
    balanced: int = 0  # closing balances their statement adds up to (computed NULL)
    untold: int = 0  # closing balances left as stored: not exactly computable


@dataclass
class _Move:
    id: int
    account: str
    key: str  # the key it is stored under
    status: str  # its new status
    new_key: str  # its key with that status (``key`` when the key holds no status)
    twin: str | None  # another key it must not meet (where an import would move it)


def _chunks(rows: Sequence[Any], size: int = 0) -> Iterator[Sequence[Any]]:
    size = size or BATCH
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def _scan(
    bind: sa.engine.Connection, query: sa.Select[Any], table: sa.TableClause
) -> Iterator[Any]:
    """The rows of ``query``, read ``BATCH`` at a time in the order of ``table``'s id."""
    after = 0
    while True:
        rows = bind.execute(query.where(table.c.id > after).order_by(table.c.id).limit(BATCH)).all()
        yield from rows
        if len(rows) < BATCH:
            return
        after = rows[-1].id


def _move(row: Any) -> _Move | None:
    """What a stored entry becomes; None when its status is the code's already, no status
    (``""``) when its key is a digest that holds the status as written."""
    new = entry_status(row.status)
    if new == row.status:
        return None
    key, old = row.bank_reference, row.status
    numbered = re.fullmatch(rf"(.+)#{re.escape(old)}#([0-9]+)", key)
    if key.endswith(f"#{old}") and len(key) > len(old) + 1:
        new_key = with_status(key[: -len(old) - 1], new)
    elif numbered and int(numbered.group(2)) > 1:
        new_key = nth(with_status(numbered.group(1), new), int(numbered.group(2)))
    elif _CONTENT_KEY.fullmatch(key) or _DIGEST_KEY.fullmatch(key):
        return _Move(row.id, row.account, key, "", "", None)
    else:  # its bare reference (stored before keys held the status): an import moves a
        # pending one to ``with_status`` when its booking comes
        twin = with_status(key, new)
        return _Move(row.id, row.account, key, new, key, twin if twin != key else None)
    return _Move(row.id, row.account, key, new, new_key, None)


def _held(bind: sa.engine.Connection, account: str, keys: list[str]) -> set[str]:
    """Which of ``keys`` an entry of the account is stored under."""
    held: set[str] = set()
    for chunk in _chunks(keys, 500):
        held.update(
            bind.execute(
                sa.select(entries.c.bank_reference).where(
                    entries.c.account == account, entries.c.bank_reference.in_(list(chunk))
                )
            ).scalars()
        )
    return held


def _write(bind: sa.engine.Connection, moves: list[_Move], report: Report) -> None:
    """Each entry its status and key. On PostgreSQL an older regie still importing while
    the upgrade runs may store a key meanwhile: each batch runs in a savepoint and, if one
    of its rows clashes, its rows are written one by one, a row that clashes kept."""
    stmt = (
        entries.update()
        .where(entries.c.id == sa.bindparam("_id"))
        .values(status=sa.bindparam("_status"), bank_reference=sa.bindparam("_key"))
    )

    def done(ms: Sequence[_Move]) -> None:
        report.statuses += len(ms)
        report.keys += sum(m.new_key != m.key for m in ms)

    for chunk in _chunks(moves):
        params = [{"_id": m.id, "_status": m.status, "_key": m.new_key} for m in chunk]
        if bind.dialect.name != "postgresql":
            bind.execute(stmt, params)
            done(chunk)
            continue
        try:
            with bind.begin_nested():
                bind.execute(stmt, params)
            done(chunk)
            continue
        except IntegrityError:
            pass
        for m, p in zip(chunk, params, strict=True):
            try:
                with bind.begin_nested():
                    bind.execute(stmt, p)
                done([m])
            except IntegrityError:
                report.clashes.append(m.id)


def statuses(bind: sa.engine.Connection, report: Report) -> None:
    """Every entry's status in ISO's code where it names one, its key with it."""
    query = sa.select(
        entries.c.id, entries.c.account, entries.c.bank_reference, entries.c.status
    ).where(entries.c.status.not_in(sorted(set(_STATUSES.values()))))
    by_account: dict[str, list[_Move]] = defaultdict(list)
    for row in _scan(bind, query, entries):
        m = _move(row)
        if m is None:
            continue
        if not m.status:
            report.digests.append(m.id)
        else:
            by_account[m.account].append(m)
    moves: list[_Move] = []
    for account, ms in by_account.items():
        wanted = {m.new_key for m in ms if m.new_key != m.key} | {m.twin for m in ms if m.twin}
        held = _held(bind, account, sorted(wanted))
        for m in ms:  # by id: the earliest takes a key two would take
            meets = {m.new_key} if m.new_key != m.key else set()
            meets |= {m.twin} if m.twin else set()
            if meets & held:
                report.clashes.append(m.id)
                continue
            held |= meets
            moves.append(m)
    _write(bind, moves, report)
    report.clashes.sort()
    report.digests.sort()


def _exact_imports(bind: sa.engine.Connection) -> list[Any]:
    """The imports that stored every entry of their file (none skipped as a duplicate)."""
    return list(
        bind.execute(
            sa.select(imports.c.id, imports.c.statements, imports.c.entries)
            .where(imports.c.duplicates == 0)
            .order_by(imports.c.id)
        ).all()
    )


def _closing(rows: list[Any], sums: list[Any]) -> tuple[bool, int | None]:
    """Whether it can be told exactly, and what a statement's opening balance and booked
    entries add up to when it is not its closing balance (None when it is)."""
    closings = [r for r in rows if r.type == _CLOSING_TYPE]
    opening = next(
        (r for kind in _OPENING_TYPES for r in rows if r.type == kind), None
    )  # rows by id: the file's order
    if len(closings) != 1 or opening is None or len({r.electronic_sequence for r in rows}) > 1:
        return False, None
    closing = closings[0]
    booked = [s for s in sums if entry_status(s.status) == BOOKED]
    if {opening.currency, closing.currency} | {s.currency for s in booked} != {opening.currency}:
        return False, None
    expected = int(opening.amount) + sum(
        int(s.total) if s.direction == "credit" else -int(s.total) for s in booked
    )
    return True, None if expected == int(closing.amount) else expected


def closings(bind: sa.engine.Connection, report: Report) -> None:
    """Each closing balance (CLBD) of an import that tells it exactly: what its statement's
    opening balance and booked entries make when not the closing balance (see the module)."""
    stmt = (
        balances.update()
        .where(balances.c.id == sa.bindparam("_id"))
        .values(computed=sa.bindparam("_computed"))
    )
    updates: list[dict[str, Any]] = []
    told = 0
    for chunk in _chunks(_exact_imports(bind), 500):
        ids = [i.id for i in chunk]
        # per import, per statement id: its balance rows (the file's order), its entries'
        # sums by currency, direction and status
        rows: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
        for r in bind.execute(
            sa.select(balances).where(balances.c.import_id.in_(ids)).order_by(balances.c.id)
        ).all():
            rows[r.import_id][r.statement_id].append(r)
        sums: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
        for s in bind.execute(
            sa.select(
                entries.c.import_id, entries.c.statement_id, entries.c.currency,
                entries.c.direction, entries.c.status,
                sa.func.sum(entries.c.amount).label("total"), sa.func.count().label("n"),
            )
            .where(entries.c.import_id.in_(ids))
            .group_by(entries.c.import_id, entries.c.statement_id, entries.c.currency,
                      entries.c.direction, entries.c.status)
        ).all():  # fmt: skip
            sums[s.import_id][s.statement_id].append(s)
        for imp in chunk:
            mine, added = rows[imp.id], sums[imp.id]
            stored = sum(int(s.n) for ss in added.values() for s in ss)
            if stored != imp.entries or len(set(mine) | set(added)) != imp.statements:
                continue  # an entry not stored, or a statement id twice: not exact
            for st, st_rows in mine.items():
                exact, got = _closing(st_rows, added.get(st, []))
                if not exact:
                    continue
                closing = next(r for r in st_rows if r.type == _CLOSING_TYPE)
                told += 1
                if got is None:
                    report.balanced += 1
                else:
                    report.computed += 1
                if closing.computed != got:
                    updates.append({"_id": closing.id, "_computed": got})
    for part in _chunks(updates):
        bind.execute(stmt, list(part))
    every = bind.execute(
        sa.select(sa.func.count()).select_from(balances).where(balances.c.type == _CLOSING_TYPE)
    ).scalar_one()
    report.untold = int(every) - told


def migrate(bind: sa.engine.Connection) -> Report:
    """Both parts (run again, it changes nothing and reports the same rows)."""
    report = Report()
    statuses(bind, report)
    closings(bind, report)
    return report


def upgrade() -> None:
    report = migrate(op.get_bind())
    log.info(
        "migration 0041: %d bank entries' statuses brought to ISO's code (%d keys with them); "
        "%d closing balances computed as not adding up, %d found adding up, %d not computable "
        "from what is stored (left as they were)",
        report.statuses, report.keys, report.computed, report.balanced, report.untold,
    )  # fmt: skip
    if report.clashes:
        log.warning(
            "migration 0041: %d bank entries keep their status as stored, as the key it "
            "gives them is another entry's (see README, Production notes): %s",
            len(report.clashes),
            ", ".join(map(str, report.clashes)),
        )
    if report.digests:
        log.warning(
            "migration 0041: %d bank entries keep their status as stored, as their key is a "
            "digest holding it (see README, Production notes): %s",
            len(report.digests),
            ", ".join(map(str, report.digests)),
        )


def downgrade() -> None:
    pass  # the spellings before are not kept: nothing to put back, and nothing needs it
