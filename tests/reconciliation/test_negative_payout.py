"""A day whose refunds exceed its charges makes a negative payout: the PSP takes the
difference from the bank account, a debit on the statement. That debit is the payout's,
matched as a credit is matched to a positive payout (a review found it flagged twice: the
payout ``missing_in_bank`` and its debit ``unexpected_bank_debit``, for money that did
leave the bank as the PSP said)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from functools import partial
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from payments.providers.base import EVENT_PAYOUT_FAILED, EVENT_PAYOUT_PAID
from payments.providers.simulator.commands import settlement_report
from payments.providers.simulator.models import SimBalanceTransaction, SimPayout
from reconciliation.matching import reconcile
from reconciliation.normalise import ReportFolder
from reconciliation.records import (
    CHARGE,
    PAYOUT,
    REFUND,
    BankLine,
    Inputs,
    LedgerItem,
    Payout,
    PspLine,
)
from reconciliation.sources.stripe_csv import (
    PayoutReportRow,
    parse_stripe_payout_csv,
    write_stripe_payout_csv,
)
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.payments.test_simulator_payouts import balances, paid_invoice, refund, sim
from tests.reconciliation.camt_builder import E, S, camt
from tests.reconciliation.months import deliver, found, psp_line, run, ties
from tests.reconciliation.test_bulk_typing_fuzz import typed
from tests.reconciliation.world import World, at
from tests.test_year_boundaries import Clock

DAY = dt.date(2026, 10, 5)


def negative_world(text: str = "STRIPE po_neg") -> World:
    w = World()
    w.psp.append(PspLine("txn_c", CHARGE, ("pi_1", "ch_1"), 1000, 30, 970, "EUR", "po_neg", at(DAY, 9)))  # fmt: skip
    w.ledger.append(LedgerItem("payment", "pi_1", 1000, 30, "EUR", ("ent_p",), at(DAY, 9)))
    w.psp.append(PspLine("txn_r", REFUND, ("re_1", "pi_0"), -3000, 0, -3000, "EUR", "po_neg", at(DAY, 11)))  # fmt: skip
    w.ledger.append(LedgerItem("refund", "re_1", -3000, 0, "EUR", ("ent_r",), at(DAY, 11)))
    w.payouts.append(Payout("po_neg", -2030, "EUR", DAY))
    w.ledger.append(LedgerItem("payout", "po_neg", 2030, 0, "EUR", ("ent_po",), at(DAY, 20)))
    w.bank.append(BankLine("BANK1", 2030, "debit", "EUR", DAY + dt.timedelta(days=1), text))
    return w


def test_a_negative_payout_is_matched_to_the_bank_debit_naming_it() -> None:
    r = reconcile(negative_world().inputs())
    assert [(d.category, d.amount) for d in r.discrepancies] == []
    assert r.payout_matches == ((("po_neg",), ("BANK1",)),)


def test_a_negative_payout_is_matched_to_the_one_debit_of_its_amount() -> None:
    r = reconcile(negative_world("PRLV SEPA STRIPE").inputs())
    assert [(d.category, d.amount) for d in r.discrepancies] == []
    assert r.payout_matches == ((("po_neg",), ("BANK1",)),)


def test_a_debit_of_another_amount_is_still_unexpected_and_the_payout_missing() -> None:
    w = negative_world()
    w.bank = [BankLine("BANK1", 2000, "debit", "EUR", DAY + dt.timedelta(days=1), "FRAIS")]
    r = reconcile(w.inputs())
    assert sorted((d.category, d.amount) for d in r.discrepancies) == [
        ("missing_in_bank", 2030),
        ("unexpected_bank_debit", 2000),
    ]
    assert r.payout_matches == ()


# End to end, through the API: the simulator pays a day's charges out, a refund then leaves
# its balance negative, and the PSP makes a negative payout of it (written here by hand, as
# Stripe's records would be, so that it can fail; the simulator's own negative payout, end
# to end, is ``test_simulator_negative_payout``). The bank's statements show the payout's
# credit and the negative payout's debit.

OCT_FIRST, OCT_LAST = dt.date(2026, 10, 1), dt.date(2026, 10, 31)


async def negative_payout(app: Any, pid: str, at: dt.datetime, *, fails: bool = False) -> int:
    """The PSP pays out its negative balance (the lines no payout carried yet) as ``pid``,
    due at the bank the same day; regie receives ``payout.paid`` (and, when it ``fails``,
    the PSP's balance loses the money it took back and regie receives ``payout.failed``)."""
    t = SimBalanceTransaction
    async with app.state.db.session() as s:
        lines = list((await s.execute(select(t).where(col(t.payout_id).is_(None)))).scalars())
        amount = sum(x.net for x in lines)
        assert amount < 0
        for x in lines:
            x.payout_id = pid
        s.add(
            SimPayout(
                id=pid, amount=amount, currency="EUR", status="paid", created_at=at,
                arrival_date=at.date(), statement_descriptor="STRIPE", bank_reference=f"B{pid}",
            )
        )  # fmt: skip
        await s.commit()
    # its own line (the bank's money in), and its reversal when it fails (the money out)
    line = partial(psp_line, app, type_="payout", source_id=pid, payout_id=pid)
    await line(category="payout", amount=-amount, at=at)
    data = {"payout_id": pid, "amount": amount, "currency": "EUR"}
    await deliver(app, EVENT_PAYOUT_PAID, at, **data, status="paid")
    if fails:
        later = at + dt.timedelta(hours=6)
        await line(category="payout_reversal", amount=amount, at=later)
        await deliver(app, EVENT_PAYOUT_FAILED, later, **data, status="failed")
    return amount


def statements(iban: str, credit: str, debit: str | None) -> bytes:
    """The bank's October: the payout's credit on the 5th, the negative payout's debit on
    the 13th (none when it failed), and a statement of the 30th that follows on."""
    cents = int(credit.replace(".", "")) - (int(debit.replace(".", "")) if debit else 0)
    close = (f"{abs(cents) / 100:.2f}", "CRDT" if cents >= 0 else "DBIT")
    entries = [E(debit, "DBIT", day="2026-10-13", text="PRLV SEPA STRIPE po_neg",
                 servicer_ref="BANK-DEBIT")] if debit else []  # fmt: skip
    return camt(
        S("S5", 1, iban, opening=("0.00", "CRDT"), closing=(credit, "CRDT"), day="2026-10-05",
          entries=[E(credit, day="2026-10-05", text="VIR SEPA SIMULATOR", servicer_ref="BANK-C")]),
        S("S13", 2, iban, opening=(credit, "CRDT"), closing=close, day="2026-10-13",
          entries=entries),
        S("S30", 3, iban, opening=close, closing=close, day="2026-10-30"),
    )  # fmt: skip


@pytest.mark.parametrize("fails", [False, True], ids=["paid", "failed"])
async def test_a_negative_payout_reconciles_clean_against_the_ledger_and_the_bank(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock,
    fails: bool,
) -> None:  # fmt: skip
    clock.set(dt.datetime(2026, 10, 5, 7, tzinfo=dt.UTC))
    invoice = await paid_invoice(client, app, keys.urbanisme, reference="N", amount=2500)
    (made,) = await sim(app).pay_out()
    await app.state.applier.process_batch()
    assert made.payout.amount == 2437
    clock.set(dt.datetime(2026, 10, 12, 9, tzinfo=dt.UTC))
    await refund(client, keys.urbanisme, invoice, 2500)
    at = dt.datetime(2026, 10, 13, 8, tzinfo=dt.UTC)
    clock.set(at)
    assert await negative_payout(app, "po_neg", at, fails=fails) == -2500
    bal = await balances(app)
    # the refund left the PSP's balance 25.00 short, which the bank's debit made up (unless
    # the bank refused it)
    assert (bal[("assets:bank:main", "EUR")], bal[("assets:psp:simulator", "EUR")]) == (
        (2437, -2500) if fails else (2437 - 2500, 0)
    )

    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC))  # October is reconciled
    camt053 = statements(settings.bank_iban, "24.37", None if fails else "25.00")
    doc = await run(
        client, keys, OCT_FIRST, OCT_LAST, {"camt053": ("releve.xml", camt053, "application/xml")}
    )
    assert found(doc) == [], doc["discrepancies"]
    assert ties(doc) == {("psp_clearing", "EUR"): 0, ("bank", "EUR"): 0}, doc["tie_outs"]
    assert doc["summary"]["payouts_matched"] == (1 if fails else 2)
    if fails:  # (the simulator's report leaves a failure out: Stripe's, below, has it)
        return
    # the same from Stripe's itemised report of the month's payouts
    report = (await settlement_report(settings, OCT_FIRST, OCT_LAST)).content
    doc = await run(
        client, keys, OCT_FIRST, OCT_LAST, {"stripe_csv": ("payouts.csv", report, "text/csv")}
    )
    assert found(doc) == [], doc["discrepancies"]
    assert ties(doc)[("bank", "EUR")] == 0, doc["tie_outs"]
    assert doc["summary"]["payouts_matched"] == 2


