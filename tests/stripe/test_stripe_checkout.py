"""The Stripe adapter's checkout (issue 9, "Checkout"): session options, the session's
life against the invoice's, what a session's state means for its payment, pressing Pay
again (expiring a session), and the Pay button's own short budget.

Checkout Sessions are Stripe's recorded objects answered by respx (localstripe has none);
the budget is tested against a real local server that accepts connections and never
answers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import respx

from payments.providers.base import EVENT_PAYMENT_PROCESSING, ProviderError
from payments.providers.stripe import client as stripe_client
from payments.providers.stripe.client import StripeProvider
from payments.providers.stripe.descriptors import suffix_problem
from tests.conftest import Keys, create_invoice, token_of
from tests.stripe.conftest import RESPX_BASE, RESPX_KEY, SECRETS, event_body, sign
from tests.stripe.stripe_payloads import (
    CS_ID,
    PI_ID,
    URLS,
    checkout_request,
    expanded_intent,
    form,
    now,
    session,
    stripe_error,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore:Use 'content=<...>' to upload raw bytes/text content:DeprecationWarning"
)


def created(respx_mock: respx.MockRouter) -> respx.Route:
    return respx_mock.post(f"{RESPX_BASE}/v1/checkout/sessions").mock(
        return_value=httpx.Response(200, json=session())
    )


# ------------------------------------------------------------------- session options
async def test_the_payers_email_and_the_services_suffix_go_to_stripe(
    respx_mock: respx.MockRouter, respx_provider: StripeProvider
) -> None:
    route = created(respx_mock)
    urls = URLS.__class__(
        success_url=URLS.success_url + "&session={CHECKOUT_SESSION_ID}", cancel_url=URLS.cancel_url
    )
    await respx_provider.create_checkout(
        checkout_request(payer_email="camille@example.org", statement_descriptor_suffix="CANTINE"),
        urls,
    )
    sent = form(route.calls.last.request)
    assert sent["customer_email"] == "camille@example.org"
    assert sent["payment_intent_data[statement_descriptor_suffix]"] == "CANTINE"
    # Stripe fills the placeholder in: regie sends it as it is
    assert sent["success_url"].endswith("&session={CHECKOUT_SESSION_ID}")

    await respx_provider.create_checkout(checkout_request(), URLS)
    sent = form(route.calls.last.request)
    assert "customer_email" not in sent
    assert "payment_intent_data[statement_descriptor_suffix]" not in sent


async def test_a_suffix_stripe_would_refuse_is_left_out_not_the_payment(
    respx_mock: respx.MockRouter, respx_provider: StripeProvider, caplog
) -> None:
    route = created(respx_mock)
    with caplog.at_level(logging.WARNING):
        await respx_provider.create_checkout(
            checkout_request(statement_descriptor_suffix='CANTINE "MARS"'), URLS
        )
    assert "payment_intent_data[statement_descriptor_suffix]" not in form(route.calls.last.request)
    assert any("statement descriptor suffix" in r.getMessage() for r in caplog.records)


async def test_the_suffix_is_checked_against_the_accounts_prefix(
    respx_mock: respx.MockRouter,
) -> None:
    route = created(respx_mock)
    p = StripeProvider(
        RESPX_KEY, list(SECRETS), api_base=RESPX_BASE, statement_descriptor_prefix="MAIRIE"
    )
    try:
        # MAIRIE* + 14 characters = 22: fits
        await p.create_checkout(
            checkout_request(statement_descriptor_suffix="CANTINE MARS25"), URLS
        )
        assert form(route.calls.last.request)[
            "payment_intent_data[statement_descriptor_suffix]"
        ] == ("CANTINE MARS25")
        await p.create_checkout(
            checkout_request(statement_descriptor_suffix="CANTINE MARS 25"), URLS
        )
        assert "payment_intent_data[statement_descriptor_suffix]" not in form(
            route.calls.last.request
        )
    finally:
        await p.aclose()


@pytest.mark.parametrize(
    ("suffix", "prefix", "fine"),
    [
        ("CANTINE", None, True),
        ("PC 2026-0001", "MAIRIE", True),
        ("ABCDEFGHIJ", None, True),  # 10: fits whatever prefix (at most 10) the account has
        ("ABCDEFGHIJK", None, False),
        ("ABCDEFGHIJKLMN", "MAIRIE", True),  # MAIRIE* ABCDEFGHIJKLMN: 22
        ("ABCDEFGHIJKLMNO", "MAIRIE", False),  # 23
        ("", None, False),
        ("2026", None, False),  # at least one letter
        ("CANTINE*", None, False),
        ("L'ECOLE", None, False),
        ('"ECOLE"', None, False),
        ("<ECOLE>", None, False),
        ("A\\B", None, False),
        ("ÉCOLE", None, False),  # Latin letters only, without accents (Stripe drops them)
        ("ШКОЛА", None, False),
        ("ECOLE\n", None, False),
    ],
)
def test_statement_descriptor_suffix_rules(suffix: str, prefix: str | None, fine: bool) -> None:
    problem = suffix_problem(suffix, prefix)
    assert (problem is None) == fine, problem
    if problem:
        assert problem.endswith(".")  # a sentence for whoever sets it


# ---------------------------------------------------- the session and the invoice's life
@pytest.mark.parametrize("left", [dt.timedelta(minutes=5), dt.timedelta(days=-1)])
async def test_a_session_that_would_outlive_its_invoice_is_not_asked_for(
    respx_mock: respx.MockRouter, respx_provider: StripeProvider, left: dt.timedelta
) -> None:
    route = created(respx_mock)
    with pytest.raises(ProviderError) as err:
        await respx_provider.create_checkout(checkout_request(expires_at=now() + left), URLS)
    assert (err.value.kind, err.value.code) == ("invalid_request", "checkout_expires_too_soon")
    assert route.call_count == 0


def test_stripes_shortest_session_is_the_ports_minimum() -> None:
    # Stripe refuses expires_at less than 30 minutes ahead; regie keeps a minute's margin
    assert StripeProvider.min_checkout_life == dt.timedelta(minutes=31)


# --------------------------------------------------------- what a session's state means
@pytest.mark.parametrize(
    ("changes", "status", "processing"),
    [
        # a declined card: Stripe keeps the citizen on its page to try another one
        ({"status": "open", "payment_status": "unpaid", "payment_intent": "DECLINED"}, "pending", False),
        # a delayed method (SEPA debit): complete, the money on its way
        ({"status": "complete", "payment_status": "unpaid", "payment_intent": "PROCESSING"}, "pending", True),
        # ... that failed (async_payment_failed)
        ({"status": "complete", "payment_status": "unpaid", "payment_intent": "DECLINED"}, "failed", False),
        ({"status": "open", "payment_status": "unpaid", "payment_intent": None}, "pending", False),
    ],
)  # fmt: skip
async def test_what_a_sessions_state_means_for_its_payment(
    respx_mock: respx.MockRouter,
    respx_provider: StripeProvider,
    changes: dict[str, Any],
    status: str,
    processing: bool,
) -> None:
    intents = {
        "DECLINED": expanded_intent(
            "requires_payment_method",
            latest_charge=None,
            last_payment_error={"code": "card_declined", "message": "Your card was declined."},
        ),
        "PROCESSING": expanded_intent("processing", latest_charge=None),
    }
    values = dict(changes)
    if values["payment_intent"] is not None:
        values["payment_intent"] = intents[values["payment_intent"]]
    respx_mock.get(f"{RESPX_BASE}/v1/checkout/sessions/{CS_ID}").mock(
        return_value=httpx.Response(200, json=session(**values))
    )
    truth = await respx_provider.retrieve_payment(CS_ID)
    assert (truth.status, truth.processing) == (status, processing)


def test_a_completed_but_unpaid_session_says_the_money_is_on_its_way(
    respx_provider: StripeProvider,
) -> None:
    obj = session(payment_intent=PI_ID, status="complete", payment_status="unpaid")
    body = event_body("checkout.session.completed", obj)
    event = respx_provider.parse_event(body, sign(body, SECRETS[0]))
    assert event.type == EVENT_PAYMENT_PROCESSING
    assert (event.checkout_id, event.provider_payment_id) == (CS_ID, PI_ID)


# ------------------------------------------------------------- expiring a session
@pytest.mark.parametrize(
    ("state", "closed"), [("open", True), ("expired", True), ("complete", False)]
)
async def test_expiring_a_session_says_whether_a_payment_can_still_come_from_it(
    respx_mock: respx.MockRouter, respx_provider: StripeProvider, state: str, closed: bool
) -> None:
    if state == "open":
        respx_mock.post(f"{RESPX_BASE}/v1/checkout/sessions/{CS_ID}/expire").mock(
            return_value=httpx.Response(200, json=session(status="expired"))
        )
    else:
        respx_mock.post(f"{RESPX_BASE}/v1/checkout/sessions/{CS_ID}/expire").mock(
            return_value=stripe_error(
                400,
                type="invalid_request_error",
                message="Only Checkout Sessions with a status in [open] can be expired. "
                f"This Checkout Session has a status of {state}.",
            )
        )
        respx_mock.get(f"{RESPX_BASE}/v1/checkout/sessions/{CS_ID}").mock(
            return_value=httpx.Response(200, json=session(status=state))
        )
    assert await respx_provider.cancel_checkout(CS_ID) is closed


# ------------------------------------------------- the Pay button's short budget
@dataclass
class Connection:
    sock: socket.socket
    request: bytes = b""
    closed: threading.Event = field(default_factory=threading.Event)

    @property
    def line(self) -> str:
        return self.request.split(b"\r\n", 1)[0].decode("latin-1")


class SilentServer:
    """Accepts connections on 127.0.0.1 and reads what is sent; never answers. Records
    each connection's request line and when the client hangs up."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.connections: list[Connection] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            conn = Connection(sock)
            with self._lock:
                self.connections.append(conn)
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: Connection) -> None:
        while True:
            try:
                data = conn.sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                conn.closed.set()  # the client hung up
                return
            conn.request += data

    def started(self, prefix: str) -> list[Connection]:
        with self._lock:
            return [c for c in self.connections if c.line.startswith(prefix)]

    def stop(self) -> None:
        self._listener.close()
        for c in self.connections:
            c.sock.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.stop()


