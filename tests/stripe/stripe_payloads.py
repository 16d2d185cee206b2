"""What the Stripe adapter's tests build their answers from: regie's and Stripe's ids, a
``CheckoutRequest`` and its URLs, Stripe's recorded Checkout Session and an expanded
PaymentIntent (``fixtures/stripe_objects.json``, through ``conftest.stripe_object``)."""

from __future__ import annotations

import datetime as dt
import time
import urllib.parse
from typing import Any

import httpx

from payments.providers.base import CheckoutRequest, CheckoutUrls
from tests.stripe.conftest import stripe_object

PAY_REF = "pay_01JREGIETESTPAYMENT0001"
INV_REF = "inv_01JREGIETESTINVOICE0001"
PI_ID = "pi_3RegieTestPaymentIntent"
CS_ID = "cs_test_a1RegieCheckoutSession"
CH_ID = "ch_3RegieTestCharge"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def form(request: httpx.Request) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(request.content.decode()))


def stripe_error(status: int, **error: Any) -> httpx.Response:
    return httpx.Response(status, json={"error": error})


def checkout_request(**changes: Any) -> CheckoutRequest:
    values: dict[str, Any] = dict(
        payment_id=PAY_REF,
        invoice_id=INV_REF,
        invoice_number="2025-000042",
        service_name="Mairie de Trifouilly",
        description="Cantine scolaire - mars",
        amount=4500,
        currency="EUR",
        lines=(("Repas", 10, 400), ("Goûter", 5, 100)),
        expires_at=now() + dt.timedelta(days=30),
        locale="fr",
    )
    values.update(changes)
    return CheckoutRequest(**values)


URLS = CheckoutUrls(
    success_url="https://regie.example/pay/tok/return?payment=" + PAY_REF,
    cancel_url="https://regie.example/pay/tok?canceled=1",
)


def session(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = dict(
        id=CS_ID,
        url=f"https://checkout.stripe.com/c/pay/{CS_ID}",
        amount_total=4500,
        amount_subtotal=4500,
        currency="eur",
        client_reference_id=PAY_REF,
        metadata={"payment_id": PAY_REF, "invoice_id": INV_REF, "invoice_number": "2025-000042"},
        payment_intent=None,
        status="open",
        payment_status="unpaid",
        locale="fr",
        expires_at=int(time.time()) + 3600,
        currency_conversion=None,  # no Adaptive Pricing (regie turns it off)
    )
    values.update(changes)
    return stripe_object("checkout.session", **values)


def expanded_intent(status: str = "succeeded", **changes: Any) -> dict[str, Any]:
    """A PaymentIntent with its latest charge and balance transaction expanded."""
    txn = stripe_object(
        "balance_transaction", id="txn_3RegieTest", amount=4500, fee=93, net=4407, currency="eur"
    )
    charge = stripe_object(
        "charge",
        id=CH_ID,
        amount=4500,
        currency="eur",
        payment_intent=PI_ID,
        balance_transaction=txn,
    )
    charge["payment_method_details"]["card"]["brand"] = "mastercard"
    charge["payment_method_details"]["card"]["last4"] = "4444"
    values: dict[str, Any] = dict(
        id=PI_ID,
        amount=4500,
        currency="eur",
        status=status,
        metadata={"payment_id": PAY_REF, "invoice_id": INV_REF},
        latest_charge=charge,
        last_payment_error=None,
    )
    values.update(changes)
    return stripe_object("payment_intent", **values)
