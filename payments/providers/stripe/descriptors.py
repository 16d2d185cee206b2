"""Stripe's rules for a statement descriptor suffix (pure).

On a card statement Stripe prints the account's prefix (its "shortened descriptor", 2 to
10 characters), ``*``, a space, then the suffix sent with the payment
(``payment_intent_data.statement_descriptor_suffix``): at most 22 characters in all,
Latin characters only (Stripe drops the others), at least one letter, none of
``< > \\ ' " *``. When regie is not told the account's prefix
(``STRIPE_STATEMENT_DESCRIPTOR_PREFIX``) it assumes the longest one, so a suffix it
accepts fits whatever the account has.
"""

from __future__ import annotations

import string

MAX_DESCRIPTOR = 22
MAX_PREFIX = 10
SEPARATOR = "* "
FORBIDDEN = frozenset("<>\\'\"*")
_ALLOWED = frozenset(string.ascii_letters + string.digits + " " + string.punctuation) - FORBIDDEN


def max_suffix_length(prefix: str | None) -> int:
    """How long a suffix may be after ``prefix`` (the longest prefix when unknown)."""
    used = len(prefix.strip()) if prefix and prefix.strip() else MAX_PREFIX
    return MAX_DESCRIPTOR - used - len(SEPARATOR)


def suffix_problem(suffix: str, prefix: str | None = None) -> str | None:
    """Why Stripe would refuse ``suffix`` after ``prefix``, as a sentence; None if fine."""
    limit = max_suffix_length(prefix)
    if not suffix or not suffix.strip():
        return "The statement descriptor suffix is empty."
    if suffix != suffix.strip():
        return "The statement descriptor suffix starts or ends with a space."
    if len(suffix) > limit:
        after = (
            f"after the prefix {prefix.strip()!r}"
            if prefix and prefix.strip()
            else (f"after a prefix of up to {MAX_PREFIX} characters")
        )
        return f"The statement descriptor suffix has more than {limit} characters ({after})."
    bad = sorted({c for c in suffix if c in FORBIDDEN})
    if bad:
        return f"The statement descriptor suffix may not contain {' '.join(bad)}."
    if any(c not in _ALLOWED for c in suffix):
        return (
            "The statement descriptor suffix may hold only unaccented Latin letters, "
            "digits, spaces and punctuation."
        )
    if not any(c.isalpha() for c in suffix):
        return "The statement descriptor suffix needs at least one letter."
    return None