async def _until(check: Any) -> None:
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never happened")


async def test_the_pay_buttons_call_is_abandoned_and_the_others_keep_waiting(
    silent: SilentServer,
) -> None:
    """With the production budget: create_checkout gives up on a Stripe that never
    answers (one attempt and its one retry, both abandoned by regie), while a call
    started before it, with the ordinary timeout, is still waiting afterwards."""
    p = StripeProvider(RESPX_KEY, list(SECRETS), api_base=silent.url)
    other = asyncio.create_task(p.retrieve_payment(CS_ID))
    try:
        await _until(lambda: silent.started("GET /v1/checkout/sessions/"))
        with pytest.raises(ProviderError) as err:
            await p.create_checkout(checkout_request(), URLS)
        assert (err.value.kind, err.value.retryable) == ("unavailable", True)
        posts = silent.started("POST /v1/checkout/sessions")
        assert len(posts) == 1 + stripe_client.CHECKOUT_RETRIES
        for conn in posts:  # regie hung up: the call was abandoned, not left hanging
            assert await asyncio.to_thread(conn.closed.wait, 5)
        (get,) = silent.started("GET /v1/checkout/sessions/")
        assert not other.done() and not get.closed.is_set()
    finally:
        other.cancel()
        await p.aclose()


def test_the_pay_buttons_budget_is_about_ten_seconds() -> None:
    attempts = 1 + stripe_client.CHECKOUT_RETRIES
    assert stripe_client.CHECKOUT_BUDGET <= 10.0
    assert attempts * stripe_client.CHECKOUT_TIMEOUT < stripe_client.CHECKOUT_BUDGET
    assert stripe_client.DEFAULT_TIMEOUT == 30.0  # the other calls keep theirs


