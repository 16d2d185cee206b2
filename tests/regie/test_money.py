from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regie.kit.money import (
    CURRENCIES,
    Money,
    MoneyError,
    exponent,
    format_money,
    from_decimal,
    to_decimal,
    validate_amount,
    validate_currency,
)

NNBSP, NBSP = "\u202f", "\u00a0"


def test_exponents_of_the_currencies_regie_cares_about() -> None:
    assert (
        exponent("EUR"),
        exponent("JPY"),
        exponent("XPF"),
        exponent("XOF"),
        exponent("KWD"),
    ) == (2, 0, 0, 0, 3)


@pytest.mark.parametrize("code", ["eur", "EUX", "EURO", "", "XXX", "123"])
def test_unknown_or_lower_case_codes_are_refused(code: str) -> None:
    with pytest.raises(MoneyError):
        validate_currency(code)


@pytest.mark.parametrize("amount", [0, -1, 25.0, 25.5, "25", True, None, 10**9])
def test_amount_validation_refuses_non_positive_non_integers_and_too_large(amount: object) -> None:
    with pytest.raises(MoneyError):
        validate_amount(amount, maximum=10**8)


def test_amount_validation_accepts_positive_integers() -> None:
    assert validate_amount(1, maximum=10) == 1
    assert validate_amount(10, maximum=10) == 10


@pytest.mark.parametrize(
    ("amount", "currency", "lang", "expected"),
    [
        (2500, "EUR", "fr", f"25,00{NBSP}€"),
        (123450, "EUR", "fr", f"1{NNBSP}234,50{NBSP}€"),
        (123450, "EUR", "en", "€1,234.50"),
        (5, "EUR", "en", "€0.05"),
        (1500, "XPF", "fr", f"1{NNBSP}500{NBSP}FCFP"),
        (12345, "KWD", "fr", f"12,345{NBSP}KWD"),
    ],
)
def test_locale_formatting(amount: int, currency: str, lang: str, expected: str) -> None:
    assert format_money(amount, currency, lang) == expected


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(sorted(CURRENCIES)))
def test_decimal_round_trip_is_exact(amount: int, currency: str) -> None:
    assert from_decimal(to_decimal(amount, currency), currency) == amount


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=10**12))
def test_money_addition_and_subtraction_are_exact(a: int, b: int) -> None:
    assert (Money(a, "EUR") + Money(b, "EUR")).amount == a + b
    assert (Money(a, "EUR") + Money(b, "EUR") - Money(b, "EUR")) == Money(a, "EUR")


def test_money_refuses_floats_and_mixed_currencies() -> None:
    with pytest.raises(MoneyError):
        Money(1.5, "EUR")  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money(1, "EUR") + Money(1, "USD")


def test_from_decimal_refuses_extra_digits() -> None:
    with pytest.raises(MoneyError):
        from_decimal(Decimal("1.005"), "EUR")
    assert from_decimal("12.5", "EUR") == 1250
    with pytest.raises(MoneyError):
        from_decimal("1.5", "JPY")
