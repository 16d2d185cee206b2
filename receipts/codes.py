"""Receipt verification codes and document snapshots (pure)."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
from typing import Any

from receipts.document import ReceiptDocument, ReceiptLine

CODE_LENGTH = 10  # 50 bits of HMAC: guessing one is hopeless, typing one is easy


def verification_code(secret: str, receipt_id: str) -> str:
    digest = hmac.new(secret.encode(), b"receipt:" + receipt_id.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode()[:CODE_LENGTH]


def code_matches(secret: str, receipt_id: str, code: str) -> bool:
    return hmac.compare_digest(verification_code(secret, receipt_id), code.strip().upper())


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