# A negative payout that fails, in Stripe's itemised report (the shapes of
# ``test_failed_payout_in_report``): the bank refused po_A's debit, and po_B, the next
# payout, carries its reversal (``payout_reversal``, taking back the 25.00 EUR po_A had
# brought into the balance, naming po_A). The bank debits nothing for po_A and credits po_B
# net of it; the ledger books po_A in and out again, po_B out.

D1, D2, D3 = dt.date(2026, 10, 12), dt.date(2026, 10, 13), dt.date(2026, 10, 14)
NEXT = 5000 - 65 - 2500  # po_B: its own payment's net less po_A's reversal


def _row(txn: str, cat: str, net: int, payout: str, eff: dt.date, src: str,
         when: dt.datetime, fee: int = 0) -> PayoutReportRow:  # fmt: skip
    pi = src if cat in ("charge", "refund") else None
    return PayoutReportRow(txn, payout, at(eff, 0), when, when, "EUR", net + fee, fee, net,
                           cat, src, pi, pi, None, 2)  # fmt: skip


_REFUND_1 = _row("txn_r1", "refund", -2500, "po_A", D1, "pi_1", at(D1, 9))
_BACK = _row("txn_fail", "payout_reversal", -2500, "po_B", D3, "po_A", at(D2, 8))
_CHARGE_2 = _row("txn_c2", "charge", 5000 - 65, "po_B", D3, "pi_2", at(D3, 9), fee=65)
REPORTS = {
    # po_A's own rows under po_A, its reversal under po_B
    "own rows": [_REFUND_1, _BACK, _CHARGE_2],
    # po_A's rows under po_B: its refund, its own line (the bank's money in), its reversal
    "moved rows": [
        dataclasses.replace(_REFUND_1, payout_id="po_B"),
        _row("txn_poA", "payout", 2500, "po_B", D3, "po_A", at(D1, 12)),
        _BACK,
        _CHARGE_2,
    ],
}


