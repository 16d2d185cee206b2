"""Refund amounts Stripe refuses: in a three-decimal currency (BHD JOD KWD OMR TND) Stripe
takes refunds, like charges, only when the last of the three decimals is 0. Such a refund
is refused at once (422 naming the rule), before anything is reserved or sent to Stripe:
not reserved, refused by Stripe, failed and notified as ``invoice.refund_failed``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import func, select

from payments.models import Refund
from payments.providers.stripe import currencies
from tests.conftest import Keys, create_invoice, token_of
from tests.stripe.conftest import RESPX_BASE, RESPX_KEY, SECRETS, stripe_object
from tests.stripe.stripe_payloads import CS_ID, PI_ID, expanded_intent, session
from tests.stripe.test_stripe_refunds import form, webhook

pytestmark = pytest.mark.filterwarnings(
    "ignore:Use 'content=<...>' to upload raw bytes/text content:DeprecationWarning"
)


@pytest.fixture
def settings(settings_factory: Any) -> Any:
    return settings_factory(
        psp="stripe",
        stripe_api_key=RESPX_KEY,
        stripe_webhook_secrets=",".join(SECRETS),
        stripe_api_base=RESPX_BASE,
    )


async def paid_in_kwd(
    client: httpx.AsyncClient, app: Any, keys: Keys, respx_mock: respx.MockRouter
) -> str:
    """A KWD 4.500 invoice paid through Stripe Checkout."""
    created: dict[str, str] = {}
    kwd = {"amount_total": 4500, "amount_subtotal": 4500, "currency": "kwd"}

    def create_session(request: httpx.Request) -> httpx.Response:
        created.update(form(request))
        ref = created["client_reference_id"]
        return httpx.Response(
            200, json=session(metadata={"payment_id": ref}, client_reference_id=ref, **kwd)
        )

    respx_mock.post(f"{RESPX_BASE}/v1/checkout/sessions").mock(side_effect=create_session)
    inv = await create_invoice(client, keys.urbanisme, amount=4500, currency="KWD")
    assert (await client.post(f"/pay/{token_of(inv)}/checkout")).status_code == 303
    ref = created["client_reference_id"]
    meta = {"payment_id": ref}
    intent = expanded_intent(metadata=meta, currency="kwd")
    intent["latest_charge"]["currency"] = intent["latest_charge"]["balance_transaction"][
        "currency"
    ] = "kwd"
    respx_mock.get(f"{RESPX_BASE}/v1/checkout/sessions/{CS_ID}").mock(
        return_value=httpx.Response(200, json=session(
            status="complete", payment_status="paid", metadata=meta, client_reference_id=ref,
            payment_intent=intent, **kwd,
        ))
    )  # fmt: skip
    paid = session(
        status="complete", payment_status="paid", payment_intent=PI_ID, metadata=meta,
        client_reference_id=ref, **kwd,
    )  # fmt: skip
    await webhook(client, app, "checkout.session.completed", paid, "evt_1RegieKwdPaid000000000")
    return str(inv["id"])


async def test_a_kwd_refund_not_ending_in_zero_is_refused_before_stripe_is_asked(
    client: httpx.AsyncClient, app: Any, keys: Keys, respx_mock: respx.MockRouter
) -> None:
    invoice_id = await paid_in_kwd(client, app, keys, respx_mock)
    doc = (await client.get(f"/v1/invoices/{invoice_id}", headers=Keys.h(keys.urbanisme))).json()
    assert (doc["status"], doc["currency"], doc["amount_paid"]) == ("paid", "KWD", 4500)
    # what Stripe answers such a refund (it would be asked only if regie let it through)
    asked = respx_mock.post(f"{RESPX_BASE}/v1/refunds").mock(
        return_value=httpx.Response(400, json={"error": {
            "type": "invalid_request_error", "param": "amount",
            "message": "Amounts in KWD must be divisible by 10.",
        }})
    )  # fmt: skip
    r = await client.post(
        f"/v1/invoices/{invoice_id}/refunds", json={"amount": 1005}, headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert (error["param"], error["code"]) == ("amount", "amount_not_chargeable")
    assert not asked.called
    async with app.state.db.session() as s:
        assert (await s.execute(select(func.count()).select_from(Refund))).scalar_one() == 0
    # a refund Stripe takes (ending in 0) goes through as before
    asked.mock(
        return_value=httpx.Response(200, json=stripe_object(
            "refund", id="re_3RegieKwd", amount=1000, currency="kwd", payment_intent=PI_ID,
            status="succeeded",
        ))
    )  # fmt: skip
    r = await client.post(
        f"/v1/invoices/{invoice_id}/refunds", json={"amount": 1000}, headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 201, r.text
    assert form(asked.calls.last.request)["amount"] == "1000"


@pytest.mark.parametrize(
    ("amount", "currency", "refused"),
    [(1005, "KWD", True), (1, "TND", True), (1000, "BHD", False), (1005, "EUR", False),
     (1, "JPY", False), (7, "XPF", False)],
)  # fmt: skip
def test_refund_amounts_stripe_takes(amount: int, currency: str, refused: bool) -> None:
    # (no minimum for a refund: only the three-decimal rule applies)
    refusal = currencies.check_refund_amount(amount, currency)
    assert (refusal is not None) == refused
    if refusal is not None:
        assert (refusal.param, refusal.code) == ("amount", "amount_not_chargeable")
