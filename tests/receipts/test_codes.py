"""Receipt verification codes (pure): the whole code, nothing less and nothing more; and the
stored snapshot of a receipt, which gives back the very document it was made from."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
from base64 import b32encode

import pytest

from receipts.codes import CODE_LENGTH, code_matches, from_snapshot, snapshot, verification_code
from receipts.document import ReceiptDocument, ReceiptLine

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


@pytest.mark.parametrize("typed", ["É", "é" + "A" * 9, "ß", "😀", "１２３", "A\u00a0B", "\x00"])
def test_a_code_with_a_character_outside_ascii_does_not_match_and_raises_nothing(
    typed: str,
) -> None:
    """Anyone types codes: hmac.compare_digest refuses a non-ASCII str (TypeError, a 500)."""
    assert not code_matches(SECRET, RECEIPT, typed)
    code = verification_code(SECRET, RECEIPT)
    assert not code_matches(SECRET, RECEIPT, code[:-1] + "É")


# the receipt prints its code for anyone to type (under the QR code): a 0, 1 or 8 is never in
# the code (base32 has none), so it can only be the O, I or B it looks like
LOOKALIKES = str.maketrans("OIB", "018")


@pytest.mark.parametrize("receipt_id", [f"rec_{n:026d}" for n in range(40)])
def test_a_code_typed_with_0_1_8_for_o_i_b_matches(receipt_id: str) -> None:
    code = verification_code(SECRET, receipt_id)
    typed = code.translate(LOOKALIKES)
    assert code_matches(SECRET, receipt_id, typed)
    assert code_matches(SECRET, receipt_id, typed.lower())
    assert not code_matches(SECRET, RECEIPT, typed)  # another receipt's, however typed


def test_some_codes_have_a_lookalike_letter() -> None:
    codes = [verification_code(SECRET, f"rec_{n:026d}") for n in range(40)]
    assert any(code.translate(LOOKALIKES) != code for code in codes)


@pytest.mark.parametrize("receipt_id", [f"rec_{n:026d}" for n in range(20)])
def test_codes_of_other_receipts_do_not_match(receipt_id: str) -> None:
    assert not code_matches(SECRET, RECEIPT, verification_code(SECRET, receipt_id))


DOC = ReceiptDocument(
    kind="receipt",
    number="2026-000042",
    language="fr",
    issuer_name="Mairie d'Évry – État civil",
    issuer_address=("Place des Droits de l'Homme", "91000 Évry-Courcouronnes"),
    issuer_identifier="21910228800011",
    issuer_timezone="Europe/Paris",
    paid_at=dt.datetime(2026, 12, 31, 23, 30, 5, 123456, tzinfo=dt.UTC),
    payer_name="Hélène Dupré",
    lines=(
        ReceiptLine("Copie d'acte de naissance", 2, 1250, 2500),
        ReceiptLine("Frais d'envoi", 1, 450, 450),
    ),
    total=2950,
    currency="EUR",
    card_brand="visa",
    card_last4="4242",
    psp_reference="pi_3PqRsT2eZvKYlo2C",
    invoice_number="F-2026-00137",
    invoice_reference="EC-2026-0451",
    verify_url="https://paiement.example.fr/receipts/verify/2026-000042?c=7KQ2M9XH4P",
)
CREDIT_NOTE = dataclasses.replace(
    DOC,
    kind="credit_note",
    number="AV-2026-000003",
    credit_note_for="2026-000042",
    card_brand=None,
    card_last4=None,
    paid_at=dt.datetime(2027, 1, 2, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=11))),
)


@pytest.mark.parametrize("doc", [DOC, CREDIT_NOTE], ids=["receipt", "credit_note"])
def test_a_snapshot_is_json_and_gives_back_the_same_document(doc: ReceiptDocument) -> None:
    stored = json.loads(json.dumps(snapshot(doc)))  # as the JSON column keeps it
    assert stored["paid_at"] == doc.paid_at.isoformat()
    assert stored["issuer_address"] == list(doc.issuer_address)
    assert stored["lines"][0] == {
        "description": "Copie d'acte de naissance",
        "quantity": 2,
        "unit_amount": 1250,
        "amount": 2500,
    }
    again = from_snapshot(stored)
    assert again == doc
    assert again.paid_at.utcoffset() == doc.paid_at.utcoffset()
    assert set(stored) == {f.name for f in dataclasses.fields(ReceiptDocument)}
