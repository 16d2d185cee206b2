"""Bank days are TARGET2 days: SEPA credit transfers settle only when TARGET2 is open, and it
is closed on weekends and on 1 January, Good Friday, Easter Monday, 1 May, 25 and 26
December. Counted Monday to Friday alone, the window of a payout's bank credit was shorter
in real days than meant around Christmas and Easter, and a statement-less 25 December was not
told like a weekend."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import httpx
from lxml import etree

from payments.providers.simulator.commands import bank_statement_file
from reconciliation.book import told_until
from reconciliation.coverage import BalanceRow
from reconciliation.matching import add_business_days, business_days_between, reconcile
from reconciliation.weekend_opening import later_openings
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.payments.test_simulator_payouts import paid_invoice, sim
from tests.payments.test_simulator_reports import NS
from tests.reconciliation.world import build, without_remittance
from tests.test_year_boundaries import Clock

THU_24_DEC, TUE_29_DEC, WED_30_DEC = dt.date(2026, 12, 24), dt.date(2026, 12, 29), dt.date(2026, 12, 30)  # fmt: skip
THU_25_MAR, WED_31_MAR = dt.date(2027, 3, 25), dt.date(2027, 3, 31)


def test_christmas_and_new_year_are_no_bank_days() -> None:
    # 25 December (a Friday), the weekend: the next bank day after the 24th is the 28th
    assert business_days_between(THU_24_DEC, TUE_29_DEC) == 2
    assert business_days_between(TUE_29_DEC, THU_24_DEC) == 2
    assert business_days_between(THU_24_DEC, WED_30_DEC) == 3
    assert add_business_days(THU_24_DEC, 1) == dt.date(2026, 12, 28)
    assert add_business_days(THU_24_DEC, 3) == WED_30_DEC
    # 1 January 2027, a Friday
    assert business_days_between(dt.date(2026, 12, 31), dt.date(2027, 1, 4)) == 1
    assert add_business_days(dt.date(2026, 12, 31), 1) == dt.date(2027, 1, 4)
    # Thursday's statement tells the account until the Sunday: the bank books nothing then
    assert told_until(THU_24_DEC) == dt.date(2026, 12, 27)
    # an ordinary week is unchanged
    assert business_days_between(dt.date(2026, 12, 4), dt.date(2026, 12, 7)) == 1
    assert business_days_between(dt.date(2026, 12, 7), dt.date(2026, 12, 14)) == 5


def test_good_friday_and_easter_monday_are_no_bank_days() -> None:
    # Good Friday 26 March 2027, Easter Monday 29 March 2027
    assert business_days_between(THU_25_MAR, WED_31_MAR) == 2
    assert add_business_days(THU_25_MAR, 1) == dt.date(2027, 3, 30)
    assert add_business_days(THU_25_MAR, 3) == dt.date(2027, 4, 1)
    assert told_until(THU_25_MAR) == dt.date(2027, 3, 29)


def _christmas_world(credit_day: dt.date):  # type: ignore[no-untyped-def]
    """One payout expected at the bank on 24 December, its credit (naming no payout)
    booked on ``credit_day``; the run of December, as of mid-January."""
    w = without_remittance(build([[(5000, 65)]]))
    (p,) = w.payouts
    w.payouts = [dataclasses.replace(p, arrival_date=THU_24_DEC)]
    w.bank = [dataclasses.replace(b, booking_date=credit_day) for b in w.bank]
    w.as_of = dt.date(2027, 1, 15)
    return w


def _december(w, **kw):  # type: ignore[no-untyped-def]
    return dataclasses.replace(
        w.inputs(window_days=3, **kw),
        period_from=dt.date(2026, 12, 1),
        period_to=dt.date(2026, 12, 31),
    )


def test_a_credit_three_target2_days_after_christmas_eve_matches_its_payout() -> None:
    # 30 December is 3 TARGET2 days after the 24th (28, 29, 30), 4 weekdays (25 too)
    r = reconcile(_december(_christmas_world(WED_30_DEC)))
    assert r.discrepancies == () and r.suggestions == ()
    assert [m[0] for m in r.payout_matches] == [("po_000",)]
    # one bank day later is outside the window
    r = reconcile(_december(_christmas_world(dt.date(2026, 12, 31))))
    assert sorted(d.category for d in r.discrepancies) == ["missing_in_bank", "unexpected_bank_credit"]  # fmt: skip


def test_a_payout_due_on_christmas_eve_is_not_missing_before_its_window_ends() -> None:
    w = _christmas_world(WED_30_DEC)
    w.bank = []
    w.as_of = WED_30_DEC  # its window runs to the 30th: the bank may still credit it
    r = reconcile(_december(w))
    assert r.discrepancies == () and "po_000" in r.in_transit


def _row(seq: int, statement: str, kind: str, amount: int, day: dt.date) -> BalanceRow:
    return BalanceRow(seq, "imp-1", statement, "EUR", kind, amount, day)


def test_christmas_is_told_by_the_next_statements_opening_like_a_weekend() -> None:
    # a statement of Monday the 28th alone: the 25th, 26th and 27th have none
    rows = [
        _row(1, "S-1228#2", "OPBD", 500, dt.date(2026, 12, 28)),
        _row(2, "S-1228#2", "CLBD", 900, dt.date(2026, 12, 28)),
    ]
    # the 24th's end: nothing booked on the 25th (closed), 26th, 27th
    found = later_openings(rows, THU_24_DEC)["EUR"]
    assert (found.amount, found.statement, found.day) == (500, "S-1228", dt.date(2026, 12, 28))
    assert found.quiet == (dt.date(2026, 12, 25), dt.date(2026, 12, 27))
    for day in (dt.date(2026, 12, 25), dt.date(2026, 12, 26)):
        assert later_openings(rows, day)["EUR"].quiet == (day + dt.timedelta(days=1), dt.date(2026, 12, 27))  # fmt: skip
    # an ordinary Wednesday and Friday between: the bank may have booked on them
    assert later_openings(rows, dt.date(2026, 12, 22)) == {}


def test_good_friday_is_told_by_tuesdays_opening() -> None:
    rows = [
        _row(1, "S-0330#1", "OPBD", 700, dt.date(2027, 3, 30)),
        _row(2, "S-0330#1", "CLBD", 800, dt.date(2027, 3, 30)),
    ]
    # Good Friday 26 March: the weekend and Easter Monday after it are closed too
    found = later_openings(rows, dt.date(2027, 3, 26))["EUR"]
    assert (found.amount, found.day) == (700, dt.date(2027, 3, 30))
    assert found.quiet == (dt.date(2027, 3, 27), dt.date(2027, 3, 29))
    assert later_openings(rows, THU_25_MAR)["EUR"].quiet == (dt.date(2027, 3, 26), dt.date(2027, 3, 29))  # fmt: skip


async def test_a_payout_of_good_friday_is_on_tuesdays_statement(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock
) -> None:
    """The command reads the payouts arriving on the closed days before the period's first
    bank day (four, from Good Friday to Easter Monday: it read three, a weekend's)."""
    clock.set(dt.datetime(2027, 3, 25, 10, tzinfo=dt.UTC))
    await paid_invoice(client, app, keys.urbanisme, reference="A", amount=2500)
    clock.set(dt.datetime(2027, 3, 26, 10, tzinfo=dt.UTC))
    (made,) = await sim(app).pay_out()
    assert made.payout.arrival_date == dt.date(2027, 3, 26)
    clock.set(dt.datetime(2027, 4, 10, 12, tzinfo=dt.UTC))
    tuesday = dt.date(2027, 3, 30)
    report = await bank_statement_file(settings, tuesday, tuesday, now=clock.now)
    assert (report.statements, report.payouts) == (1, 1)
    (booked,) = etree.fromstring(report.content).findall(".//c:Ntry", NS)
    assert booked.findtext("c:BookgDt/c:Dt", namespaces=NS) == "2027-03-30"
    root = etree.fromstring(report.content)
    assert root.findtext(".//c:Bal/c:Amt", namespaces=NS) == "0.00"  # the opening: nothing before
