"""API shapes of reconciliation. Amounts are integers in minor units, with their currency."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from reconciliation.models import ReconDecision, ReconDiscrepancy, ReconRun, ReconSuggestion

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _day_text(value: object) -> object:
    """A day is the text "YYYY-MM-DD" only: pydantic would read a number as a Unix time
    and a date-time as its day, which no finance officer means by a period's day."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not _DAY.fullmatch(value):
        raise ValueError("a day is a string YYYY-MM-DD")
    return value


Day = Annotated[dt.date, BeforeValidator(_day_text)]
# a period's days are UTC days, the ledger's (the ledger page and the FEC count Paris days)
PERIOD_FROM = "The period's first day, a UTC day (00:30 in Paris on the 1st is the day before)"
PERIOD_TO = "The period's last day (included), a UTC day"


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelled field is refused, never ignored

    period_from: Day = Field(description=PERIOD_FROM)
    period_to: Day = Field(description=PERIOD_TO)
    as_of: Day | None = Field(
        default=None, description="Payouts expected at the bank before this day are due (today)"
    )
    provider: str | None = Field(
        default=None, pattern=r"^[a-z]{1,20}$", description="The PSP (default: REGIE_PSP)"
    )


class Decision(BaseModel):
    action: str
    note: str
    actor: str
    created_at: dt.datetime


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # the limit counts once the white space around the note is stripped, as the workspace's
    # form does (``decisions.MAX_NOTE``: a longer note is a 422 in the one error shape)
    note: str = Field(
        default="",
        description="At most 2,000 characters once the white space around it is stripped.",
    )


class DiscrepancyOut(BaseModel):
    id: str
    category: str
    amount: int
    currency: str
    status: str = Field(description="open | resolved")
    psp_reference: str | None
    payout_id: str | None
    bank_reference: str | None
    ledger_entry: str | None
    detail: str
    resolution: Decision | None = None


class SuggestedPayout(BaseModel):
    id: str
    amount: int = Field(description="the payout's amount, minor units")
    date: dt.date = Field(description="the day the payout was expected at the bank")


class SuggestedCredit(BaseModel):
    reference: str
    amount: int = Field(description="the bank credit's amount, minor units")
    date: dt.date = Field(description="the credit's booking day")


class SuggestionOut(BaseModel):
    id: str
    kind: str
    payout_ids: list[str]
    bank_references: list[str]
    amount: int = Field(description="the bank credits' total, minor units")
    currency: str
    reason: str
    status: str = Field(description="open | confirmed | rejected: the decision in force")
    decision: Decision | None = None
    decided_after_run: bool = Field(
        default=False,
        description="true: the decision in force was taken after this run read the decisions "
        "(while it was computed, or since): the run's matches and discrepancies do not follow "
        "it; it applies from the next run",
    )
    payout_amount: int | None = Field(
        default=None,
        description="the payouts' total, minor units (null: a suggestion stored before "
        "regie kept both sides)",
    )
    difference: int | None = Field(
        default=None, description="amount - payout_amount: what the bank received more"
    )
    payouts: list[SuggestedPayout] | None = None
    bank_credits: list[SuggestedCredit] | None = None


class UnbalancedStatement(BaseModel):
    """The statement whose closing balance a bank tie-out compares, when its opening balance
    and booked entries do not add up to it."""

    statement: str = Field(description="the statement's id (Stmt/Id)")
    closing: int = Field(description="its closing balance (CLBD), the one compared: source")
    computed: int = Field(description="what its opening balance and booked entries make")
    difference: int = Field(description="closing - computed")


class OpeningOf(BaseModel):
    """The later statement whose opening balance a bank tie-out compares, no statement
    closing in the period."""

    statement: str = Field(description="the statement's id (Stmt/Id)")
    day: dt.date = Field(description="the day it closes on (its closing balance's date)")


class CarriedFrom(BaseModel):
    """The earlier run a bank tie-out's difference was carried from."""

    run_id: str
    period_from: dt.date
    period_to: dt.date


