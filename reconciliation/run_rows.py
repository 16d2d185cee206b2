"""What a run stores of its result: its tie-outs as its JSON column keeps them, one row a
discrepancy and one a suggestion, as their tables take them (pure: ``repository`` writes
them)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
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
        "opening_of": None
        if t.opening_of is None
        else {"statement": t.opening_of[0], "day": t.opening_of[1].isoformat()},
        "carried_from": None
        if t.carried_from is None
        else {
            "run_id": t.carried_from[0],
            "period_from": t.carried_from[1].isoformat(),
            "period_to": t.carried_from[2].isoformat(),
        },
    }


# an earlier run as ``repository.runs_before`` reads it: id, period, tie-outs as stored
EarlierRun = tuple[str, dt.date, dt.date, list[dict[str, Any]]]


def carried_from(
    tie_outs: Sequence[TieOut], period_from: dt.date, earlier: Sequence[EarlierRun]
) -> list[TieOut]:
    """The tie-outs, each bank tie-out that differs pointing to the run its difference
    was carried from (``TieOut.carried_from``): balances are cumulative, so a difference
    the bank's statements and the ledger had at an earlier period's end (a grant never
    booked) is in every later bank tie-out, where no discrepancy explains it. Walking back
    from the period, the latest run of each earlier period (``earlier``: latest first)
    whose bank tie-out in that currency differs by the same amount; the earliest of that
    unbroken chain is where the difference first appeared."""
    out: list[TieOut] = []
    for t in tie_outs:
        found: tuple[str, dt.date, dt.date] | None = None
        if t.name == "bank" and t.difference:
            before = period_from
            for run_id, first, last, ties in earlier:
                if last >= before:
                    continue  # an earlier run of a period overlapping the one just taken
                bank = [x for x in ties if x.get("name") == "bank"
                        and x.get("currency") == t.currency]  # fmt: skip
                if not bank or bank[0].get("difference") != t.difference:
                    break
                found, before = (run_id, first, last), first
        out.append(replace(t, carried_from=found) if found else t)
    return out


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
