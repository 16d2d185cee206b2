"""Stripe's Checkout Sessions for tests of regie wired to Stripe (localstripe has none).

``RecordedCheckouts`` answers ``POST /v1/checkout/sessions``, ``GET
/v1/checkout/sessions/{id}`` and ``POST /v1/checkout/sessions/{id}/expire`` through respx
with Stripe's recorded ``checkout.session`` object (``fixtures/stripe_objects.json``),
keeping each session's state the way Stripe does: an open session can be expired, a
complete or expired one cannot (Stripe's 400). Tests move a session on (``set``) as the
citizen would on Stripe's page, and read what regie asked (``forms``, ``calls``).
"""

from __future__ import annotations

import itertools
import re
import time
import urllib.parse
from typing import Any

import httpx
import respx

from tests.stripe.conftest import RESPX_BASE, event_body, sign, stripe_object

_SESSION = re.compile(r"/v1/checkout/sessions/(cs_[A-Za-z0-9_]+)")


def form_of(request: httpx.Request) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(request.content.decode()))


class RecordedCheckouts:
    def __init__(self, respx_mock: respx.MockRouter, base: str = RESPX_BASE) -> None:
        self.sessions: dict[str, dict[str, Any]] = {}
        self.forms: list[dict[str, str]] = []
        self.calls: list[tuple[str, str]] = []  # (create | retrieve | expire, session id)
        self.refuse_create: httpx.Response | Exception | None = None
        self.refuse_expire: httpx.Response | Exception | None = None  # Stripe down, say
        self._ids = itertools.count(1)
        respx_mock.post(f"{base}/v1/checkout/sessions").mock(side_effect=self._create)
        respx_mock.post(url__regex=rf"{re.escape(base)}/v1/checkout/sessions/cs_\w+/expire").mock(
            side_effect=self._expire
        )
        respx_mock.get(url__regex=rf"{re.escape(base)}/v1/checkout/sessions/cs_\w+").mock(
            side_effect=self._retrieve
        )

    # -------------------------------------------------------------- what regie asks
    def _create(self, request: httpx.Request) -> httpx.Response:
        if isinstance(self.refuse_create, Exception):
            raise self.refuse_create
        if self.refuse_create is not None:
            return self.refuse_create
        sent = form_of(request)
        self.forms.append(sent)
        cs_id = f"cs_test_a1Regie{next(self._ids):04d}"
        self.calls.append(("create", cs_id))
        metadata = {
            key[len("metadata[") : -1]: value
            for key, value in sent.items()
            if key.startswith("metadata[")
        }
        total = sum(
            int(sent[f"line_items[{i}][quantity]"])
            * int(sent[f"line_items[{i}][price_data][unit_amount]"])
            for i in range(20)
            if f"line_items[{i}][quantity]" in sent
        )
        self.sessions[cs_id] = stripe_object(
            "checkout.session",
            id=cs_id,
            url=f"https://checkout.stripe.com/c/pay/{cs_id}",
            amount_total=total,
            amount_subtotal=total,
            currency=sent["line_items[0][price_data][currency]"],
            client_reference_id=sent["client_reference_id"],
            metadata=metadata,
            customer_email=sent.get("customer_email"),
            success_url=sent["success_url"],
            cancel_url=sent["cancel_url"],
            payment_intent=None,
            status="open",
            payment_status="unpaid",
            expires_at=int(sent["expires_at"]),
            currency_conversion=None,
            livemode=False,
        )
        return httpx.Response(200, json=self.sessions[cs_id])

    def _id(self, request: httpx.Request) -> str:
        m = _SESSION.search(request.url.path)
        assert m, request.url
        return m.group(1)

    def _retrieve(self, request: httpx.Request) -> httpx.Response:
        cs_id = self._id(request)
        self.calls.append(("retrieve", cs_id))
        if cs_id not in self.sessions:
            return _missing(cs_id)
        return httpx.Response(200, json=self.sessions[cs_id])

    def _expire(self, request: httpx.Request) -> httpx.Response:
        cs_id = self._id(request)
        self.calls.append(("expire", cs_id))
        if isinstance(self.refuse_expire, Exception):
            raise self.refuse_expire
        if self.refuse_expire is not None:
            return self.refuse_expire
        found = self.sessions.get(cs_id)
        if found is None:
            return _missing(cs_id)
        if found["status"] != "open":
            return httpx.Response(
                400,
                json={
                    "error": {
                        "type": "invalid_request_error",
                        "message": "Only Checkout Sessions with a status in [open] can be "
                        f"expired. This Checkout Session has a status of {found['status']}.",
                    }
                },
            )
        found["status"] = "expired"
        return httpx.Response(200, json=found)

    # ------------------------------------------------------- what the citizen does
    def set(self, cs_id: str, **changes: Any) -> dict[str, Any]:
        self.sessions[cs_id].update(changes)
        return self.sessions[cs_id]

    def last(self) -> str:
        return list(self.sessions)[-1]

    def created(self) -> list[str]:
        return [cs for kind, cs in self.calls if kind == "create"]


def _missing(cs_id: str) -> httpx.Response:
    return httpx.Response(
        404,
        json={
            "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "message": f"No such checkout.session: '{cs_id}'",
            }
        },
    )


def signed_event(
    event_type: str, obj: dict[str, Any], secret: str, *, event_id: str
) -> tuple[bytes, dict[str, str]]:
    body = event_body(event_type, obj, event_id=event_id, created=int(time.time()))
    return body, sign(body, secret)


def intent(pay_id: str, amount: int, status: str = "succeeded", **changes: Any) -> dict[str, Any]:
    """A PaymentIntent of a session, expanded as regie asks (charge, balance transaction)."""
    pi_id = changes.pop("id", "pi_3RegieFlow" + pay_id[-10:])
    txn = stripe_object(
        "balance_transaction", id="txn_" + pi_id[3:], amount=amount, fee=90, net=amount - 90,
        currency="eur",
    )  # fmt: skip
    charge = stripe_object(
        "charge", id="ch_" + pi_id[3:], amount=amount, currency="eur", payment_intent=pi_id,
        balance_transaction=txn,
    )  # fmt: skip
    values: dict[str, Any] = dict(
        id=pi_id,
        amount=amount,
        currency="eur",
        status=status,
        metadata={"payment_id": pay_id},
        latest_charge=charge if status == "succeeded" else None,
        last_payment_error=None,
        livemode=False,
    )
    values.update(changes)
    return stripe_object("payment_intent", **values)
