"""Signed tokens for cookies: a JSON object and its HMAC-SHA256, both base64url. Pure.

The key is derived per purpose from the app's secret (``REGIE_SECRET_KEY``), so a token
made for one purpose (the finance session) never verifies as another. A token is signed,
not encrypted: put nothing secret in it, only ids, times and random values that are
worthless without the signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

MAX_TOKEN_LENGTH = 4096  # a cookie's practical limit; longer input is not even decoded


def derive_key(secret: str, purpose: str) -> bytes:
    """A 256-bit key for ``purpose`` (an HMAC of the purpose under the app's secret)."""
    return hmac.new(secret.encode(), b"regie-token:" + purpose.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, body.encode("ascii"), hashlib.sha256).digest())


def dumps(payload: Mapping[str, Any], key: bytes) -> str:
    """``<base64url(json)>.<base64url(hmac)>``: only cookie-safe characters."""
    body = _b64(json.dumps(dict(payload), separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_mac(key, body)}"


def loads(token: str, key: bytes) -> dict[str, Any] | None:
    """The payload when ``token`` was made by ``dumps`` with ``key``; None otherwise
    (altered, truncated, signed with another key or for another purpose, or not a token)."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        return None
    body, dot, mac = token.rpartition(".")
    if not dot or not hmac.compare_digest(mac, _mac(key, body)):
        return None
    try:
        payload = json.loads(_unb64(body))
    except (ValueError, binascii.Error):
        return None
    return payload if isinstance(payload, dict) else None
