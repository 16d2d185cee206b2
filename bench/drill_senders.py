"""The fault drill's PSP (``bench.drill``): concurrent senders POSTing the simulator's
events to ``/webhooks/simulator``, signed as the simulator signs them, each retried until
regie answers 2xx (as a PSP retries), alternating between the servers."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from payments import signing
from payments.providers.simulator.events import SIGNATURE_HEADER

RETRY_PAUSE = 0.2  # seconds between two tries of one event


@dataclass
class Sends:
    done: int = 0  # events acknowledged, refused or given up
    acked: int = 0
    duplicate_answers: int = 0  # 2xx answers saying the event was already stored
    retries: int = 0  # tries that got a 5xx or no answer
    refused: list[str] = field(default_factory=list)  # a 4xx: "event: status body"
    given_up: list[str] = field(default_factory=list)  # still failing at the deadline
    finished_at: float | None = None
    _milestones: dict[int, asyncio.Event] = field(default_factory=dict)

    def reached(self, n: int) -> asyncio.Event:
        """Set once ``n`` events are done."""
        event = self._milestones.setdefault(n, asyncio.Event())
        if self.done >= n:
            event.set()
        return event

    def one_done(self) -> None:
        self.done += 1
        for n, event in self._milestones.items():
            if self.done >= n:
                event.set()


async def send_all(
    events: list[dict[str, Any]],
    ports: list[int],
    secret: str,
    senders: int,
    sends: Sends,
    deadline: float,
) -> None:
    queue: asyncio.Queue[tuple[int, dict[str, Any]]] = asyncio.Queue()
    for item in enumerate(events):
        queue.put_nowait(item)

    async def sender() -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            while True:
                try:
                    i, payload = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await _send_one(client, i, payload, ports, secret, sends, deadline)
                sends.one_done()

    await asyncio.gather(*(sender() for _ in range(senders)))
    sends.finished_at = time.monotonic()


async def _send_one(
    client: httpx.AsyncClient,
    i: int,
    payload: dict[str, Any],
    ports: list[int],
    secret: str,
    sends: Sends,
    deadline: float,
) -> None:
    body = json.dumps(payload, separators=(",", ":")).encode()
    attempt = 0
    while True:
        port = ports[(i + attempt) % len(ports)]  # a retry goes to the other server
        attempt += 1
        headers = {
            "content-type": "application/json",
            SIGNATURE_HEADER: signing.sign(secret, body),  # signed at each try, as a PSP does
        }
        try:
            r = await client.post(
                f"http://127.0.0.1:{port}/webhooks/simulator", content=body, headers=headers
            )
        except httpx.HTTPError:
            status = None
        else:
            status = r.status_code
            if 200 <= status < 300:
                sends.acked += 1
                sends.duplicate_answers += bool(r.json().get("duplicate"))
                return
            if 400 <= status < 500:
                sends.refused.append(f"{payload['id']}: {status} {r.text[:200]}")
                return
        sends.retries += 1
        if time.monotonic() > deadline:
            sends.given_up.append(f"{payload['id']}: last answer {status}")
            return
        await asyncio.sleep(RETRY_PAUSE)
