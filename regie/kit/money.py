"""Money: integer minor units with an ISO 4217 code. No floats anywhere.

``CURRENCIES`` maps each active ISO 4217 code to its exponent (minor-unit digits).
Formatting for humans goes through Babel with ``Decimal`` so that ``123450`` EUR reads
``1 234,50 €`` in French and ``€1,234.50`` in English.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

from babel.numbers import format_currency

_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_FOUR = "CLF UYW"
_TWO = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP "
    "BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD "
    "FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD "
    "KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD "
    "NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP "
    "SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED "
    "VES WST XCD XCG YER ZAR ZMW ZWG"
)

CURRENCIES: dict[str, int] = {
    **{c: 2 for c in _TWO.split()},
    **{c: 0 for c in _ZERO.split()},
    **{c: 3 for c in _THREE.split()},
    **{c: 4 for c in _FOUR.split()},
}


class MoneyError(ValueError):
    pass


def validate_currency(code: str) -> str:
    """Return the code when it is an active ISO 4217 code written in upper case."""
    if not isinstance(code, str) or code not in CURRENCIES:
        raise MoneyError(f"{code!r} is not an ISO 4217 currency code (use upper case, e.g. EUR)")
    return code


def exponent(currency: str) -> int:
    return CURRENCIES[validate_currency(currency)]


def validate_amount(amount: object, *, maximum: int, allow_zero: bool = False) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise MoneyError("amount must be an integer number of minor units (e.g. 2500 for 25.00)")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise MoneyError("amount must be positive")
    if amount > maximum:
        raise MoneyError(f"amount must be at most {maximum}")
    return amount


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise MoneyError("Money.amount is an int of minor units")
        validate_currency(self.currency)

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise MoneyError(f"cannot mix {self.currency} and {other.currency}")

    def to_decimal(self) -> Decimal:
        return to_decimal(self.amount, self.currency)

    def format(self, locale: str = "fr") -> str:
        return format_money(self.amount, self.currency, locale)


def to_decimal(amount: int, currency: str) -> Decimal:
    """Exact major-unit value: 123450 EUR -> Decimal('1234.50')."""
    return Decimal(amount).scaleb(-exponent(currency))


def from_decimal(value: Decimal | str, currency: str) -> int:
    """Major units to minor units; refuses values with more digits than the currency has."""
    d = Decimal(value)
    with localcontext(prec=len(d.as_tuple().digits) + 8):  # exact: never rounded at 28 digits
        scaled = d.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"{value} has more decimals than {currency} allows")
    return int(scaled)


_BABEL_LOCALES = {"fr": "fr_FR", "en": "en_GB"}


def format_money(amount: int, currency: str, locale: str = "fr") -> str:
    """``2500, "EUR", "fr"`` -> ``25,00 €`` (with the locale's own spaces)."""
    exp = exponent(currency)
    if exp != 2:
        return _format_exact(amount, currency, locale, exp)
    return str(
        format_currency(
            to_decimal(amount, currency),
            currency,
            locale=_BABEL_LOCALES.get(locale, locale),
            currency_digits=False,
        )
    )


def _format_exact(amount: int, currency: str, locale: str, exp: int) -> str:
    # Babel's currency-digits data can differ from ISO 4217; force ISO's exponent.
    from babel.numbers import get_currency_symbol, get_decimal_symbol, get_group_symbol

    loc = _BABEL_LOCALES.get(locale, locale)
    major, minor = divmod(abs(amount), 10**exp) if exp else (abs(amount), 0)
    group = get_group_symbol(loc)
    digits = f"{major:,}".replace(",", group)
    if exp:
        digits += get_decimal_symbol(loc) + f"{minor:0{exp}d}"
    sign = "-" if amount < 0 else ""
    symbol = get_currency_symbol(currency, loc)
    if loc.startswith("fr"):
        return f"{sign}{digits}\u00a0{symbol}"
    return f"{sign}{symbol}{digits}" if len(symbol) == 1 else f"{sign}{symbol}\u00a0{digits}"
