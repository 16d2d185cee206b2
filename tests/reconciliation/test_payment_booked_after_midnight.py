"""A payment made at the PSP at 23:59:30 UTC on 31 October, whose event regie applies a
minute later, at 00:00:30 on 1 November: the PSP's line is October's, the ledger's entry
November's (the ledger books a payment when it learns of it)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from tests.conftest import Keys, create_invoice, pay
from tests.finance.conftest import sign_in
from tests.reconciliation.months import UTC, found, run
from tests.test_year_boundaries import Clock


async def _paid_across_midnight(
    app: Any, client: httpx.AsyncClient, keys: Keys, clock: Clock
) -> None:
    """25.00 EUR paid at the PSP at 23:59:30 UTC on 31 October, its event applied (and the
    payment booked) at 00:00:30 on 1 November."""
    clock.set(dt.datetime(2026, 10, 29, 10, tzinfo=UTC))
    inv = await create_invoice(client, keys.urbanisme, amount=2500, reference="M")
    clock.set(dt.datetime(2026, 10, 31, 23, 59, 30, tzinfo=UTC))
    await pay(client, inv)  # the PSP charges the card; its event waits in regie's inbox
    clock.set(dt.datetime(2026, 11, 1, 0, 0, 30, tzinfo=UTC))
    assert await app.state.applier.process_batch() >= 1


async def test_a_payment_booked_just_after_midnight_is_not_missing_at_the_psp_next_month(
    app: Any, client: httpx.AsyncClient, keys: Keys, clock: Clock
) -> None:
    """A finance officer reconciling November from the PSP sees a ``missing_at_psp`` of
    25.00 EUR ("the ledger books payment pi_sim_…; the PSP has no such line") for a payment
    the PSP did make, and which October's run matched with that very ledger entry (the
    ledger is read a week past each end of the period). They should see no discrepancy in
    November: the payment was matched, in October. (November's run reads the PSP's lines of
    the week before it too, for this only: the payment is no line of November.)"""
    await _paid_across_midnight(app, client, keys, clock)

    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=UTC))
    october = await run(client, keys, dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert found(october) == [] and october["summary"]["matched_count"] == 1
    november = await run(client, keys, dt.date(2026, 11, 1), dt.date(2026, 11, 19))
    assert found(november) == [], november["discrepancies"]
    assert november["summary"]["matched_count"] == 0  # October's, not November's
    assert november["summary"]["psp_lines"] == 0


async def test_a_payment_booked_after_midnight_leaves_the_clearing_tie_outs_explained(
    app: Any, client: httpx.AsyncClient, keys: Keys, clock: Clock
) -> None:
    """The runs match the payment (October's, against the ledger's entry of 1 November) and
    find no discrepancy, yet October's ``psp_clearing`` tie-out is 24.37 EUR apart (ledger
    0, PSP 24.37) and November's -24.37 (ledger 24.37, PSP 0), with ``in_transit`` 0 and
    nothing to explain either: the tie-out compares the ledger's movement of the period's
    UTC days with the PSP's lines of the same days, and the matching's own knowledge that
    this entry is the PSP's line of the day before is not carried into it. The finance
    officer should see each month tie out (the cut-off difference counted, as the bank's
    payouts in transit are)."""
    await _paid_across_midnight(app, client, keys, clock)

    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=UTC))
    october = await run(client, keys, dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    november = await run(client, keys, dt.date(2026, 11, 1), dt.date(2026, 11, 19))
    assert found(october) == found(november) == []
    for doc, cut_off in ((october, -2437), (november, 2437)):
        (psp,) = [t for t in doc["tie_outs"] if t["name"] == "psp_clearing"]
        assert psp["difference"] == 0, (doc["period_from"], doc["tie_outs"])
        assert psp["in_transit"] == cut_off  # the ledger's side less the PSP's, booked across
    # and the finance workspace says so, in its words, not as money in transit
    assert (await sign_in(client, keys.finance)).status_code == 303
    page = (await client.get(f"/finance/runs/{october['id']}?lang=fr")).text
    assert "Comptabilisé de part et d&#39;autre d&#39;une borne" in page and "-24,37" in page
    assert "Virements en transit" not in page
