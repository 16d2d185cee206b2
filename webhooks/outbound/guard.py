"""The SSRF guard that registration and delivery share: the pure checks of ``ssrf`` with
the name resolution they need (I/O).

One ``UrlGuard`` is given to both the service (a URL is vetted when registered) and the
outbox pump (vetted again before each delivery, then pinned to the checked address).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
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
_pool = concurrent.futures.ThreadPoolExecutor(LOOKUP_THREADS, thread_name_prefix="regie-dns")
# the lookup of each (host, port) under way: the notifications due to one host share it, so
# a host whose DNS hangs holds one thread, not one per notification
_under_way: dict[tuple[str, int], concurrent.futures.Future[Any]] = {}
_lock = threading.Lock()


def _lookup(host: str, port: int) -> concurrent.futures.Future[Any]:
    key = (host, port)
    with _lock:
        found = _under_way.get(key)
        if found is not None:
            return found
        made = _pool.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        _under_way[key] = made

    def done(f: concurrent.futures.Future[Any]) -> None:
        with _lock:  # the next lookup of the name asks again
            if _under_way.get(key) is f:
                del _under_way[key]

    made.add_done_callback(done)
    return made


async def system_resolver(host: str, port: int) -> list[str]:
    """``getaddrinfo`` on a thread of the lookups' own (the event loop never waits on DNS),
    shared by concurrent lookups of the same name, given ``LOOKUP_SECONDS``."""
    shared = asyncio.wrap_future(_lookup(host, port))
    # its failure is this caller's to see, or nobody's once it has given up waiting
    shared.add_done_callback(lambda f: f.cancelled() or f.exception())
    # (shielded: one caller's timeout never cancels the lookup the others wait for)
    infos = await asyncio.wait_for(asyncio.shield(shared), timeout=LOOKUP_SECONDS)
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

    async def vet(self, url: str) -> ssrf.Pinned:
        """Parse, resolve and check ``url``; raises ``ssrf.UnsafeUrl``."""
        return await ssrf.vet(url, production=self.production, resolver=self.resolver)