def _ledger() -> tuple[LedgerItem, ...]:
    """The ledger's entries as ``ledger_reads`` gives them: a payout's way is its entry's
    kind (paid, or failed), not its sign."""
    return (
        LedgerItem("refund", "pi_1", -2500, 0, "EUR", ("ent_r1",), at(D1, 9)),
        LedgerItem("payout", "po_A", 2500, 0, "EUR", ("ent_poA",), at(D1, 12), way=-1),
        LedgerItem("payout", "po_A", -2500, 0, "EUR", ("ent_poA_back",), at(D2, 8), way=1),
        LedgerItem("payment", "pi_2", 5000, 65, "EUR", ("ent_p2",), at(D3, 9)),
        LedgerItem("payout", "po_B", -NEXT, 0, "EUR", ("ent_poB",), at(D3, 12), way=-1),
    )


def _report_inputs(rows: list[PayoutReportRow], ledger: tuple[LedgerItem, ...]) -> Inputs:
    folder = ReportFolder()
    data = write_stripe_payout_csv(rows)
    lines = [folder.add(r) for r in parse_stripe_payout_csv(data, "r.csv").rows]
    return Inputs(
        period_from=OCT_FIRST, period_to=OCT_LAST, psp_lines=tuple(lines), ledger_items=ledger,
        payouts=tuple(folder.payouts()), as_of=dt.date(2026, 11, 20),
        bank_lines=(BankLine("BANK2", NEXT, "credit", "EUR", D3, "STRIPE po_B"),),
        psp_covered_until={"EUR": max(x.created for x in lines)},
    )  # fmt: skip


