"""What a receiver checks: the endpoint's secret and the signed headers of a notification.

Two schemes, over the same secret, in every POST (pure: no I/O):

- ``Regie-Signature: t=<unix>,v1=<hex>``: HMAC-SHA256, keyed with the secret string as
  given (``whsec_…``, UTF-8), over ``f"{t}.{body}"``: the scheme of ``payments.signing``
  (Stripe's), so a receiver verifies it as it would a PSP's.
- Standard Webhooks (https://www.standardwebhooks.com): ``webhook-id`` (the event id),
  ``webhook-timestamp`` (the same ``t``) and ``webhook-signature: v1,<base64>``, an
  HMAC-SHA256 keyed with the base64-decoded part after ``whsec_``, over
  ``f"{id}.{t}.{body}"``. Off-the-shelf libraries (``standardwebhooks`` in Python, and
  in other languages) verify it given the secret as shown.

During a rotation both secrets sign: two ``v1=`` in ``Regie-Signature`` and two
space-separated ``v1,…`` in ``webhook-signature``, the new secret's first; a receiver
holding either accepts.

Secrets are ``whsec_`` + standard base64 of 32 random bytes. Those made before Standard
Webhooks were URL-safe base64 (``-``, ``_``): ``standard_key`` decodes both alphabets, so
for such a secret the Standard Webhooks form is ``whsec_`` + standard base64 of the same
bytes (``standard_form``); rotating gives a secret that needs no conversion.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as random
import time
from collections.abc import Sequence

from payments import signing
from regie.kit import __version__

SIGNATURE_HEADER = "Regie-Signature"
EVENT_ID_HEADER = "Regie-Event-Id"
PREFIX = "whsec_"
_URLSAFE = str.maketrans("-_", "+/")


def new_secret() -> str:
    """A fresh endpoint secret (256 bits), shown once to the client service."""
    return PREFIX + base64.b64encode(random.token_bytes(32)).decode()


def standard_key(secret: str) -> bytes:
    """The HMAC key of the Standard Webhooks signature: the base64 after ``whsec_``."""
    body = secret.removeprefix(PREFIX).rstrip("=").translate(_URLSAFE)
    return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)


def standard_form(secret: str) -> str:
    """The secret as Standard Webhooks libraries take it (the same for a new secret)."""
    return PREFIX + base64.b64encode(standard_key(secret)).decode()


def regie_signature(secrets: Sequence[str], body: bytes, timestamp: int) -> str:
    """``t=…,v1=…[,v1=…]``: one ``v1`` per secret, in the order given."""
    return ",".join(
        [f"t={timestamp}", *(f"v1={signing.compute(s, timestamp, body)}" for s in secrets)]
    )


def _standard_keys(secrets: Sequence[str]) -> list[bytes]:
    """The keys of the secrets that have a Standard Webhooks form (all that regie made)."""
    keys = []
    for secret in secrets:
        try:
            keys.append(standard_key(secret))
        except ValueError:  # binascii.Error: not base64; Regie-Signature still signs
            continue
    return keys


def standard_signature(secrets: Sequence[str], msg_id: str, body: bytes, timestamp: int) -> str:
    """``v1,<base64>[ v1,<base64>]``: one per secret, in the order given ("" if none of
    them is base64)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.digest(key, signed, hashlib.sha256)).decode()
        for key in _standard_keys(secrets)
    )


def signed_headers(
    secrets: Sequence[str],
    event_id: str,
    body: bytes,
    host: str,
    *,
    timestamp: int | None = None,
) -> dict[str, str]:
    """The headers of one POST of ``body``, signed now (or at ``timestamp``) with every
    secret of ``secrets`` (the current one first)."""
    t = int(time.time()) if timestamp is None else timestamp
    headers = {
        "Host": host,
        "Content-Type": "application/json",
        "User-Agent": f"regie/{__version__} (+notifications)",
        EVENT_ID_HEADER: event_id,
        SIGNATURE_HEADER: regie_signature(secrets, body, t),
    }
    standard = standard_signature(secrets, event_id, body, t)
    if standard:
        headers |= {"webhook-id": event_id, "webhook-timestamp": str(t)}
        headers["webhook-signature"] = standard
    return headers
