"""The dashboard's count of open discrepancies "across every run" (SQLite and PostgreSQL):
the open ones of the latest run of each period (a later run of a wider period holding it
replaces it), each discrepancy (its stable key) once, not those of the last run alone."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from regie.kit.database import utcnow
from regie.kit.settings import Settings
from tests.conftest import Keys, create_invoice, pay
from tests.finance.conftest import sign_in
from tests.reconciliation.test_reconcile_api import IBAN, camt

OCT = [dt.date(2026, 10, 1), dt.date(2026, 10, 15), dt.date(2026, 10, 20)]
DEC = dt.date(2026, 12, 1)


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


async def open_count(client: httpx.AsyncClient) -> int:
    page = await client.get("/finance/")
    assert page.status_code == 200
    m = re.search(r'<strong class="big-number">(\d+)</strong>', page.text)
    assert m, page.text[:2000]
    return int(m.group(1))


async def run(client: httpx.AsyncClient, keys: Keys, first: dt.date, last: dt.date) -> Any:
    r = await client.post(
        "/v1/reconciliations",
        json={"period_from": first.isoformat(), "period_to": last.isoformat()},
        headers=Keys.h(keys.finance),
    )
    assert r.status_code == 201, r.text
    return r.json()


async def test_the_count_spans_the_latest_run_of_every_period(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    fin = Keys.h(keys.finance)
    days = [*OCT, DEC]
    for n, day in enumerate(days, start=1):  # a credit nobody expects on each day
        data = camt([(f"BNK-{n}", f"{n}.00", "SUBVENTION")], stmt=f"S{n}", seq=n, day=day)
        r = await client.post(
            "/v1/bank-statements", files={"file": (f"{n}.xml", data, "application/xml")},
            headers=fin,
        )  # fmt: skip
        assert r.status_code == 201, r.text
    assert (await sign_in(client, keys.finance)).status_code == 303
    assert await open_count(client) == 0

    october = await run(client, keys, dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert october["summary"]["open"] == 3
    december = await run(client, keys, DEC, DEC)
    assert december["summary"]["open"] == 1
    assert await open_count(client) == 3 + 1  # not the last run's 1
    # a run of one October day finds BNK-1 again: the same discrepancy, counted once
    first_day = await run(client, keys, OCT[0], OCT[0])
    assert first_day["summary"]["open"] == 1
    assert await open_count(client) == 4
    # resolved in one run, it is resolved in every run (a decision holds by its key)
    bnk2 = next(d for d in october["discrepancies"] if d["bank_reference"] == "BNK-2")
    r = await client.post(
        f"/v1/reconciliations/{october['id']}/discrepancies/{bnk2['id']}/resolve",
        json={"note": "Subvention"},
        headers=fin,
    )
    assert r.status_code == 200, r.text
    assert await open_count(client) == 3


async def test_a_later_run_of_the_same_or_a_wider_period_replaces_an_earlier_one(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """A payment whose webhook was lost is missing in the ledger in today's run; once
    healed, a later run of today, or of a period holding today, no longer finds it."""
    lost = await create_invoice(client, keys.etat_civil, amount=4200, reference="EC-1")
    await pay(client, lost)
    async with app.state.db.session() as s:
        await s.execute(text("DELETE FROM webhook_inbox WHERE status = 'pending'"))
        await s.commit()
    assert (await sign_in(client, keys.finance)).status_code == 303
    today = utcnow().date()
    found = await run(client, keys, today, today)
    assert found["summary"]["open"] == 1
    assert await open_count(client) == 1
    r = await client.post(f"/v1/reconciliations/{found['id']}/heal", headers=Keys.h(keys.finance))
    assert r.status_code == 200 and r.json()["events"] >= 1
    assert await open_count(client) == 1  # no run says otherwise yet
    wider = await run(client, keys, today - dt.timedelta(days=1), today)
    assert wider["summary"]["open"] == 0
    assert await open_count(client) == 0
