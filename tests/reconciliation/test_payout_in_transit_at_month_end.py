"""The daily payout of Saturday 31 October 2026 arrives that day and is booked by the bank
on Monday 2 November: at the end of October it is in transit."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import httpx

from payments.providers.simulator.commands import bank_statement_file
from reconciliation.in_transit import bank_in_transit, with_in_transit
from reconciliation.matching import reconcile
from reconciliation.records import TieOut
from reconciliation.report import summary_lines, summary_words
from reconciliation.schemas import RunOut, TieOutOut
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.finance.conftest import sign_in
from tests.payments.test_simulator_payouts import paid_invoice, sim
from tests.reconciliation.months import UTC, found, run, ties
from tests.reconciliation.world import END, build
from tests.test_year_boundaries import Clock

OCT_FIRST, OCT_LAST = dt.date(2026, 10, 1), dt.date(2026, 10, 31)


async def test_a_payout_in_transit_at_month_end_leaves_the_bank_tie_out_at_zero(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock
) -> None:
    """A finance officer reconciling October sees the bank tie-out 24.37 EUR apart (ledger
    2437, bank 0) with no discrepancy to explain it: the ledger booked the payout of
    Saturday 31 October in ``assets:bank:main`` that day, the bank booked it on Monday 2
    November, and the run matched the two (the credit is read from November's statement,
    imported before). They should see the bank tie out once the payouts matched to credits
    booked after the period are counted in transit (or the tie-out should say so)."""
    clock.set(dt.datetime(2026, 10, 30, 10, tzinfo=UTC))  # Friday
    await paid_invoice(client, app, keys.urbanisme, reference="W", amount=2500)
    clock.set(dt.datetime(2026, 10, 31, 10, tzinfo=UTC))  # Saturday: the daily payout
    (made,) = await sim(app).pay_out()
    await app.state.applier.process_batch()
    assert made.payout.arrival_date == dt.date(2026, 10, 31)

    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=UTC))
    # November's statements, imported as they came (the credit of 2 November is there)
    nov = await bank_statement_file(
        settings, dt.date(2026, 11, 2), dt.date(2026, 11, 19),
        now=dt.datetime(2026, 11, 19, 22, tzinfo=UTC),
    )  # fmt: skip
    assert nov.payouts == 1
    r = await client.post(
        "/v1/bank-statements", headers=Keys.h(keys.finance),
        files={"file": ("novembre.xml", nov.content, "application/xml")},
    )  # fmt: skip
    assert r.status_code in (200, 201), r.text
    # October's, given to the run: no credit (the bank books the payout on 2 November)
    october = await bank_statement_file(
        settings, OCT_FIRST, OCT_LAST, now=dt.datetime(2026, 10, 31, 22, tzinfo=UTC)
    )
    assert (october.payouts, october.not_yet_booked) == (0, 1)
    doc = await run(
        client, keys, OCT_FIRST, OCT_LAST,
        {"camt053": ("octobre.xml", october.content, "application/xml")},
    )  # fmt: skip
    assert found(doc) == [] and doc["summary"]["payouts_matched"] == 1  # consistent
    assert ties(doc) == {("psp_clearing", "EUR"): 0, ("bank", "EUR"): 0}, doc["tie_outs"]
    # the tie-out says why: the ledger holds 24.37 at the bank that the bank books after
    (bank,) = [t for t in doc["tie_outs"] if t["name"] == "bank"]
    assert (bank["ledger"], bank["source"], bank["in_transit"]) == (2437, 0, 2437)
    (psp,) = [t for t in doc["tie_outs"] if t["name"] == "psp_clearing"]
    assert psp["in_transit"] == 0
    again = await client.get(f"/v1/reconciliations/{doc['id']}", headers=Keys.h(keys.finance))
    assert again.json()["tie_outs"] == doc["tie_outs"]
    # and so does the finance workspace
    assert (await sign_in(client, keys.finance)).status_code == 303
    page = (await client.get(f"/finance/runs/{doc['id']}?lang=en")).text
    assert "Payouts in transit" in page and "€24.37" in page


def _month_end(bank_day: dt.date | None):  # type: ignore[no-untyped-def]
    """The little world's last payout, booked by the ledger on 30 October, credited by the
    bank on ``bank_day`` (None: not yet)."""
    w = build([[(2500, 40)]] * 22)
    last = w.payouts[-1]
    assert last.arrival_date == dt.date(2026, 10, 30)
    w.bank = [b for b in w.bank if last.id not in b.text]
    if bank_day is not None:
        w.bank.append(dataclasses.replace(w.bank[-1], reference="BANKLAST",
                                          booking_date=bank_day, text=f"STRIPE {last.id}"))  # fmt: skip
    return w, last


def test_a_payout_credited_after_the_period_is_in_transit_at_its_end() -> None:
    w, last = _month_end(dt.date(2026, 11, 2))
    r = reconcile(w.inputs())
    assert r.discrepancies == () and ((last.id,), ("BANKLAST",)) in r.payout_matches
    assert bank_in_transit(w.inputs(), r) == {"EUR": last.amount}


def test_a_payout_not_yet_due_at_the_bank_is_in_transit() -> None:
    w, last = _month_end(None)
    w.as_of = dt.date(2026, 11, 2)
    r = reconcile(w.inputs())
    assert r.in_transit == (last.id,) and bank_in_transit(w.inputs(), r) == {"EUR": last.amount}


def test_a_payout_missing_in_the_bank_or_credited_in_the_period_is_not_in_transit() -> None:
    w, last = _month_end(None)  # as of 20 November: its window has passed
    r = reconcile(w.inputs())
    assert [d.category for d in r.discrepancies] == ["missing_in_bank"]
    assert bank_in_transit(w.inputs(), r) == {}
    w, _ = _month_end(END)
    assert bank_in_transit(w.inputs(), reconcile(w.inputs())) == {}


def test_only_the_bank_tie_out_counts_payouts_in_transit() -> None:
    ties = [TieOut("psp_clearing", "EUR", 500, 500), TieOut("bank", "EUR", 2437, 0),
            TieOut("bank", "USD", 10, 10)]  # fmt: skip
    out = with_in_transit(ties, {"EUR": 2437})
    assert [(t.name, t.currency, t.in_transit, t.difference) for t in out] == [
        ("psp_clearing", "EUR", 0, 0), ("bank", "EUR", 2437, 0), ("bank", "USD", 0, 0),
    ]  # fmt: skip


def test_the_reports_say_what_is_in_transit() -> None:
    at = dt.datetime(2026, 11, 20, 12, tzinfo=UTC)
    one = RunOut(
        id="run_1", period_from=OCT_FIRST, period_to=OCT_LAST, as_of=at.date(),
        provider="simulator", sources=[], inputs_sha256="ab" * 32, actor="key_1",
        created_at=at, summary={}, discrepancies=[],
        tie_outs=[TieOutOut(name="bank", currency="EUR", ledger=2437, source=0,
                            in_transit=2437, difference=0)],
    )  # fmt: skip
    assert (
        "tie-out bank (EUR): ledger €24.37, bank €0.00, in transit €24.37: agrees"
        in (summary_lines(one))[-1]
    )
    assert "en transit 24,37\u00a0€" in "\n".join(summary_words(one, "fr"))
