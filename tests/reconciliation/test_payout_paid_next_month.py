"""A payout as Stripe makes one at a month's end: created on Friday 30 October (its balance
transaction leaves the PSP's balance then), expected at the bank on Monday 2 November, where
``payout.paid`` is sent and regie books it. The simulator plays it: its payout of 30
October, arriving on 2 November, its events applied on 2 November. November reconciled
from the PSP's own lines (and from its payout report), with the bank's statement; and
October's clearing tie-out, which holds the payout in flight at its end."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import httpx
from sqlalchemy import update

from payments.providers.simulator.commands import bank_statement_file, settlement_report
from payments.providers.simulator.models import SimPayout
from reconciliation.matching import reconcile
from reconciliation.records import CHARGE, PAYOUT, BankLine, Inputs, LedgerItem, PspLine
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.payments.test_simulator_payouts import paid_invoice, sim
from tests.reconciliation.months import UTC, found, run, ties
from tests.reconciliation.world import at
from tests.test_year_boundaries import Clock

OCT_FIRST, OCT_LAST = dt.date(2026, 10, 1), dt.date(2026, 10, 31)
NOV_FIRST, NOV_LAST = dt.date(2026, 11, 1), dt.date(2026, 11, 19)
ARRIVAL = dt.date(2026, 11, 2)


async def _payout_paid_next_month(
    app: Any, client: httpx.AsyncClient, keys: Keys, clock: Clock
) -> str:
    clock.set(dt.datetime(2026, 10, 29, 10, tzinfo=UTC))
    await paid_invoice(client, app, keys.urbanisme, reference="PM", amount=2500)
    clock.set(dt.datetime(2026, 10, 30, 12, tzinfo=UTC))
    (made,) = await sim(app).pay_out()  # its line leaves the balance on 30 October
    async with app.state.db.session() as s:  # expected at the bank on Monday 2 November
        await s.execute(update(SimPayout).values(arrival_date=ARRIVAL))
        await s.commit()
    clock.set(dt.datetime(2026, 11, 2, 9, tzinfo=UTC))  # payout.paid, on its arrival day
    assert await app.state.applier.process_batch() >= 1
    return made.payout.id


async def test_a_payout_created_in_october_and_paid_in_november_is_not_missing_at_the_psp(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock
) -> None:
    """A finance officer reconciling November from the PSP sees ``missing_at_psp`` 24.37
    EUR ("the ledger books a payout the PSP does not list") for a payout the PSP did list,
    on 30 October (October's run matched it with this very ledger entry, and November's
    run even read that line among the PSP's lines of the week before the period). The
    payouts' check takes a ledger payout booked in the period whose PSP line is not among
    the period's lines for one the PSP never made. They should see no discrepancy: the
    payout is matched to the PSP's line and to the bank's credit of 2 November."""
    po = await _payout_paid_next_month(app, client, keys, clock)
    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=UTC))
    nov = await bank_statement_file(
        settings, NOV_FIRST, NOV_LAST, now=dt.datetime(2026, 11, 19, 22, tzinfo=UTC)
    )
    assert nov.payouts == 1
    doc = await run(
        client, keys, NOV_FIRST, NOV_LAST, {"camt053": ("nov.xml", nov.content, "application/xml")}
    )
    assert doc["summary"]["payouts_matched"] == 1
    assert found(doc) == [], (po, doc["discrepancies"])


async def test_from_its_report_november_lists_the_payout_it_arrives_in(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock
) -> None:
    """The itemised payout report lists a payout in the period it arrives in (Stripe's
    ``automatic_payout_effective_at``), which is the day ``payout.paid`` comes: November's
    report holds the payout of 2 November, matched with the ledger and the bank; October's
    holds none to compare."""
    await _payout_paid_next_month(app, client, keys, clock)
    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=UTC))
    nov = await bank_statement_file(
        settings, NOV_FIRST, NOV_LAST, now=dt.datetime(2026, 11, 19, 22, tzinfo=UTC)
    )
    report = await settlement_report(settings, NOV_FIRST, NOV_LAST)
    assert report.payouts == 1
    files = {
        "stripe_csv": ("payouts.csv", report.content, "text/csv"),
        "camt053": ("nov.xml", nov.content, "application/xml"),
    }
    doc = await run(client, keys, NOV_FIRST, NOV_LAST, files)
    assert doc["summary"]["payouts_matched"] == 1
    assert found(doc) == [], doc["discrepancies"]
    assert (await settlement_report(settings, OCT_FIRST, OCT_LAST)).payouts == 0


# -- the same, pure: the PSP's payout line of 30 October, the ledger's entry of 2 November --

PO = "po_m"


def _november(*, before: bool = True) -> Inputs:
    """November, from the PSP's port: none of its lines is the payout's, which are of the
    week before (given unless ``before`` is false: a report, which lists what it lists);
    the ledger booked the payout on 2 November, the bank credited it that day."""
    made = at(dt.date(2026, 10, 30), 12)
    lines = (
        PspLine("txn_c", CHARGE, ("pi_m", "ch_m"), 2500, 63, 2437, "EUR", PO, at(made.date(), 9)),
        PspLine("txn_po", PAYOUT, (PO,), -2437, 0, -2437, "EUR", PO, made, arrival=ARRIVAL),
    )
    return Inputs(
        period_from=NOV_FIRST,
        period_to=NOV_LAST,
        psp_lines=(),
        ledger_items=(LedgerItem("payout", PO, -2437, 0, "EUR", ("ent_po",), at(ARRIVAL, 9)),),
        payouts=(),
        bank_lines=(BankLine("BANKPO", 2437, "credit", "EUR", ARRIVAL, f"STRIPE {PO}"),),
        as_of=dt.date(2026, 11, 20),
        psp_before=lines if before else (),
    )


def _seen(inp: Inputs) -> list[tuple[str, str | None, int]]:
    return [(d.category, d.payout_id, d.amount) for d in reconcile(inp).discrepancies]


def test_a_payout_whose_psp_line_is_of_the_week_before_is_not_missing_at_the_psp() -> None:
    r = reconcile(_november())
    assert r.discrepancies == () and r.payout_matches == (((PO,), ("BANKPO",)),)


def test_a_payout_the_psp_does_not_list_before_the_period_is_still_missing_at_the_psp() -> None:
    """Without the PSP's lines of the week before (or with another payout's), the ledger's
    payout is one the PSP does not list; so is a payout the PSP never made, beside one it
    made before the period."""
    missing = [("missing_at_psp", PO, 2437)]
    assert _seen(_november(before=False)) == missing
    nov = _november()
    other = tuple(dataclasses.replace(x, payout_id="po_other", refs=("po_other",))
                  for x in nov.psp_before)  # fmt: skip
    assert _seen(dataclasses.replace(nov, psp_before=other)) == missing
    ghost = LedgerItem("payout", "po_ghost", -1000, 0, "EUR", ("ent_g",), at(ARRIVAL, 10))
    nov = dataclasses.replace(nov, ledger_items=(*nov.ledger_items, ghost))
    assert _seen(nov) == [
        ("missing_at_psp", "po_ghost", 1000),
        ("missing_in_bank", "po_ghost", 1000),
    ]


def test_a_reversal_of_the_period_the_psp_did_not_fail_before_is_still_looked_at() -> None:
    """The PSP's lines of the week before hold the payout going out, not its failure: a
    ledger reversal (of 20.00 EUR here) in the period, with nothing of the PSP's to say it
    failed, is missing at the PSP (the payout's entries, summed, are: 4.37 EUR)."""
    nov = _november()
    back = LedgerItem("payout", PO, 2000, 0, "EUR", ("ent_back",), at(ARRIVAL, 15))
    nov = dataclasses.replace(nov, ledger_items=(*nov.ledger_items, back))
    assert _seen(nov) == [("missing_at_psp", PO, 437)]


async def test_a_payout_in_flight_at_month_end_leaves_both_clearing_tie_outs_explained(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock
) -> None:
    """October's ``psp_clearing`` tie-out is -24.37 EUR apart (ledger 24.37, PSP 0: the
    PSP's balance paid the payout out on 30 October, the ledger books it on 2 November)
    and November's +24.37, each with ``in_transit`` 0 and no discrepancy to explain it.
    They should see both agree, the payout counted as in flight at October's end."""
    await _payout_paid_next_month(app, client, keys, clock)
    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=UTC))
    october = await bank_statement_file(
        settings, OCT_FIRST, OCT_LAST, now=dt.datetime(2026, 10, 31, 22, tzinfo=UTC)
    )
    doc = await run(
        client, keys, OCT_FIRST, OCT_LAST,
        {"camt053": ("oct.xml", october.content, "application/xml")},
    )  # fmt: skip
    assert found(doc) == [], doc["discrepancies"]
    assert ties(doc)[("psp_clearing", "EUR")] == 0, doc["tie_outs"]
