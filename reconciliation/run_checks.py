"""What a run checks before it reads or stores anything: its period (``period_invalid``, or
``parameter_invalid`` for a day outside the range regie computes with), and that an uploaded
report and the statements given are the period's; and the run's stamp, made then (its id and
time: a run is dated before it reads its inputs)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reconciliation.ledger_copy import GRACE
from reconciliation.period import out_of_range_words
from reconciliation.records import Payout
from reconciliation.sources.errors import SourceError
from reconciliation.sources.messages import Message, msg
from regie.kit.errors import ApiError
from regie.kit.ids import new_id

if TYPE_CHECKING:
    from reconciliation.service import RunRequest
    from reconciliation.sources.camt053_model import BankStatementFile


class CheckError(ApiError):
    """A 422 whose message (the API's English) is ``words``, which the finance workspace
    says in the page's language."""

    def __init__(self, code: str, words: Message, param: str) -> None:
        super().__init__(422, code, words.text(), param=param)
        self.words = words


class PeriodError(CheckError):
    def __init__(self, words: Message, param: str = "period_from") -> None:
        super().__init__("period_invalid", words, param)


@dataclass(frozen=True)
class RunStamp:
    """A run's id and time, made before it reads anything, and its as-of day. Runs of a
    period are ordered by them, so the latest is the one that read the latest inputs (made
    as it stored, a slow run that read the bank before an import stood for the period over
    a later run that read the import)."""

    run_id: str
    at: dt.datetime
    as_of: dt.date


def start_run_stamp(req: RunRequest, now: dt.datetime) -> RunStamp:
    """The run's period checked (``check_period``), then its stamp."""
    check_period(req, now.date())
    return RunStamp(new_id("run"), now, req.as_of or now.date())


def check_period(req: RunRequest, today: dt.date) -> None:
    """The period's days in the range regie computes with (``period.out_of_range``:
    ``parameter_invalid``), then the period itself (``period_invalid``)."""
    wrong = out_of_range_words(req.period_from, req.period_to, req.as_of)
    if wrong is not None:
        words: Message = wrong[1]
        raise CheckError("parameter_invalid", words, wrong[0])
    if req.period_from > req.period_to:
        raise PeriodError(msg("period_backwards"), "period_to")
    if req.period_from > today:
        raise PeriodError(msg("period_future"))
    if (req.period_to - req.period_from).days > 366:
        raise PeriodError(msg("period_too_long"), "period_to")
    if req.as_of is not None and req.as_of < req.period_from:
        raise PeriodError(msg("as_of_before_period"), "as_of")


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
        msg(
            "report_other_period",
            earliest=earliest.date(),
            latest=latest.date(),
            first=first,
            last=last,
        ),
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
        if not days:
            raise SourceError(
                f.filename, line, msg("statement_other_period_empty", first=first, last=last)
            )
        raise SourceError(
            f.filename,
            line,
            msg(
                "statement_other_period",
                earliest=min(days),
                latest=max(days),
                first=first,
                last=last,
            ),
        )
