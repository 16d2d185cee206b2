"""A payout the bank refused (po_1), whose money Stripe gives back to the balance (a
``payout_failure`` balance transaction, reporting category ``payout_reversal``) and pays out
again with the next automatic payout (po_2). That line's source is the failed payout; the
payout that carried it is the next one: the port names it (``SettlementLine.payout_id``, as
``list_payout_lines(po_2)`` and the simulator, which names the payout that carried each
line, do), and the itemised report lists it under po_2 (``automatic_payout_id``) with
``source_id`` po_1. po_1 reaches the bank with nothing, the ledger books it and its
reversal; po_2, the bank's credit and the ledger's payout entry all include the 24.37 EUR
that came back."""

from __future__ import annotations

import dataclasses
import datetime as dt

from payments.providers.base import SettlementLine
from payments.providers.stripe import settlement
from reconciliation.matching import reconcile
from reconciliation.normalise import (
    from_port,
    from_report,
    payouts_from_lines,
    payouts_from_report,
    payouts_short,
)
from reconciliation.records import BankLine, Inputs, LedgerItem, Payout
from reconciliation.sources.stripe_csv import PayoutReportRow
from tests.reconciliation.world import at

FIRST, LAST = dt.date(2026, 10, 1), dt.date(2026, 10, 31)
D1, D2, D3 = dt.date(2026, 10, 12), dt.date(2026, 10, 13), dt.date(2026, 10, 14)
BACK = 2437  # po_1: 25.00 EUR less 0.63 EUR of fee
NEXT = 5000 - 65 + BACK  # po_2: its own payment's net and po_1's money back


def _port_lines(*, failure_payout: str = "po_2") -> list[SettlementLine]:
    """The balance transactions as the port lists them (Stripe's types folded by the
    adapter: ``payout_failure`` is a line of kind ``payout``), each naming the payout that
    carried it; the failure line names ``failure_payout``."""

    def line(id_: str, type_: str, cat: str, amount: int, fee: int, payout: str,
             source: str, when: dt.datetime, pi: str | None = None,
             arrival: dt.date | None = None) -> SettlementLine:  # fmt: skip
        return SettlementLine(
            id=id_, type=type_, provider_payment_id=pi, amount=amount, fee=fee,
            net=amount - fee, currency="EUR", payout_id=payout, created=when,
            reporting_category=cat, source_id=source, arrival_date=arrival,
        )  # fmt: skip

    return [
        line("txn_c1", "charge", "charge", 2500, 63, "po_1", "ch_1", at(D1, 9), "pi_1"),
        line("txn_po1", "payout", "payout", -BACK, 0, "po_1", "po_1", at(D1, 12), arrival=D1),
        # the bank refused po_1: its money is back in the balance, carried by po_2
        line(
            "txn_fail",
            "payout",
            "payout_reversal",
            BACK,
            0,
            failure_payout,
            "po_1",
            at(D2, 8),
            arrival=D1,
        ),  # fmt: skip
        line("txn_c2", "charge", "charge", 5000, 65, "po_2", "ch_2", at(D3, 9), "pi_2"),
        line("txn_po2", "payout", "payout", -NEXT, 0, "po_2", "po_2", at(D3, 12), arrival=D3),
    ]


def _ledger() -> tuple[LedgerItem, ...]:
    return (
        LedgerItem("payment", "pi_1", 2500, 63, "EUR", ("ent_p1",), at(D1, 9)),
        LedgerItem("payout", "po_1", -BACK, 0, "EUR", ("ent_po1",), at(D1, 12)),
        LedgerItem("payout", "po_1", BACK, 0, "EUR", ("ent_po1_back",), at(D2, 8)),
        LedgerItem("payment", "pi_2", 5000, 65, "EUR", ("ent_p2",), at(D3, 9)),
        LedgerItem("payout", "po_2", -NEXT, 0, "EUR", ("ent_po2",), at(D3, 12)),
    )


def _bank() -> tuple[BankLine, ...]:  # po_1 never arrived; po_2 did
    return (BankLine("BANK2", NEXT, "credit", "EUR", D3, "STRIPE po_2"),)


def _month(payouts: list[Payout], lines: list) -> Inputs:  # type: ignore[type-arg]
    return Inputs(
        period_from=FIRST, period_to=LAST, psp_lines=tuple(lines), ledger_items=_ledger(),
        payouts=tuple(payouts), bank_lines=_bank(), as_of=dt.date(2026, 11, 20),
    )  # fmt: skip


def _seen(inp: Inputs) -> list[tuple[str, str | None, int]]:
    return sorted((d.category, d.payout_id, d.amount) for d in reconcile(inp).discrepancies)


# -- the PSP's side from its port ----------------------------------------------------------


def test_from_the_port_the_failed_payout_is_returned_and_the_next_one_whole() -> None:
    """The failure line's payout is po_2 but what failed is its source, po_1: po_1 reached
    the bank with nothing (it came back whole), po_2 with everything it was sent for."""
    lines = [from_port(x) for x in _port_lines()]
    payouts = payouts_from_lines(lines)
    assert payouts == [
        Payout("po_1", 0, "EUR", D1, returned=BACK),
        Payout("po_2", NEXT, "EUR", D3),
    ]
    assert payouts_short(lines, payouts) == []  # each payout's lines add up to it


