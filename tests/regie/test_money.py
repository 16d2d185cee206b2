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


# ISO 4217 minor units ("CcyMnrUnts") of every currency regie accepts, written out from ISO
# 4217 list one as published on 2026-01-01 by SIX, the maintenance agency. ANG and BGN are
# no longer on that list (ANG was replaced by XCG on 2025-03-31; BGN withdrawn when
# Bulgaria adopted the euro on 2026-01-01); their minor unit was 2 on the lists before.
# Not Babel: its get_currency_precision is CLDR's (cash) digits, which differ from ISO for
# AFN ALL COP HUF IDR IQD IRR KPW LAK LBP MGA MMK SOS SYP YER (0 where ISO says 2, or 3 for IQD).
# fmt: off
ISO_4217_MINOR_UNITS: dict[str, int] = {
    "AED": 2, "AFN": 2, "ALL": 2, "AMD": 2, "ANG": 2, "AOA": 2, "ARS": 2, "AUD": 2, "AWG": 2,
    "AZN": 2, "BAM": 2, "BBD": 2, "BDT": 2, "BGN": 2, "BHD": 3, "BIF": 0, "BMD": 2, "BND": 2,
    "BOB": 2, "BOV": 2, "BRL": 2, "BSD": 2, "BTN": 2, "BWP": 2, "BYN": 2, "BZD": 2, "CAD": 2,
    "CDF": 2, "CHE": 2, "CHF": 2, "CHW": 2, "CLF": 4, "CLP": 0, "CNY": 2, "COP": 2, "COU": 2,
    "CRC": 2, "CUP": 2, "CVE": 2, "CZK": 2, "DJF": 0, "DKK": 2, "DOP": 2, "DZD": 2, "EGP": 2,
    "ERN": 2, "ETB": 2, "EUR": 2, "FJD": 2, "FKP": 2, "GBP": 2, "GEL": 2, "GHS": 2, "GIP": 2,
    "GMD": 2, "GNF": 0, "GTQ": 2, "GYD": 2, "HKD": 2, "HNL": 2, "HTG": 2, "HUF": 2, "IDR": 2,
    "ILS": 2, "INR": 2, "IQD": 3, "IRR": 2, "ISK": 0, "JMD": 2, "JOD": 3, "JPY": 0, "KES": 2,
    "KGS": 2, "KHR": 2, "KMF": 0, "KPW": 2, "KRW": 0, "KWD": 3, "KYD": 2, "KZT": 2, "LAK": 2,
    "LBP": 2, "LKR": 2, "LRD": 2, "LSL": 2, "LYD": 3, "MAD": 2, "MDL": 2, "MGA": 2, "MKD": 2,
    "MMK": 2, "MNT": 2, "MOP": 2, "MRU": 2, "MUR": 2, "MVR": 2, "MWK": 2, "MXN": 2, "MXV": 2,
    "MYR": 2, "MZN": 2, "NAD": 2, "NGN": 2, "NIO": 2, "NOK": 2, "NPR": 2, "NZD": 2, "OMR": 3,
    "PAB": 2, "PEN": 2, "PGK": 2, "PHP": 2, "PKR": 2, "PLN": 2, "PYG": 0, "QAR": 2, "RON": 2,
    "RSD": 2, "RUB": 2, "RWF": 0, "SAR": 2, "SBD": 2, "SCR": 2, "SDG": 2, "SEK": 2, "SGD": 2,
    "SHP": 2, "SLE": 2, "SOS": 2, "SRD": 2, "SSP": 2, "STN": 2, "SVC": 2, "SYP": 2, "SZL": 2,
    "THB": 2, "TJS": 2, "TMT": 2, "TND": 3, "TOP": 2, "TRY": 2, "TTD": 2, "TWD": 2, "TZS": 2,
    "UAH": 2, "UGX": 0, "USD": 2, "USN": 2, "UYI": 0, "UYU": 2, "UYW": 4, "UZS": 2, "VED": 2,
    "VES": 2, "VND": 0, "VUV": 0, "WST": 2, "XAF": 0, "XCD": 2, "XCG": 2, "XOF": 0, "XPF": 0,
    "YER": 2, "ZAR": 2, "ZMW": 2, "ZWG": 2,
}
# fmt: on


def test_every_exponent_is_iso_4217s_minor_unit() -> None:
    assert len(ISO_4217_MINOR_UNITS) == 166
    wrong = {c: (e, ISO_4217_MINOR_UNITS.get(c)) for c, e in CURRENCIES.items()}
    wrong = {c: v for c, v in wrong.items() if v[0] != v[1]}
    assert not wrong, f"currency: (regie, ISO 4217): {wrong}"
    assert set(CURRENCIES) == set(ISO_4217_MINOR_UNITS)
    for code, exp in ISO_4217_MINOR_UNITS.items():
        assert exponent(code) == exp, code


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
    # and the major-unit value is the one ISO's exponent gives, whatever the table says
    exp = ISO_4217_MINOR_UNITS[currency]
    assert to_decimal(amount, currency) == Decimal(amount).scaleb(-exp)
    assert from_decimal(Decimal(amount).scaleb(-exp), currency) == amount


