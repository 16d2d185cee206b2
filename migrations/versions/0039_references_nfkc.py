"""invoices: references stored before the NFKC rule brought to it, their text to NFC

Since 05cb223 a reference is stored and compared in NFKC, stripped (a fullwidth "ＡＢＣ" is
"ABC", "é" one code point however it was sent), and an invoice's text (its description, its
lines', the payer's name and address) in NFC, as a refund's reason since c7a6bc0. The rows
stored before kept the form they were sent in: the list's ``reference`` filter, which looks
for the NFKC form, missed them, and a new invoice could take the NFKC form of an old
reference (the unique index on ``(service_id, reference)`` compares stored bytes). Each
stored reference is brought to the form the code stores now, each of those texts to NFC,
read and written a batch at a time. (A cancellation's reason, kept since 9117413, was NFC
from the start; metadata and services have no such rule.)

A clash: two invoices of one service whose references become the same. One invoice holds the
reference in its NFKC form — the one already stored in that form, or else the earliest (ids
are ULIDs: they sort by creation) — so a new invoice with any form of it is refused (409),
as the API refuses the second of two since the rule. The others keep their reference as it
was stored, nothing is merged or deleted, and their ids (no reference, no name) are logged
in a warning; README's production notes say what an operator does with them. A form that
would not fit its column (NFKC and NFC can lengthen a text) is left as it was and logged
the same way.

No state change is stored: a form of the same reference (the code's own rule says so) and
the same text is not a change of the invoice, like the NUL characters of 0016; receipts and
credit notes keep the form they were issued with (their frozen snapshot), and the ledger is
append-only and not touched. The downgrade changes nothing back: the forms before are not
kept.

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-05 16:30:00.000000
"""

import logging
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.exc import IntegrityError

revision = "0039"
down_revision = "0038"
branch_labels = None
depends_on = None

log = logging.getLogger("migrations.0039")

BATCH = 2000  # rows read, and rows written, at a time
REFERENCE_LENGTH = 100
# the text columns the code stores in NFC, and the length each holds
INVOICE_TEXT = {"description": 500, "payer_name": 200, "payer_address": 500}
LINE_TEXT = {"description": 500}
REFUND_TEXT = {"reason": 500}

invoices = sa.table(
    "invoices",
    sa.column("id", sa.String),
    sa.column("service_id", sa.String),
    sa.column("reference", sa.String),
    *(sa.column(name, sa.String) for name in INVOICE_TEXT),
)
lines = sa.table(
    "invoice_lines",
    sa.column("id", sa.String),
    sa.column("invoice_id", sa.String),
    *(sa.column(name, sa.String) for name in LINE_TEXT),
)
refunds = sa.table(
    "refunds",
    sa.column("id", sa.String),
    *(sa.column(name, sa.String) for name in REFUND_TEXT),
)


# The code's rules as they were when this migration was written (payments/schemas.py's
# reference_key, and the NFC of its _readable), copied: a migration must do the same
# whatever the code becomes.
def reference_key(v: str) -> str:
    return unicodedata.normalize("NFKC", v).strip()


def text_form(v: str) -> str:
    return unicodedata.normalize("NFC", v)


@dataclass
class Report:
    references: int = 0  # invoices whose reference was brought to NFKC
    texts: int = 0  # invoices, lines and refunds whose text was brought to NFC
    clashes: list[str] = field(default_factory=list)  # invoice ids kept as they were
    too_long: list[str] = field(default_factory=list)  # invoice, line or refund ids kept too


def _chunks(rows: Sequence[Any], size: int = 0) -> Iterator[Sequence[Any]]:
    size = size or BATCH
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def _scan(bind: sa.engine.Connection, table: sa.TableClause, names: Sequence[str]) -> Iterator[Any]:
    """Every row of ``table`` (its id, then ``names``), read ``BATCH`` at a time in the
    order of its primary key (no offset: each batch starts after the last id read)."""
    after = ""
    while True:
        rows = bind.execute(
            sa.select(table.c.id, *(table.c[n] for n in names))
            .where(table.c.id > after)
            .order_by(table.c.id)
            .limit(BATCH)
        ).all()
        yield from rows
        if len(rows) < BATCH:
            return
        after = rows[-1].id


def _texts(
    bind: sa.engine.Connection,
    table: sa.TableClause,
    columns: dict[str, int],
    report: Report,
    each: Callable[[Any], None] | None = None,
    read: Sequence[str] = (),
) -> None:
    """Each text column of ``table`` in NFC; a value NFC would make too long stays. Each row
    read (its id, ``read`` and the text columns) is also given to ``each``."""
    names = list(columns)
    stmt = (
        table.update()
        .where(table.c.id == sa.bindparam("_id"))
        .values({n: sa.bindparam(f"_{n}") for n in names})
    )
    pending: list[dict[str, Any]] = []
    for row in _scan(bind, table, [*read, *names]):
        if each is not None:
            each(row)
        values = {}
        for n in names:
            old = getattr(row, n)
            new = text_form(old) if old is not None else None
            if new is not None and new != old and len(new) > columns[n]:
                report.too_long.append(row.id)
                new = old
            values[f"_{n}"] = new
        if any(values[f"_{n}"] != getattr(row, n) for n in names):
            pending.append({"_id": row.id, **values})
        if len(pending) >= BATCH:
            bind.execute(stmt, pending)
            report.texts += len(pending)
            pending = []
    if pending:
        bind.execute(stmt, pending)
        report.texts += len(pending)


