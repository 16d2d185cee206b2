"""A payout is expected at the bank on the day the PSP says, not on the UTC day its line was
made: the simulator's payouts arrive on the bank's day (Europe/Paris), so a payout made at
23:30 UTC on 30 November is 1 December's, and a run that dated it 30 November showed it a
day early (and tests that compared the two failed every evening from 23:00 to midnight UTC)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from reconciliation.normalise import from_port, payouts_from_lines
from tests.conftest import Keys
from tests.payments.test_simulator_payouts import paid_invoice, sim
from tests.test_year_boundaries import Clock

LATE = dt.datetime(2026, 11, 30, 23, 30, tzinfo=dt.UTC)  # 00:30 on 1 December in Paris


async def test_a_payout_made_late_in_the_utc_day_is_expected_on_the_banks_day(
    app: Any, client: httpx.AsyncClient, keys: Keys, clock: Clock
) -> None:
    clock.now = LATE
    await paid_invoice(client, app, keys.urbanisme, reference="A", amount=2500)
    (made,) = await sim(app).pay_out()
    assert made.payout.arrival_date == dt.date(2026, 12, 1)
    lines = [
        line
        async for line in sim(app).list_settlement_lines(
            LATE - dt.timedelta(hours=1), LATE + dt.timedelta(hours=1)
        )
    ]
    (own,) = [x for x in lines if x.type == "payout"]
    assert own.created.date() == dt.date(2026, 11, 30)  # its line is the UTC day's
    assert own.arrival_date == dt.date(2026, 12, 1)
    assert {x.arrival_date for x in lines if x.type != "payout"} == {None}
    (payout,) = payouts_from_lines(from_port(x) for x in lines)
    assert (payout.id, payout.arrival_date) == (made.payout.id, dt.date(2026, 12, 1))
    lines = [x async for x in sim(app).list_payout_lines(made.payout.id)]
    assert [x.arrival_date for x in lines if x.type == "payout"] == [dt.date(2026, 12, 1)]
