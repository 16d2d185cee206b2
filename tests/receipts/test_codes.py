"""Receipt verification codes (pure): the whole code, nothing less and nothing more."""

from __future__ import annotations

import hashlib
import hmac
from base64 import b32encode

import pytest

from receipts.codes import CODE_LENGTH, code_matches, verification_code

SECRET = "regie-test-secret-0123456789abcdef"
RECEIPT = "rec_01KNOWNANSWER0000000000000"
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def test_the_code_is_the_documented_hmac_truncated_to_ten_base32_characters() -> None:
    digest = hmac.new(SECRET.encode(), b"receipt:" + RECEIPT.encode(), hashlib.sha256).digest()
    expected = b32encode(digest).decode()[:10]
    assert CODE_LENGTH == 10
    assert verification_code(SECRET, RECEIPT) == expected
    assert verification_code(SECRET, RECEIPT + "X") != expected
    assert verification_code(SECRET + "X", RECEIPT) != expected


def test_only_the_whole_code_matches() -> None:
    code = verification_code(SECRET, RECEIPT)
    assert code_matches(SECRET, RECEIPT, code)
    assert code_matches(SECRET, RECEIPT, code.lower())
    assert code_matches(SECRET, RECEIPT, f"  {code}\n")
    wrong = (
        [""]
        + [code[:n] for n in range(1, len(code))]  # truncated
        + [code + c for c in ALPHABET]  # one character too many
        + [code + code, "A" + code]
        + [code[:i] + c + code[i + 1 :] for i in range(len(code)) for c in ALPHABET if c != code[i]]
    )
    for bad in wrong:
        assert not code_matches(SECRET, RECEIPT, bad), bad
    assert not code_matches(SECRET, RECEIPT + "X", code)
    assert not code_matches(SECRET + "X", RECEIPT, code)


@pytest.mark.parametrize("receipt_id", [f"rec_{n:026d}" for n in range(20)])
def test_codes_of_other_receipts_do_not_match(receipt_id: str) -> None:
    assert not code_matches(SECRET, RECEIPT, verification_code(SECRET, receipt_id))