class TieOutOut(BaseModel):
    name: str
    currency: str
    ledger: int
    source: int
    in_transit: int = Field(
        default=0,
        description="what the ledger counts in the period that the source dates in another. "
        "The bank's: payouts the ledger booked into the bank by the period's end that the "
        "bank books after it (matched to later credits, or not yet due). The PSP clearing "
        "account's (signed, the cut-off): for the objects both sides agree on, the ledger's "
        "movement of the period less the PSP's lines of the period (one side booked them "
        "before or after the period's edge). difference = source - (ledger - in_transit)",
    )
    difference: int
    as_of: dt.date | None = Field(
        default=None,
        description="the bank's: the day of the closing balance compared, the last on or "
        "before the period's end (earlier when the period's last statements are not in yet; "
        "the period's last day when a later statement's opening balance is: opening_of); "
        "the ledger's balance is read at that day's end. null for the PSP clearing account's "
        "(the period's movement)",
    )
    unbalanced_statement: UnbalancedStatement | None = Field(
        default=None,
        description="the bank's: set when the statement whose closing balance is compared "
        "does not add up (opening balance + booked entries is another amount). The closing "
        "balance the bank states is still the one compared; the tie-out does not agree "
        "silently on it. null otherwise, and for a statement imported before regie kept it",
    )
    carried_from: CarriedFrom | None = Field(
        default=None,
        description="the bank's, when it differs: the run of an earlier period whose bank "
        "tie-out differed by the same amount, the earliest of the unbroken chain of earlier "
        "periods' latest runs that did (balances are cumulative: a difference of an earlier "
        "month stays in every later tie-out, explained by that run's discrepancies). null "
        "otherwise",
    )
    opening_of: OpeningOf | None = Field(
        default=None,
        description="the bank's, when no statement closes in the period (a Saturday, a "
        "Sunday or a TARGET2 closing day such as 25 December: the bank writes none) and the "
        "next statement's opening balance (OPBD or PRCD), dated at or after the period's end "
        "with only days the bank is closed (weekends, TARGET2 closing days) and no booked "
        "entry between, is the balance at the period's end: that statement. source is its "
        "opening balance, as_of the period's last day. null when a closing balance is "
        "compared",
    )


class RunListItem(BaseModel):
    """A run as ``GET /v1/reconciliations`` lists it: without its discrepancies and
    suggestions, which only ``GET /v1/reconciliations/{run_id}`` gives. Its ``summary``
    counts them as the run found them (``discrepancies``, ``suggestions``, ``categories``);
    what decisions settled since (``open``, ``resolved``) is in the run itself."""

    object: str = "reconciliation"
    id: str
    period_from: dt.date
    period_to: dt.date
    as_of: dt.date
    provider: str
    sources: list[dict[str, Any]]
    inputs_sha256: str
    actor: str
    created_at: dt.datetime
    summary: dict[str, Any]
    tie_outs: list[TieOutOut]


class RunOut(RunListItem):
    """A run with its findings: every discrepancy and suggestion, each with its status and
    the decision in force, and ``summary.open`` / ``summary.resolved`` counted now."""

    discrepancies: list[DiscrepancyOut] = []
    suggestions: list[SuggestionOut] = []


class RunList(BaseModel):
    object: str = "list"
    data: list[RunListItem] = Field(
        description="Newest first, without their discrepancies and suggestions: "
        "GET /v1/reconciliations/{run_id} for them"
    )


class BankStatementOut(BaseModel):
    object: str = "bank_statement_import"
    id: str
    filename: str
    sha256: str
    version: str
    message_id: str
    account: str
    currency: str
    statements: int
    entries: int
    duplicates: int = Field(description="Entries already imported from an overlapping file")
    problems: list[str]
    created_at: str | None
    already_imported: bool = False


class CoverageGap(BaseModel):
    from_: str = Field(alias="from", description="The first day no imported statement tells of")
    to: str = Field(description="The last such day")


class CoverageBreak(BaseModel):
    day: str = Field(description="The day of a statement that does not open on the balance...")
    after: str = Field(description="... the statement of this day, the day before it, closed on")


