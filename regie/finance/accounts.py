"""The finance workspace's account lines and trial balance. Pure.

Account types and natural signs are the ledger's (``ledger.chart``): asset and expense
accounts are debit-normal, income and liability accounts credit-normal, so an income
account's credit balance reads positive.
"""

from __future__ import annotations

from dataclasses import dataclass

# the types and signs are the ledger's (the API's /v1/ledger/accounts shows them too)
from ledger.chart import (
    CREDIT_NORMAL,
    TYPE_OF_ROOT,
    AccountType,
    account_type,
    natural_balance,
)

__all__ = [
    "CREDIT_NORMAL",
    "TYPE_OF_ROOT",
    "TYPE_ORDER",
    "AccountLine",
    "AccountType",
    "TrialBalance",
    "account_lines",
    "account_type",
    "natural_balance",
    "trial_balances",
]

# the order a balance sheet and an income statement list them in
TYPE_ORDER = (
    AccountType.asset,
    AccountType.liability,
    AccountType.income,
    AccountType.expense,
    AccountType.other,
)


@dataclass(frozen=True)
class AccountLine:
    account: str
    type: AccountType
    currency: str
    debit: int
    credit: int
    balance: int  # natural sign


@dataclass(frozen=True)
class TrialBalance:
    currency: str
    debit: int
    credit: int

    @property
    def balanced(self) -> bool:
        return self.debit == self.credit


def account_lines(rows: list[tuple[str, str, int, int]]) -> list[AccountLine]:
    """(account, currency, debit, credit) rows, as lines sorted by type, then account."""
    lines = [
        AccountLine(a, account_type(a), c, d, k, natural_balance(a, d, k)) for a, c, d, k in rows
    ]
    return sorted(lines, key=lambda x: (TYPE_ORDER.index(x.type), x.account, x.currency))


def trial_balances(lines: list[AccountLine]) -> list[TrialBalance]:
    """Per currency, the sums of debits and of credits (they are equal in a sound ledger)."""
    sums: dict[str, tuple[int, int]] = {}
    for x in lines:
        d, k = sums.get(x.currency, (0, 0))
        sums[x.currency] = (d + x.debit, k + x.credit)
    return [TrialBalance(c, d, k) for c, (d, k) in sorted(sums.items())]
