"""Known-answer vectors for every HMAC signature regie makes or checks.

The documented scheme (README, "Get notified"; ``payments/signing.py``):
``t=<unix>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>``. The expected values here are
computed with ``hmac``/``hashlib`` (and one written out literally), never with regie's own
code, so a change made at both ends at once (signing the body without the timestamp,
say) still fails. Covered: ``payments.signing`` itself, the outgoing ``Regie-Signature``
of the notifications, the simulator's ``Simulator-Signature`` on the events it sends,
and regie's check of it at ``POST /webhooks/simulator`` (Stripe's is tested in
tests/stripe with the SDK's own signer).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import pytest

from payments import signing
from tests.conftest import Keys, create_invoice, start_checkout

SECRET = "whsec_regie_known_answer_0123456789"
T = 1_767_225_600  # 2026-01-01T00:00:00Z
BODY = b'{"id":"evt_kat_1","type":"invoice.paid"}'
# HMAC-SHA256(SECRET, b"1767225600." + BODY), computed once with Python's hmac module
KNOWN_V1 = "c42af829bb48a988daa2fb8e57d8317e23f0b874c81d77ecf8c6812ae4e6f894"
TOLERANCE = 300


def expected_v1(secret: str, t: int | str, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def parse(header: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in header.split(","))


def assert_signed(header: str, secret: str, body: bytes) -> None:
    """The header is ``t=…,v1=…`` over ``f"{t}.{body}"``, with a current ``t``."""
    parts = parse(header)
    assert set(parts) == {"t", "v1"}, header
    assert abs(int(parts["t"]) - time.time()) < 120
    assert parts["v1"] == expected_v1(secret, parts["t"], body)
    assert parts["v1"] != hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# ------------------------------------------------------------------ the pure module
def test_the_known_answer_vector() -> None:
    assert expected_v1(SECRET, T, BODY) == KNOWN_V1
    assert signing.compute(SECRET, T, BODY) == KNOWN_V1
    assert signing.sign(SECRET, BODY, timestamp=T) == f"t={T},v1={KNOWN_V1}"
    # a header made without regie's code verifies
    assert signing.verify(f"t={T},v1={KNOWN_V1}", BODY, [SECRET], now=T) == T


def test_a_signature_of_the_body_alone_is_refused() -> None:
    body_only = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    with pytest.raises(signing.InvalidSignature):
        signing.verify(f"t={T},v1={body_only}", BODY, [SECRET], now=T)


@pytest.mark.parametrize("delta", [-TOLERANCE, -1, 1, TOLERANCE])
def test_changing_t_alone_breaks_the_signature(delta: int) -> None:
    # inside the tolerance window, so only the signed timestamp can refuse it
    with pytest.raises(signing.InvalidSignature):
        signing.verify(f"t={T + delta},v1={KNOWN_V1}", BODY, [SECRET], now=T)
    # the same with a header regie made: its v1 must not survive another t
    made = parse(signing.sign(SECRET, BODY, timestamp=T))
    assert signing.verify(f"t={T},v1={made['v1']}", BODY, [SECRET], now=T) == T
    with pytest.raises(signing.InvalidSignature):
        signing.verify(f"t={T + delta},v1={made['v1']}", BODY, [SECRET], now=T)


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (0, True),
        (-TOLERANCE, True),
        (-(TOLERANCE + 1), False),
        (-3600, False),
        (TOLERANCE, True),
        (TOLERANCE + 1, False),  # from the future, beyond the tolerance
        (3600, False),
        (86_400 * 365, False),
    ],
)
def test_the_tolerance_window_bounds_the_past_and_the_future(offset: int, accepted: bool) -> None:
    t = T + offset
    header = f"t={t},v1={expected_v1(SECRET, t, BODY)}"
    if accepted:
        assert signing.verify(header, BODY, [SECRET], now=T) == t
    else:
        with pytest.raises(signing.InvalidSignature):
            signing.verify(header, BODY, [SECRET], now=T)


def test_a_future_timestamp_is_refused_with_the_real_clock() -> None:
    t = int(time.time()) + TOLERANCE + 60
    with pytest.raises(signing.InvalidSignature):
        signing.verify(f"t={t},v1={expected_v1(SECRET, t, BODY)}", BODY, [SECRET])


def test_header_parsing_edges() -> None:
    # found by mutation testing (`make mutation MUTATE=payments/signing.py`)
    good = f"t={T},v1={KNOWN_V1}"
    # any of several v1 values, spaces after commas, unknown parts ignored
    assert signing.verify(f"t={T}, v1=00, v1={KNOWN_V1}, v0=x", BODY, [SECRET], now=T) == T
    # a header of exactly 2000 characters is read; one more is refused before parsing
    padded = good + ",x=" + "a" * (2000 - len(good) - 3)
    assert len(padded) == 2000
    assert signing.verify(padded, BODY, [SECRET], now=T) == T
    with pytest.raises(signing.InvalidSignature) as refused:
        signing.verify(padded + "a", BODY, [SECRET], now=T)
    assert str(refused.value) == "missing signature header"
    # each refusal names its reason, in full (a receiver debugging its check reads it)
    for header, message in [
        (None, "missing signature header"),
        ("", "missing signature header"),
        (f"t=soon,v1={KNOWN_V1}", "malformed timestamp"),
        (f"v1={KNOWN_V1}", "malformed signature header"),
        (f"t={T}", "malformed signature header"),
        (f"t={T},v1=", "no valid signature"),
        (f"t={T + TOLERANCE + 1},v1={KNOWN_V1}", "timestamp outside the tolerance window"),
        (f"t={T - TOLERANCE - 1},v1={KNOWN_V1}", "timestamp outside the tolerance window"),
    ]:
        with pytest.raises(signing.InvalidSignature) as refused:
            signing.verify(header, BODY, [SECRET], now=T)
        assert str(refused.value) == message, header


def test_a_part_is_split_at_its_first_equals_sign() -> None:
    # ``t=5=5`` is a timestamp of "5=5", which is malformed: the header is refused even
    # though another part carries a good t (a parser splitting at the last "=" would read
    # a key "t=5" and ignore it)
    header = f"t={T},t=5=5,v1={KNOWN_V1}"
    with pytest.raises(signing.InvalidSignature) as refused:
        signing.verify(header, BODY, [SECRET], now=T)
    assert str(refused.value) == "malformed timestamp"
    # and a v1 whose value holds "=" is a (wrong) candidate, not a part to skip
    with pytest.raises(signing.InvalidSignature) as refused:
        signing.verify(f"t={T},v1=a=b", BODY, [SECRET], now=T)
    assert str(refused.value) == "no valid signature"


def test_any_of_the_rotating_secrets_verifies() -> None:
    header = f"t={T},v1={KNOWN_V1}"
    assert signing.verify(header, BODY, ["old", SECRET], now=T) == T
    assert signing.verify(header, BODY, [SECRET, "new"], now=T) == T
    with pytest.raises(signing.InvalidSignature) as refused:
        signing.verify(header, BODY, ["old", "new"], now=T)
    assert str(refused.value) == "no valid signature"
    with pytest.raises(signing.InvalidSignature) as refused:
        signing.verify(header, BODY, [], now=T)
    assert str(refused.value) == "no valid signature"


def test_sign_uses_the_clock_or_the_given_timestamp() -> None:
    assert signing.sign(SECRET, BODY, T) == f"t={T},v1={KNOWN_V1}"
    assert_signed(signing.sign(SECRET, BODY), SECRET, BODY)


# ------------------------------------------- outgoing notifications (Regie-Signature)
async def test_the_outgoing_regie_signature_matches_the_documented_scheme(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/kat"},
        headers=Keys.h(keys.urbanisme),
    )
    assert r.status_code == 201, r.text
    secret = r.json()["secret"]
    inv = await create_invoice(client, keys.urbanisme)
    r = await client.post(f"/v1/invoices/{inv['id']}/cancel", headers=Keys.h(keys.urbanisme))
    assert r.status_code == 200, r.text

    sent: list[httpx.Request] = []

    def receive(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    notifications = app.state.outbox
    async with httpx.AsyncClient(transport=httpx.MockTransport(receive)) as capture:
        monkeypatch.setattr(notifications, "client", capture)
        assert await notifications.deliver_due() >= 1
    assert sent
    for request in sent:
        body = request.content
        assert json.loads(body)["data"]["object"]["id"] == inv["id"]
        assert_signed(request.headers["Regie-Signature"], secret, body)


# --------------------------------------------------- the simulator's own signatures
async def test_the_simulator_signs_its_events_with_the_documented_scheme(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[httpx.Request] = []

    def receive(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"received": True, "duplicate": False})

    provider = app.state.payments.provider
    inv = await create_invoice(client, keys.urbanisme)
    _, path = await start_checkout(client, inv)
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(receive), base_url="http://regie.internal"
    ) as capture:
        monkeypatch.setattr(provider, "delivery_client", capture)
        r = await client.post(
            path, data={"card_number": "4242424242424242", "expiry": "12/39", "cvc": "123"}
        )
    assert r.status_code == 303, r.text
    (event,) = sent
    assert event.url.path == "/webhooks/simulator"
    assert json.loads(event.content)["type"] == "payment.succeeded"
    assert_signed(
        event.headers["Simulator-Signature"],
        app.state.settings.simulator_webhook_secret,
        event.content,
    )


async def test_the_simulator_webhook_checks_the_documented_scheme(
    client: httpx.AsyncClient, app: Any
) -> None:
    secret = app.state.settings.simulator_webhook_secret
    now = int(time.time())

    def body(n: int) -> bytes:  # an event about no payment: stored and ignored
        doc = {"id": f"evt_kat_in_{n}", "type": "kat.other", "created": now, "data": {}}
        return json.dumps(doc, separators=(",", ":")).encode()

    async def post(raw: bytes, header: str) -> httpx.Response:
        return await client.post(
            "/webhooks/simulator",
            content=raw,
            headers={"Simulator-Signature": header, "content-type": "application/json"},
        )

    good = await post(body(1), f"t={now},v1={expected_v1(secret, now, body(1))}")
    assert good.status_code == 200, good.text
    assert good.json() == {"received": True, "duplicate": False, "ignored": False}

    late, early = now + TOLERANCE + 60, now - TOLERANCE - 60
    body_only = hmac.new(secret.encode(), body(2), hashlib.sha256).hexdigest()
    refused = {
        "t changed alone": f"t={now - 1},v1={expected_v1(secret, now, body(2))}",
        "body alone signed": f"t={now},v1={body_only}",
        "from the future": f"t={late},v1={expected_v1(secret, late, body(2))}",
        "too old": f"t={early},v1={expected_v1(secret, early, body(2))}",
        "another secret": f"t={now},v1={expected_v1('whsec_other', now, body(2))}",
    }
    for why, header in refused.items():
        r = await post(body(2), header)
        assert r.status_code == 400, (why, r.text)
        assert r.json()["error"]["code"] == "invalid_signature", why
