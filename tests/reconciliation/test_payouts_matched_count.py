"""The summary's "payouts matched to the bank" counts payouts, not matches: a credit paying
two payouts (a bank that batches a day's transfers) is two payouts matched, and a payout
credited in two parts is one."""

from __future__ import annotations

import dataclasses
import datetime as dt

from reconciliation.digest import summary_of
from reconciliation.matching import reconcile
from reconciliation.records import BankLine
from tests.reconciliation.world import build


def test_one_credit_paying_two_payouts_is_two_payouts_matched() -> None:
    w = build([[(1000, 30)], [(2000, 60)], [(5000, 100)]])
    first, second, third = w.bank
    w.bank = [
        BankLine(
            "ONE", first.amount + second.amount, "credit", "EUR", dt.date(2026, 10, 5), "STRIPE"
        ),  # fmt: skip
        dataclasses.replace(third, reference="PART1", amount=2000),
        dataclasses.replace(third, reference="PART2", amount=third.amount - 2000),
    ]
    inp = w.inputs()
    result = reconcile(inp)
    assert result.discrepancies == () and result.suggestions == ()
    summary = summary_of(inp, result)
    assert (summary["payouts"], summary["payouts_matched"]) == (3, 3)
