"""Account types and natural signs of the ledger's chart of accounts. Pure.

The ledger stores debits and credits; a person reads an account by its type. Asset and
expense accounts are debit-normal (their balance is debit − credit); income and liability
accounts are credit-normal (credit − debit), so an income account's credit balance reads
positive. The type is the account path's first segment (docs/architecture.md).
"""

from __future__ import annotations

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


def account_type(account: str) -> AccountType:
    return TYPE_OF_ROOT.get(account.split(":", 1)[0], AccountType.other)


def normal_side(account: str) -> str:
    """``credit`` for income and liability accounts, ``debit`` for the others."""
    return "credit" if account_type(account) in CREDIT_NORMAL else "debit"


def natural_balance(account: str, debit: int, credit: int) -> int:
    """The balance with the account's natural sign: positive when it holds what its type
    holds (an asset's debit balance, an income's credit balance)."""
    if account_type(account) in CREDIT_NORMAL:
        return credit - debit
    return debit - credit
