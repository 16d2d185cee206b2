"""A refused card form, from its POST to the card page's GET (post/redirect/get). Pure.

The card page answers a form it refuses with a redirect to itself, so the browser's Back
or reload never sends the card form again. What that page shows again — the problems, the
expiry as typed, a valid test card by its last four digits (never the number, never the
code) — travels in a short-lived cookie of that card page alone, signed with the
simulator's secret (``regie.kit.tokens``: signed, not encrypted, and it holds nothing
secret).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from payments.providers.simulator.cards import KEPT_MASK
from regie.kit.tokens import derive_key, dumps, loads

COOKIE = "regie_sim_form"
PURPOSE = "simulator-card-form"
LIFE = dt.timedelta(minutes=15)  # long enough to correct a field, not a lasting record
# the problems a card page knows how to say (router._FIELD_OF)
CODES = frozenset({"invalid_number", "not_a_test_card", "invalid_expiry", "invalid_cvc"})
MAX_EXPIRY = 10  # the form's own limit


@dataclass(frozen=True)
class Refused:
    """The problems of the form, in the fields' order, and what the page shows again."""

    codes: tuple[str, ...]
    number: str = ""  # "" or a test card as KEPT_MASK + its last four digits
    expiry: str = ""


def cookie_path(checkout_id: str) -> str:
    return f"/_simulator/checkout/{checkout_id}"


def dump(refused: Refused, checkout_id: str, secret: str, now: dt.datetime) -> str:
    payload = {
        "c": checkout_id,
        "p": list(refused.codes),
        "n": refused.number[-4:] if refused.number.startswith(KEPT_MASK) else "",
        "e": refused.expiry[:MAX_EXPIRY],
        "t": int(now.timestamp()),
    }
    return dumps(payload, derive_key(secret, PURPOSE))


def load(token: str | None, checkout_id: str, secret: str, now: dt.datetime) -> Refused | None:
    """The refused form of this card page, or None (none, another page's, too old, altered)."""
    payload = loads(token or "", derive_key(secret, PURPOSE))
    if payload is None or payload.get("c") != checkout_id:
        return None
    made, codes = payload.get("t"), payload.get("p")
    number, expiry = payload.get("n"), payload.get("e")
    if not isinstance(made, int) or not isinstance(codes, list) or not codes:
        return None
    if not dt.timedelta(0) <= now - dt.datetime.fromtimestamp(made, dt.UTC) <= LIFE:
        return None
    if not all(isinstance(c, str) and c in CODES for c in codes):
        return None
    if not isinstance(number, str) or not (number == "" or (len(number) == 4 and number.isdigit())):
        return None
    if not isinstance(expiry, str) or len(expiry) > MAX_EXPIRY:
        return None
    return Refused(tuple(codes), KEPT_MASK + number if number else "", expiry)
