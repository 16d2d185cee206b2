"""Prefixed, sortable public ids (``inv_01J…``) and unguessable tokens.

The part after the prefix is a ULID: 48 bits of milliseconds then 80 random bits, in
Crockford base32, so ids sort by creation time. Within one millisecond the random part is
incremented (monotonic ULID), so ids made by one process also sort in creation order.
"""

from __future__ import annotations

import secrets
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIXES = frozenset(
    {
        "inv",
        "pay",
        "ref",
        "evt",
        "rec",
        "je",
        "svc",
        "key",
        "li",
        "cs",
        "whe",
        "del",
        "run",
        "dsc",
        "sug",
        "dec",
        "bsi",
        "idem",
        "bat",
    }
)

_lock = threading.Lock()
_last_ms = -1
_last_rand = 0


def _encode(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        out.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(out))


def ulid() -> str:
    global _last_ms, _last_rand
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            ms = _last_ms
            _last_rand = (_last_rand + 1) & ((1 << 80) - 1)
        else:
            _last_ms = ms
            _last_rand = secrets.randbits(80)
        return _encode(ms, 10) + _encode(_last_rand, 16)


def new_id(prefix: str) -> str:
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    return f"{prefix}_{ulid()}"


def has_prefix(value: str, prefix: str) -> bool:
    body = value[len(prefix) + 1 :]
    return value.startswith(prefix + "_") and len(body) == 26 and all(c in _ALPHABET for c in body)


def new_token(nbytes: int = 24) -> str:
    """An unguessable URL-safe token (192 bits by default; at least 128)."""
    if nbytes < 16:
        raise ValueError("tokens carry at least 128 bits")
    return secrets.token_urlsafe(nbytes)
