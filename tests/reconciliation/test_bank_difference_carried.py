"""A bank difference found in one month is in every later month's bank tie-out (balances are
cumulative: a grant credited in October and never booked in regie leaves the bank 1,500.00
€ above the ledger in November, December, …), where no discrepancy explains it: the later
run's tie-out now points to the run of the month it first appeared in, whose discrepancy
(and its resolution) says what it is. The month-end review found November's tie-out
differing with nothing to say where from."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from reconciliation.report import summary_lines
from reconciliation.schemas import RunOut
from tests.conftest import Keys
from tests.finance.conftest import sign_in
from tests.reconciliation.camt_builder import E, S, camt
from tests.reconciliation.months import UTC, found, run
from tests.reconciliation.test_statement_bookings import IBAN
from tests.test_year_boundaries import Clock

GRANT = 150_000


def _month(seq: int, day: str, opening: str, entries: list[E]) -> bytes:
    closing = f"{(float(opening) * 100 + sum(float(e.amount) * 100 for e in entries)) / 100:.2f}"
    return camt(
        S(id=f"S{seq}", seq=seq, iban=IBAN, opening=(opening, "CRDT"), closing=(closing, "CRDT"),
          entries=entries, day=day),
        msg_id=f"MSG-{seq}",
    )  # fmt: skip


def _bank(doc: dict[str, Any]) -> dict[str, Any]:
    (bank,) = [t for t in doc["tie_outs"] if t["name"] == "bank"]
    return bank  # type: ignore[no-any-return]


async def test_a_bank_difference_carried_from_an_earlier_month_points_to_it(
    app: Any, client: httpx.AsyncClient, keys: Keys, clock: Clock
) -> None:
    clock.set(dt.datetime(2027, 1, 10, 12, tzinfo=UTC))
    grant = E("1500.00", servicer_ref="GRANT-1", day="2026-10-02", text="SUBVENTION PREFECTURE")
    months = [
        (dt.date(2026, 10, 1), dt.date(2026, 10, 31), _month(1, "2026-10-02", "0.00", [grant])),
        (dt.date(2026, 11, 1), dt.date(2026, 11, 30), _month(2, "2026-11-02", "1500.00", [])),
        (dt.date(2026, 12, 1), dt.date(2026, 12, 31), _month(3, "2026-12-01", "1500.00", [])),
    ]
    docs = []
    for first, last, content in months:
        files = {"camt053": (f"{first:%Y-%m}.xml", content, "application/xml")}
        docs.append(await run(client, keys, first, last, files))
    october, november, december = docs
    # October: the grant is a discrepancy, and the tie-out's difference is October's own
    assert ("unexpected_bank_credit", GRANT, None) in found(october)
    assert _bank(october)["difference"] == GRANT
    assert _bank(october)["carried_from"] is None
    # November and December: no discrepancy, the same difference, from October's run
    ref = {"run_id": october["id"], "period_from": "2026-10-01", "period_to": "2026-10-31"}
    for later in (november, december):
        assert found(later) == []
        assert _bank(later)["difference"] == GRANT
        assert _bank(later)["carried_from"] == ref
    again = await client.get(f"/v1/reconciliations/{december['id']}", headers=Keys.h(keys.finance))
    assert _bank(again.json())["carried_from"] == ref
    told = RunOut.model_validate(again.json())
    (line,) = [x for x in summary_lines(told) if "tie-out bank" in x]
    assert f"since the run of 1 October 2026 to 31 October 2026 ({october['id']})" in line, line
    assert (await sign_in(client, keys.finance)).status_code == 303
    page = (await client.get(f"/finance/runs/{december['id']}?lang=en")).text
    assert f"/finance/runs/{october['id']}" in page
