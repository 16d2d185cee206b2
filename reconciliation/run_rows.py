"""What a run stores of its result: its tie-outs as its JSON column keeps them, one row a
discrepancy and one a suggestion, as their tables take them (pure: ``repository`` writes
them)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciliation.records import Discrepancy, Side, Suggestion, TieOut
from regie.kit.ids import new_id


def tie_out_row(t: TieOut) -> dict[str, Any]:
    """A tie-out as ``recon_runs.tie_outs`` keeps it. ``unbalanced_statement``: the bank's,
    when the statement whose closing balance is compared does not add up (its id, that
    closing balance, what its opening balance and booked entries make, and the difference,
    closing less computed, as the import's problem words it); else None."""
    unbalanced = None
    if t.unbalanced is not None:
        statement, computed = t.unbalanced
        unbalanced = {
            "statement": statement,
            "closing": t.source,
            "computed": computed,
            "difference": t.source - computed,
        }
    return {
        "name": t.name,
        "currency": t.currency,
        "ledger": t.ledger,
        "source": t.source,
        "in_transit": t.in_transit,
        "difference": t.difference,
        "as_of": t.as_of.isoformat() if t.as_of else None,
        "unbalanced_statement": unbalanced,
    }


def discrepancy_rows(run_id: str, found: Iterable[Discrepancy]) -> list[dict[str, Any]]:
    return [
        {
            "id": new_id("dsc"),
            "run_id": run_id,
            "key": d.key,
            "category": d.category,
            "amount": d.amount,
            "currency": d.currency,
            "psp_reference": d.psp_reference,
            "payout_id": d.payout_id,
            "bank_reference": d.bank_reference,
            "ledger_entry": d.ledger_entry,
            "detail": d.detail[:500],
        }
        for d in found
    ]


def suggestion_rows(
    run_id: str, found: Iterable[Suggestion], read: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Each suggestion with both of its sides item by item (``models.ReconSuggestion``) and
    the id of the decision in force on its key that the run read (``read``: key to id)."""
    return [
        {
            "id": new_id("sug"),
            "run_id": run_id,
            "key": x.key,
            "kind": x.kind,
            "payout_ids": list(x.payout_ids),
            "bank_references": list(x.bank_references),
            "amount": x.amount,
            "currency": x.currency,
            "reason": x.reason,
            "payout_items": [side_item("id", p) for p in x.payouts],
            "bank_items": [side_item("reference", c) for c in x.credits],
            "applied_decision_id": read.get(x.key),
        }
        for x in found
    ]


def side_item(name: str, side: Side) -> dict[str, Any]:
    """A suggestion's payout (``name`` "id") or bank credit ("reference") as its JSON column
    keeps it: amounts in minor units, the day as ISO text."""
    return {name: side.ref, "amount": side.amount, "date": side.day.isoformat()}
