"""A short in-process memory of API key lookups, so that a request costs no query for its key.

Every API request names its key; looking it up is a query and an ORM round that cost as much
as a small insert. ``KeyCache`` remembers, per key hash, what the lookup answered (the
principal's fields, or "no such active key") for ``ttl`` seconds.

One memory per app (``app.state.key_cache``), so that two apps in one process (tests, the
demo) never answer from each other's database. Revocation: a key revoked in this process is
forgotten at once by every memory of the process (``revoke_key`` calls ``note_revocation``);
a key revoked elsewhere (``regie keys revoke`` in another process, another server)
is refused here within ``ttl`` (one second), when its entry runs out. Only hashes are kept,
never a key.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

KEY_CACHE_TTL: Final = 1.0  # seconds; a revocation takes effect everywhere within this
MAX_ENTRIES: Final = 10_000  # beyond this the memory starts again (probing cannot grow it)


@dataclass(frozen=True)
class KnownKey:
    key_id: str
    service_id: str
    service_slug: str
    role: str


_revocations = [0]  # how many keys this process revoked: a memory older than that is dropped


def note_revocation() -> None:
    """A key was revoked in this process: every ``KeyCache`` of the process forgets all."""
    _revocations[0] += 1


class KeyCache:
    def __init__(
        self,
        ttl: float = KEY_CACHE_TTL,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self.ttl = ttl
        self.clock = clock
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, KnownKey | None]] = {}
        self._seen_revocations = _revocations[0]

    def get(self, key_hash: str) -> tuple[bool, KnownKey | None]:
        """(True, what the lookup answered) while it is fresh; (False, None) otherwise."""
        if self._seen_revocations != _revocations[0]:
            self._entries.clear()
            self._seen_revocations = _revocations[0]
        hit = self._entries.get(key_hash)
        if hit is None:
            return False, None
        if self.clock() >= hit[0]:
            del self._entries[key_hash]
            return False, None
        return True, hit[1]

    def put(self, key_hash: str, known: KnownKey | None) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key_hash] = (self.clock() + self.ttl, known)

    def clear(self) -> None:
        self._entries.clear()
