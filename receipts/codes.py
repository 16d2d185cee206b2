"""Receipt verification (its code, and what it says of the payment) and document snapshots
(pure)."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qs, urlsplit

from receipts.document import ReceiptDocument, ReceiptLine

CODE_LENGTH = 10  # 50 bits of HMAC: guessing one is hopeless, typing one is easy


def verification_code(secret: str, receipt_id: str) -> str:
    digest = hmac.new(secret.encode(), b"receipt:" + receipt_id.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode()[:CODE_LENGTH]


# base32 has no 0, 1 or 8: typed from the paper, each can only be the letter it looks like
_LOOKALIKES = str.maketrans("018", "OIB")


def code_matches(secret: str, receipt_id: str, code: str) -> bool:
    """Whether a typed code is this receipt's (any case, spaces around, a 0, 1 or 8 for the
    O, I or B it looks like). Compared as bytes: anyone types codes, and compare_digest
    refuses a str with a character outside ASCII."""
    return code_is(verification_code(secret, receipt_id), code)


def code_is(expected: str, code: str) -> bool:
    """Whether a typed code is ``expected``, read as ``code_matches`` reads it."""
    typed = code.strip().upper().translate(_LOOKALIKES).encode()
    return hmac.compare_digest(expected.encode(), typed)


def printed_code(verify_url: str) -> str | None:
    """The code a receipt was issued with: its QR code's ``c``, as printed. It is the one
    that verifies, whatever ``REGIE_SECRET_KEY`` is now: a change of key (it leaked) cannot
    reprint the paper."""
    values = parse_qs(urlsplit(verify_url).query).get("c")
    return values[0] if values and values[0] else None


# What a receipt's verification says of its payment, by its invoice's status: the payer's
# bank withdrew the funds (a chargeback under way), or money went back (a refund, or a lost
# dispute: the invoice is then refunded, or partly). Any other status (paid; a dispute won)
# leaves it genuine.
RECEIPT_STATUS_BY_INVOICE = {
    "disputed": "disputed",
    "refunded": "refunded",
    "partially_refunded": "partially_refunded",
}


def verification_status(kind: str, invoice_status: str | None, canceled: bool) -> str:
    """genuine | disputed | refunded | partially_refunded (a receipt) or genuine | canceled
    (a credit note, whose refund failed after all)."""
    if kind == "credit_note":
        return "canceled" if canceled else "genuine"
    return RECEIPT_STATUS_BY_INVOICE.get(invoice_status or "", "genuine")


def snapshot(doc: ReceiptDocument) -> dict[str, Any]:
    data = dataclasses.asdict(doc)
    data["paid_at"] = doc.paid_at.isoformat()
    data["issuer_address"] = list(doc.issuer_address)
    data["payer_address"] = list(doc.payer_address)
    data["issued_at"] = doc.issued_at.isoformat() if doc.issued_at else None
    return data


def from_snapshot(data: dict[str, Any]) -> ReceiptDocument:
    values = dict(data)
    values.pop("facturx", None)  # what a Factur-X receipt's XML needs (receipts.rendering)
    values["paid_at"] = dt.datetime.fromisoformat(values["paid_at"])
    values["issuer_address"] = tuple(values["issuer_address"])
    values["payer_address"] = tuple(values.get("payer_address") or ())
    if values.get("issued_at"):
        values["issued_at"] = dt.datetime.fromisoformat(values["issued_at"])
    values["lines"] = tuple(ReceiptLine(**line) for line in values["lines"])
    return ReceiptDocument(**values)
