"""The simulator makes a negative payout as Stripe does: a day whose refunds exceed its
charges leaves the balance negative, and the payout takes the difference from the bank
account. End to end: the simulator's payouts (a positive one, then a negative one), the
events regie books, the bank's camt.053 (the negative payout a debit, the balances adding
up) and Stripe's itemised report reconcile October with nothing to look at."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import httpx
from lxml import etree
from sqlalchemy import select

from payments.providers.simulator.camt053 import BankAccount, bank_statement
from payments.providers.simulator.commands import bank_statement_file, settlement_report
from payments.providers.simulator.records import PayoutRecord
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.payments.test_simulator_payouts import BANK, PSP, balances, paid_invoice, refund, sim
from tests.payments.test_simulator_reports import NS, amount, balance, check_order
from tests.reconciliation.months import OCT_FIRST, OCT_LAST, found, run, ties
from tests.test_year_boundaries import Clock
from webhooks.inbound.models import InboxEvent

MONDAY = dt.datetime(2026, 10, 5, 7, tzinfo=dt.UTC)
TUESDAY = dt.datetime(2026, 10, 6, 9, tzinfo=dt.UTC)


def statements_by_day(doc: bytes) -> dict[str, etree._Element]:
    root = etree.fromstring(doc)
    check_order(root)
    return {s.findtext("c:Id", namespaces=NS)[-10:]: s for s in root.findall(".//c:Stmt", NS)}


async def test_refunds_beyond_the_days_charges_make_a_negative_payout_that_reconciles(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock
) -> None:
    clock.set(MONDAY)
    first = await paid_invoice(client, app, keys.urbanisme, reference="A", amount=2500)
    (paid,) = await sim(app).pay_out()
    await app.state.applier.process_batch()
    assert paid.payout.amount == 2500 - 63

    # Tuesday: a charge of 10.00 EUR (0.40 fee) and Monday's 25.00 EUR refunded
    clock.set(TUESDAY)
    await paid_invoice(client, app, keys.etat_civil, reference="B", amount=1000)
    await refund(client, keys.urbanisme, first, 2500)
    assert (await balances(app))[PSP] == 960 - 2500
    (made,) = await sim(app).pay_out()
    negative = made.payout
    assert (negative.amount, negative.currency, made.line_count) == (960 - 2500, "EUR", 2)
    assert negative.arrival_date == dt.date(2026, 10, 6) and made.delivered
    # regie books it as it books Stripe's: the money leaves the bank for the PSP's balance
    assert await app.state.applier.process_batch() == 2  # payout.paid, payout.reconciled
    bal = await balances(app)
    assert (bal[BANK], bal[PSP]) == (2437 - 1540, 0)
    async with app.state.db.session() as s:
        rows = await s.execute(select(InboxEvent.raw_type, InboxEvent.outcome))
        outcomes = sorted(x for x in rows.all() if x[0].startswith("payout."))
    assert outcomes == [
        ("payout.paid", "payout paid"),
        ("payout.paid", "payout paid"),
        ("payout.reconciled", "ignored: the whole payout was posted when paid"),
        ("payout.reconciled", "ignored: the whole payout was posted when paid"),
    ]
    # the PSP's balance history: the payout's own line brings the bank's money in
    lines = [x async for x in sim(app).list_payout_lines(negative.id)]
    assert [(x.reporting_category, x.amount, x.fee, x.net) for x in lines] == [
        ("charge", 1000, 40, 960),
        ("refund", -2500, 0, -2500),
        ("payout", 1540, 0, 1540),
    ]
    assert sum(x.net for x in lines) == 0 and {x.payout_id for x in lines} == {negative.id}
    assert await sim(app).pay_out() == []  # the balance is back to zero: nothing to pay

    # the bank: Monday's credit, Tuesday's debit, each day's balances adding up
    written = dt.datetime(2026, 10, 30, 22, tzinfo=dt.UTC)
    camt = await bank_statement_file(settings, OCT_FIRST, OCT_LAST, now=written)
    assert camt.payouts == 2 and camt.not_yet_booked == 0
    days = statements_by_day(camt.content)
    for stmt in days.values():
        entries = stmt.findall("c:Ntry", NS)
        assert balance(stmt, "OPBD") + sum(amount(e) for e in entries) == balance(stmt, "CLBD")
    assert (balance(days["2026-10-05"], "OPBD"), balance(days["2026-10-05"], "CLBD")) == (0, 2437)
    tuesday = days["2026-10-06"]
    assert (balance(tuesday, "OPBD"), balance(tuesday, "CLBD")) == (2437, 897)
    (debit,) = tuesday.findall("c:Ntry", NS)
    tx = "c:NtryDtls/c:TxDtls/"
    assert (debit.findtext("c:Amt", namespaces=NS), amount(debit)) == ("15.40", -1540)
    assert debit.findtext(tx + "c:CdtDbtInd", namespaces=NS) == "DBIT"
    assert debit.findtext(tx + "c:Amt", namespaces=NS) == "15.40"
    assert debit.findtext(tx + "c:RmtInf/c:Ustrd", namespaces=NS) == f"SIMULATOR {negative.id}"
    assert balance(days["2026-10-30"], "CLBD") == 897

    # Stripe's itemised report: the lines the negative payout carried, adding up to it
    report = (await settlement_report(settings, OCT_FIRST, OCT_LAST)).content
    rows = [r for r in csv.DictReader(io.StringIO(report.decode())) if r["automatic_payout_id"] == negative.id]  # fmt: skip
    assert [(r["reporting_category"], r["gross"], r["fee"], r["net"]) for r in rows] == [
        ("charge", "10.00", "0.40", "9.60"),
        ("refund", "-25.00", "0.00", "-25.00"),
    ]
    assert sum(Decimal(r["net"]) for r in rows) == Decimal("-15.40")

    # October reconciled: from the PSP's own lines, and from its report, against the bank
    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC))
    xml = ("releve.xml", camt.content, "application/xml")
    for files in ({"camt053": xml}, {"camt053": xml, "stripe_csv": ("p.csv", report, "text/csv")}):
        doc = await run(client, keys, OCT_FIRST, OCT_LAST, files)
        assert found(doc) == [], doc["discrepancies"]
        assert set(ties(doc).values()) == {0}, doc["tie_outs"]
        assert doc["summary"]["payouts_matched"] == 2
        assert doc["summary"]["in_transit"] == []


def test_a_negative_payout_on_an_empty_account_is_a_debit_the_balance_goes_below_zero() -> None:
    """The statement of an account a negative payout overdraws: a booked SEPA direct debit
    naming the payout (the PSP its creditor), the closing balance a debit."""
    p = PayoutRecord(
        id="po_sim_NEG", amount=-1540, currency="EUR",
        created=dt.datetime(2026, 10, 6, 9, tzinfo=dt.UTC), arrival_date=dt.date(2026, 10, 6),
        statement_descriptor="SIMULATOR", bank_reference="SIMBANKNEG",
    )  # fmt: skip
    account = BankAccount("FR7630001007941234567890185", "EUR")
    day = dt.date(2026, 10, 6)
    root = etree.fromstring(bank_statement([p], account, 0, day, day))
    check_order(root)
    (stmt,) = root.findall(".//c:Stmt", NS)
    (bal,) = stmt.xpath("c:Bal[c:Tp/c:CdOrPrtry/c:Cd='CLBD']", namespaces=NS)
    assert (bal.findtext("c:Amt", namespaces=NS), bal.findtext("c:CdtDbtInd", namespaces=NS)) == (
        "15.40",
        "DBIT",
    )
    assert (balance(stmt, "OPBD"), balance(stmt, "CLBD")) == (0, -1540)
    (e,) = stmt.findall("c:Ntry", NS)
    assert (e.findtext("c:CdtDbtInd", namespaces=NS), e.findtext("c:Sts/c:Cd", namespaces=NS)) == (
        "DBIT",
        "BOOK",
    )
    assert [x.text for x in e.find("c:BkTxCd/c:Domn", NS).iter() if x.text.strip()] == [
        "PMNT",
        "RDDT",  # received direct debit
        "ESDD",  # SEPA core direct debit
    ]
    tx = "c:NtryDtls/c:TxDtls/"
    assert e.findtext(tx + "c:Refs/c:EndToEndId", namespaces=NS) == "po_sim_NEG"
    assert e.findtext(tx + "c:RltdPties/c:Cdtr/c:Pty/c:Nm", namespaces=NS) == "SIMULATOR PSP"
    assert e.find(tx + "c:RltdPties/c:Dbtr", NS) is None
    assert e.findtext("c:AddtlNtryInf", namespaces=NS).startswith("PRLV SEPA ")
