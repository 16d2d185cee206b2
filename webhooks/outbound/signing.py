"""What a receiver checks: the endpoint's secret and the signed headers of a notification.

The signature is HMAC-SHA256 over ``f"{t}.{body}"`` in the ``t=<unix>,v1=<hex>`` form,
the scheme of ``payments.signing`` (Stripe's): a receiver verifies it as it would a PSP's.
"""

from __future__ import annotations

from collections.abc import Sequence

from payments import signing
from regie.kit import __version__
from regie.kit.ids import new_token

SIGNATURE_HEADER = "Regie-Signature"
EVENT_ID_HEADER = "Regie-Event-Id"


def new_secret() -> str:
    """A fresh endpoint secret, shown once to the client service."""
    return "whsec_" + new_token(32)


def signed_headers(secrets: Sequence[str], event_id: str, body: bytes, host: str) -> dict[str, str]:
    """The headers of one POST of ``body``, signed now with ``secrets``."""
    secret = secrets[0]
    return {
        "Host": host,
        "Content-Type": "application/json",
        "User-Agent": f"regie/{__version__} (+notifications)",
        EVENT_ID_HEADER: event_id,
        SIGNATURE_HEADER: signing.sign(secret, body),
    }