@pytest.mark.parametrize("shape", sorted(REPORTS))
def test_a_failed_negative_payout_in_a_report_is_nothing_to_look_at(shape: str) -> None:
    rows, ledger = REPORTS[shape], _ledger()
    inp = _report_inputs(rows, ledger)
    if shape == "own rows":  # po_A came back whole, on the pure and the bulk path alike
        expected = [Payout("po_A", 0, "EUR", D1, returned=-2500), Payout("po_B", NEXT, "EUR", D3)]
        assert list(inp.payouts) == expected
        bulk = typed(write_stripe_payout_csv(rows))
        assert bulk is not None and not isinstance(bulk, str) and bulk[1] == expected
    r = reconcile(inp)
    assert r.discrepancies == (), r.discrepancies
    assert r.payout_matches == ((("po_B",), ("BANK2",)),) and r.in_transit == ()
    # a ledger that never heard ``payout.failed`` (po_A's money still at the PSP) is said,
    # as for a positive payout: po_A's mismatch, or its reversal missing in the ledger
    without = tuple(i for i in ledger if i.entry_ids != ("ent_poA_back",))
    (d,) = reconcile(_report_inputs(rows, without)).discrepancies
    category = "payout_mismatch" if shape == "own rows" else "missing_in_ledger"
    assert (d.category, d.payout_id, d.amount) == (category, "po_A", 2500)


# A negative payout Stripe makes on Friday 30 October (its line, the bank's money coming
# in, is of the week before November), expected at the bank on Monday 2 November, when
# ``payout.paid`` comes and regie books it (the shape ``test_payout_paid_next_month`` runs
# for a payout): November looks for its debit on the day the PSP gave.

NOV_FIRST, NOV_LAST, MONDAY = dt.date(2026, 11, 1), dt.date(2026, 11, 19), dt.date(2026, 11, 2)


def _november(ledger: tuple[LedgerItem, ...] | None = None) -> Inputs:
    made = at(dt.date(2026, 10, 30), 12)
    before = (
        PspLine("txn_r", REFUND, ("re_m", "pi_m"), -2500, 0, -2500, "EUR", "po_m", at(made.date(), 9)),
        PspLine("txn_po", PAYOUT, ("po_m",), 2500, 0, 2500, "EUR", "po_m", made, arrival=MONDAY,
                way=-1),
    )  # fmt: skip
    if ledger is None:  # the ledger's entry, as ``ledger_reads`` gives it
        ledger = (LedgerItem("payout", "po_m", 2500, 0, "EUR", ("ent_po",), at(MONDAY, 9), way=-1),)
    return Inputs(
        period_from=NOV_FIRST, period_to=NOV_LAST, psp_lines=(), ledger_items=ledger, payouts=(),
        bank_lines=(BankLine("BANKPO", 2500, "debit", "EUR", MONDAY, "PRLV SEPA STRIPE"),),
        as_of=dt.date(2026, 11, 20), psp_before=before,
    )  # fmt: skip


def test_a_negative_payout_of_the_week_before_is_looked_for_at_the_bank_as_its_debit() -> None:
    r = reconcile(_november())
    assert r.discrepancies == () and r.payout_matches == ((("po_m",), ("BANKPO",)),)


def test_a_failure_read_without_its_payout_is_not_a_negative_payout_at_the_bank() -> None:
    """The ledger's reversal of a payout paid out long before (its ``paid`` entry beyond the
    ledger's read) moves money into the PSP's account as a negative payout would: it is
    not one, and explains no bank debit."""
    back = LedgerItem("payout", "po_old", 2500, 0, "EUR", ("ent_back",), at(MONDAY, 9), way=1)
    r = reconcile(_november((back,)))
    assert r.payout_matches == ()
    assert sorted((d.category, d.payout_id, d.amount) for d in r.discrepancies) == [
        ("missing_at_psp", "po_old", 2500),  # (its failure line is not among the PSP's)
        ("unexpected_bank_debit", None, 2500),
    ]
