"""The simulator's daily payout runs at the first tick of the Paris bank day: at the end of
a month that is 22:05 UTC in summer (00:05 on the 1st in Paris), 23:05 UTC in winter. The
ledger books the payout into the bank on the month's last UTC day; the PSP expects it at the
bank on the 1st (the Paris day), and the bank books it then or on the next bank day. The
month is reconciled from the PSP with the month's bank statement, before the next month's
statement is imported."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from payments.providers.simulator.commands import bank_statement_file
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.payments.test_simulator_payouts import paid_invoice, sim
from tests.reconciliation.months import UTC, found, run
from tests.test_year_boundaries import Clock

# (the next month's 1st a bank day: the daily payout is made on bank days only)
SUMMER = (dt.date(2026, 6, 1), dt.date(2026, 6, 30), 22)  # Paris is UTC+2
WINTER = (dt.date(2026, 11, 1), dt.date(2026, 11, 30), 23)  # Paris is UTC+1


@pytest.mark.parametrize("month", [SUMMER, WINTER], ids=["summer", "winter"])
async def test_the_last_daily_payout_of_the_month_is_in_transit_at_its_end(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock,
    month: tuple[dt.date, dt.date, int],
) -> None:  # fmt: skip
    """A finance officer reconciling June on 1 July (November on 1 December) sees the bank
    tie-out 9.60 EUR apart (ledger 33.97, bank 24.37, in transit 0) and no discrepancy to
    explain it: the month's last daily payout, made at 00:05 Paris time on the 1st, is
    booked by the ledger at 22:05 (23:05) UTC on the last day of the month, and expected at
    the bank on the 1st. The run counts a payout in transit only when its arrival day is in
    the period (or when it matched a later credit): this one, booked in the period and not
    yet due at the bank, is counted nowhere. They should see the tie-out agree, the payout
    in transit."""
    first, last, hour = month
    before = last - dt.timedelta(days=1)
    clock.set(dt.datetime(before.year, before.month, before.day, 9, tzinfo=UTC))
    await paid_invoice(client, app, keys.urbanisme, reference="S1", amount=2500)
    clock.set(dt.datetime(before.year, before.month, before.day, hour, 5, tzinfo=UTC))
    (a,) = await sim(app).pay_out_daily()  # the day before's: arrives on the last day
    await app.state.applier.process_batch()
    clock.set(dt.datetime(last.year, last.month, last.day, 10, tzinfo=UTC))
    await paid_invoice(client, app, keys.urbanisme, reference="S2", amount=1000)
    clock.set(dt.datetime(last.year, last.month, last.day, hour, 5, tzinfo=UTC))
    (b,) = await sim(app).pay_out_daily()  # the last day's: arrives on the 1st
    await app.state.applier.process_batch()
    assert (a.payout.arrival_date, b.payout.arrival_date) == (last, last + dt.timedelta(days=1))

    next_first = last + dt.timedelta(days=1)
    wait = 7 - next_first.weekday() if next_first.weekday() >= 5 else 0
    today = next_first + dt.timedelta(days=wait)  # the first bank day of the next month
    clock.set(dt.datetime(today.year, today.month, today.day, 12, tzinfo=UTC))
    statement = await bank_statement_file(
        settings, first, last, now=dt.datetime(last.year, last.month, last.day, 20, tzinfo=UTC)
    )
    assert statement.payouts == 1  # the day before's payout, credited on the last day
    doc = await run(
        client, keys, first, last, {"camt053": ("releve.xml", statement.content, "application/xml")}
    )
    assert found(doc) == [], doc["discrepancies"]
    (bank,) = [t for t in doc["tie_outs"] if t["name"] == "bank"]
    assert (bank["ledger"], bank["source"]) == (a.payout.amount + b.payout.amount, a.payout.amount)
    assert (bank["in_transit"], bank["difference"]) == (b.payout.amount, 0), doc["tie_outs"]
