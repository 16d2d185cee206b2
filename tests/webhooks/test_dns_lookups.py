"""The notifications' name lookups (``webhooks.outbound.guard.system_resolver``): a host
whose DNS hangs holds one lookup thread, whatever number of its notifications are due, and
never the threads other hosts' lookups (or the process's other work) need."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import pytest

from webhooks.outbound import guard


async def test_a_host_whose_dns_hangs_holds_no_lookup_of_another_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = threading.Event()
    hung: list[str] = []
    real = socket.getaddrinfo

    def lookup(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        if host == "hangs.example":
            hung.append(host)
            release.wait(10)  # a resolver that does not answer (bounded: the test ends)
            raise socket.gaierror("no answer")
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(guard.socket, "getaddrinfo", lookup)
    # more of the hanging host's notifications due than any default pool has threads
    waiting = [asyncio.ensure_future(guard.system_resolver("hangs.example", 443))
               for _ in range(40)]  # fmt: skip
    try:
        await asyncio.sleep(0.2)
        # another service's receiver resolves, within the lookup's bound of 5 s
        assert await guard.system_resolver("127.0.0.1", 443) == ["127.0.0.1"]
        assert len(hung) == 1  # one lookup of the hanging name at a time, shared
    finally:
        release.set()
        results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, OSError) for r in results)
    # the name is looked up again afterwards, not answered from the failed lookup
    release.clear()
    hung.clear()
    later = asyncio.ensure_future(guard.system_resolver("hangs.example", 443))
    await asyncio.sleep(0.2)
    release.set()
    with pytest.raises(OSError):
        await later
    assert hung == ["hangs.example"]
