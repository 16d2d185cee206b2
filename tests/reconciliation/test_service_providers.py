"""A reconciliation service built without PSPs (``regie reconcile --stripe-csv`` builds none:
the report is the PSP's word): a run given a report is stored as usual; a run that would have
to ask a PSP for its settlement lines is refused, and nothing is stored."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from reconciliation.models import ReconRun
from reconciliation.service import ReconciliationService, ReconConfig, RunRequest
from regie.kit.errors import ApiError
from tests.reconciliation.test_bulk import IBAN, Month


def _request(**kw: Any) -> RunRequest:
    return RunRequest(dt.date(2026, 10, 1), dt.date(2026, 10, 31), "test",
                      as_of=dt.date(2026, 11, 20), **kw)  # fmt: skip


async def _runs(app: Any) -> int:
    async with app.state.db.session() as s:
        return int((await s.execute(select(func.count()).select_from(ReconRun))).scalar_one())


async def test_without_psps_a_run_reads_its_report_and_asks_no_psp(app: Any) -> None:
    svc = ReconciliationService(app.state.db, None, ReconConfig(bank_iban=IBAN))
    run_id = await svc.start_run(_request(stripe_csv=("r.csv", Month(20, 41).csv()),
                                          provider="stripe"))  # fmt: skip
    view = await svc.get_run(run_id)
    assert view.run.provider == "stripe" and view.run.summary["psp_lines"] > 0
    # nothing in the ledger: every payment of the report is missing there
    assert {d.category for d in view.discrepancies} >= {"missing_in_ledger"}
    # a problem with the PSP is the provider's, not the period's
    with pytest.raises(ApiError, match="No PSP named 'stripe' is configured") as unknown:
        await svc.start_run(_request(provider="stripe"))  # no report: a PSP would be asked
    assert (unknown.value.code, unknown.value.param) == ("parameter_invalid", "provider")
    with pytest.raises(ApiError, match="Name the PSP") as unnamed:
        await svc.start_run(_request(stripe_csv=("r.csv", Month(20, 41).csv())))
    assert (unnamed.value.code, unnamed.value.param) == ("parameter_missing", "provider")
    assert await _runs(app) == 1
