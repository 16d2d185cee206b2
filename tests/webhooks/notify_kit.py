"""The notification tests' kit: a real HTTP receiver on 127.0.0.1 in a thread, and the
helpers the notification tests share (registering an endpoint, reading deliveries, posting
the simulator's events)."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from sqlalchemy import func, select

from payments import signing
from payments.providers.simulator.models import SimEvent
from tests.conftest import Keys, create_invoice
from webhooks.outbound.models import WebhookDelivery


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def doc(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 in a thread. ``mode``: ok | fail | redirect.
    With ``gate``, each request is held until the gate is set."""

    port: int
    mode: str = "ok"
    delay: float = 0.0
    gate: threading.Event | None = None
    requests: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver.delay:
                    time.sleep(receiver.delay)
                if receiver.gate is not None:
                    receiver.gate.wait(timeout=30)
                status = {"ok": 200, "fail": 500, "redirect": 302, "accepted": 202}[receiver.mode]
                with receiver._lock:
                    receiver.requests.append(
                        Received(
                            self.path, {k.lower(): v for k, v in self.headers.items()}, body, status
                        )
                    )
                self.send_response(status)
                if status == 302:
                    self.send_header("Location", f"{receiver.url}/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def ok(self) -> list[Received]:
        return [r for r in self.requests if 200 <= r.answered < 300]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------ helpers


async def register(client: httpx.AsyncClient, key: str, url: str, **extra: Any) -> dict[str, Any]:
    r = await client.post("/v1/webhook-endpoints", json={"url": url, **extra}, headers=Keys.h(key))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def rows(app: Any, *where: Any) -> list[WebhookDelivery]:
    async with app.state.db.session() as s:
        stmt = select(WebhookDelivery).where(*where).order_by(WebhookDelivery.seq)
        return list((await s.execute(stmt)).scalars())


async def count(app: Any, model: Any, *where: Any) -> int:
    async with app.state.db.session() as s:
        stmt = select(func.count()).select_from(model).where(*where)
        return int((await s.execute(stmt)).scalar_one())


def verify(req: Received, secret: str) -> None:
    signing.verify(req.headers["regie-signature"], req.body, [secret])


async def cancel(client: httpx.AsyncClient, key: str, inv: dict[str, Any]) -> None:
    r = await client.post(f"/v1/invoices/{inv['id']}/cancel", headers=Keys.h(key))
    assert r.status_code == 200, r.text


async def last_sim_event(app: Any) -> dict[str, Any]:
    async with app.state.db.session() as s:
        stmt = select(SimEvent).order_by(SimEvent.created_at.desc(), SimEvent.id.desc())
        return dict((await s.execute(stmt)).scalars().first().payload)


async def post_sim_event(client: httpx.AsyncClient, app: Any, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    headers = {
        "Simulator-Signature": signing.sign(app.state.settings.simulator_webhook_secret, body),
        "content-type": "application/json",
    }
    r = await client.post("/webhooks/simulator", content=body, headers=headers)
    assert r.status_code == 200, r.text


# -------------------------------------------------------------------- tests


async def one_canceled_notification(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> WebhookDelivery:
    """An endpoint that nothing answers (127.0.0.1:9) and one notification due to it: an
    invoice created then canceled (``invoice.canceled``); its delivery row."""
    r = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/hook"},
        headers=Keys.h(keys.urbanisme),
    )
    assert r.status_code == 201, r.text
    inv = await create_invoice(client, keys.urbanisme)
    r = await client.post(f"/v1/invoices/{inv['id']}/cancel", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200, r.text
    async with app.state.db.session() as s:
        (row,) = (await s.execute(select(WebhookDelivery))).scalars()
    return row
