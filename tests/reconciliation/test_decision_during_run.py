"""A decision taken on run N while run N+1 is being computed: N+1, stored after it, shows
the discrepancy resolved (a resolution holds by the item's key, read when the run is shown),
and a double click on the form stores two decisions, the later in force (PostgreSQL)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from reconciliation import repository
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.reconciliation.decision_runs import IBAN, period, run_with_credit
from tests.reconciliation.test_decision_races import decisions, one_chain


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


@pytest.mark.postgres
async def test_a_resolution_taken_while_the_next_run_is_computed_holds_in_it(
    app: Any, client: httpx.AsyncClient, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, did = await run_with_credit(client, keys)
    fin = Keys.h(keys.finance)
    read, go_on = asyncio.Event(), asyncio.Event()
    real = repository.current_decisions

    async def paused(s: Any, *args: Any) -> Any:  # the run has read the decisions in force
        found = await real(s, *args)
        read.set()
        await go_on.wait()
        return found

    monkeypatch.setattr(repository, "current_decisions", paused)
    started = asyncio.create_task(client.post("/v1/reconciliations", json=period(), headers=fin))
    await asyncio.wait_for(read.wait(), 30)
    url = f"/v1/reconciliations/{run['id']}/discrepancies/{did}/resolve"
    r = await client.post(url, json={"note": "Subvention, arrêté 2026-114"}, headers=fin)
    assert r.status_code == 200, r.text
    go_on.set()
    later = await started
    assert later.status_code == 201, later.text
    (d,) = [x for x in later.json()["discrepancies"] if x["category"] == "unexpected_bank_credit"]
    assert d["status"] == "resolved" and d["resolution"]["note"] == "Subvention, arrêté 2026-114"


@pytest.mark.postgres
async def test_a_replayed_resolve_with_or_without_an_idempotency_key_supersedes(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    run, did = await run_with_credit(client, keys)
    url = f"/v1/reconciliations/{run['id']}/discrepancies/{did}/resolve"
    plain, keyed = Keys.h(keys.finance), Keys.h(keys.finance, **{"Idempotency-Key": "dbl-1"})
    got = await asyncio.gather(
        *(client.post(url, json={"note": "même note"}, headers=h) for h in (plain, plain, keyed))
    )
    assert [r.status_code for r in got] == [200] * 3
    assert one_chain(await decisions(app)) == ["même note"] * 3
