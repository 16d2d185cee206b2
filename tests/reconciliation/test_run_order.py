"""Runs of one period that overlap in time: the run that stands for the period (the latest,
which the dashboard counts the open discrepancies of) is the one that read its inputs
last, not the one that happened to store its result last. A review found a run that read
the bank before a statement was imported, and stored after a later run that read it: the
earlier reading became the latest run, and the statement's unexpected credit, found by
the later run, was no longer counted open anywhere."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
import pytest

from reconciliation.service import ReconciliationService, ReconConfig, RunRequest
from regie.kit.database import utcnow
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.reconciliation.decision_runs import IBAN, period, upload
from tests.reconciliation.test_carry_over import report
from tests.reconciliation.test_reconcile_api import camt


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


def hold_first_store(monkeypatch: pytest.MonkeyPatch) -> tuple[asyncio.Event, list[int]]:
    """The first run waits, once it has read and matched its inputs, until the event is
    set (a slow run); returns the event and a list that grows as runs come to store."""
    real = ReconciliationService._store
    gate, calls = asyncio.Event(), []

    async def store(self: ReconciliationService, *args: Any) -> str:
        calls.append(1)
        if len(calls) == 1:
            await gate.wait()
        return await real(self, *args)

    monkeypatch.setattr(ReconciliationService, "_store", store)
    return gate, calls


async def test_a_run_that_read_before_an_import_does_not_stand_for_the_period_after_one_that_read_it(
    app: Any, client: httpx.AsyncClient, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    fin = Keys.h(keys.finance)
    await upload(client, keys.finance, camt([("BNK-1", "10.00", "SUBVENTION")], stmt="S1"))
    gate, calls = hold_first_store(monkeypatch)
    slow = asyncio.create_task(client.post("/v1/reconciliations", json=period(), headers=fin))
    while not calls:  # the slow run has read the bank: BNK-1 alone
        await asyncio.sleep(0.01)
    await upload(client, keys.finance, camt([("BNK-2", "20.00", "DON")], stmt="S2", seq=2))
    later = await client.post("/v1/reconciliations", json=period(), headers=fin)
    assert later.status_code == 201, later.text
    found = sorted(d["bank_reference"] for d in later.json()["discrepancies"])
    assert found == ["BNK-1", "BNK-2"]
    assert await app.state.reconciliation.open_discrepancies() == 2
    gate.set()
    earlier = await slow
    assert earlier.status_code == 201, earlier.text
    assert [d["bank_reference"] for d in earlier.json()["discrepancies"]] == ["BNK-1"]
    # the later reading still stands for the period: BNK-2 is still open
    assert await app.state.reconciliation.open_discrepancies() == 2
    runs = (await client.get("/v1/reconciliations", headers=fin)).json()["data"]
    assert [r["id"] for r in runs] == [later.json()["id"], earlier.json()["id"]]


async def test_a_run_is_dated_when_its_ledger_started_to_be_read_before_it_began(
    app: Any,
) -> None:
    """``regie reconcile`` starts PostgreSQL's hand-over of the ledger before the run
    begins (``LedgerPrefetch``): the run is dated then (``RunRequest.started_at``), so
    that what was stored before its time is among its inputs; a time after the service's
    own clock is not taken."""
    svc = ReconciliationService(app.state.db, None, ReconConfig(bank_iban=IBAN, bulk=False))
    now = utcnow()
    for started, dated in ((now - dt.timedelta(seconds=3), now - dt.timedelta(seconds=3)),
                           (now + dt.timedelta(hours=1), None)):  # fmt: skip
        req = RunRequest(dt.date(2026, 10, 1), dt.date(2026, 10, 31), "cli",
                         stripe_csv=("r.csv", report("5.00", "0.32", "4.68")),
                         provider="stripe", started_at=started)  # fmt: skip
        run = await svc.get_run(await svc.start_run(req))
        if dated is not None:
            assert run.run.created_at == dated
        else:
            assert now <= run.run.created_at < started
