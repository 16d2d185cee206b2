"""The simulator's magic cards, card checks and fee (pure, no I/O).

Like Stripe's test mode: only the documented test numbers are accepted, so nobody types
a real card number into a demo. Only the brand and the last 4 digits are ever kept.
"""

from __future__ import annotations

import datetime as dt
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
    """What the citizen typed is not a usable test card. ``code`` names the problem."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


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


def check_card(number: str, expiry: str, cvc: str, today: dt.date) -> CardCheck:
    digits = "".join(ch for ch in number if not ch.isspace() and ch != "-")
    if not digits.isdigit() or not 12 <= len(digits) <= 19 or not luhn_ok(digits):
        raise CardError("invalid_number")
    exp = expiry.replace(" ", "")
    month_s, sep, year_s = exp.partition("/")
    if not sep or not month_s.isdigit() or not year_s.isdigit() or len(year_s) not in (2, 4):
        raise CardError("invalid_expiry")
    month, year = int(month_s), int(year_s) + (2000 if len(year_s) == 2 else 0)
    if not 1 <= month <= 12 or (year, month) < (today.year, today.month):
        raise CardError("invalid_expiry")
    if not cvc.isdigit() or len(cvc) not in (3, 4):
        raise CardError("invalid_cvc")
    outcome = MAGIC_CARDS.get(digits)
    if outcome is None:
        raise CardError("not_a_test_card")
    return CardCheck(outcome=outcome, brand=brand_of(digits), last4=digits[-4:])


def simulator_fee(amount: int, exponent: int) -> int:
    """1.5 % + 0.25 of the major unit (25 cents in EUR), rounded half up, in minor units."""
    fixed = 25 * 10 ** (exponent - 2) if exponent >= 2 else 0
    return (amount * 15 + 500) // 1000 + fixed