# ------------------------------------------- the same, with the citizen in front of it
@pytest.fixture
def settings(settings_factory, silent: SilentServer, monkeypatch: pytest.MonkeyPatch):
    # a shorter budget than production's, so the test does not wait for it
    monkeypatch.setattr(stripe_client, "CHECKOUT_TIMEOUT", 0.3)
    return settings_factory(
        psp="stripe",
        stripe_api_key=RESPX_KEY,
        stripe_webhook_secrets=",".join(SECRETS),
        stripe_api_base=silent.url,
    )


async def test_a_stripe_that_never_answers_is_unreachable_for_the_citizen(
    client, app, keys: Keys, silent: SilentServer
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    r = await client.post(f"/pay/{token_of(inv)}/checkout")
    assert r.status_code == 502
    assert "ne répond pas" in r.text and "a refusé" not in r.text
    posts = silent.started("POST /v1/checkout/sessions")
    # Stripe was asked, and no more often than the budget allows; how many of the attempts
    # reached it is not this test's to count: with this test's 0.3 s an attempt can give up
    # in its connect, before the server sees it, when the machine stalls (CI on 53478da).
    # The production budget's attempts are counted exactly above
    # (test_the_pay_buttons_call_is_abandoned_and_the_others_keep_waiting)
    assert 1 <= len(posts) <= 1 + stripe_client.CHECKOUT_RETRIES
    for conn in posts:
        assert await asyncio.to_thread(conn.closed.wait, 5)
    doc = (await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))).json()
    assert doc["status"] == "open"
    assert [(p["status"], p["failure"]["code"]) for p in doc["payments"]] == [
        ("failed", "provider_unavailable")
    ]
