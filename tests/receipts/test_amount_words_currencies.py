"""The amount in words of the currencies without two decimals: a receipt or credit note in
yen or in dinars names its units, and a three-decimal amount reads its thousandths
(millimes, fils) as a whole number, never digit by digit as a decimal whose trailing zero
is dropped ("dix-huit virgule un cinq TND" for 18.150 TND)."""

from __future__ import annotations

import pytest

from receipts.amount_words import amount_in_words


@pytest.mark.parametrize(
    ("amount", "currency", "lang", "words"),
    [
        # zero decimals: 1500 minor units are 1 500 yen
        (1500, "JPY", "fr", "mille cinq cents yens"),
        (1500, "JPY", "en", "one thousand, five hundred yen"),
        (1, "JPY", "fr", "un yen"),
        (100000000, "JPY", "fr", "cent millions de yens"),
        (1200, "XPF", "fr", "mille deux cents francs CFP"),
        (1200, "XPF", "en", "one thousand, two hundred CFP francs"),
        (5000, "XOF", "fr", "cinq mille francs CFA"),
        # three decimals: 18150 minor units are 18 dinars and 150 millimes
        (18150, "TND", "fr", "dix-huit dinars et cent cinquante millimes"),
        (18150, "TND", "en", "eighteen dinars and one hundred and fifty millimes"),
        (6050, "TND", "fr", "six dinars et cinquante millimes"),
        (18105, "TND", "fr", "dix-huit dinars et cent cinq millimes"),
        (5, "TND", "fr", "zéro dinar et cinq millimes"),
        (1000, "TND", "fr", "un dinar"),
        (1001, "KWD", "en", "one dinar and one fils"),
        (2500, "BHD", "fr", "deux dinars et cinq cents fils"),
        (1500, "OMR", "fr", "un rial et cinq cents baïsas"),
        # French says "de yuans" (no elision before a y), and 0.50 CNY is 50 fen
        (100000000, "CNY", "fr", "un million de yuans"),
        (150, "CNY", "fr", "un yuan et cinquante fens"),
    ],
)
def test_units_of_zero_and_three_decimal_currencies(
    amount: int, currency: str, lang: str, words: str
) -> None:
    assert amount_in_words(amount, currency, lang) == words


@pytest.mark.parametrize("currency", ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"])
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_no_three_decimal_amount_reads_as_a_decimal(currency: str, lang: str) -> None:
    """18.150 and 18.015 must not read alike, nor as "point one five"."""
    for amount in (18150, 18015, 18001):
        words = amount_in_words(amount, currency, lang)
        assert "virgule" not in words and "point" not in words, words
    assert amount_in_words(18150, currency, lang) != amount_in_words(18015, currency, lang)
