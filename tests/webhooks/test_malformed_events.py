"""Correctly signed but malformed PSP events are refused at intake with 400 and never
stored (an event stored would fail at every attempt to apply it, and be retried)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import pytest
import stripe

from payments.providers.base import MalformedEventError, ProviderEvent
from payments.providers.stripe.events import parse_event as stripe_parse
from payments.signing import sign
from tests.conftest import Keys
from tests.payments.test_bad_input import _pending_payment, assert_error, row_counts
from webhooks.inbound import shape


def _doc(payment_ref: str, checkout_id: str, **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": "evt_sim_MALFORMED1",
        "object": "event",
        "type": "payment.succeeded",
        "created": int(dt.datetime.now(dt.UTC).timestamp()),
        "data": {
            "checkout_id": checkout_id,
            "payment_id": "pi_sim_MALFORMED1",
            "payment_ref": payment_ref,
            "amount": 2500,
            "currency": "EUR",
            "status": "succeeded",
        },
    }
    for key, value in changes.items():
        if key.startswith("data_"):
            doc["data"][key[5:]] = value
        else:
            doc[key] = value
    return doc


async def test_signed_malformed_simulator_events_are_400_and_store_nothing(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    secret = app.state.settings.simulator_webhook_secret
    payment_id, checkout_id = await _pending_payment(client, app, keys.urbanisme)
    before = await row_counts(app)
    variants: dict[str, dict[str, Any]] = {
        "data is a list": {"data": []},
        "data is a string": {"data": "x"},
        "created 1e20": {"created": 1e20},
        "created beyond any clock": {"created": 10**15},
        "created in 2200": {"created": 7258118400},
        "created 1970": {"created": 0},
        "amount 10^30": {"data_amount": 10**30},
        "amount -10^30": {"data_amount": -(10**30)},
        "nested huge": {"data_extra": {"deep": [10**20]}},
        "payment_ref is a number": {"data_payment_ref": 12},
        "payment_ref too long": {"data_payment_ref": "pay_" + "x" * 300},
        "id too long": {"id": "evt_" + "x" * 300},
        "NUL in a string": {"data_currency": "EU\x00R"},
    }
    for why, changes in variants.items():
        raw = json.dumps(_doc(payment_id, checkout_id, **changes)).encode()
        r = await client.post(
            "/webhooks/simulator",
            content=raw,
            headers={"content-type": "application/json", "Simulator-Signature": sign(secret, raw)},
        )
        assert r.status_code == 400, (why, r.text)
        code = r.json()["error"]["code"]
        assert code in ("invalid_event", "invalid_character"), (why, r.text)
        assert_error(r, 400, code)
        assert await row_counts(app) == before, why
    # control: the same event, well formed, is taken in once
    raw = json.dumps(_doc(payment_id, checkout_id)).encode()
    r = await client.post(
        "/webhooks/simulator",
        content=raw,
        headers={"content-type": "application/json", "Simulator-Signature": sign(secret, raw)},
    )
    assert r.status_code == 200, r.text
    assert (await row_counts(app))["webhook_inbox"] == before["webhook_inbox"] + 1


SECRET = "whsec_malformed_events_test"


def _stripe(**changes: Any) -> bytes:
    doc = {
        "id": "evt_1Malformed",
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": int(dt.datetime.now(dt.UTC).timestamp()),
        "livemode": False,
        "data": {"object": {"id": "pi_1", "object": "payment_intent", "amount": 2500}},
    } | changes
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    "changes",
    [{"data": []}, {"data": "x"}, {"created": 1e20}, {"created": 10**15}, {"created": "soon"}],
    ids=["data list", "data string", "created 1e20", "created 10^15", "created text"],
)
def test_signed_malformed_stripe_events_are_refused_as_malformed(changes: dict[str, Any]) -> None:
    payload = _stripe(**changes)
    header = stripe.WebhookSignature.generate_signature_header(payload.decode(), SECRET)
    with pytest.raises(MalformedEventError):
        stripe_parse(payload, {"Stripe-Signature": header}, [SECRET])


def test_the_inbox_shape_refuses_what_would_fail_at_every_attempt() -> None:
    now = dt.datetime.now(dt.UTC)

    def ev(**changes: Any) -> ProviderEvent:
        values: dict[str, Any] = dict(
            id="evt_1", provider="stripe", type="payment.succeeded", raw_type="x", created=now
        )
        return ProviderEvent(**(values | changes))

    assert shape.problem(ev(data={"amount": 2500, "n": [1, 2.5, None, True]})) is None
    assert shape.problem(ev(data={"amount": 10**30})) is not None
    assert shape.problem(ev(data={"amount": float("nan")})) is not None
    assert shape.problem(ev(data={"x": {"y": "a\x00"}})) is not None
    assert shape.problem(ev(created=dt.datetime(1970, 1, 1, tzinfo=dt.UTC))) is not None
    assert shape.problem(ev(payment_ref="p" * 41)) is not None
    assert shape.problem(ev(checkout_id=7)) is not None
    assert shape.problem(ev(id="")) is not None
