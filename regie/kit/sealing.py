"""Secrets regie must read back (webhook endpoint secrets: HMAC needs them), sealed at rest.

A key is derived from ``REGIE_SECRET_KEY`` with HKDF-SHA256 (``cryptography``), one per
purpose, and seals with AES-256-GCM: ``v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>``.
The ``context`` (the row's id) is the associated data: a sealed value copied onto another
row does not open there. The key id (8 hex of an HMAC of a constant under the derived key)
names which secret key sealed a value, so after a change of ``REGIE_SECRET_KEY`` the old
ones (``REGIE_PREVIOUS_SECRET_KEYS``) still open what they sealed, until ``regie
maintenance reseal`` seals everything again with the current one (README, "Production
notes").

Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1"
NONCE_BYTES = 12
DEFAULT_PURPOSE = "webhook-endpoint-secret"


class SealError(ValueError):
    """A sealed value that cannot be opened (another key, another row, altered)."""


def _derive(secret_key: str, purpose: str) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"regie-sealing-v1",
        info=f"regie:{purpose}".encode(),
    )
    return hkdf.derive(secret_key.encode())


def _key_id(key: bytes) -> str:
    return hmac.new(key, b"regie key id", hashlib.sha256).hexdigest()[:8]


class Sealer:
    """Seals with the first secret key; opens with any of them (the others: older keys)."""

    def __init__(self, secret_keys: Sequence[str], purpose: str = DEFAULT_PURPOSE) -> None:
        keys = [k for k in secret_keys if k]
        if not keys:
            raise ValueError("a Sealer needs at least one secret key")
        derived = [_derive(k, purpose) for k in keys]
        self._current = derived[0]
        self._by_id = {_key_id(k): AESGCM(k) for k in reversed(derived)}
        self.key_id = _key_id(self._current)

    def seal(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        box = AESGCM(self._current).encrypt(nonce, plaintext.encode(), context.encode())
        return f"{VERSION}.{self.key_id}.{base64.urlsafe_b64encode(nonce + box).decode()}"

    def open(self, sealed: str, *, context: str) -> str:
        version, _, rest = sealed.partition(".")
        key_id, _, data = rest.partition(".")
        aead = self._by_id.get(key_id)
        if version != VERSION or aead is None:
            raise SealError("sealed with an unknown version or key")
        try:
            raw = base64.urlsafe_b64decode(data.encode())
            return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode()).decode()
        except (InvalidTag, binascii.Error, ValueError):
            raise SealError("the sealed value does not open") from None

    def is_current(self, sealed: str) -> bool:
        """Sealed with the current secret key (``reseal`` leaves it as it is)."""
        return sealed.split(".")[1:2] == [self.key_id]
