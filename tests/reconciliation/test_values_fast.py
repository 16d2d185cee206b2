"""Plain amounts are read without ``Decimal`` (``values._plain``); the result, or the refusal,
must be the exact path's for every text."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciliation.sources import values
from reconciliation.sources.errors import SourceError


def _exact(text: str, code: str, signed: bool) -> int | None:
    """The exact path alone: the regular expression, then ``Decimal``, then the 64-bit
    limit every amount is refused beyond (``values.MAX_MINOR``)."""
    value = text.strip()
    if not (values._SIGNED if signed else values._UNSIGNED).fullmatch(value):
        return None
    with localcontext(prec=60):
        scaled = Decimal(value).scaleb(values.CURRENCIES[code])
    if scaled != scaled.to_integral_value() or abs(scaled) > values.MAX_MINOR:
        return None
    return int(scaled)


def _read(text: str, code: str, signed: bool) -> int | None:
    try:
        return values.minor_units(text, code, "f.csv", 2, signed=signed)
    except SourceError:
        return None


digits = st.text("0123456789", min_size=0, max_size=20)
texts = st.builds(
    lambda sign, whole, dot, part: f"{sign}{whole}{dot}{part}",
    st.sampled_from(["", "-", "+", " "]),
    digits,
    st.sampled_from(["", ".", ","]),
    digits,
)


@given(texts | st.text(max_size=12), st.sampled_from(["EUR", "JPY", "KWD"]), st.booleans())
def test_the_fast_path_reads_as_the_exact_path(text: str, code: str, signed: bool) -> None:
    assert _read(text, code, signed) == _exact(text, code, signed)


def test_an_amount_beyond_64_bits_of_minor_units_is_refused_on_both_paths() -> None:
    """What hypothesis found: 10**17 euros is 10**19 cents, beyond a BIGINT."""
    assert _read("100000000000000000", "EUR", False) is None
    assert _exact("100000000000000000", "EUR", False) is None
    assert _read("10000000000000000", "EUR", False) == 10**18


@pytest.mark.parametrize(
    ("text", "code", "expected"),
    [
        ("12.50", "EUR", 1250),
        ("-12.5", "EUR", -1250),
        ("-0.00", "EUR", 0),
        ("18.150", "EUR", 1815),
        ("18.155", "EUR", None),
        ("100", "JPY", 100),
        ("100.0", "JPY", 100),
        ("1.234", "KWD", 1234),
        # other scripts' digits: not an amount (xs:decimal and Stripe's CSV are ASCII); the
        # exact path read "١٢" as 12 until 3 December 2026
        ("\u0661\u0662", "EUR", None),
        ("\uff11\uff12", "EUR", None),
        # 10^-18 of a yen: finer than the yen, refused (until 4 December 2026 Decimal's 28
        # digits rounded it away and read 10^17)
        ("100000000000000000.000000000000000001", "JPY", None),
    ],
)
def test_plain_amounts(text: str, code: str, expected: int | None) -> None:
    assert _read(text, code, True) == expected == _exact(text, code, True)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("99999999999999999.999999999999999999", "JPY"),  # 35 digits: yen have no decimals
        ("12345678901234.000000000000000001", "EUR"),  # one unit of the 18th place
        ("1.000000000000000000000000001", "EUR"),  # 28 digits, finer than the cent
    ],
)
def test_an_amount_finer_than_its_currency_is_refused_however_many_digits_it_has(
    text: str, code: str
) -> None:
    """``Decimal``'s default context keeps 28 digits: scaled in it, these amounts were
    rounded to a whole number of minor units (10^17 yen, 1234567890123400 cents) instead of
    refused as finer than the currency. The reader scales them without rounding."""
    with pytest.raises(SourceError, match="decimal"):
        values.minor_units(text, code, "f.csv", 2, signed=True)