class BankCoverageOut(BaseModel):
    account: str
    currency: str
    first_day: str = Field(description="The first day an imported statement closed on")
    last_day: str = Field(description="The last day an imported statement closed on")
    closing_balance: int = Field(
        description="The closing booked balance (CLBD) of the last day, minor units, signed"
    )
    gaps: list[CoverageGap] = Field(
        description="Days between two statements that do not follow on (the second opens on "
        "another balance than the first closed on): a statement never imported"
    )
    breaks: list[CoverageBreak] = Field(
        default_factory=list,
        description="Statements that do not open on the balance the day before closed on, no "
        "day lying between them: a statement issued again, or one more of that day, never "
        "imported",
    )


class BankStatementList(BaseModel):
    object: str = "list"
    data: list[BankStatementOut]
    coverage: list[BankCoverageOut] = Field(
        default_factory=list,
        description="What every imported statement tells, per account and currency",
    )


STATUS = {"resolve": "resolved", "confirm": "confirmed", "reject": "rejected"}


def decision_out(d: ReconDecision | None) -> Decision | None:
    if d is None:
        return None
    return Decision(action=d.action, note=d.note, actor=d.actor, created_at=d.created_at)


def run_out(
    run: ReconRun,
    discrepancies: list[ReconDiscrepancy] | None = None,
    suggestions: list[ReconSuggestion] | None = None,
    decisions: dict[str, ReconDecision] | None = None,
) -> RunOut:
    decisions = decisions or {}
    dis = [
        DiscrepancyOut(
            id=d.id,
            category=d.category,
            amount=d.amount,
            currency=d.currency,
            status=STATUS[decisions[d.key].action] if d.key in decisions else "open",
            psp_reference=d.psp_reference,
            payout_id=d.payout_id,
            bank_reference=d.bank_reference,
            ledger_entry=d.ledger_entry,
            detail=d.detail,
            resolution=decision_out(decisions.get(d.key)),
        )
        for d in discrepancies or []
    ]
    sug = [_suggestion_out(x, decisions.get(x.key)) for x in suggestions or []]
    summary = dict(run.summary)
    if discrepancies is not None:
        summary["open"] = sum(1 for d in dis if d.status == "open")
        summary["resolved"] = len(dis) - summary["open"]
    return RunOut(
        id=run.id,
        period_from=run.period_from,
        period_to=run.period_to,
        as_of=run.as_of,
        provider=run.provider,
        sources=list(run.sources),
        inputs_sha256=run.inputs_sha256,
        actor=run.actor,
        created_at=run.created_at,
        summary=summary,
        tie_outs=[TieOutOut(**t) for t in run.tie_outs],
        discrepancies=dis,
        suggestions=sug,
    )


def run_list_item(run: ReconRun) -> RunListItem:
    """A run as listed: ``run_out`` without its findings."""
    return RunListItem(**run_out(run).model_dump(exclude={"discrepancies", "suggestions"}))


def _suggestion_out(x: ReconSuggestion, decision: ReconDecision | None) -> SuggestionOut:
    """``decision``: the one in force on its key; ``decided_after_run`` when it is not the one
    the run read (``applied_decision_id``), whose matching it then did not follow."""
    payouts = None if x.payout_items is None else [SuggestedPayout(**p) for p in x.payout_items]
    credits = None if x.bank_items is None else [SuggestedCredit(**c) for c in x.bank_items]
    paid = None if payouts is None else sum(p.amount for p in payouts)
    return SuggestionOut(
        id=x.id,
        kind=x.kind,
        payout_ids=list(x.payout_ids),
        bank_references=list(x.bank_references),
        amount=x.amount,
        currency=x.currency,
        reason=x.reason,
        status=STATUS[decision.action] if decision else "open",
        decision=decision_out(decision),
        decided_after_run=decision is not None and decision.id != x.applied_decision_id,
        payout_amount=paid,
        difference=None if paid is None else x.amount - paid,
        payouts=payouts,
        bank_credits=credits,
    )
