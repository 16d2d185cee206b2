"""A run's fingerprint and summary (pure): the same inputs give the same checksum.

The checksum is SHA-256 over a text made of parts, in this order: the head (period and
settings), the PSP's side, the ledger items sorted by (kind, ref, entries), the bank lines,
the payouts and the decisions. The PSP's side is the uploaded report's own SHA-256 when it is
a file (``psp_text``: the same bytes, the same checksum, without a line of text each), else
its lines sorted by id; then, from the PSP's port, its lines of the week before the period
(``Inputs.psp_before``; none on a report). The bulk path on PostgreSQL (``reconciliation.bulk``) writes the same
ledger-payment lines from SQL, so both paths give the same checksum for the same inputs.

Since 2 December 2026 a run on an uploaded report hashes the report's bytes; a run stored
before then hashed its lines, so the same report gives another checksum than it did then."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from itertools import chain

from reconciliation.records import Inputs, LedgerItem, PspLine, Result


def checksum(inputs: Inputs) -> str:
    """The same inputs give the same checksum (and the same result)."""
    h = hashlib.sha256(head_text(inputs).encode())
    for text in chain(psp_text(inputs), ledger_text(inputs.ledger_items)):
        h.update(text.encode())
    h.update(tail_text(inputs).encode())
    return h.hexdigest()


def head_text(inputs: Inputs) -> str:
    return f"{inputs.period_from}|{inputs.period_to}|{inputs.as_of}|{inputs.window_days}\n"


def psp_text(inputs: Inputs) -> Iterator[str]:
    """The PSP's side: the uploaded report's SHA-256, or its lines when it is not a file;
    then its lines of the week before the period, when it has them (``Inputs.psp_before``:
    none, and the text is what it was before regie read them)."""
    if inputs.psp_file_sha256 is not None:
        side: Iterator[str] = iter((f"F|{inputs.psp_file_sha256}\n",))
    else:
        side = _lines(inputs.psp_lines)
    return chain(side, _lines(inputs.psp_before, "E"))


def _lines(lines: Iterable[PspLine], tag: str = "P") -> Iterator[str]:
    return (
        f"{tag}|{x.id}|{x.category}|{','.join(x.refs)}|{x.gross}|{x.fee}|{x.net}|{x.currency}|{x.payout_id}{_way(x)}\n"
        for x in sorted(lines, key=lambda x: x.id)
    )


def _way(x: PspLine) -> str:
    """A payout line's way when its sign does not tell it (a negative payout's lines:
    ``PspLine.way``); nothing otherwise, so the checksums of other runs are what they were."""
    return f"|way {x.way}" if x.way and x.way != (1 if x.net > 0 else -1) else ""


def ledger_text(items: Iterable[LedgerItem]) -> Iterator[str]:
    return (
        f"L|{i.kind}|{i.ref}|{i.gross}|{i.fee}|{i.currency}|{','.join(i.entry_ids)}\n"
        for i in sorted(items, key=_ledger_key)
    )


def tail_text(inputs: Inputs) -> str:
    """What follows the ledger: bank lines, payouts (and the lines of theirs asked of the
    PSP), the days the bank's statements cover, decisions."""
    parts = [
        f"B|{b.reference}|{b.amount}|{b.direction}|{b.currency}|{b.booking_date}\n"
        for b in sorted(inputs.bank_lines, key=lambda b: b.reference)
    ]
    parts += [
        f"O|{p.id}|{p.amount}|{p.currency}|{p.arrival_date}\n"
        for p in sorted(inputs.payouts, key=lambda p: p.id)
    ]
    # the lines of its payouts asked of the PSP (none on an uploaded report: the checksums
    # of runs without them are what they were)
    parts += ["K" + text[1:] for text in _lines(inputs.payout_lines)]
    # the days the bank's statements cover (none before 4 December 2026: the checksums of
    # runs without a statement are what they were)
    parts += [f"V|{cur}|{day}\n" for cur, day in sorted(inputs.bank_covered_until.items())]
    parts += [
        f"G|{cur}|{lo}|{hi}\n"
        for cur, spans in sorted(inputs.bank_gaps.items())
        for lo, hi in spans
    ]
    # the statements that do not open on the day before's balance (none before 5 December
    # 2026: the checksums of runs without such a statement are what they were)
    parts += [
        f"X|{cur}|{day}|{before}\n"
        for cur, spans in sorted(inputs.bank_breaks.items())
        for day, before in spans
    ]
    parts += [f"C|{k}\n" for k in sorted(inputs.confirmed)]
    parts += [f"R|{k}\n" for k in sorted(inputs.rejected)]
    return "".join(parts)


def _ledger_key(i: LedgerItem) -> tuple[str, str, tuple[str, ...]]:
    return (i.kind, i.ref, i.entry_ids)


def summary_of(inputs: Inputs, result: Result) -> dict[str, object]:
    cats: dict[tuple[str, str], list[int]] = {}
    for d in result.discrepancies:
        c = cats.setdefault((d.category, d.currency), [0, 0])
        c[0] += 1
        c[1] += d.amount
    settled = inputs.settled
    return {
        "psp_lines": len(inputs.psp_lines) + (settled.psp_lines if settled else 0),
        "ledger_items": len(inputs.ledger_items) + (settled.ledger_items if settled else 0),
        "bank_lines": len(inputs.bank_lines),
        "payouts": len(inputs.payouts),
        "matched_count": result.matched_count,
        "matched_amount": result.matched_amount,
        # payouts, not matches: a credit paying two payouts is two payouts matched
        "payouts_matched": len({p for ps, _ in result.payout_matches for p in ps}),
        "in_transit": list(result.in_transit),
        "discrepancies": len(result.discrepancies),
        "suggestions": len(result.suggestions),
        "categories": [
            {"category": cat, "currency": cur, "count": n, "amount": amt}
            for (cat, cur), (n, amt) in sorted(cats.items())
        ],
    }
