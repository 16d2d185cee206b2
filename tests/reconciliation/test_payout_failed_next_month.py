"""A payout paid out on Friday 30 October that fails on Tuesday 3 November (Stripe's
``payout.failed``, a ``payout_failure`` balance transaction giving the money back to the
PSP's balance): October and November reconciled from the PSP's own lines."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import httpx

from payments.providers.simulator.camt053 import BankAccount, bank_statement
from reconciliation.matching import reconcile
from reconciliation.normalise import payouts_from_lines
from reconciliation.records import CHARGE, PAYOUT, Inputs, LedgerItem, PspLine
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.payments.test_simulator_payouts import paid_invoice, sim
from tests.reconciliation.months import (
    NOV_FIRST,
    NOV_LAST,
    UTC,
    found,
    payout_failed,
    run,
    ties,
)
from tests.reconciliation.world import World, at
from tests.test_year_boundaries import Clock

OCT_FIRST, OCT_LAST = dt.date(2026, 10, 1), dt.date(2026, 10, 31)


async def test_octobers_run_does_not_see_novembers_payout_failure_as_a_payout_mismatch(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock
) -> None:
    """The PSP paid 24.37 EUR out on 30 October and the ledger booked it into the bank that
    day; on 3 November the bank refused the transfer and the PSP got it back. October's own
    books agree with the PSP's October (a payout of 24.37 made), yet October's run says
    ``payout_mismatch`` "payout 2437 EUR, ledger 0 EUR": it sums into October the
    ledger's reversal of 3 November (read within the week after the period), which the
    PSP's side of October cannot hold. The reversal is November's, against November's
    failure line: October should show no payout mismatch."""
    clock.set(dt.datetime(2026, 10, 30, 9, tzinfo=UTC))
    await paid_invoice(client, app, keys.urbanisme, reference="PF", amount=2500)
    clock.set(dt.datetime(2026, 10, 30, 12, tzinfo=UTC))
    (made,) = await sim(app).pay_out()
    await app.state.applier.process_batch()
    po = made.payout
    assert (po.amount, po.arrival_date) == (2437, dt.date(2026, 10, 30))

    failed_at = dt.datetime(2026, 11, 3, 9, tzinfo=UTC)
    clock.set(failed_at)
    await payout_failed(app, po.id, po.amount, failed_at)

    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=UTC))
    camt = bank_statement(
        [], BankAccount(settings.bank_iban), 0, OCT_FIRST, OCT_LAST,
        now=dt.datetime(2026, 10, 31, 22, tzinfo=UTC),
    )  # fmt: skip
    doc = await run(
        client, keys, OCT_FIRST, OCT_LAST, {"camt053": ("releve.xml", camt, "application/xml")}
    )
    assert ties(doc)[("psp_clearing", "EUR")] == 0, doc["tie_outs"]
    assert [d for d in found(doc) if d[0] == "payout_mismatch"] == [], doc["discrepancies"]


async def test_novembers_run_matches_the_failure_and_october_is_the_same_a_week_later(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock
) -> None:
    """The same payout, failing on 3 November: November's run (the failure line against
    the ledger's reversal) finds nothing, and October's run finds what it finds when the
    failure comes beyond the week after October it reads the ledger over (the payout
    missing in the bank, nothing more: November's statements, imported, cover its window)."""
    clock.set(dt.datetime(2026, 10, 30, 9, tzinfo=UTC))
    await paid_invoice(client, app, keys.urbanisme, reference="PF", amount=2500)
    clock.set(dt.datetime(2026, 10, 30, 12, tzinfo=UTC))
    (made,) = await sim(app).pay_out()
    await app.state.applier.process_batch()
    po = made.payout
    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=UTC))
    camt = bank_statement(
        [], BankAccount(settings.bank_iban), 0, OCT_FIRST, OCT_LAST,
        now=dt.datetime(2026, 10, 31, 22, tzinfo=UTC),
    )  # fmt: skip
    files = {"camt053": ("releve.xml", camt, "application/xml")}
    november_statements = bank_statement(
        [], BankAccount(settings.bank_iban), 0, NOV_FIRST, NOV_LAST,
        now=dt.datetime(2026, 11, 19, 22, tzinfo=UTC),
    )  # fmt: skip
    r = await client.post(
        "/v1/bank-statements", headers=Keys.h(keys.finance),
        files={"file": ("novembre.xml", november_statements, "application/xml")},
    )  # fmt: skip
    assert r.status_code in (200, 201), r.text
    before_failure = found(await run(client, keys, OCT_FIRST, OCT_LAST, files))

    failed_at = dt.datetime(2026, 11, 3, 9, tzinfo=UTC)
    clock.set(failed_at)
    await payout_failed(app, po.id, po.amount, failed_at)
    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=UTC))
    assert before_failure == [("missing_in_bank", po.amount, po.id)]
    assert found(await run(client, keys, OCT_FIRST, OCT_LAST, files)) == before_failure
    november = await run(client, keys, NOV_FIRST, NOV_LAST)
    assert found(november) == [], november["discrepancies"]
    assert ties(november)[("psp_clearing", "EUR")] == 0, november["tie_outs"]


