"""Consistency findings on camt.053 statements. They are reported, never raised: the file
was read, and a finance officer decides what a gap or a mismatch means."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from .camt053_model import CREDIT, Statement
from .errors import SourceError
from .messages import Message, msg
from .values import money_text


def file_problems(statements: Sequence[Statement]) -> list[str]:
    """Every finding of one file, statement by statement in file order, then sequence gaps
    between successive statements of the same account (and currency)."""
    problems: list[str] = []
    for st in statements:
        problems += currency_problems(st) + batch_problems(st)
    for st in _paged(statements):
        problems += balance_problems(st) + shared_references(st)
    by_account: dict[tuple[str | None, str | None], list[Statement]] = {}
    for st in statements:
        by_account.setdefault((st.account, st.currency), []).append(st)
    for group in by_account.values():
        problems += sequence_gaps(None, group)
    return problems


def _paged(statements: Sequence[Statement]) -> list[Statement]:
    """Successive pages of one statement (the same id and electronic sequence number, as
    ``StmtPgntn`` splits it) as one: the first page opens, the last one closes. A statement
    that already closed (it has its closing balance) takes no more pages: the next one with
    its id is another statement (banks reuse one id every day, without a sequence number),
    checked on its own (a review found two such days merged: two balanced days reported off,
    and a day off hidden)."""
    out: list[Statement] = []
    for st in statements:
        last = out[-1] if out else None
        if last is not None and next_page(last, st):
            out[-1] = replace(
                last, balances=last.balances + st.balances, entries=last.entries + st.entries
            )
        else:
            out.append(st)
    return out


def next_page(last: Statement, st: Statement) -> bool:
    """Whether ``st`` is the next page of ``last``, the statement just before it in its
    file: the same id and electronic sequence number, ``last`` not closed yet."""
    return last.closing is None and (last.id, last.electronic_sequence) == (
        st.id,
        st.electronic_sequence,
    )


def shared_references(st: Statement) -> list[str]:
    """Entries of one statement (its pages together) under one account servicer's
    reference (``AcctSvcrRef``) and status: separate entries, each counted by the
    statement's balances, so each is imported (``statement_keys``); said, since a reference
    is meant to name one entry."""
    lines: dict[tuple[str, str], list[int]] = {}
    for e in st.entries:
        if e.account_servicer_reference:
            lines.setdefault((e.account_servicer_reference, e.status), []).append(e.line)
    return [
        f"statement {st.id}: {len(at)} entries carry the bank reference {ref} "
        f"(lines {', '.join(map(str, at))}): each is kept as an entry of its own"
        for (ref, _), at in lines.items()
        if len(at) > 1
    ]


def currency_problems(st: Statement) -> list[str]:
    """Balances and entries in another currency than the account's."""
    if st.currency is None:
        return []
    found = [
        f"statement {st.id}: the {b.type} balance (line {b.line}) is in {b.currency}, "
        f"the account in {st.currency}"
        for b in st.balances
        if b.currency != st.currency
    ]
    found += [
        f"statement {st.id}: the entry at line {e.line} is in {e.currency}, "
        f"the account in {st.currency}"
        for e in st.entries
        if e.currency != st.currency
    ]
    return found


def batch_problems(st: Statement) -> list[str]:
    """Entries whose transactions (``NtryDtls/TxDtls``) do not add up to the entry: each
    transaction counted in its own direction (``CdtDbtInd``; the entry's when it gives
    none), so a return inside a batch credit counts against it. Only where every
    transaction gives its amount as booked (``TxDtls/Amt``, ``AmtDtls/TxAmt``) in the
    entry's currency: one in another currency, one without an amount, or one given only
    as instructed (``AmtDtls/InstdAmt``: before the bank's charges or a conversion) leaves
    nothing to compare."""
    found: list[str] = []
    for e in st.entries:
        if not e.details or any(
            d.amount is None or d.currency != e.currency or d.instructed for d in e.details
        ):
            continue
        total = sum(
            (d.amount or 0) if (d.direction or e.direction) == e.direction else -(d.amount or 0)
            for d in e.details
        )
        if total == e.amount:
            continue
        kind = "credit" if e.direction == CREDIT else "debit"
        found.append(
            f"statement {st.id}: the entry at line {e.line} is a {kind} of "
            f"{money_text(e.amount, e.currency)}, but its transactions (TxDtls) add up to "
            f"{money_text(total, e.currency)} (a difference of "
            f"{money_text(e.amount - total, e.currency)})"
        )
    return found


