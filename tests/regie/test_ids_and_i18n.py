from __future__ import annotations

import pytest

from regie.kit.i18n import STRINGS, negotiate, translate
from regie.kit.ids import has_prefix, new_id, new_token


def test_ids_are_prefixed_and_sort_in_creation_order() -> None:
    ids = [new_id("inv") for _ in range(2000)]
    assert all(has_prefix(i, "inv") for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_unknown_prefix_is_refused() -> None:
    with pytest.raises(ValueError):
        new_id("foo")


def test_tokens_carry_at_least_128_bits() -> None:
    token = new_token()
    assert len(token) * 6 >= 128
    assert new_token() != token
    with pytest.raises(ValueError):
        new_token(8)


@pytest.mark.parametrize(
    ("query", "cookie", "accept", "expected"),
    [
        (None, None, "en-GB,en;q=0.9", "en"),
        (None, None, "fr-FR,fr;q=0.9,en;q=0.8", "fr"),
        (None, None, "de-DE,en;q=0.5", "en"),
        (None, None, "de-DE", "fr"),
        (None, None, None, "fr"),
        (None, "en", "fr", "en"),
        ("fr", "en", "en", "fr"),
        ("xx", None, "en", "en"),
        (None, None, "fr;q=0.2,en;q=0.9", "en"),
    ],
)
def test_language_negotiation(query, cookie, accept, expected) -> None:
    assert negotiate(query, cookie, accept) == expected


def test_every_string_exists_in_french_and_english() -> None:
    for key, entry in STRINGS.items():
        assert entry.get("fr") and entry.get("en"), key
    assert translate("pay_button", "en", amount="€1.00") == "Pay €1.00 by card"
