"""The simulator's automatic payout, like Stripe's, is made on bank days only (TARGET2's,
the Paris day): nothing is paid out on a Saturday, a Sunday or 25-26 December; the first
bank day after pays out all that waited. ``regie simulator payout`` (an operator asking
now) pays out whatever the day."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from tests.conftest import Keys
from tests.payments.test_simulator_payouts import paid_invoice, sim
from tests.test_year_boundaries import Clock, clock  # noqa: F401  (regie's clock stood still)

UTC = dt.UTC


def paris_tick(day: dt.date) -> dt.datetime:
    """The worker's first tick of ``day`` in Paris (00:05, UTC+1 in winter)."""
    return dt.datetime(day.year, day.month, day.day, 0, 5, tzinfo=UTC) - dt.timedelta(hours=1)


async def test_the_daily_payout_waits_for_a_bank_day(
    client: httpx.AsyncClient,
    app: Any,
    keys: Keys,
    clock: Clock,  # noqa: F811  (the fixture imported above)
) -> None:
    clock.set(dt.datetime(2025, 12, 24, 10, tzinfo=UTC))  # a Wednesday
    await paid_invoice(client, app, keys.urbanisme, reference="X1", amount=2500)
    # Thursday 25 and Friday 26 December (TARGET2 closed), Saturday 27, Sunday 28
    for day in (25, 26, 27, 28):
        clock.set(paris_tick(dt.date(2025, 12, day)))
        assert await sim(app).pay_out_daily() == [], f"paid out on 2025-12-{day}"
    clock.set(paris_tick(dt.date(2025, 12, 29)))  # Monday: the first bank day after
    made = await sim(app).pay_out_daily()
    assert [(m.payout.amount, m.line_count) for m in made] == [(2437, 1)]
    assert made[0].payout.arrival_date == dt.date(2025, 12, 29)


async def test_the_payout_command_pays_out_on_any_day(
    client: httpx.AsyncClient,
    app: Any,
    keys: Keys,
    clock: Clock,  # noqa: F811  (the fixture imported above)
) -> None:
    clock.set(dt.datetime(2025, 12, 26, 10, tzinfo=UTC))  # a Friday, TARGET2 closed
    await paid_invoice(client, app, keys.urbanisme, reference="X2", amount=2500)
    clock.set(dt.datetime(2025, 12, 27, 11, tzinfo=UTC))  # Saturday
    made = await sim(app).pay_out()
    assert [m.payout.amount for m in made] == [2437]
