"""The simulator's magic cards, card checks and fee (pure, no I/O).

Like Stripe's test mode: only the documented test numbers are accepted, so nobody types
a real card number into a demo. Only the brand and the last 4 digits are ever kept.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    succeed = "succeed"
    decline = "decline"
    insufficient_funds = "insufficient_funds"
    requires_action = "requires_action"


MAGIC_CARDS: dict[str, Outcome] = {
    "4242424242424242": Outcome.succeed,
    "4000000000000002": Outcome.decline,
    "4000000000009995": Outcome.insufficient_funds,
    "4000000000003220": Outcome.requires_action,
}

DECLINE_CODES = {
    Outcome.decline: ("card_declined", "The card was declined."),
    Outcome.insufficient_funds: ("insufficient_funds", "The card has insufficient funds."),
}


class CardError(ValueError):
    """What the citizen typed is not a usable test card. ``codes`` names every problem,
    in the order of the fields (number, expiry, code); ``kept`` is the number as the page
    may show it again (its last four digits only), when it was a valid test card."""

    def __init__(self, codes: Sequence[str], kept: str | None = None) -> None:
        super().__init__(", ".join(codes))
        self.codes = tuple(codes)
        self.code = self.codes[0]
        self.kept = kept


@dataclass(frozen=True)
class CardCheck:
    outcome: Outcome
    brand: str
    last4: str


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def brand_of(digits: str) -> str:
    if digits.startswith("4"):
        return "visa"
    if digits[:2] in {"34", "37"}:
        return "amex"
    if 51 <= int(digits[:2]) <= 55 or 2221 <= int(digits[:4]) <= 2720:
        return "mastercard"
    return "unknown"


# how the card page shows a valid test card again after an error: its last four digits
# only; sent back as shown, it names the same test card (only test cards are taken, and no
# two of them end alike)
KEPT_MASK = "•••• •••• •••• "
_BY_LAST4 = {number[-4:]: number for number in MAGIC_CARDS}
_EXPIRY_SPLIT = re.compile(r"(\d{1,2})\s*[/\-. ]\s*(\d{2}|\d{4})")
_EXPIRY_DIGITS = re.compile(r"(\d{2})(\d{2}|\d{4})")


def parse_expiry(text: str) -> tuple[int, int] | None:
    """(month, year) of an expiry typed ``12/34``, ``1234``, ``12 34``, ``12-34`` (or
    ``1/34``, ``12/2034``, ``122034``); None when it is not one. The month is not checked."""
    text = text.strip()
    m = _EXPIRY_SPLIT.fullmatch(text) or _EXPIRY_DIGITS.fullmatch(text)
    if m is None:
        return None
    month_s, year_s = m.groups()
    return int(month_s), int(year_s) + (2000 if len(year_s) == 2 else 0)


def kept_number(number: str) -> str | None:
    """The number as the page may show it again: a test card's last four digits."""
    digits = _digits(number)
    return KEPT_MASK + digits[-4:] if digits in MAGIC_CARDS else None


def _digits(number: str) -> str:
    text = number.strip()
    if text.startswith(KEPT_MASK.strip()[0]):  # a kept number, sent back as shown
        last4 = text.lstrip("• ")
        return _BY_LAST4.get(last4, "") if text == KEPT_MASK + last4 else ""
    return "".join(ch for ch in text if not ch.isspace() and ch != "-")


def check_card(number: str, expiry: str, cvc: str, today: dt.date) -> CardCheck:
    """The test card typed, or a ``CardError`` naming every problem at once."""
    codes: list[str] = []
    digits = _digits(number)
    valid_number = digits.isdigit() and 12 <= len(digits) <= 19 and luhn_ok(digits)
    if not valid_number:
        codes.append("invalid_number")
    elif digits not in MAGIC_CARDS:
        codes.append("not_a_test_card")
    exp = parse_expiry(expiry)
    if exp is None or not 1 <= exp[0] <= 12 or (exp[1], exp[0]) < (today.year, today.month):
        codes.append("invalid_expiry")
    cvc = cvc.strip()
    if not cvc.isdigit() or len(cvc) not in (3, 4):
        codes.append("invalid_cvc")
    if codes:
        raise CardError(codes, kept=kept_number(digits) if valid_number else None)
    return CardCheck(outcome=MAGIC_CARDS[digits], brand=brand_of(digits), last4=digits[-4:])


def simulator_fee(amount: int, exponent: int) -> int:
    """1.5 % + 0.25 of the major unit (25 cents in EUR), rounded half up, in minor units."""
    fixed = 25 * 10 ** (exponent - 2) if exponent >= 2 else 0
    return (amount * 15 + 500) // 1000 + fixed