@pytest.mark.parametrize(
    ("amount", "currency", "major"),
    [
        (123450, "EUR", "1234.50"),
        (1500, "XPF", "1500"),
        (1500, "JPY", "1500"),
        (12345, "KWD", "12.345"),
        (12345, "IQD", "12.345"),
        (12345, "CLF", "1.2345"),
        (5, "UYW", "0.0005"),
        (7, "HUF", "0.07"),
    ],
)
def test_known_decimal_values(amount: int, currency: str, major: str) -> None:
    assert to_decimal(amount, currency) == Decimal(major)
    assert str(to_decimal(amount, currency)) == major
    assert from_decimal(major, currency) == amount


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
    with pytest.raises(MoneyError, match=r"^1\.005 has more decimals than EUR allows$"):
        from_decimal("1.005", "EUR")
    assert from_decimal("12.5", "EUR") == 1250
    with pytest.raises(MoneyError):
        from_decimal("1.5", "JPY")


# Found by mutation testing (`make mutation MUTATE=regie/kit/money.py`): edges the tests above
# did not pin.


def test_zero_is_accepted_only_when_allowed_and_negatives_never() -> None:
    assert validate_amount(0, maximum=10, allow_zero=True) == 0
    with pytest.raises(MoneyError, match=r"^amount must be positive$"):
        validate_amount(0, maximum=10)
    with pytest.raises(
        MoneyError,
        match=r"^amount must be an integer number of minor units \(e\.g\. 2500 for 25\.00\)$",
    ):
        validate_amount(1.0, maximum=10)
    with pytest.raises(MoneyError, match="positive"):
        validate_amount(-1, maximum=10, allow_zero=True)
    with pytest.raises(MoneyError, match="at most 10"):
        validate_amount(11, maximum=10, allow_zero=True)


def test_money_checks_its_fields_and_subtraction_refuses_mixed_currencies() -> None:
    with pytest.raises(MoneyError, match=r"^Money\.amount is an int of minor units$"):
        Money(True, "EUR")
    with pytest.raises(MoneyError, match="ISO 4217"):
        Money(1, "eur")
    with pytest.raises(MoneyError, match="cannot mix EUR and USD"):
        Money(5, "EUR") - Money(1, "USD")
    assert (Money(5, "EUR") - Money(7, "EUR")) == Money(-2, "EUR")


def test_money_formats_in_french_by_default_and_gives_its_exact_decimal() -> None:
    assert Money(2500, "EUR").format() == f"25,00{NBSP}€"
    assert format_money(2500, "EUR") == f"25,00{NBSP}€"
    assert Money(2500, "EUR").format("en") == "€25.00"
    # French by default for every exponent, not only the two-digit currencies
    assert format_money(150000, "XPF") == f"150{NNBSP}000{NBSP}FCFP"
    assert Money(150000, "XPF").format() == f"150{NNBSP}000{NBSP}FCFP"
    assert Money(1234567, "KWD").format() == f"1{NNBSP}234,567{NBSP}KWD"
    assert Money(12345, "KWD").to_decimal() == Decimal("12.345")


@pytest.mark.parametrize(
    ("amount", "currency", "lang", "expected"),
    [
        (-1500, "XPF", "fr", f"-1{NNBSP}500{NBSP}FCFP"),
        (-12345, "KWD", "en", f"-KWD{NBSP}12.345"),
        (1500, "JPY", "en", f"JP¥{NBSP}1,500"),
        (1500, "JPY", "ja", "￥1,500"),
        (-250, "EUR", "fr", f"-2,50{NBSP}€"),
        (5, "CLF", "fr", f"0,0005{NBSP}CLF"),
        (1234567, "KWD", "fr", f"1{NNBSP}234,567{NBSP}KWD"),
        (0, "XPF", "fr", f"0{NBSP}FCFP"),  # zero has no sign
        # two-digit currencies to which Babel's own data gives other digits: ISO's win
        (123456, "HUF", "fr", f"1{NNBSP}234,56{NBSP}HUF"),
        (123456, "IDR", "en", "IDR1,234.56"),
        # "en" is British English; other locales are passed to Babel as they are
        (1234, "USD", "en", "US$12.34"),
        (123450, "EUR", "de", f"1.234,50{NBSP}€"),
    ],
)
def test_iso_exponent_formatting_signs_symbols_and_groups(
    amount: int, currency: str, lang: str, expected: str
) -> None:
    assert format_money(amount, currency, lang) == expected


def test_from_decimal_refuses_a_fraction_past_28_digits() -> None:
    """``Decimal``'s default context keeps 28 digits: scaled in it, 1 yen and a 10^-28th was
    rounded to 1 yen instead of refused as finer than the yen."""
    with pytest.raises(MoneyError):
        from_decimal("1.0000000000000000000000000001", "JPY")
    assert from_decimal("1.0000000000000000000000000000", "JPY") == 1
