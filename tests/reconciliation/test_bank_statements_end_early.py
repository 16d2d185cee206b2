"""October reconciled before the bank's statements of its last days came in: they end on
Wednesday 28 October. What the bank has not told yet is not missing there, and the bank
tie-out compares the ledger with the bank on the day the statements end, and says so."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import httpx

from payments.providers.simulator.commands import bank_statement_file
from reconciliation.in_transit import bank_in_transit
from reconciliation.matching import reconcile
from reconciliation.report import summary_lines, summary_words
from reconciliation.schemas import RunOut
from regie.kit.money import format_money
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.finance.conftest import sign_in
from tests.payments.test_simulator_payouts import paid_invoice, sim
from tests.reconciliation.months import OCT_FIRST, OCT_LAST, UTC, found, run
from tests.reconciliation.world import build
from tests.test_year_boundaries import Clock

OCT_28 = dt.date(2026, 10, 28)


async def test_statements_ending_before_the_month_do_not_make_its_last_payouts_missing(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock
) -> None:
    clock.set(dt.datetime(2026, 10, 26, 10, tzinfo=UTC))  # Monday
    await paid_invoice(client, app, keys.urbanisme, reference="A", amount=2500)
    clock.set(dt.datetime(2026, 10, 27, 10, tzinfo=UTC))
    (first,) = await sim(app).pay_out()
    await app.state.applier.process_batch()  # the ledger books it into the bank that day
    clock.set(dt.datetime(2026, 10, 29, 10, tzinfo=UTC))  # Thursday
    await paid_invoice(client, app, keys.urbanisme, reference="B", amount=4000)
    clock.set(dt.datetime(2026, 10, 30, 10, tzinfo=UTC))
    (last,) = await sim(app).pay_out()
    await app.state.applier.process_batch()
    assert (first.payout.arrival_date, last.payout.arrival_date) == (
        dt.date(2026, 10, 27), dt.date(2026, 10, 30),
    )  # fmt: skip

    # reconciled on 20 November with the statements the bank sent up to Wednesday 28
    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=UTC))
    statements = await bank_statement_file(
        settings, OCT_FIRST, OCT_28, now=dt.datetime(2026, 10, 28, 22, tzinfo=UTC)
    )
    assert statements.payouts == 1
    doc = await run(
        client, keys, OCT_FIRST, OCT_LAST,
        {"camt053": ("octobre.xml", statements.content, "application/xml")},
    )  # fmt: skip
    # the payout due on Friday 30 is not missing at the bank: its statement has not come
    assert found(doc) == [], doc["discrepancies"]
    assert last.payout.id in doc["summary"]["in_transit"]
    (bank,) = [t for t in doc["tie_outs"] if t["name"] == "bank"]
    # compared on the 28th, the last day the bank has told: the first payout on both sides
    assert bank["as_of"] == "2026-10-28"
    assert (bank["ledger"], bank["source"], bank["in_transit"], bank["difference"]) == (
        first.payout.amount, first.payout.amount, 0, 0,
    )  # fmt: skip
    (psp,) = [t for t in doc["tie_outs"] if t["name"] == "psp_clearing"]
    assert psp["as_of"] is None
    again = await client.get(f"/v1/reconciliations/{doc['id']}", headers=Keys.h(keys.finance))
    assert again.json()["tie_outs"] == doc["tie_outs"]
    # the command's summary and the PDF's say it too
    told = RunOut.model_validate(again.json())
    bank_text = format_money(first.payout.amount, "EUR", "en")
    assert f"bank {bank_text} on 28 October 2026 (the statements end there): agrees" in "\n".join(
        summary_lines(told)
    )
    assert "au 28 octobre 2026 (les relevés s'arrêtent là)" in "\n".join(summary_words(told, "fr"))
    # the workspace says which day the bank's balance is of
    assert (await sign_in(client, keys.finance)).status_code == 303
    page = (await client.get(f"/finance/runs/{doc['id']}?lang=en")).text
    assert "balance of 28 October 2026" in page
    page = (await client.get(f"/finance/runs/{doc['id']}?lang=fr")).text
    assert "solde du 28 octobre 2026" in page

    # once the statements of 29 and 30 October are in, the last payout is the bank's too
    rest = await bank_statement_file(
        settings, dt.date(2026, 10, 29), OCT_LAST, now=dt.datetime(2026, 10, 31, 22, tzinfo=UTC)
    )
    r = await client.post(
        "/v1/bank-statements", headers=Keys.h(keys.finance),
        files={"file": ("fin-octobre.xml", rest.content, "application/xml")},
    )  # fmt: skip
    assert r.status_code in (200, 201), r.text
    doc = await run(client, keys, OCT_FIRST, OCT_LAST)
    assert found(doc) == [] and doc["summary"]["payouts_matched"] == 2
    (bank,) = [t for t in doc["tie_outs"] if t["name"] == "bank"]
    # Friday 30's closing balance, the last of October, is Saturday 31's: the period's end
    assert bank["as_of"] == "2026-10-31"
    total = first.payout.amount + last.payout.amount
    assert (bank["ledger"], bank["source"], bank["difference"]) == (total, total, 0)
    page = (await client.get(f"/finance/runs/{doc['id']}?lang=en")).text
    assert "the statements end there" not in page


def test_a_payout_past_its_window_when_the_statements_end_is_still_missing() -> None:
    """Statements that end late enough to have shown it: the payout due on the 30th with no
    credit is missing at the bank once they cover its window (3 business days), not
    before."""
    w = build([[(2500, 40)]] * 22)
    last = w.payouts[-1]
    (of_28,) = [p for p in w.payouts if p.arrival_date == OCT_28]
    assert last.arrival_date == dt.date(2026, 10, 30)
    w.bank = [b for b in w.bank if last.id not in b.text]
    inputs = w.inputs()
    assert [d.payout_id for d in reconcile(inputs).discrepancies] == [last.id]  # no coverage
    for covered, missing in ((dt.date(2026, 11, 3), False), (dt.date(2026, 11, 4), True)):
        cover = dataclasses.replace(inputs, bank_covered_until={"EUR": covered})
        r = reconcile(cover)
        assert ([d.payout_id for d in r.discrepancies] == [last.id]) is missing, covered
        assert (last.id in r.in_transit) is not missing
        # at the end of the 28th the ledger had not booked it; that day's payout, credited
        # by the bank the next day, was in transit
        assert bank_in_transit(cover, r, {"EUR": OCT_28}) == {"EUR": of_28.amount}
        assert bank_in_transit(cover, r) == ({} if missing else {"EUR": last.amount})


async def test_statements_ending_weeks_before_the_period_make_no_bank_tie_out(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock
) -> None:
    """The statements end on Monday 14 September, before that day's payout reached the bank;
    November is reconciled without any later statement. Compared on 14 September, the bank
    tie-out would differ by that payout: a run reads the ledger's payouts from a week before
    its period, so it cannot count what was in transit then. The statements tell nothing of
    November: no bank tie-out, as with no statement, and November's payout is in transit."""
    sept_1, sept_14 = dt.date(2026, 9, 1), dt.date(2026, 9, 14)
    clock.set(dt.datetime(2026, 9, 14, 6, tzinfo=UTC))
    statements = await bank_statement_file(
        settings, sept_1, sept_14, now=dt.datetime(2026, 9, 14, 6, tzinfo=UTC)
    )
    r = await client.post(
        "/v1/bank-statements", headers=Keys.h(keys.finance),
        files={"file": ("septembre.xml", statements.content, "application/xml")},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    await paid_invoice(client, app, keys.urbanisme, reference="S", amount=2500)
    clock.set(dt.datetime(2026, 9, 14, 10, tzinfo=UTC))
    await sim(app).pay_out()
    await app.state.applier.process_batch()  # booked into the bank on the 14th
    clock.set(dt.datetime(2026, 11, 10, 10, tzinfo=UTC))
    await paid_invoice(client, app, keys.urbanisme, reference="N", amount=4000)
    clock.set(dt.datetime(2026, 11, 11, 10, tzinfo=UTC))
    (november,) = await sim(app).pay_out()
    await app.state.applier.process_batch()
    clock.set(dt.datetime(2026, 12, 3, 12, tzinfo=UTC))
    doc = await run(client, keys, dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert [t for t in doc["tie_outs"] if t["name"] == "bank"] == [], doc["tie_outs"]
    assert found(doc) == [], doc["discrepancies"]
    assert november.payout.id in doc["summary"]["in_transit"]
