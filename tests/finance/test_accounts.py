"""Account types and natural signs (pure)."""

from __future__ import annotations

import pytest

from regie.finance.accounts import (
    AccountType,
    account_lines,
    account_type,
    natural_balance,
    trial_balances,
)


@pytest.mark.parametrize(
    ("account", "kind"),
    [
        ("receivable:urbanisme", AccountType.asset),
        ("assets:psp:stripe", AccountType.asset),
        ("assets:bank:main", AccountType.asset),
        ("income:urbanisme", AccountType.income),
        ("liabilities:overpayments", AccountType.liability),
        ("expenses:psp_fees", AccountType.expense),
        ("expenses:disputes", AccountType.expense),
        ("suspense:x", AccountType.other),
        ("incomes:x", AccountType.other),  # the first segment, exactly
    ],
)
def test_the_type_is_the_first_segment(account: str, kind: AccountType) -> None:
    assert account_type(account) is kind


def test_debit_normal_accounts_read_debit_minus_credit() -> None:
    assert natural_balance("assets:psp:simulator", 10_000, 2_500) == 7_500
    assert natural_balance("receivable:urbanisme", 2_500, 0) == 2_500
    assert natural_balance("expenses:psp_fees", 191, 0) == 191
    assert natural_balance("assets:bank:main", 0, 300) == -300  # an overdraft reads negative


def test_credit_normal_accounts_read_credit_minus_debit() -> None:
    assert natural_balance("income:urbanisme", 0, 8_500) == 8_500
    assert natural_balance("income:urbanisme", 1_000, 8_500) == 7_500
    assert natural_balance("liabilities:overpayments", 0, 2_500) == 2_500
    assert natural_balance("liabilities:overpayments", 2_500, 2_500) == 0


def test_lines_are_sorted_by_type_then_account_and_carry_the_natural_balance() -> None:
    lines = account_lines(
        [
            ("income:urbanisme", "EUR", 0, 8_500),
            ("expenses:psp_fees", "EUR", 191, 0),
            ("receivable:urbanisme", "EUR", 8_500, 8_500),
            ("assets:psp:simulator", "EUR", 8_500, 191),
            ("liabilities:overpayments", "EUR", 0, 0),
        ]
    )
    assert [(x.account, x.type.value, x.balance) for x in lines] == [
        ("assets:psp:simulator", "asset", 8_309),
        ("receivable:urbanisme", "asset", 0),
        ("liabilities:overpayments", "liability", 0),
        ("income:urbanisme", "income", 8_500),
        ("expenses:psp_fees", "expense", 191),
    ]


def test_the_trial_balance_sums_debits_and_credits_per_currency() -> None:
    lines = account_lines(
        [
            ("income:a", "EUR", 0, 8_500),
            ("receivable:a", "EUR", 8_500, 0),
            ("income:a", "XPF", 0, 1_000),
            ("receivable:a", "XPF", 900, 0),
        ]
    )
    eur, xpf = trial_balances(lines)
    assert (eur.currency, eur.debit, eur.credit, eur.balanced) == ("EUR", 8_500, 8_500, True)
    assert (xpf.currency, xpf.debit, xpf.credit, xpf.balanced) == ("XPF", 900, 1_000, False)
