"""Exact value parsing shared by the input formats: decimal amounts to minor units, ISO
currencies, dates and times. Each helper raises ``SourceError`` naming file and line."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, localcontext

from regie.kit.money import CURRENCIES, to_decimal

from .errors import SourceError
from .messages import Message, msg

# At most 18 digits before and after the point (ISO 20022 allows 18 in all): enough for any
# real amount, and a bound on what a hostile file can make us compute. ASCII digits only: a
# str pattern's \d also matches other scripts' digits ("١٢.٥٠", fullwidth "１２.５０"), which
# ``Decimal`` reads as 12.50; no statement or report spells amounts so, and a finance officer
# reading the file would not read them as regie did.
_UNSIGNED = re.compile(r"\d{1,18}(?:\.\d{1,18})?", re.ASCII)
_SIGNED = re.compile(r"-?\d{1,18}(?:\.\d{1,18})?", re.ASCII)
# digits enough to scale any amount those patterns take (18 + 18) by any currency's exponent
# without rounding
_PRECISION = 48
# the shape of a decimal beyond those bounds: told apart so the message says what is wrong
_LONG = re.compile(r"-?(\d+)(?:\.(\d+))?", re.ASCII)
# what a signed 64-bit column holds: amounts are stored in minor units in BIGINT columns
MAX_MINOR = 2**63 - 1
_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})(?:Z|[+-]\d{2}:\d{2})?", re.ASCII)
_DATETIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d{1,12}))?(Z|[+-]\d{2}:?\d{2})?",
    re.ASCII,
)
# what a value is, in a refusal's words
AMOUNT, VALUE, DATE, DATETIME = (
    msg("what_amount"), msg("what_value"), msg("what_date"), msg("what_datetime")
)  # fmt: skip


def currency(code: str | None, filename: str, line: int | None) -> str:
    """An active ISO 4217 code (upper case), or a ``SourceError``."""
    if not code:
        raise SourceError(filename, line, msg("no_currency"))
    if code not in CURRENCIES:
        raise SourceError(filename, line, msg("unknown_currency", code=code))
    return code


def minor_units(
    text: str | None,
    code: str,
    filename: str,
    line: int | None,
    *,
    signed: bool = False,
    what: Message = AMOUNT,
) -> int:
    """``"18.150"`` EUR -> 1815; ``"18.155"`` EUR is refused: it does not fit the cent.

    Exact (``Decimal``, never float); trailing zeros beyond the currency's exponent are fine.
    """
    value = (text or "").strip()
    fast = _plain(value, code, signed)
    if fast is None:
        fast = _exact(value, code, filename, line, signed, what)
    if abs(fast) > MAX_MINOR:
        raise SourceError(filename, line, msg("too_large", what=what, value=value))
    return fast


def _exact(
    value: str, code: str, filename: str, line: int | None, signed: bool, what: Message
) -> int:
    if not (_SIGNED if signed else _UNSIGNED).fullmatch(value):
        long = _LONG.fullmatch(value) if signed or not value.startswith("-") else None
        if long is not None and len(long.group(1)) > 18:
            raise SourceError(filename, line, msg("too_large", what=what, value=value))
        if long is not None:  # more than 18 decimals: finer than any currency
            raise SourceError(
                filename, line, msg("too_many_decimals", what=what, value=value, code=code)
            )
        example = "-1234.50" if signed else "1234.50"
        raise SourceError(
            filename, line, msg("not_decimal", what=what, value=value, example=example)
        )
    # scaled exactly: the default context keeps 28 digits, and rounding there would turn
    # 99999999999999999.999999999999999999 yen (36 digits) into a whole 10^17
    with localcontext(prec=_PRECISION):
        scaled = Decimal(value).scaleb(CURRENCIES[currency(code, filename, line)])
    if scaled != scaled.to_integral_value():
        raise SourceError(
            filename, line, msg("too_many_decimals", what=what, value=value, code=code)
        )
    return int(scaled)


def _plain(value: str, code: str, signed: bool) -> int | None:
    """``minor_units`` without ``Decimal`` for plain ASCII digits that fit the currency
    (``-12.50``, ``1250``), about ten times faster; None for anything else, which the exact
    path then reads or refuses. Its results are the exact path's: at most 24 digits, so
    ``Decimal``'s 28-digit context never rounds there."""
    exp = CURRENCIES.get(code)
    if exp is None or not value.isascii():
        return None
    sign = 1
    if value[:1] == "-" and signed:
        sign, value = -1, value[1:]
    whole, dot, part = value.partition(".")
    if not whole.isdigit() or len(whole) > 18 or len(whole) + len(part) > 24:
        return None
    if dot and (not part.isdigit() or len(part) > 18 or part[exp:].strip("0")):
        return None  # not a decimal, or more decimals than the currency has: the exact path says
    return sign * (int(whole) * 10**exp + int(part[:exp].ljust(exp, "0") or 0))


def decimal_text(amount: int, code: str) -> str:
    """1815 EUR -> ``"18.15"`` (plain notation, for messages and files)."""
    return format(to_decimal(amount, code), "f")


def money_text(amount: int, code: str) -> str:
    """1815 EUR -> ``"18.15 EUR"``."""
    return f"{decimal_text(amount, code)} {code}"


def parse_date(text: str | None, filename: str, line: int | None, what: Message = DATE) -> dt.date:
    """An ISO date ``2014-12-30`` (an xs:date's time-zone suffix is accepted and ignored)."""
    value = (text or "").strip()
    m = _DATE.fullmatch(value)
    try:
        if m is None:
            raise ValueError
        return dt.date.fromisoformat(m.group(1))
    except ValueError:
        raise SourceError(filename, line, msg("not_date", what=what, value=value)) from None


def parse_datetime(
    text: str | None, filename: str, line: int | None, what: Message = DATETIME
) -> dt.datetime:
    """An ISO date-time as written: with its offset when it has one, naive when it has none.

    Fractions beyond microseconds (``06:10:29.000000000``) are cut to microseconds.
    """
    value = (text or "").strip()
    m = _DATETIME.fullmatch(value)
    try:
        if m is None:
            raise ValueError
        day, clock, fraction, zone = m.groups()
        normal = f"{day}T{clock}"
        if fraction:
            normal += "." + fraction[:6].ljust(6, "0")
        if zone:
            normal += "+00:00" if zone == "Z" else zone
        return dt.datetime.fromisoformat(normal)
    except ValueError:
        raise SourceError(filename, line, msg("not_datetime", what=what, value=value)) from None