def _held(bind: sa.engine.Connection, service_id: str, keys: list[str]) -> set[str]:
    """Which of ``keys`` an invoice of the service already holds as its reference."""
    held: set[str] = set()
    for chunk in _chunks(keys, 500):
        held.update(
            bind.execute(
                sa.select(invoices.c.reference).where(
                    invoices.c.service_id == service_id,
                    invoices.c.reference.in_(list(chunk)),
                )
            ).scalars()
        )
    return held


def _references(
    bind: sa.engine.Connection, groups: dict[tuple[str, str], list[str]], report: Report
) -> None:
    """Give each group's reference form (``groups``: by service and form, the invoices
    whose reference is not in it) to one invoice, if none holds it already."""
    by_service: dict[str, list[str]] = defaultdict(list)
    for service_id, key in groups:
        by_service[service_id].append(key)
    moves: list[dict[str, str]] = []
    for service_id, keys in by_service.items():
        held = _held(bind, service_id, keys)
        for key in keys:
            ids = sorted(groups[(service_id, key)])  # ULIDs: the earliest first
            if not key or len(key) > REFERENCE_LENGTH:
                report.too_long.extend(ids)
            elif key in held:  # an invoice holds it already
                report.clashes.extend(ids)
            else:  # the earliest takes it, the others clash with it
                moves.append({"_id": ids[0], "_reference": key})
                report.clashes.extend(ids[1:])
    _move(bind, moves, report)


def _move(bind: sa.engine.Connection, moves: list[dict[str, str]], report: Report) -> None:
    """Give each invoice its reference's NFKC form. No form given is held by another invoice
    (checked above) nor given twice, so on SQLite (one writer) no update can clash. On
    PostgreSQL an older regie still running while the upgrade runs may create an invoice
    with that form meanwhile: each batch runs in a savepoint and, if one of its rows clashes,
    its rows are given one by one, a row that clashes then keeping its reference."""
    stmt = (
        invoices.update()
        .where(invoices.c.id == sa.bindparam("_id"))
        .values(reference=sa.bindparam("_reference"))
    )
    if bind.dialect.name != "postgresql":
        for chunk in _chunks(moves):
            bind.execute(stmt, list(chunk))
        report.references += len(moves)
        return
    for chunk in _chunks(moves):
        try:
            with bind.begin_nested():
                bind.execute(stmt, list(chunk))
            report.references += len(chunk)
            continue
        except IntegrityError:
            pass
        for move in chunk:
            try:
                with bind.begin_nested():
                    bind.execute(stmt, move)
                report.references += 1
            except IntegrityError:
                report.clashes.append(move["_id"])


def normalise(bind: sa.engine.Connection) -> Report:
    """Bring every stored reference to NFKC and the text of invoices, their lines and
    refunds to NFC (run again, it changes nothing and reports the same rows)."""
    report = Report()
    # the invoices whose reference is not in the form the code stores, by service and form
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)

    def collect(row: Any) -> None:
        key = reference_key(row.reference)
        if key != row.reference:
            groups[(row.service_id, key)].append(row.id)

    _texts(bind, invoices, INVOICE_TEXT, report, collect, ("service_id", "reference"))
    _texts(bind, lines, LINE_TEXT, report)
    _texts(bind, refunds, REFUND_TEXT, report)
    _references(bind, groups, report)
    report.clashes.sort()
    report.too_long = sorted(set(report.too_long))
    return report


def upgrade() -> None:
    report = normalise(op.get_bind())
    log.info(
        "migration 0039: %d references brought to NFKC, the text of %d invoices, lines or refunds "
        "to NFC",
        report.references,
        report.texts,
    )
    if report.clashes:
        log.warning(
            "migration 0039: %d invoices keep their reference as it was stored, as another "
            "invoice of their service holds its NFKC form (see README, Production notes): %s",
            len(report.clashes),
            ", ".join(report.clashes),
        )
    if report.too_long:
        log.warning(
            "migration 0039: %d invoices, lines or refunds keep a reference or a text as it was "
            "stored, as its normal form is longer than its column holds: %s",
            len(report.too_long),
            ", ".join(report.too_long),
        )


def downgrade() -> None:
    pass  # the forms before are not kept: nothing to put back, and nothing needs it
