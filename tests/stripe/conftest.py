"""Fixtures for the Stripe adapter tests.

- ``localstripe``: a real fake-Stripe server (PyPI ``localstripe``) in a subprocess bound to
  127.0.0.1 on a free port, with its pickled state in a temporary file (it starts empty),
  and a webhook endpoint registered to a small HTTP receiver running in this process.
- Stripe's canonical objects (``fixtures/stripe_objects.json``, a subset of Stripe's
  ``fixtures3.json``, MIT) to build recorded payloads and signed events.
- ``respx_provider``: an adapter pointed at a host that only respx answers.
"""

from __future__ import annotations

import copy
import json
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

from payments.providers.stripe.client import StripeProvider

FIXTURES = Path(__file__).parent / "fixtures"
API_KEY = "sk_test_regie_localstripe"
WEBHOOK_SECRET = "whsec_regie_localstripe_test"
RESPX_BASE = "https://api.stripe.test"
RESPX_KEY = "sk_test_51RespxSecretKeyThatMustNeverLeak"
SECRETS = ["whsec_current_secret_for_tests", "whsec_previous_secret_for_rotation"]

# localstripe's own ``server.start()`` binds '::' and reloads /tmp/localstripe.pickle.
# This launcher binds 127.0.0.1 (port 0: the kernel picks a free port, printed on
# stdout, so there is no race between choosing a port and binding it) and keeps the
# pickled state in a file of this test run, never loaded back.
LAUNCHER = r"""
import pickle
import socket
import sys

import aiohttp.web
from localstripe import resources, server

state_file = sys.argv[1]


def dump_to_disk(self):
    with open(state_file, "wb") as f:
        pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)


resources.Store.dump_to_disk = dump_to_disk
resources.Store.try_load_from_disk = lambda self: None  # store.try_load_from_disk skipped


# Stripe's documented ``types`` filter on GET /v1/events (up to 20 event types), which
# localstripe does not model: the catch-up asks for the types regie handles only.
_list_events = resources.Event._api_list_all.__func__


def _list_events_of_types(cls, url, types=None, **kwargs):
    li = _list_events(cls, url, **kwargs)
    if types is not None:
        wanted = set(types.values() if isinstance(types, dict) else types)
        if not wanted or len(wanted) > 20:
            raise resources.UserError(400, "types takes 1 to 20 event types")
        li._list = [e for e in li._list if e.type in wanted]
    return li


resources.Event._api_list_all = classmethod(_list_events_of_types)

sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
aiohttp.web.run_app(server.app, sock=sock, print=None)
"""


# ----------------------------------------------------------------- webhook receiver
@dataclass
class Delivery:
    body: bytes
    headers: dict[str, str]

    @property
    def doc(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """A real HTTP endpoint on 127.0.0.1 that records what is POSTed to it."""

    deliveries: list[Delivery] = field(default_factory=list)
    url: str = ""
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._cond:
                    receiver.deliveries.append(Delivery(body, dict(self.headers.items())))
                    receiver._cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/stripe"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def wait_for(self, match: Callable[[dict[str, Any]], bool], timeout: float = 15) -> Delivery:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for d in self.deliveries:
                    if match(d.doc):
                        return d
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [d.doc.get("type") for d in self.deliveries]
                    raise AssertionError(f"no matching webhook delivery; got {seen}")
                self._cond.wait(left)


# ----------------------------------------------------------------------- localstripe
@dataclass
class LocalStripe:
    base_url: str
    receiver: WebhookReceiver

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {API_KEY}"}

    async def post(self, path: str, data: dict[str, Any]) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10) as c:
            return await c.post(path, data=data, headers=self._auth())

    async def payment_method(self, number: str = "4242424242424242") -> str:
        r = await self.post(
            "/v1/payment_methods",
            {
                "type": "card",
                "card[number]": number,
                "card[exp_month]": "12",
                "card[exp_year]": "2034",
                "card[cvc]": "123",
            },
        )
        r.raise_for_status()
        return str(r.json()["id"])

    async def payment_intent(
        self,
        amount: int,
        *,
        payment_ref: str,
        payment_method: str | None = None,
        confirm: bool = True,
    ) -> str:
        """A PaymentIntent as Checkout would leave it (regie's ids in its metadata)."""
        data: dict[str, Any] = {
            "amount": str(amount),
            "currency": "eur",
            "metadata[payment_id]": payment_ref,
            "metadata[invoice_id]": "inv_" + payment_ref[4:],
        }
        if payment_method:
            data["payment_method"] = payment_method
        r = await self.post("/v1/payment_intents", data)
        r.raise_for_status()
        pi = str(r.json()["id"])
        if confirm:
            await self.post(f"/v1/payment_intents/{pi}/confirm", {})
        return pi


