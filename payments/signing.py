"""HMAC-SHA256 signatures in the ``t=<unix>,v1=<hex>`` form (pure).

Used by the simulator PSP for the events it sends, and by regie's outgoing notifications
(``Regie-Signature``). The signed payload is ``f"{t}.{body}"``, as Stripe does.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence


class InvalidSignature(ValueError):
    pass


def compute(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(
        secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256
    ).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={compute(secret, t, body)}"


def verify(
    header: str | None,
    body: bytes,
    secrets: Sequence[str],
    *,
    tolerance: int = 300,
    now: int | None = None,
) -> int:
    """Check the header against any of ``secrets``; returns the signed timestamp."""
    if not header or len(header) > 2000:
        raise InvalidSignature("missing signature header")
    if not header.isascii():  # (compare_digest raises TypeError on a str outside ASCII)
        raise InvalidSignature("malformed signature header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise InvalidSignature("malformed timestamp") from None
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise InvalidSignature("malformed signature header")
    current = int(time.time()) if now is None else now
    if abs(current - timestamp) > tolerance:
        raise InvalidSignature("timestamp outside the tolerance window")
    for secret in secrets:
        expected = compute(secret, timestamp, body)
        if any(hmac.compare_digest(expected, c) for c in candidates):
            return timestamp
    raise InvalidSignature("no valid signature")