def balance_problems(st: Statement) -> list[str]:
    """Opening balance + booked entries (credits +, debits −) must equal the closing one."""
    opening, closing = st.opening, st.closing
    missing = [
        name
        for name, bal in (("opening (OPBD or PRCD)", opening), ("closing (CLBD)", closing))
        if bal is None
    ]
    if missing:
        return [
            f"statement {st.id} has no {' and no '.join(missing)} balance: "
            "its entries cannot be checked against its balances"
        ]
    assert opening is not None and closing is not None
    booked = [e for e in st.entries if e.booked]
    currencies = {opening.currency, closing.currency} | {e.currency for e in booked}
    if len(currencies) > 1:
        return [
            f"statement {st.id}: its opening and closing balances and booked entries mix "
            f"{', '.join(sorted(currencies))}, so they cannot be added up"
        ]
    code = opening.currency
    total = sum(e.signed_amount for e in booked)
    expected = computed_closing(st)
    if expected is None:
        return []
    return [
        f"statement {st.id}: opening balance {money_text(opening.amount, code)} "
        f"+ booked entries {money_text(total, code)} = {money_text(expected, code)}, "
        f"but the closing balance is {money_text(closing.amount, code)} "
        f"(a difference of {money_text(closing.amount - expected, code)})"
    ]


def computed_closing(st: Statement) -> int | None:
    """Opening balance + booked entries (credits +, debits −) of a statement (its pages
    together) when that is not its closing balance; None when it is, or when it cannot be
    told (no opening or closing balance, or several currencies)."""
    opening, closing = st.opening, st.closing
    if opening is None or closing is None:
        return None
    booked = [e for e in st.entries if e.booked]
    if {opening.currency, closing.currency} | {e.currency for e in booked} != {opening.currency}:
        return None
    expected = opening.amount + sum(e.signed_amount for e in booked)
    return None if expected == closing.amount else expected


def unbalanced_closings(statements: Sequence[Statement]) -> dict[int, int]:
    """Per closing balance (CLBD, by its line) of a statement (its pages together) whose
    entries do not add up to it, what they add up to (``computed_closing``): the import
    keeps it beside that balance, and the bank tie-out comparing it says so."""
    out: dict[int, int] = {}
    for st in _paged(statements):
        expected = computed_closing(st)
        if expected is not None and st.closing is not None:
            out[st.closing.line] = expected
    return out


def sequence_gaps(previous_last_seq: int | None, statements: Iterable[Statement]) -> list[str]:
    """Gaps in the electronic sequence numbers of successive statements of ONE account.

    ``previous_last_seq`` is the last number already seen for that account (from an earlier
    file), or None. Statements without a number are skipped, and so is a further page of
    the statement just before (the same id and number: pages share their statement's
    number). Each statement's number must be the previous one plus 1; a missing range, a
    repeat or a step back is reported.
    """
    found: list[str] = []
    previous = previous_last_seq
    previous_id: str | None = None
    for st in statements:
        seq = st.electronic_sequence
        if seq is None:
            continue
        if seq == previous and st.id == previous_id:
            continue  # the next page of the same statement
        previous_id = st.id
        if previous is not None and seq != previous + 1:
            if seq > previous + 1:
                missing = (
                    f"{previous + 1}" if seq == previous + 2 else f"{previous + 1} to {seq - 1}"
                )
                found.append(
                    f"statement {st.id}: electronic sequence number {seq} follows {previous}: "
                    f"{missing} missing"
                )
            else:
                found.append(
                    f"statement {st.id}: electronic sequence number {seq} does not follow "
                    f"{previous} (repeated or out of order)"
                )
        previous = seq
    return found


BOOKED_BALANCES = ("OPBD", "PRCD", "CLBD")


def refuse_foreign_currency(filename: str, statements: Sequence[Statement]) -> None:
    """Raise ``SourceError`` at the first booked balance (``OPBD``, ``PRCD``, ``CLBD``) or
    entry in another currency than its statement's account.

    An account has one currency: a balance in another one cannot be the account's (stored,
    it made a tie-out of its own and hid the account's closing balance). The account's
    currency is ``Acct/Ccy``, else that of the statement's first booked balance or entry.
    ``regie bank-statement show`` and the import both refuse such a file."""
    for st in statements:
        items: list[tuple[Message, str, int]] = [
            (msg("where_balance", kind=b.type), b.currency, b.line)
            for b in st.balances
            if b.type in BOOKED_BALANCES
        ]
        entry = msg("where_entry")
        items += [(entry, e.currency, e.line) for e in st.entries]
        account = st.currency or next((cur for _, cur, _ in items), None)
        for what, cur, line in items:
            if cur != account:
                raise SourceError(
                    filename,
                    line,
                    msg("foreign_currency", statement=st.id, what=what, found=cur, account=account),
                )
