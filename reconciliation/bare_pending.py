"""Pending entries stored under their bare reference, met again by an import.

Imports before keys held an entry's status stored a pending entry under its bank reference
alone (``ASR-1``, status PDNG); it is ``ASR-1#PDNG`` now (``statement_keys.with_status``).
Such an entry moves to its pending key when a file books it (``ASR-1`` is then the booked
entry's) or lists it pending again (it is that entry, not another). Its pending key may be
taken already: by the same entry, stored again by an import that did not know the bare one,
or by an entry that differs. Either way the bare row moves to the next free numbered key
(``ASR-1#PDNG#2``) and the import says so in its problems: no row the bank sent is ever
deleted (an import's count of its entries stays true), and a pending entry counts in no
run, so two rows of one pending entry count nothing twice. A review found the move
unchecked: a unique-constraint error, on every retry of the booking's import.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from reconciliation import bank_repository as bank_repo
from reconciliation.sources.camt053_model import BOOKED, Statement
from reconciliation.statement_keys import nth, with_status

# what ``bank_repository.existing_references`` says of a stored entry: amount, direction,
# currency, status, booking day
Known = dict[str, tuple[int, str, str, str, dt.date]]


def bare_references(statements: Sequence[Statement]) -> list[str]:
    """The bare references to look up beside the file's keys: its pending entries'."""
    return [
        e.account_servicer_reference
        for st in statements
        for e in st.entries
        if e.account_servicer_reference and not e.booked
    ]


def moves(statements: Sequence[Statement], keys: Sequence[str], known: Known) -> dict[str, str]:
    """The bare keys to move, each to its pending key (pure): a booked entry of the file whose
    key is stored as not booked; a pending entry of the file whose key is not stored but its
    bare reference is, with the same status, amount, direction and currency."""
    found: dict[str, str] = {}
    i = 0
    for st in statements:
        for e in st.entries:
            key = keys[i]
            i += 1
            stored = known.get(key)
            if e.booked and stored is not None and stored[3] != BOOKED:
                found[key] = with_status(key, stored[3])
                continue
            bare = e.account_servicer_reference
            if e.booked or not bare or key in known or key != with_status(bare, e.status):
                continue
            former = known.get(bare)
            if former is not None and tuple(former[:4]) == (
                e.amount, e.direction, e.currency, e.status
            ):  # fmt: skip
                found.setdefault(bare, key)
    return found


def problem(bare: str, key: str, kept: str, same: bool) -> str:
    if same:
        return (
            f"entry {bare}, stored pending under its bare reference by an earlier import, was "
            f"stored again as {key} since: both rows are kept, the first as {kept} (a pending "
            f"entry counts in no run)"
        )
    return (
        f"entry {bare}, stored pending under its bare reference by an earlier import, is "
        f"not the same as entry {key} stored since (another amount, day or text): both are "
        f"kept, the first as {kept}"
    )


async def settle(
    s: AsyncSession,
    account: str,
    statements: Sequence[Statement],
    keys: Sequence[str],
    known: Known,
) -> list[str]:
    """Moves the bare pending entries the file meets (``moves``), ``known`` updated to what
    is stored then; the problems to report."""
    todo = moves(statements, keys, known)
    if not todo:
        return []
    known.update(await bank_repo.existing_references(s, account, list(todo.values())))
    problems: list[str] = []
    for bare, key in todo.items():
        if key not in known:
            await bank_repo.rekey_entry(s, account, bare, key)
            known[key] = known.pop(bare)
            continue
        rows = await bank_repo.entry_contents(s, account, [bare, key])
        n = 2
        while True:
            free = nth(key, n)
            if free not in known and not await bank_repo.existing_references(s, account, [free]):
                break
            n += 1
        await bank_repo.rekey_entry(s, account, bare, free)
        known[free] = known.pop(bare)
        problems.append(problem(bare, key, free, rows.get(bare) == rows.get(key)))
    return problems
