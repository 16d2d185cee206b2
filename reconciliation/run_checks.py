"""What a run checks before it reads or stores anything: its period (``period_invalid``, or
``parameter_invalid`` for a day outside the range regie computes with), and that an uploaded
report and the statements given are the period's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from reconciliation.ledger_copy import GRACE
from reconciliation.period import out_of_range
from reconciliation.records import Payout
from reconciliation.sources.errors import SourceError
from regie.kit.errors import ApiError

if TYPE_CHECKING:
    from reconciliation.service import RunRequest
    from reconciliation.sources.camt053_model import BankStatementFile


class PeriodError(ApiError):
    def __init__(self, message: str, param: str = "period_from") -> None:
        super().__init__(422, "period_invalid", message, param=param)


def check_period(req: RunRequest, today: dt.date) -> None:
    """The period's days in the range regie computes with (``period.out_of_range``:
    ``parameter_invalid``), then the period itself (``period_invalid``)."""
    wrong = out_of_range(req.period_from, req.period_to, req.as_of)
    if wrong is not None:
        raise ApiError(422, "parameter_invalid", wrong[1], param=wrong[0])
    if req.period_from > req.period_to:
        raise PeriodError("The period ends before it starts.", "period_to")
    if req.period_from > today:
        raise PeriodError("The period is in the future: there is nothing to reconcile yet.")
    if (req.period_to - req.period_from).days > 366:
        raise PeriodError("A period is at most a year.", "period_to")
    if req.as_of is not None and req.as_of < req.period_from:
        raise PeriodError(
            "The day to judge as of is before the period starts: a run judges what is late "
            "as on that day, which must be within the period or after it.",
            "as_of",
        )


def check_report_period(
    name: str,
    count: int,
    payouts: Sequence[Payout],
    earliest: dt.datetime | None,
    covered: Mapping[str, dt.datetime],
    first: dt.date,
    last: dt.date,
) -> None:
    """A report reconciled for a period has a payout arriving in it, or lines created in
    it: any other is the report of another period (its payments would be looked for in the
    wrong month of the ledger, and found missing)."""
    if not count or earliest is None:
        return  # nothing in it: nothing to reconcile, said later
    if any(first <= p.arrival_date <= last for p in payouts):
        return
    latest = max(covered.values())
    if earliest.date() <= last and latest.date() >= first:
        return
    raise SourceError(
        name,
        None,
        f"its lines run from {earliest.date()} to {latest.date()} and none of its "
        f"payouts arrives from {first} to {last}: is it the report of another period?",
    )


def check_statements_period(
    files: Sequence[BankStatementFile], first: dt.date, last: dt.date
) -> None:
    """Each statement file given to a run has a balance or an entry dated in the period (or
    within the week either side the run reads the ledger over): any other is the statement
    of another period, which the run would import and then not use. Checked before anything
    is stored, so a run never stores a file it has nothing to do with."""
    lo, hi = first - GRACE, last + GRACE
    for f in files:
        days = [b.date for st in f.statements for b in st.balances]
        days += [
            day
            for st in f.statements
            for e in st.entries
            if (day := e.booking_date or e.value_date) is not None
        ]
        if any(lo <= day <= hi for day in days):
            continue
        line = f.statements[0].line if f.statements else None
        held = (
            f"its balances and entries are dated from {min(days)} to {max(days)}"
            if days
            else "it holds no balance and no entry"
        )
        raise SourceError(
            f.filename,
            line,
            f"{held}, none from {first} to {last}: is it the statement of another period?",
        )
