"""Bank statements and runs sent at the same moment, on PostgreSQL: the same file uploaded
several times at once is imported once (the others are told it was already imported),
two files giving one reference different amounts leave one imported and the other refused,
runs given the same file at once store it once, and runs of one period with decisions
among them each succeed and leave one decision in force. Nothing is counted twice, nothing
answers 500. (Overlapping files at once: ``test_statement_bookings``; decisions at once:
``test_decision_races``.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from regie.kit.settings import Settings
from tests.conftest import BASE_URL, Keys
from tests.reconciliation.decision_runs import IBAN, period, run_with_credit
from tests.reconciliation.test_reconcile_api import camt


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


@pytest.fixture
async def raw(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client that gets a 500 as a 500, not as the app's exception."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as c:
        yield c


def upload(client: httpx.AsyncClient, keys: Keys, data: bytes, name: str) -> Any:
    return client.post("/v1/bank-statements", headers=Keys.h(keys.finance),
                       files={"file": (name, data, "application/xml")})  # fmt: skip


async def stored(app: Any) -> tuple[int, int, int]:
    """How many imports, entries and balances are stored."""
    async with app.state.db.session() as s:
        got = [
            int((await s.execute(text(f"SELECT count(*) FROM {table}"))).scalar() or 0)
            for table in ("bank_statement_imports", "bank_entries", "bank_balances")
        ]
    return got[0], got[1], got[2]


@pytest.mark.postgres
async def test_the_same_file_uploaded_four_times_at_once_is_imported_once(
    app: Any, raw: httpx.AsyncClient, keys: Keys
) -> None:
    for round_ in range(5):
        entries = [(f"R{round_}-{n}", f"{n}.00", "VIR") for n in range(1, 30)]
        data = camt(entries, stmt=f"S{round_}", seq=round_ + 1)
        done = await asyncio.gather(*(upload(raw, keys, data, f"f{i}.xml") for i in range(4)))
        assert [r.status_code for r in done] == [201] * 4, [r.text[:200] for r in done]
        assert sorted(r.json()["already_imported"] for r in done) == [False, True, True, True]
        assert len({r.json()["id"] for r in done}) == 1
    # 5 files of 29 entries, an opening and a closing balance each
    assert await stored(app) == (5, 5 * 29, 5 * 2)


@pytest.mark.postgres
async def test_two_files_giving_one_reference_two_amounts_at_once_import_one(
    app: Any, raw: httpx.AsyncClient, keys: Keys
) -> None:
    for round_ in range(4):
        a = camt([(f"X{round_}", "10.00", "A"), (f"Y{round_}", "1.00", "A")], stmt=f"A{round_}")
        b = camt([(f"X{round_}", "11.00", "B"), (f"Z{round_}", "1.00", "B")], stmt=f"B{round_}")
        done = await asyncio.gather(upload(raw, keys, a, "a.xml"), upload(raw, keys, b, "b.xml"))
        assert sorted(r.status_code for r in done) == [201, 422], [r.text[:200] for r in done]
        (refused,) = [r for r in done if r.status_code == 422]
        assert refused.json()["error"]["code"] == "file_invalid"
    assert await stored(app) == (4, 4 * 2, 4 * 2)  # the refused files stored nothing


@pytest.mark.postgres
async def test_runs_given_the_same_file_at_once_store_it_once(
    app: Any, raw: httpx.AsyncClient, keys: Keys
) -> None:
    data = camt([(f"R-{n}", f"{n}.00", "VIR") for n in range(1, 30)])
    done = await asyncio.gather(*(
        raw.post("/v1/reconciliations", data=period(), headers=Keys.h(keys.finance),
                 files=[("camt053", (f"f{i}.xml", data, "application/xml"))])
        for i in range(3)
    ))  # fmt: skip
    assert [r.status_code for r in done] == [201] * 3, [r.text[:200] for r in done]
    assert [r.json()["summary"]["bank_lines"] for r in done] == [29] * 3
    assert await stored(app) == (1, 29, 2)


@pytest.mark.postgres
async def test_runs_of_one_period_and_resolves_at_once_leave_one_resolution_in_force(
    app: Any, raw: httpx.AsyncClient, keys: Keys
) -> None:
    run, did = await run_with_credit(raw, keys)
    fin = Keys.h(keys.finance)
    url = f"/v1/reconciliations/{run['id']}/discrepancies/{did}/resolve"
    assert (await raw.post(url, json={"note": "first"}, headers=fin)).status_code == 200
    for round_ in range(3):
        done = await asyncio.gather(
            raw.post(url, json={"note": f"{round_} a"}, headers=fin),
            raw.post("/v1/reconciliations", json=period(), headers=fin),
            raw.post(url, json={"note": f"{round_} b"}, headers=fin),
            raw.post("/v1/reconciliations", json=period(), headers=fin),
        )
        assert [r.status_code for r in done] == [200, 201, 200, 201], [r.text for r in done]
        for new in (done[1].json(), done[3].json()):  # the resolution holds in the new runs
            assert [d["status"] for d in new["discrepancies"]] == ["resolved"]
    async with app.state.db.session() as s:
        rows = (await s.execute(text("SELECT superseded_by FROM recon_decisions"))).all()
    assert len(rows) == 7 and sum(1 for (nxt,) in rows if nxt is None) == 1
    assert await app.state.reconciliation.open_discrepancies() == 0
    got = await app.state.reconciliation.resolved_amounts([run["id"]])
    assert got == {run["id"]: {"EUR": 12345}}
