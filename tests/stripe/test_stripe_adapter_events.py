"""The Stripe adapter's webhooks, against Stripe's recorded payloads signed here with the
test's own secrets: every handled event's mapping onto the port, and the signature checks.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from payments.providers.base import (
    EVENT_CHECKOUT_EXPIRED,
    EVENT_DISPUTE_CLOSED,
    EVENT_DISPUTE_OPENED,
    EVENT_IGNORED,
    EVENT_PAYMENT_FAILED,
    EVENT_PAYMENT_PROCESSING,
    EVENT_PAYMENT_SUCCEEDED,
    EVENT_PAYOUT_FAILED,
    EVENT_PAYOUT_PAID,
    EVENT_REFUND_UPDATED,
    SignatureError,
)
from payments.providers.stripe.client import StripeProvider
from tests.stripe.conftest import (
    SECRETS,
    event_body,
    sign,
    stripe_object,
)
from tests.stripe.stripe_payloads import (
    CH_ID,
    CS_ID,
    PAY_REF,
    PI_ID,
    expanded_intent,
    session,
)

# stripe's HTTPXClient passes the form body as ``data=<str>``, which httpx deprecates
pytestmark = pytest.mark.filterwarnings(
    "ignore:Use 'content=<...>' to upload raw bytes/text content:DeprecationWarning"
)


# =====================================================================================
# 2b. recorded payloads: every webhook mapping, signed here
# =====================================================================================
def _session_obj(**changes: Any) -> dict[str, Any]:
    return session(payment_intent=PI_ID, **changes)


def _charge_with_refund(status: str = "succeeded") -> dict[str, Any]:
    older = stripe_object(
        "refund", id="re_old", amount=500, currency="eur", payment_intent=PI_ID, created=100
    )
    latest = stripe_object(
        "refund", id="re_new", amount=1000, currency="eur", payment_intent=PI_ID, created=200
    )
    latest["status"] = status
    charge = stripe_object(
        "charge", id=CH_ID, payment_intent=PI_ID, amount=4500, currency="eur", amount_refunded=1500
    )
    charge["refunds"] = {"object": "list", "data": [latest, older], "has_more": False}
    return charge


CASES: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = [
    (
        "checkout.session.completed",
        _session_obj(status="complete", payment_status="paid"),
        EVENT_PAYMENT_SUCCEEDED,
        {},
    ),
    (
        "checkout.session.async_payment_succeeded",
        _session_obj(status="complete", payment_status="paid"),
        EVENT_PAYMENT_SUCCEEDED,
        {},
    ),
    (
        "checkout.session.async_payment_failed",
        _session_obj(status="complete", payment_status="unpaid"),
        EVENT_PAYMENT_FAILED,
        {},
    ),
    ("checkout.session.expired", _session_obj(status="expired"), EVENT_CHECKOUT_EXPIRED, {}),
    ("payment_intent.succeeded", expanded_intent(latest_charge=CH_ID), EVENT_PAYMENT_SUCCEEDED, {}),
    (
        "payment_intent.payment_failed",
        expanded_intent(
            "requires_payment_method",
            latest_charge=CH_ID,
            last_payment_error={"code": "card_declined", "message": "Your card was declined."},
        ),
        EVENT_PAYMENT_FAILED,
        {"failure_code": "card_declined"},
    ),
    (
        "charge.refunded",
        _charge_with_refund(),
        EVENT_REFUND_UPDATED,
        {
            "refund_id": "re_new",
            "provider_payment_id": PI_ID,
            "amount": 1000,
            "currency": "EUR",
            "status": "succeeded",
            "amount_refunded": 1500,
        },
    ),
    *[
        (
            kind,
            {
                **stripe_object(
                    "refund", id="re_1", amount=700, currency="eur", payment_intent=PI_ID
                ),
                "status": stripe_status,
            },
            EVENT_REFUND_UPDATED,
            {
                "refund_id": "re_1",
                "provider_payment_id": PI_ID,
                "amount": 700,
                "currency": "EUR",
                "status": status,
            },
        )
        for kind, stripe_status, status in [
            ("refund.created", "pending", "pending"),
            ("refund.updated", "succeeded", "succeeded"),
            ("refund.failed", "failed", "failed"),
        ]
    ],
    (
        "charge.dispute.created",
        stripe_object("dispute", id="dp_1", payment_intent=PI_ID, amount=4500, currency="eur"),
        EVENT_DISPUTE_OPENED,
        {"dispute_id": "dp_1", "provider_payment_id": PI_ID, "amount": 4500, "currency": "EUR"},
    ),
    *[
        (
            "charge.dispute.closed",
            stripe_object(
                "dispute",
                id="dp_1",
                payment_intent=PI_ID,
                amount=4500,
                currency="eur",
                status=stripe_status,
            ),
            EVENT_DISPUTE_CLOSED,
            {"dispute_id": "dp_1", "provider_payment_id": PI_ID, "status": status},
        )
        for stripe_status, status in [("won", "won"), ("lost", "lost"), ("warning_closed", "won")]
    ],
    *[
        (
            kind,
            stripe_object(
                "payout",
                id="po_1",
                amount=12_345,
                currency="eur",
                arrival_date=1_740_009_600,
                status=kind.split(".")[1],
            ),
            mapped,
            {
                "payout_id": "po_1",
                "amount": 12_345,
                "currency": "EUR",
                "arrival_date": "2025-02-20",
            },
        )
        for kind, mapped in [
            ("payout.paid", EVENT_PAYOUT_PAID),
            ("payout.failed", EVENT_PAYOUT_FAILED),
        ]
    ],
]


@pytest.mark.parametrize(
    ("event_type", "obj", "expected", "data"),
    CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)],
)
def test_every_handled_event_is_mapped(
    respx_provider: StripeProvider,
    event_type: str,
    obj: dict[str, Any],
    expected: str,
    data: dict[str, Any],
) -> None:
    body = event_body(event_type, obj, event_id="evt_1RegieMapping")

    event = respx_provider.parse_event(body, sign(body, SECRETS[0]))

    assert (event.id, event.provider, event.type, event.raw_type) == (
        "evt_1RegieMapping",
        "stripe",
        expected,
        event_type,
    )
    assert event.created.tzinfo is not None
    for key, value in data.items():
        assert event.data[key] == value, key
    encoded = json.dumps(dict(event.data))  # a small plain dict, not the Stripe object
    assert len(encoded) < 600
    if event_type.startswith("checkout.session."):
        assert (event.checkout_id, event.provider_payment_id, event.payment_ref) == (
            CS_ID,
            PI_ID,
            PAY_REF,
        )
    elif event_type.startswith("payment_intent."):
        assert (event.checkout_id, event.provider_payment_id, event.payment_ref) == (
            None,
            PI_ID,
            PAY_REF,
        )
    elif not event_type.startswith("payout."):
        assert event.provider_payment_id == PI_ID


def test_completed_but_unpaid_checkout_is_processing(respx_provider: StripeProvider) -> None:
    obj = _session_obj(status="complete", payment_status="unpaid")
    body = event_body("checkout.session.completed", obj)
    event = respx_provider.parse_event(body, sign(body, SECRETS[0]))
    assert event.type == EVENT_PAYMENT_PROCESSING  # a delayed method: its money on its way
    assert event.raw_type == "checkout.session.completed"
    assert event.checkout_id == CS_ID


def test_checkout_payment_ref_from_client_reference_id(respx_provider: StripeProvider) -> None:
    obj = _session_obj(status="expired", metadata={})
    body = event_body("checkout.session.expired", obj)
    event = respx_provider.parse_event(body, sign(body, SECRETS[0]))
    assert event.payment_ref == PAY_REF


def test_checkout_payment_ref_from_metadata_without_client_reference_id(
    respx_provider: StripeProvider,
) -> None:
    """regie's payment is named by the session's metadata; client_reference_id is only
    the fallback (the test above)."""
    obj = _session_obj(status="expired", client_reference_id=None)
    body = event_body("checkout.session.expired", obj)
    event = respx_provider.parse_event(body, sign(body, SECRETS[0]))
    assert event.payment_ref == PAY_REF


def test_charge_refunded_without_embedded_refunds(respx_provider: StripeProvider) -> None:
    charge = stripe_object(
        "charge", id=CH_ID, payment_intent=PI_ID, currency="eur", amount_refunded=4500
    )
    del charge["refunds"]  # API versions since 2022-11-15 do not embed them
    body = event_body("charge.refunded", charge)
    event = respx_provider.parse_event(body, sign(body, SECRETS[0]))
    assert event.type == EVENT_REFUND_UPDATED
    assert event.data["refund_id"] is None
    assert event.data["amount_refunded"] == 4500
    assert event.provider_payment_id == PI_ID


@pytest.mark.parametrize(
    "event_type", ["customer.created", "payment_intent.created", "plan.created", "payout.created"]
)
def test_other_events_are_ignored_with_their_type(
    respx_provider: StripeProvider, event_type: str
) -> None:
    body = event_body(event_type, stripe_object("payment_intent"))
    event = respx_provider.parse_event(body, sign(body, SECRETS[0]))
    assert event.type == EVENT_IGNORED
    assert event.raw_type == event_type
    json.dumps(dict(event.data))


# ------------------------------------------------------------------------ signatures
def _body() -> bytes:
    return event_body("payment_intent.succeeded", expanded_intent(latest_charge=CH_ID))


@pytest.mark.parametrize(("age", "accepted"), [(0, True), (299, True), (301, False), (3600, False)])
def test_signature_tolerance_is_300_seconds(
    respx_provider: StripeProvider, age: int, accepted: bool
) -> None:
    body = _body()
    headers = sign(body, SECRETS[0], timestamp=int(time.time()) - age)
    if accepted:
        assert respx_provider.parse_event(body, headers).type == EVENT_PAYMENT_SUCCEEDED
    else:
        with pytest.raises(SignatureError):
            respx_provider.parse_event(body, headers)


def test_signature_from_the_future_is_refused(respx_provider: StripeProvider) -> None:
    body = _body()
    with pytest.raises(SignatureError):
        respx_provider.parse_event(body, sign(body, SECRETS[0], timestamp=int(time.time()) + 600))


def test_every_configured_secret_is_accepted(respx_provider: StripeProvider) -> None:
    body = _body()
    for secret in SECRETS:  # during a rotation Stripe signs with the old and the new one
        assert respx_provider.parse_event(body, sign(body, secret)).id
    # one header carrying both signatures, as Stripe sends during a rotation
    t = int(time.time())
    v1_new = sign(body, "whsec_unknown_new", t)["Stripe-Signature"].split(",")[1]
    both = sign(body, SECRETS[1], t)["Stripe-Signature"] + "," + v1_new
    assert respx_provider.parse_event(body, {"stripe-signature": both}).id


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Stripe-Signature": ""},
        {"Stripe-Signature": "garbage"},
        {"Stripe-Signature": "t=1,v1=abc"},
        {"Stripe-Signature": f"t={int(time.time())},v0=deadbeef"},
    ],
)
def test_missing_or_malformed_signature_is_refused(
    respx_provider: StripeProvider, headers: dict[str, str]
) -> None:
    with pytest.raises(SignatureError):
        respx_provider.parse_event(_body(), headers)


def test_forged_signature_is_refused_without_details(respx_provider: StripeProvider) -> None:
    body = _body()
    with pytest.raises(SignatureError) as err:
        respx_provider.parse_event(body, sign(body, "whsec_attacker_guess"))
    message = str(err.value)
    assert all(secret not in message for secret in SECRETS)
    assert "whsec" not in message and "v1=" not in message
    assert err.value.__cause__ is None
    assert err.value.__context__ is None or err.value.__suppress_context__


def test_header_name_is_case_insensitive(respx_provider: StripeProvider) -> None:
    body = _body()
    header = sign(body, SECRETS[0])["Stripe-Signature"]
    for name in ("stripe-signature", "STRIPE-SIGNATURE", "Stripe-Signature"):
        assert respx_provider.parse_event(body, {name: header}).type == EVENT_PAYMENT_SUCCEEDED


def test_signed_garbage_is_refused(respx_provider: StripeProvider) -> None:
    for body in (b"not json", b'{"object": "charge", "id": "ch_1"}', b"[1,2]", b"\xff\xfe"):
        headers = (
            sign(body, SECRETS[0])
            if body != b"\xff\xfe"
            else {"Stripe-Signature": f"t={int(time.time())},v1=00"}
        )
        with pytest.raises(SignatureError):
            respx_provider.parse_event(body, headers)
