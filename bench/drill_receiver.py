"""The fault drill's notification receiver: a client service's endpoint that records every
delivery it gets (``bench.drill``).

It runs in the drill's own process (uvicorn, on a loopback port, in the drill's event
loop), answers 200 to every POST, and keeps for each one: the path (which service), the
Standard Webhooks ``webhook-id`` and regie's ``Regie-Event-Id`` (the same id), a hash of
the body, the notification's type and invoice, when it arrived, and whether its Standard
Webhooks signature verifies with the endpoint's secret (the ``standardwebhooks`` package,
an off-the-shelf verifier, not regie's code).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


@dataclass(frozen=True)
class Delivery:
    path: str
    webhook_id: str
    regie_event_id: str
    body_sha256: str
    event_type: str
    invoice_id: str
    at: float  # time.monotonic()
    verified: bool


class Receiver:
    def __init__(self, port: int, secrets: dict[str, str]) -> None:
        self.port = port
        self.verifiers = {path: Webhook(secret) for path, secret in secrets.items()}
        self.deliveries: list[Delivery] = []
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def __call__(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        self.deliveries.append(self._record(scope["path"], headers, body))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def _record(self, path: str, headers: dict[str, str], body: bytes) -> Delivery:
        verified = False
        verifier = self.verifiers.get(path)
        if verifier is not None:
            with contextlib.suppress(Exception):
                verifier.verify(body, headers)
                verified = True
        try:
            doc = json.loads(body)
            event_type = str(doc["type"])
            invoice_id = str(doc["data"]["object"]["id"])
        except (ValueError, KeyError, TypeError):
            event_type = invoice_id = ""
        return Delivery(
            path=path,
            webhook_id=headers.get("webhook-id", ""),
            regie_event_id=headers.get("regie-event-id", ""),
            body_sha256=hashlib.sha256(body).hexdigest(),
            event_type=event_type,
            invoice_id=invoice_id,
            at=time.monotonic(),
            verified=verified,
        )

    async def start(self) -> None:
        config = uvicorn.Config(
            self, host="127.0.0.1", port=self.port, lifespan="off", log_level="warning",
            access_log=False,
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(), name="drill-receiver")
        while not self._server.started:
            if self._task.done():
                self._task.result()  # the port was taken: raise why
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