# -- the same, pure: a payout of Friday 30 October, its failure and the ledger's reversal --

DAY = dt.date(2026, 10, 30)
PO = "po_f"


def _paid_out() -> World:
    """One payment of 25.00 EUR paid out on 30 October (24.37 net), booked by the ledger;
    the bank never receives it."""
    w = World(
        psp=[
            PspLine("txn_c", CHARGE, ("pi_f", "ch_f"), 2500, 63, 2437, "EUR", PO, at(DAY, 9)),
            PspLine("txn_po", PAYOUT, (PO,), -2437, 0, -2437, "EUR", PO, at(DAY, 12)),
        ],
        ledger=[
            LedgerItem("payment", "pi_f", 2500, 63, "EUR", ("ent_p",), at(DAY, 9)),
            LedgerItem("payout", PO, -2437, 0, "EUR", ("ent_po",), at(DAY, 12)),
        ],
    )
    w.payouts = payouts_from_lines(w.psp)
    return w


def _failure(when: dt.datetime) -> PspLine:
    return PspLine("txn_pofail", PAYOUT, (PO,), 2437, 0, 2437, "EUR", PO, when)


def _reversal(when: dt.datetime) -> LedgerItem:
    return LedgerItem("payout", PO, 2437, 0, "EUR", ("ent_pofail",), when)


def _seen(inp: Inputs) -> list[tuple[str, str | None, int]]:
    return [(d.category, d.payout_id, d.amount) for d in reconcile(inp).discrepancies]


def test_a_reversal_after_the_period_is_the_next_periods() -> None:
    """October's side holds the payout going out, not its failure: the ledger's reversal of
    3 November is November's, and October sees what it sees when the reversal is beyond the
    week it reads (or not booked yet): the payout missing in the bank, no payout mismatch."""
    w = _paid_out()
    unreversed = _seen(w.inputs())
    assert unreversed == [("missing_in_bank", PO, 2437)]
    w.ledger.append(_reversal(at(dt.date(2026, 11, 3))))
    assert _seen(w.inputs()) == unreversed


def test_a_reversal_in_the_period_the_psp_does_not_show_is_still_a_payout_mismatch() -> None:
    """The ledger reverses on 31 October a payout the PSP says it paid (no failure line):
    a payout mismatch, as before."""
    w = _paid_out()
    w.ledger.append(_reversal(at(dt.date(2026, 10, 31))))
    assert ("payout_mismatch", PO, 2437) in _seen(w.inputs())


def test_a_failure_of_the_period_booked_after_midnight_is_summed_with_the_payout() -> None:
    """The PSP's failure line is of 31 October, 23:50; the ledger books the reversal at
    00:10 on 1 November: October's side holds the failure, so the reversal is October's
    and the payout, failed, agrees with the ledger (and is not looked for at the bank)."""
    w = _paid_out()
    w.psp.append(_failure(dt.datetime(2026, 10, 31, 23, 50, tzinfo=dt.UTC)))
    w.payouts = payouts_from_lines(w.psp)
    w.ledger.append(_reversal(dt.datetime(2026, 11, 1, 0, 10, tzinfo=dt.UTC)))
    assert _seen(w.inputs()) == []
    # not booked at all: the failure is a payout mismatch against the ledger
    w.ledger.pop()
    assert _seen(w.inputs()) == [("payout_mismatch", PO, 2437)]