def _read_port(proc: subprocess.Popen[str], timeout: float) -> int:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        raise RuntimeError("localstripe did not report its port")
    line = proc.stdout.readline().strip()
    if not line.isdigit():
        raise RuntimeError(f"localstripe did not start: {line!r}")
    return int(line)


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStripe]:
    pytest.importorskip("localstripe")
    workdir = tmp_path_factory.mktemp("localstripe")
    state = workdir / "localstripe.pickle"
    errors = (workdir / "stderr.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, str(state)],
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
        cwd=workdir,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    receiver = WebhookReceiver()
    try:
        port = _read_port(proc, timeout=30)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:  # wait until it answers
            try:
                r = httpx.get(
                    f"{base}/v1/events",
                    params={"limit": 1},
                    headers={"Authorization": f"Bearer {API_KEY}"},
                    timeout=2,
                )
                if r.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("localstripe did not answer")
            time.sleep(0.1)
        receiver.start()
        r = httpx.post(
            f"{base}/_config/webhooks/regie",
            data={"url": receiver.url, "secret": WEBHOOK_SECRET},
            timeout=5,
        )
        r.raise_for_status()
        yield LocalStripe(base, receiver)
    finally:
        receiver.stop()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
        errors.close()


@pytest.fixture
async def provider(localstripe: LocalStripe) -> AsyncIterator[StripeProvider]:
    p = StripeProvider(API_KEY, [WEBHOOK_SECRET], api_base=localstripe.base_url)
    yield p
    await p.aclose()


# ------------------------------------------------------------------- respx (faults)
@pytest.fixture
async def respx_provider(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[StripeProvider]:
    """An adapter on a host only respx answers, with the SDK's backoff sleeps made instant
    (the number of attempts is what the tests look at, not the delay)."""
    p = StripeProvider(RESPX_KEY, list(SECRETS), api_base=RESPX_BASE, max_network_retries=2)
    monkeypatch.setattr(p._http, "_sleep_time_seconds", lambda num_retries: 0.0)
    yield p
    await p.aclose()


# ------------------------------------------------------------------ recorded payloads
_RESOURCES: dict[str, Any] = json.loads((FIXTURES / "stripe_objects.json").read_text())["resources"]


def stripe_object(name: str, **changes: Any) -> dict[str, Any]:
    """A deep copy of Stripe's canonical ``name`` object, with ``changes`` applied."""
    obj = copy.deepcopy(_RESOURCES[name])
    obj.update(changes)
    return obj


def event_body(
    event_type: str,
    obj: dict[str, Any],
    *,
    event_id: str = "evt_1RegieTest000000000000",
    created: int | None = None,
) -> bytes:
    """A webhook body as Stripe sends it: the canonical event around ``obj``."""
    event = stripe_object(
        "event",
        id=event_id,
        type=event_type,
        created=created if created is not None else int(time.time()),
        api_version="2025-01-27.acacia",
        data={"object": obj},
    )
    return json.dumps(event, indent=2).encode()


def sign(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=timestamp
    )
    return {"Stripe-Signature": header, "Content-Type": "application/json"}
