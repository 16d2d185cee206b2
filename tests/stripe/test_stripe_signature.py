"""regie's own checks around Stripe's webhook signature (``payments.providers.stripe.events``),
without a PSP or an app: the SDK's ``verify_header`` for the HMAC and the past, regie's
bound on the future, the header lookup, the body's form and the key's mode.

Headers are made with the SDK's own signer, or written out from it, never with regie's
code. Stripe's SDK reads ``t=`` with ``int()`` after splitting at "=": ``t=+1767225900``,
``t=1767225900=``, ``t=1_767_225_900`` are all the instant 1767225900 to it, so the future
bound must not be read more leniently or more strictly than that.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
import stripe

from payments.providers.base import MalformedEventError, SignatureError
from payments.providers.stripe import events
from payments.providers.stripe.events import SIGNATURE_TOLERANCE, parse_event, verify

SECRETS = ["whsec_current_for_signature_tests", "whsec_previous_for_rotation"]
REFUSED = "the Stripe-Signature header is missing, invalid or too old"
NOT_AN_EVENT = "the signed body is not a Stripe event"


def body(**changes: Any) -> bytes:
    doc = {
        "id": "evt_1SignatureTest",
        "object": "event",
        "type": "customer.created",  # not one regie applies: kept as ignored
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": {"id": "cus_1", "object": "customer", "livemode": False}},
    } | changes
    return json.dumps(doc).encode()


def v1(payload: bytes, t: int, secret: str = SECRETS[0]) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()


def header(payload: bytes, t: int | None = None, secret: str = SECRETS[0]) -> str:
    return stripe.WebhookSignature.generate_signature_header(payload.decode(), secret, timestamp=t)


def refusal(payload: bytes, headers: dict[str, str], livemode: bool | None = None) -> str:
    with pytest.raises(SignatureError) as refused:
        parse_event(payload, headers, SECRETS, livemode)
    return str(refused.value)


# ------------------------------------------------------------------ accepted
def test_a_fresh_signature_by_any_configured_secret_is_accepted() -> None:
    payload = body()
    for secret in SECRETS:
        event = parse_event(payload, {"Stripe-Signature": header(payload, secret=secret)}, SECRETS)
        assert event.id == "evt_1SignatureTest"
    # written out by hand: t, then v1, as Stripe documents it
    t = int(time.time())
    verify(payload.decode(), f"t={t},v1={v1(payload, t)}", SECRETS)
    # both signatures of a rotation in one header, the good one last
    both = f"t={t},v1={v1(payload, t, 'whsec_unknown')},v1={v1(payload, t, SECRETS[1])}"
    verify(payload.decode(), both, SECRETS)


@pytest.mark.parametrize("name", ["Stripe-Signature", "stripe-signature", "STRIPE-SIGNATURE"])
def test_the_header_is_found_whatever_its_case(name: str) -> None:
    payload = body()
    assert parse_event(payload, {"Other": "x", name: header(payload)}, SECRETS).id


def test_other_numbers_in_the_header_are_not_the_timestamp() -> None:
    payload = body()
    t = int(time.time())
    far = str(t + 10 * SIGNATURE_TOLERANCE)
    for extra in (f"v0={far},", f"x={far},", f" t={far},"):  # " t" is not t, to Stripe either
        verify(payload.decode(), f"{extra}t={t},v1={v1(payload, t)}", SECRETS)


@pytest.mark.parametrize("age", [-SIGNATURE_TOLERANCE + 5, 0, SIGNATURE_TOLERANCE - 5])
def test_the_window_is_300_seconds_each_way(age: int) -> None:
    payload = body()
    t = int(time.time()) - age
    verify(payload.decode(), header(payload, t), SECRETS)


# ------------------------------------------------------------------ refused
@pytest.mark.parametrize("age", [SIGNATURE_TOLERANCE + 5, 3600])
def test_an_old_signature_is_refused(age: int) -> None:
    payload = body()
    assert refusal(payload, {"Stripe-Signature": header(payload, int(time.time()) - age)}) == (
        REFUSED
    )


def future_spellings(t: int) -> list[str]:
    digits = str(t)
    return [
        digits,
        f"+{digits}",
        f"{digits}=",
        f"{digits}=x",
        f"0{digits}",
        f"{digits[:4]}_{digits[4:]}",
    ]


@pytest.mark.parametrize("spelling", range(6))
def test_a_signature_from_the_future_is_refused_however_t_is_written(spelling: int) -> None:
    payload = body()
    t = int(time.time()) + SIGNATURE_TOLERANCE + 60
    written = future_spellings(t)[spelling]
    signed = f"t={written},v1={v1(payload, t)}"
    # the SDK alone takes it: it reads t as the same (future) instant and bounds the past only
    assert stripe.WebhookSignature.verify_header(
        payload.decode(), signed, SECRETS[0], tolerance=SIGNATURE_TOLERANCE
    )
    assert refusal(payload, {"Stripe-Signature": signed}) == REFUSED


@pytest.mark.parametrize(
    "headers",
    [{}, {"Stripe-Signature": ""}, {"Stripe-Signature": "garbage"}, {"X-Signature": "t=1,v1=a"}],
)
def test_a_missing_or_unreadable_header_is_refused(headers: dict[str, str]) -> None:
    assert refusal(body(), headers) == REFUSED


def test_no_secret_no_acceptance() -> None:
    payload = body()
    with pytest.raises(SignatureError) as refused:
        parse_event(payload, {"Stripe-Signature": header(payload)}, [])
    assert str(refused.value) == REFUSED
    with pytest.raises(SignatureError):
        parse_event(payload, {"Stripe-Signature": header(payload, secret="whsec_x")}, SECRETS)


def test_a_body_that_is_not_utf8_is_refused_before_anything_else() -> None:
    payload = b'{"id": "evt_1", "name": "\xe9"}'
    signed = f"t={int(time.time())},v1=00"
    assert refusal(payload, {"Stripe-Signature": signed}) == "the webhook body is not UTF-8"


@pytest.mark.parametrize(
    "payload",
    [
        b"[]",
        b"not json",
        json.dumps({"id": "ch_1", "object": "charge"}).encode(),
        json.dumps({"object": "event", "type": "customer.created"}).encode(),  # no id
    ],
)
def test_a_signed_body_that_is_not_a_stripe_event_is_refused(payload: bytes) -> None:
    assert refusal(payload, {"Stripe-Signature": header(payload)}) == NOT_AN_EVENT


@pytest.mark.parametrize(
    ("where", "livemode"),
    [("event", True), ("event", False), ("object", True), ("object", False)],
)
def test_an_event_of_the_other_mode_than_the_key_is_refused(where: str, livemode: bool) -> None:
    inner = {"id": "cus_1", "object": "customer", "livemode": livemode}
    doc: dict[str, Any] = {"livemode": livemode, "data": {"object": inner}}
    if where == "object":
        doc["livemode"] = not livemode  # the event says the key's mode, its object does not
        inner["livemode"] = livemode
    payload = body(**doc)
    key_mode = not livemode
    mode = "live" if key_mode else "test"
    assert refusal(payload, {"Stripe-Signature": header(payload)}, key_mode) == (
        f"a Stripe event of the other mode than the {mode}-mode key"
    )
    # in its own mode, or when the key's mode is not known, it is taken
    if where == "event":
        assert parse_event(payload, {"Stripe-Signature": header(payload)}, SECRETS, livemode).id
    assert parse_event(payload, {"Stripe-Signature": header(payload)}, SECRETS).id


def test_an_event_or_object_that_does_not_say_its_mode_is_not_refused_for_it() -> None:
    doc = json.loads(body())
    del doc["livemode"]
    doc["data"] = {"object": {"id": "cus_1", "object": "customer"}}
    payload = json.dumps(doc).encode()
    for mode in (True, False):
        assert parse_event(payload, {"Stripe-Signature": header(payload)}, SECRETS, mode).id
    # data that is not an object says no mode either, but is no event: refused as malformed
    # (issue 13: stored, it would fail at every attempt), never as the other mode
    doc["data"] = "not an object"
    payload = json.dumps(doc).encode()
    with pytest.raises(MalformedEventError):
        parse_event(payload, {"Stripe-Signature": header(payload)}, SECRETS, True)


def test_the_signature_module_uses_the_documented_tolerance() -> None:
    assert (events.SIGNATURE_TOLERANCE, events.SIGNATURE_HEADER) == (300, "stripe-signature")


def test_a_header_with_a_character_outside_ascii_is_refused_not_an_error() -> None:
    """The SDK compares with ``hmac.compare_digest``, which raises TypeError on a str holding
    a character outside ASCII (a header's Latin-1 byte): a 500, not a refusal."""
    payload = body()
    good = header(payload)
    for bad in (good + "\xe9", good[:-1] + "\xe9", f"t={int(time.time())},v1=\xe9"):
        assert refusal(payload, {"Stripe-Signature": bad}) == REFUSED