def test_november_holds_the_failure_and_the_reversal() -> None:
    """November's run: the PSP's failure line of 3 November, its lines of the week before
    (the payout's), the ledger's payout of 30 October (read a week before November) and
    its reversal: nothing to say."""
    w = _paid_out()
    before = tuple(w.psp)
    w.psp = [_failure(at(dt.date(2026, 11, 3)))]
    w.ledger.append(_reversal(at(dt.date(2026, 11, 3))))
    nov = dataclasses.replace(
        w.inputs(), period_from=NOV_FIRST, period_to=NOV_LAST,
        payouts=tuple(payouts_from_lines(w.psp)), psp_before=before,
    )  # fmt: skip
    assert _seen(nov) == []


def _november(reversal: LedgerItem | None) -> Inputs:
    """November's run of ``test_november_holds_the_failure_and_the_reversal``, with the
    ledger's reversal ``reversal`` (None: not booked)."""
    w = _paid_out()
    before = tuple(w.psp)
    w.psp = [_failure(at(dt.date(2026, 11, 3)))]
    if reversal is not None:
        w.ledger.append(reversal)
    return dataclasses.replace(
        w.inputs(), period_from=NOV_FIRST, period_to=NOV_LAST,
        payouts=tuple(payouts_from_lines(w.psp)), psp_before=before,
    )  # fmt: skip


def test_a_failure_of_the_period_that_the_ledger_reverses_otherwise_is_a_payout_mismatch() -> None:
    """The PSP got 24.37 back on 3 November; the ledger reversed 20.00: the 4.37 between
    them is said (the clearing tie-out would be 4.37 apart with nothing to explain it)."""
    short = dataclasses.replace(_reversal(at(dt.date(2026, 11, 3))), gross=2000)
    assert _seen(_november(short)) == [("payout_mismatch", PO, 437)]


def test_a_failure_of_the_period_that_the_ledger_never_booked_is_missing_in_the_ledger() -> None:
    """The PSP got 24.37 back on 3 November and regie never learnt it (a lost
    ``payout.failed``): the money back in the PSP's balance is missing in the ledger."""
    assert _seen(_november(None)) == [("missing_in_ledger", PO, 2437)]


def test_a_failure_of_the_period_carried_by_the_next_payout_is_compared_too() -> None:
    """Stripe pays the 24.37 back out with November's first payout (po_n), listing the
    failure line under it, its source the failed payout: the failure is still po_f's, and
    a reversal of another amount is said; the one of the same amount is not."""
    w = _paid_out()
    before = tuple(w.psp)
    when = at(dt.date(2026, 11, 4))
    w.psp = [
        dataclasses.replace(_failure(at(dt.date(2026, 11, 3))), payout_id="po_n"),
        PspLine("txn_pon", PAYOUT, ("po_n",), -2437, 0, -2437, "EUR", "po_n", when),
    ]
    w.ledger.append(LedgerItem("payout", "po_n", -2437, 0, "EUR", ("ent_pon",), when))
    reversal = _reversal(at(dt.date(2026, 11, 3)))
    for reversed_, seen in ((2437, []), (2000, [("payout_mismatch", PO, 437)])):
        nov = dataclasses.replace(
            w.inputs(), period_from=NOV_FIRST, period_to=NOV_LAST, psp_before=before,
            payouts=tuple(payouts_from_lines(w.psp)),
            ledger_items=(*w.inputs().ledger_items,
                          dataclasses.replace(reversal, gross=reversed_)),
        )  # fmt: skip
        assert [p.id for p in nov.payouts] == ["po_n"]
        assert [x for x in _seen(nov) if x[0] != "missing_in_bank"] == seen, reversed_


def test_a_failure_of_the_period_the_ledger_reversed_just_before_it_is_the_cut_off() -> None:
    """The PSP's failure line is of 1 November, 00:00:20; the ledger booked the reversal at
    23:59:50 on 31 October (October's run said it: a reversal the PSP did not show then).
    November's run counts it in the clearing cut-off, booked before the period: it is the
    ledger's reversal of this failure, not one missing in the ledger as well."""
    inp = _november(_reversal(dt.datetime(2026, 10, 31, 23, 59, 50, tzinfo=dt.UTC)))
    inp = dataclasses.replace(
        inp, psp_lines=(_failure(dt.datetime(2026, 11, 1, 0, 0, 20, tzinfo=dt.UTC)),)
    )
    result = reconcile(inp)
    assert _seen(inp) == []
    assert dict(result.clearing_cut_off) == {"EUR": -2437}
