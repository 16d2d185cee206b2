"""A payout on the first bank day of a month carries the lines of the last days of the
month before (the daily payout pays what the balance held at the start of the bank day):
the month it arrives in must reconcile clean when the PSP's side is read from the PSP."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from payments.providers.simulator.commands import bank_statement_file
from reconciliation.digest import checksum
from reconciliation.matching import reconcile
from reconciliation.normalise import payouts_short
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.payments.test_simulator_payouts import paid_invoice, sim
from tests.reconciliation.months import UTC, found, psp_line, run, ties
from tests.reconciliation.world import build
from tests.test_year_boundaries import Clock

NOV_FIRST, NOV_LAST = dt.date(2026, 11, 1), dt.date(2026, 11, 19)


async def test_a_payout_carrying_last_months_payment_is_no_payout_mismatch_in_its_month(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock
) -> None:
    """A finance officer reconciling November from the PSP (no report uploaded) sees a
    ``payout_mismatch`` of 24.37 EUR on the payout of Monday 2 November ("payout 3397, its
    lines' net 960"), though the payout carried exactly the PSP's lines (a payment of Friday
    30 October and one of 2 November), the ledger booked them all, the bank received the
    payout and both tie-outs are zero. They should see no discrepancy: the payout's lines
    of October are October's, the payout is whole."""
    clock.set(dt.datetime(2026, 10, 30, 10, tzinfo=UTC))  # Friday 30 October
    await paid_invoice(client, app, keys.urbanisme, reference="OCT", amount=2500)
    clock.set(dt.datetime(2026, 11, 2, 9, tzinfo=UTC))  # Monday 2 November
    await paid_invoice(client, app, keys.urbanisme, reference="NOV", amount=1000)
    made = await sim(app).pay_out()
    assert [(m.payout.amount, m.line_count) for m in made] == [((2500 - 63) + (1000 - 40), 2)]
    await app.state.applier.process_batch()
    payout = made[0].payout

    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=UTC))  # November is reconciled
    written = dt.datetime(2026, 11, 19, 23, tzinfo=UTC)
    camt = (await bank_statement_file(settings, NOV_FIRST, NOV_LAST, now=written)).content
    doc = await run(
        client, keys, NOV_FIRST, NOV_LAST,
        {"camt053": ("releve.xml", camt, "application/xml")},
    )  # fmt: skip

    # the month is consistent: the PSP's clearing account and the bank tie out, the payout
    # is at the bank
    assert ties(doc) == {("psp_clearing", "EUR"): 0, ("bank", "EUR"): 0}, doc["tie_outs"]
    assert doc["summary"]["payouts_matched"] == 1
    assert found(doc) == [], (payout.id, doc["discrepancies"])


async def test_a_payout_whose_lines_all_known_do_not_add_up_is_still_a_payout_mismatch(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock
) -> None:
    """The payout of 2 November names a line of 29 October more than it paid out: asked for
    all its lines, the PSP lists one 1.00 EUR too many, and the run says so."""
    clock.set(dt.datetime(2026, 10, 30, 10, tzinfo=UTC))
    await paid_invoice(client, app, keys.urbanisme, reference="OCT", amount=2500)
    clock.set(dt.datetime(2026, 11, 2, 9, tzinfo=UTC))
    await paid_invoice(client, app, keys.urbanisme, reference="NOV", amount=1000)
    (made,) = await sim(app).pay_out()
    await app.state.applier.process_batch()
    po = made.payout
    extra = dt.datetime(2026, 10, 29, 10, tzinfo=UTC)
    await psp_line(
        app, type_="adjustment", category="other", source_id="adj_1", amount=100, at=extra,
        payout_id=po.id,
    )  # fmt: skip

    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=UTC))
    written = dt.datetime(2026, 11, 19, 23, tzinfo=UTC)
    camt = (await bank_statement_file(settings, NOV_FIRST, NOV_LAST, now=written)).content
    doc = await run(
        client, keys, NOV_FIRST, NOV_LAST,
        {"camt053": ("releve.xml", camt, "application/xml")},
    )  # fmt: skip
    assert found(doc) == [("payout_mismatch", 100, po.id)], doc["discrepancies"]
    (d,) = doc["discrepancies"]
    assert d["detail"] == f"payout {po.amount}, its lines' net {po.amount + 100} (minor units)"


def test_only_a_payout_whose_lines_in_hand_do_not_add_up_is_asked_about() -> None:
    w = build([[(2500, 40), (1000, 25)], [(5000, 65)], [(1200, 27)]])
    assert payouts_short(w.psp, w.payouts) == []
    first = w.psp[0]  # one of po_000's two payments, as if created before the period
    rest = w.psp[1:]
    assert payouts_short(rest, w.payouts) == ["po_000"]
    # a payout of which nothing is in hand is not asked about
    assert payouts_short([x for x in rest if x.payout_id != "po_000"], w.payouts) == []
    # the payment is the month before's, in its ledger and its reconciliation
    w.psp = rest
    w.ledger = [i for i in w.ledger if i.ref != "pi_00000"]
    (d,) = reconcile(w.inputs()).discrepancies
    assert (d.category, d.payout_id, d.amount) == ("payout_mismatch", "po_000", first.net)
    # with its lines the PSP listed, the payout is whole
    assert reconcile(w.inputs(payout_lines=(first,))).discrepancies == ()


def test_the_lines_asked_of_the_psp_count_in_the_checksum() -> None:
    w = build([[(2500, 40)], [(5000, 65)]])
    assert checksum(w.inputs()) != checksum(w.inputs(payout_lines=(w.psp[0],)))
