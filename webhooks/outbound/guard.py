"""The SSRF guard that registration and delivery share: the pure checks of ``ssrf`` with
the name resolution they need (I/O).

One ``UrlGuard`` is given to both the service (a URL is vetted when registered) and the
outbox pump (vetted again before each delivery, then pinned to the checked address).
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass

from webhooks.outbound import ssrf


async def system_resolver(host: str, port: int) -> list[str]:
    """``getaddrinfo`` in a thread (the event loop never waits on DNS)."""
    infos = await asyncio.wait_for(
        asyncio.to_thread(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM), timeout=5
    )
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
