"""The notifications' name lookups (``webhooks.outbound.guard.system_resolver``): a host
whose DNS hangs holds one lookup thread, whatever number of its notifications are due, and
never the threads other hosts' lookups (or the process's other work) need."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import httpx
import pytest

from tests.conftest import Keys, create_invoice
from tests.webhooks.notify_kit import Receiver, cancel, register, rows
from webhooks.outbound import guard
from webhooks.outbound.models import WebhookDelivery


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


async def test_a_service_whose_names_hang_leaves_lookup_threads_to_the_others(
    client: httpx.AsyncClient,
    app: Any,
    keys: Keys,
    receiver: Receiver,
    notifications: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a client service registers names that answer, then have them stop answering (its own
    # DNS server): each of its notifications holds a lookup thread as long as the system's
    # resolver waits. More such names than the lookups have threads must not make another
    # service's notification fail with "does not resolve"
    hanging, release = threading.Event(), threading.Event()
    real = socket.getaddrinfo

    def lookup(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        if host.startswith("hang") and hanging.is_set():
            release.wait(30)  # bounded: the test releases it
            raise socket.gaierror("no answer")
        return real("127.0.0.1", port, *args, **kwargs)

    monkeypatch.setattr(guard.socket, "getaddrinfo", lookup)
    monkeypatch.setattr(guard, "LOOKUP_SECONDS", 1)
    many = guard.LOOKUP_THREADS + 1
    for i in range(many):
        await register(client, keys.urbanisme, f"http://hang{i}.example:{receiver.port}/in")
    await register(client, keys.etat_civil, f"http://victim.example:{receiver.port}/hook")
    await cancel(client, keys.urbanisme, await create_invoice(client, keys.urbanisme))
    victim = await create_invoice(client, keys.etat_civil)
    await cancel(client, keys.etat_civil, victim)
    hanging.set()
    try:
        assert await notifications.deliver_due(limit=many + 1) == many + 1
    finally:
        release.set()
    (row,) = await rows(app, WebhookDelivery.invoice_id == victim["id"])
    assert (row.status, row.last_error) == ("delivered", None)
    assert [r.path for r in receiver.requests] == ["/hook"]
    others = await rows(app, WebhookDelivery.invoice_id != victim["id"])
    assert len(others) == many
    assert all(
        r.status == "pending" and (r.last_error or "").startswith("blocked:") for r in others
    )
