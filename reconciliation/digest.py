"""A run's fingerprint and summary (pure): the same inputs give the same checksum."""

from __future__ import annotations

import hashlib

from reconciliation.records import Inputs, LedgerItem, Result


def checksum(inputs: Inputs) -> str:
    """The same inputs give the same checksum (and the same result)."""
    h = hashlib.sha256()
    h.update(
        f"{inputs.period_from}|{inputs.period_to}|{inputs.as_of}|{inputs.window_days}\n".encode()
    )
    for x in sorted(inputs.psp_lines, key=lambda x: x.id):
        h.update(
            f"P|{x.id}|{x.category}|{','.join(x.refs)}|{x.gross}|{x.fee}|{x.net}|{x.currency}|{x.payout_id}\n".encode()
        )
    for i in sorted(inputs.ledger_items, key=_ledger_key):
        h.update(
            f"L|{i.kind}|{i.ref}|{i.gross}|{i.fee}|{i.currency}|{','.join(i.entry_ids)}\n".encode()
        )
    for b in sorted(inputs.bank_lines, key=lambda b: b.reference):
        h.update(
            f"B|{b.reference}|{b.amount}|{b.direction}|{b.currency}|{b.booking_date}\n".encode()
        )
    for p in sorted(inputs.payouts, key=lambda p: p.id):
        h.update(f"O|{p.id}|{p.amount}|{p.currency}|{p.arrival_date}\n".encode())
    for k in sorted(inputs.confirmed):
        h.update(f"C|{k}\n".encode())
    for k in sorted(inputs.rejected):
        h.update(f"R|{k}\n".encode())
    return h.hexdigest()


def _ledger_key(i: LedgerItem) -> tuple[str, str, tuple[str, ...]]:
    return (i.kind, i.ref, i.entry_ids)


def summary_of(inputs: Inputs, result: Result) -> dict[str, object]:
    cats: dict[tuple[str, str], list[int]] = {}
    for d in result.discrepancies:
        c = cats.setdefault((d.category, d.currency), [0, 0])
        c[0] += 1
        c[1] += d.amount
    return {
        "psp_lines": len(inputs.psp_lines),
        "ledger_items": len(inputs.ledger_items),
        "bank_lines": len(inputs.bank_lines),
        "payouts": len(inputs.payouts),
        "matched_count": result.matched_count,
        "matched_amount": result.matched_amount,
        "payouts_matched": len(result.payout_matches),
        "in_transit": list(result.in_transit),
        "discrepancies": len(result.discrepancies),
        "suggestions": len(result.suggestions),
        "categories": [
            {"category": cat, "currency": cur, "count": n, "amount": amt}
            for (cat, cur), (n, amt) in sorted(cats.items())
        ],
    }