def test_from_the_port_a_failed_payout_carried_back_by_the_next_one_agrees_everywhere() -> None:
    lines = [from_port(x) for x in _port_lines()]
    r = reconcile(_month(payouts_from_lines(lines), lines))
    assert r.discrepancies == (), r.discrepancies
    assert r.payout_matches == ((("po_2",), ("BANK2",)),)
    assert r.in_transit == ()


def _stripe_txn(id_: str, type_: str, cat: str, amount: int, fee: int, source: dict,  # type: ignore[type-arg]
                when: dt.datetime) -> dict:  # type: ignore[type-arg]  # fmt: skip
    """A balance transaction as Stripe's API returns it, its source expanded."""
    return {
        "id": id_, "object": "balance_transaction", "type": type_, "reporting_category": cat,
        "amount": amount, "fee": fee, "net": amount - fee, "currency": "eur",
        "created": int(when.timestamp()), "source": source, "fee_details": [],
    }  # fmt: skip


def _stripe_history() -> list[dict]:  # type: ignore[type-arg]
    def payout(pid: str, day: dt.date) -> dict:  # type: ignore[type-arg]
        return {"id": pid, "object": "payout", "arrival_date": int(at(day, 0).timestamp())}

    def charge(n: int) -> dict:  # type: ignore[type-arg]
        return {"id": f"ch_{n}", "object": "charge", "payment_intent": f"pi_{n}"}

    return [
        _stripe_txn("txn_c1", "charge", "charge", 2500, 63, charge(1), at(D1, 9)),
        _stripe_txn("txn_po1", "payout", "payout", -BACK, 0, payout("po_1", D1), at(D1, 12)),
        _stripe_txn(
            "txn_fail", "payout_failure", "payout_reversal", BACK, 0, payout("po_1", D1), at(D2, 8)
        ),  # fmt: skip
        _stripe_txn("txn_c2", "charge", "charge", 5000, 65, charge(2), at(D3, 9)),
        _stripe_txn("txn_po2", "payout", "payout", -NEXT, 0, payout("po_2", D3), at(D3, 12)),
    ]


def test_from_stripes_balance_history_the_same_month_agrees_too() -> None:
    """Stripe's balance history (``list_settlement_lines``) names no payout on a line but a
    payout's (the adapter names the failure's source, po_1); listed by payout
    (``list_payout_lines("po_2")``), the failure names po_2, the payout that carried it:
    either way, the same month and the same outcome."""
    history = [settlement.settlement_line(t) for t in _stripe_history()]
    assert [x.payout_id for x in history] == [None, "po_1", "po_1", None, "po_2"]
    by_payout = [settlement.settlement_line(t, payout_id="po_2") for t in _stripe_history()[2:]]
    assert [(x.payout_id, x.source_id) for x in by_payout][0] == ("po_2", "po_1")
    for port in (history, [*history[:2], *by_payout]):
        lines = [from_port(x) for x in port]
        payouts = payouts_from_lines(lines)
        assert payouts == [
            Payout("po_1", 0, "EUR", D1, returned=BACK),
            Payout("po_2", NEXT, "EUR", D3),
        ]
        assert payouts_short(lines, payouts) == []
        r = reconcile(_month(payouts, lines))
        assert r.discrepancies == (), r.discrepancies
        assert r.payout_matches == ((("po_2",), ("BANK2",)),)


def test_from_the_port_a_failure_the_ledger_did_not_book_is_still_po_1s_mismatch() -> None:
    lines = [from_port(x) for x in _port_lines()]
    inp = dataclasses.replace(
        _month(payouts_from_lines(lines), lines),
        ledger_items=tuple(i for i in _ledger() if i.entry_ids != ("ent_po1_back",)),
    )
    assert _seen(inp) == [("payout_mismatch", "po_1", BACK)]


# -- the PSP's side from Stripe's itemised payout report --------------------------------


def _row(txn: str, cat: str, gross: int, fee: int, src: str, when: dt.datetime,
         pi: str | None = None) -> PayoutReportRow:  # fmt: skip
    return PayoutReportRow(txn, "po_2", at(D3, 6), when, when, "EUR", gross, fee, gross - fee,
                           cat, src, src if pi else None, pi, None, 2)  # fmt: skip


def test_from_the_report_the_payout_carrying_the_failure_is_whole() -> None:
    """po_2's rows include po_1's money back (source po_1): po_2 is their net, agrees with
    the ledger's payout and the bank's credit, and nothing is said about it. (Whether po_1's
    own rows are in a report depends on what Stripe lists; this report holds po_2's.)"""
    rows = [
        _row("txn_fail", "payout_reversal", BACK, 0, "po_1", at(D2, 8)),
        _row("txn_c2", "charge", 5000, 65, "ch_2", at(D3, 9), "pi_2"),
    ]
    lines = [from_report(x) for x in rows]
    payouts = payouts_from_report(rows)
    assert payouts == [Payout("po_2", NEXT, "EUR", D3)]
    r = reconcile(_month(payouts, lines))
    assert [d for d in r.discrepancies if d.payout_id == "po_2"] == []
    assert r.payout_matches == ((("po_2",), ("BANK2",)),)
