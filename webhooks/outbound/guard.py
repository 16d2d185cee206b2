"""The SSRF guard that registration and delivery share: the pure checks of ``ssrf`` with
the name resolution they need (I/O).

One ``UrlGuard`` is given to both the service (a URL is vetted when registered) and the
outbox pump (vetted again before each delivery, then pinned to the checked address).

The lookups' threads are few and a lookup holds one as long as the system's resolver waits,
past the caller's bound: a client service whose DNS stops answering could otherwise hold
them all with names of its own (an endpoint each, or one registration after another) and
make every other service's notifications fail. So each service (the ``owner`` of a vetting)
has at most ``LOOKUPS_PER_OWNER`` lookups under way; its further ones wait for its own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import socket
import threading
from dataclasses import dataclass
from typing import Any

from webhooks.outbound import ssrf

# the lookups' own threads: never the loop's default pool, which the process's other work
# (receipts rendered, files read) needs; a thread stays as long as the system's resolver
# takes, past the 5 s a lookup is given
LOOKUP_THREADS = 8
LOOKUP_SECONDS = 5
# the lookups one owner (a client service) may have under way, threads held: a service
# whose names hang holds these and no more, and leaves the others' lookups threads
LOOKUPS_PER_OWNER = 2
_pool = concurrent.futures.ThreadPoolExecutor(LOOKUP_THREADS, thread_name_prefix="regie-dns")
Lookup = concurrent.futures.Future[Any]
# the lookup of each (host, port) under way: the notifications due to one host share it, so
# a host whose DNS hangs holds one thread, not one per notification
_under_way: dict[tuple[str, int], Lookup] = {}
# per owner, its lookups whose thread still runs (until getaddrinfo returns, not until its
# callers stop waiting)
_held: dict[str, set[Lookup]] = {}
_lock = threading.Lock()
# who the lookups of the vetting under way are for (``UrlGuard.vet`` sets it)
lookup_owner: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "regie_lookup_owner", default=None
)


def _lookup(host: str, port: int, owner: str | None) -> Lookup | set[Lookup]:
    """The lookup of ``(host, port)`` under way, or a new one; when ``owner`` already has
    ``LOOKUPS_PER_OWNER`` under way, those instead (to wait for one to end, then ask again)."""
    key = (host, port)
    with _lock:
        found = _under_way.get(key)
        if found is not None:
            return found
        if owner is not None:
            held = _held.setdefault(owner, set())
            if len(held) >= LOOKUPS_PER_OWNER:
                return set(held)
        made = _pool.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        _under_way[key] = made
        if owner is not None:
            held.add(made)

    def done(f: Lookup) -> None:
        with _lock:  # the next lookup of the name asks again
            if _under_way.get(key) is f:
                del _under_way[key]
            if owner is not None and owner in _held:  # and the owner has its turn back
                _held[owner].discard(f)
                if not _held[owner]:
                    del _held[owner]

    made.add_done_callback(done)
    return made


def _wrapped(lookup: Lookup) -> asyncio.Future[Any]:
    shared = asyncio.wrap_future(lookup)
    # its failure is this caller's to see, or nobody's once it has given up waiting
    shared.add_done_callback(lambda f: f.cancelled() or f.exception())
    return shared


async def _resolve(host: str, port: int, owner: str | None) -> Any:
    while not isinstance(found := _lookup(host, port, owner), concurrent.futures.Future):
        # the owner's other lookups hold its turns: wait for one to end (never cancelled)
        await asyncio.wait([_wrapped(f) for f in found], return_when=asyncio.FIRST_COMPLETED)
    # (shielded: one caller's timeout never cancels the lookup the others wait for)
    return await asyncio.shield(_wrapped(found))


async def system_resolver(host: str, port: int) -> list[str]:
    """``getaddrinfo`` on a thread of the lookups' own (the event loop never waits on DNS),
    shared by concurrent lookups of the same name, at most ``LOOKUPS_PER_OWNER`` of an
    owner's (``lookup_owner``) under way, given ``LOOKUP_SECONDS`` in all (waiting for the
    owner's turn included)."""
    owner = lookup_owner.get()
    infos = await asyncio.wait_for(_resolve(host, port, owner), timeout=LOOKUP_SECONDS)
    out: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in out:
            out.append(address)
    return out


@dataclass
class UrlGuard:
    """``production`` selects the rules (see ``ssrf``); ``resolver`` resolves host names."""

    production: bool
    resolver: ssrf.Resolver = system_resolver

    async def vet(self, url: str, *, owner: str | None = None) -> ssrf.Pinned:
        """Parse, resolve and check ``url``; raises ``ssrf.UnsafeUrl``. ``owner``: the
        client service it is vetted for, whose lookups take turns (``LOOKUPS_PER_OWNER``)."""
        token = lookup_owner.set(owner)
        try:
            return await ssrf.vet(url, production=self.production, resolver=self.resolver)
        finally:
            lookup_owner.reset(token)
