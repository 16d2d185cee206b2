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

import base64
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


# ------------------------- outgoing notifications: known answers for both schemes
PREVIOUS = "whsec_regie_known_answer_previous"
# HMAC-SHA256(PREVIOUS, b"1767225600." + BODY), computed with openssl dgst -hmac
KNOWN_V1_PREVIOUS = "6f0887418449d1ab7bc4fb271ff70074995b4eec6a6b9ae464043997c7ff9157"
# a secret in the Standard Webhooks form: whsec_ + base64 of the key bytes
STD_SECRET = "whsec_cmVnaWUga25vd24gYW5zd2VyIGtleSAwMTIzNDU2Nzg5YWI="
STD_KEY = b"regie known answer key 0123456789ab"
# base64(HMAC-SHA256(STD_KEY, b"evt_kat_1.1767225600." + BODY)), computed with openssl
KNOWN_STD = "v1,JvC7Uy5d/AdD69iMSLgCqXEvXA8f/3GB0UkuHxiO2Pk="
KNOWN_STD_V1 = "e1505ecff7f195091f25452224a98f32c64736f2db7a46ce43083adda3485a58"


def test_the_notification_headers_known_answers() -> None:
    from webhooks.outbound.signing import signed_headers, standard_form, standard_key

    headers = signed_headers([STD_SECRET], "evt_kat_1", BODY, "hooks.example.org", timestamp=T)
    assert headers["Regie-Signature"] == f"t={T},v1={KNOWN_STD_V1}"
    assert headers["Regie-Signature"] == f"t={T},v1={expected_v1(STD_SECRET, T, BODY)}"
    assert headers["Regie-Event-Id"] == headers["webhook-id"] == "evt_kat_1"
    assert headers["webhook-timestamp"] == str(T)
    assert headers["webhook-signature"] == KNOWN_STD
    assert base64.b64decode(STD_SECRET.removeprefix("whsec_")) == STD_KEY
    assert (
        headers["webhook-signature"]
        == "v1,"
        + base64.b64encode(
            hmac.new(
                STD_KEY, b"evt_kat_1." + str(T).encode() + b"." + BODY, hashlib.sha256
            ).digest()
        ).decode()
    )
    assert standard_key(STD_SECRET) == STD_KEY and standard_form(STD_SECRET) == STD_SECRET


def test_the_standard_webhooks_specification_vector() -> None:
    # the example of the Standard Webhooks specification and its libraries' test suites
    from webhooks.outbound.signing import standard_signature

    assert (
        standard_signature(
            ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            b'{"test": 2432232314}',
            1614265330,
        )
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_during_a_rotation_both_secrets_sign_the_new_one_first() -> None:
    from webhooks.outbound.signing import regie_signature, signed_headers

    header = regie_signature([SECRET, PREVIOUS], BODY, T)
    assert header == f"t={T},v1={KNOWN_V1},v1={KNOWN_V1_PREVIOUS}"
    assert expected_v1(PREVIOUS, T, BODY) == KNOWN_V1_PREVIOUS
    for one in (SECRET, PREVIOUS):  # a receiver holding either secret accepts
        assert signing.verify(header, BODY, [one], now=T) == T
    other = "whsec_" + base64.b64encode(b"\x01" * 32).decode()
    headers = signed_headers([STD_SECRET, other], "evt_kat_1", BODY, "h", timestamp=T)
    other_sig = (
        "v1,"
        + base64.b64encode(
            hmac.new(
                b"\x01" * 32, b"evt_kat_1." + str(T).encode() + b"." + BODY, hashlib.sha256
            ).digest()
        ).decode()
    )
    assert headers["webhook-signature"] == f"{KNOWN_STD} {other_sig}"
    assert headers["Regie-Signature"] == (
        f"t={T},v1={KNOWN_STD_V1},v1={expected_v1(other, T, BODY)}"
    )


def test_a_secret_that_is_not_base64_still_signs_regie_signature() -> None:
    # every secret regie made is base64; should one not be, the Standard Webhooks headers
    # are left out rather than the notification failing
    from webhooks.outbound.signing import signed_headers

    headers = signed_headers([SECRET], "evt_kat_1", BODY, "h", timestamp=T)
    assert headers["Regie-Signature"] == f"t={T},v1={KNOWN_V1}"
    assert not {"webhook-id", "webhook-timestamp", "webhook-signature"} & set(headers)
    headers = signed_headers([STD_SECRET, SECRET], "evt_kat_1", BODY, "h", timestamp=T)
    assert headers["webhook-signature"] == KNOWN_STD
    assert headers["Regie-Signature"] == f"t={T},v1={KNOWN_STD_V1},v1={KNOWN_V1}"


def test_secrets_made_before_standard_webhooks_have_a_standard_form() -> None:
    # URL-safe base64 (regie's secrets until the rotation feature): the same key bytes
    from webhooks.outbound.signing import new_secret, standard_form, standard_key

    legacy = "whsec_" + base64.urlsafe_b64encode(b"\xfb\xff" * 16).decode().rstrip("=")
    assert "-" in legacy or "_" in legacy.removeprefix("whsec_")
    assert standard_key(legacy) == b"\xfb\xff" * 16
    assert standard_form(legacy) == "whsec_" + base64.b64encode(b"\xfb\xff" * 16).decode()
    fresh = new_secret()
    assert standard_form(fresh) == fresh and len(standard_key(fresh)) == 32


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


async def test_a_signature_header_with_a_character_outside_ascii_is_refused_not_a_500(
    client: httpx.AsyncClient, app: Any
) -> None:
    """An HTTP header may carry any Latin-1 byte; compared with ``hmac.compare_digest``, a
    str holding one raises TypeError (a 500) instead of failing to match."""
    secret = app.state.settings.simulator_webhook_secret
    now = int(time.time())
    raw = json.dumps({"id": "evt_kat_in_9", "type": "kat.other", "created": now, "data": {}})
    good = expected_v1(secret, now, raw.encode())
    for header in (f"t={now},v1=\xe9", f"t={now},v1={good}\xe9", f"t={now},v1={good[:-1]}\xe9"):
        r = await client.post(
            "/webhooks/simulator",
            content=raw,
            headers=[
                (b"Simulator-Signature", header.encode("latin-1")),
                (b"content-type", b"application/json"),
            ],
        )
        assert r.status_code == 400, (header, r.text)
        assert r.json()["error"]["code"] == "invalid_signature", r.text
    with pytest.raises(signing.InvalidSignature):
        signing.verify(f"t={T},v1=\u00e9{KNOWN_V1[1:]}", BODY, [SECRET], now=T)
