"""A Stripe report and the period it is reconciled for: a report of another period is
refused, naming the file; a report that reaches past the period is read against the ledger
over the span it covers, so its payments booked after the period are not missing there.
On both paths (the Python reader and the bulk path)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from reconciliation.service import ReconciliationService, ReconConfig, RunRequest
from reconciliation.sources.errors import SourceError
from tests.reconciliation.test_bulk import IBAN, Month, _book

pytestmark = pytest.mark.postgres


async def _run(app: Any, bulk: bool, m: Month, lo: dt.date, hi: dt.date) -> Any:
    svc = ReconciliationService(
        app.state.db, app.state.reconciliation.providers, ReconConfig(bank_iban=IBAN, bulk=bulk)
    )
    run_id = await svc.start_run(
        RunRequest(
            lo,
            hi,
            "test",
            stripe_csv=("r.csv", m.csv()),
            as_of=dt.date(2026, 11, 20),
            provider="stripe",
        )  # fmt: skip
    )
    view = await svc.get_run(run_id)
    return sorted((d.category, d.amount, d.psp_reference) for d in view.discrepancies)


async def test_a_report_of_another_period_is_refused(app: Any, bulk_calls: list[bool]) -> None:
    """October's report (lines from 1 October, payouts from 9 October) for September."""
    m = Month(40, 5)
    await _book(app, m)
    for bulk in (False, True):
        with pytest.raises(SourceError) as exc:
            await _run(app, bulk, m, dt.date(2026, 9, 1), dt.date(2026, 9, 30))
        assert str(exc.value).startswith("r.csv: ")
        assert "2026-09-01" in str(exc.value) and "another period" in str(exc.value)
    assert bulk_calls == []  # refused before the ledger is matched


async def test_a_report_reaching_past_the_period_is_read_over_its_span(
    app: Any, bulk_calls: list[bool]
) -> None:
    """The report's lines run from 1 to 21 October; the period ends on 2 October. The
    ledger's payments of 10 to 21 October (past the period and its week of grace), and its
    payouts up to 2 November, are there: what is missing in the ledger is what October's
    run finds missing."""
    m = Month(300, 6)
    await _book(app, m)
    lo, hi = dt.date(2026, 9, 20), dt.date(2026, 10, 2)
    pure = await _run(app, False, m, lo, hi)
    bulk = await _run(app, True, m, lo, hi)
    assert bulk_calls == [True]
    assert bulk == pure
    october = await _run(app, False, m, dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    missing = [d for d in october if d[0] == "missing_in_ledger"]
    # the payment planted, the refund the ledger never booked, and the PSP's fee line
    assert len(missing) == 3
    assert [d for d in pure if d[0] == "missing_in_ledger"] == missing
