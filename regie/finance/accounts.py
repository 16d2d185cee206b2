"""Account types and natural signs of the ledger's chart of accounts. Pure.

The ledger stores debits and credits; a person reads an account by its type. Asset and
expense accounts are debit-normal (their balance is debit − credit); income and liability
accounts are credit-normal (credit − debit), so an income account's credit balance reads
positive. The type is the account path's first segment (docs/architecture.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AccountType(StrEnum):
    asset = "asset"
    liability = "liability"
    income = "income"
    expense = "expense"
    other = "other"  # an account outside the chart; read debit-normal


TYPE_OF_ROOT = {
    "assets": AccountType.asset,
    "receivable": AccountType.asset,
    "liabilities": AccountType.liability,
    "income": AccountType.income,
    "expenses": AccountType.expense,
}
CREDIT_NORMAL = frozenset({AccountType.liability, AccountType.income})
# the order a balance sheet and an income statement list them in
TYPE_ORDER = (
    AccountType.asset,
    AccountType.liability,
    AccountType.income,
    AccountType.expense,
    AccountType.other,
)


def account_type(account: str) -> AccountType:
    return TYPE_OF_ROOT.get(account.split(":", 1)[0], AccountType.other)


def natural_balance(account: str, debit: int, credit: int) -> int:
    """The balance with the account's natural sign: positive when it holds what its type
    holds (an asset's debit balance, an income's credit balance)."""
    if account_type(account) in CREDIT_NORMAL:
        return credit - debit
    return debit - credit


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
