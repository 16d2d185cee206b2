"""Stripe's fees on its rarer money paths, through regie wired to Stripe (respx answering
with Stripe's recorded objects, webhooks signed as Stripe signs them): a dispute whose fee
changes after it was first booked (a countering fee, a fee given back when won), and a
fee Stripe returns (or charges) on a refund, read from the refund's balance transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from payments.providers.stripe.client import StripeProvider
from tests.conftest import Keys, create_invoice, token_of
from tests.stripe.conftest import RESPX_BASE, RESPX_KEY, SECRETS, event_body, sign, stripe_object
from tests.stripe.stripe_payloads import CS_ID, PI_ID, expanded_intent, session

pytestmark = pytest.mark.filterwarnings(
    "ignore:Use 'content=<...>' to upload raw bytes/text content:DeprecationWarning"
)

DP_ID = "dp_1RegieCountered"


@pytest.fixture
def settings(settings_factory):
    return settings_factory(
        psp="stripe",
        stripe_api_key=RESPX_KEY,
        stripe_webhook_secrets=",".join(SECRETS),
        stripe_api_base=RESPX_BASE,
    )


async def balances(app: Any) -> dict[tuple[str, str], int]:
    return {(b.account, b.currency): b.balance for b in await app.state.ledger.balances()}


async def paid_invoice(client: httpx.AsyncClient, app: Any, keys: Keys, respx_mock: Any) -> str:
    """An invoice of 45.00 EUR paid through Stripe's Checkout (fee 0.93 EUR)."""

    def create_session(request: httpx.Request) -> httpx.Response:
        ref = parse_qs(request.content.decode())["client_reference_id"][0]
        created["ref"] = ref
        return httpx.Response(
            200, json=session(metadata={"payment_id": ref}, client_reference_id=ref)
        )

    created: dict[str, str] = {}
    respx_mock.post(f"{RESPX_BASE}/v1/checkout/sessions").mock(side_effect=create_session)
    inv = await create_invoice(client, keys.urbanisme, amount=4500)
    assert (await client.post(f"/pay/{token_of(inv)}/checkout")).status_code == 303
    ref = created["ref"]
    paid = session(
        status="complete", payment_status="paid", metadata={"payment_id": ref},
        client_reference_id=ref, payment_intent=expanded_intent(metadata={"payment_id": ref}),
    )  # fmt: skip
    respx_mock.get(f"{RESPX_BASE}/v1/checkout/sessions/{CS_ID}").mock(
        return_value=httpx.Response(200, json=paid)
    )
    await webhook(client, "checkout.session.completed", {**paid, "payment_intent": PI_ID})
    assert await app.state.applier.process_batch() == 1
    return str(inv["id"])


_events = iter(range(1, 1_000_000))


async def webhook(client: httpx.AsyncClient, etype: str, obj: dict[str, Any]) -> None:
    body = event_body(etype, obj, event_id=f"evt_1RegieFees{next(_events):012d}")
    r = await client.post("/webhooks/stripe", content=body, headers=sign(body, SECRETS[0]))
    assert r.status_code == 200 and r.json()["ignored"] is False, r.text


def txn(txn_id: str, amount: int, fee: int, category: str) -> dict[str, Any]:
    """One of the dispute's balance transactions, as Stripe lists them on the dispute."""
    return stripe_object(
        "balance_transaction", id=txn_id, type="adjustment", reporting_category=category,
        amount=amount, fee=fee, net=amount - fee, currency="eur", source=DP_ID,
        fee_details=[{"amount": fee, "currency": "eur", "description": "Dispute fee",
                      "type": "stripe_fee", "application": None}] if fee else [],
    )  # fmt: skip


def dispute(status: str, *txns: dict[str, Any]) -> dict[str, Any]:
    charge = stripe_object("charge", id="ch_3RegieDisputed", payment_intent=PI_ID)
    return stripe_object(
        "dispute", id=DP_ID, amount=4500, currency="eur", status=status, charge=charge,
        payment_intent=PI_ID, is_charge_refundable=False, balance_transactions=list(txns),
    )  # fmt: skip


def serve(respx_mock: respx.MockRouter, current: Callable[[], dict[str, Any]]) -> None:
    respx_mock.get(f"{RESPX_BASE}/v1/disputes/{DP_ID}").mock(
        side_effect=lambda request: httpx.Response(200, json=current())
    )


async def test_a_dispute_fee_that_changes_after_it_was_booked_is_followed(
    client: httpx.AsyncClient, app: Any, keys: Keys, respx_mock: respx.MockRouter
) -> None:
    """A chargeback of 45.00 EUR withdrawn with its 15.00 EUR fee; countered (a second
    balance transaction of the dispute: a 15.00 EUR fee); won (the reinstatement gives the
    funds and the countering fee back: fee -15.00). Each event re-reads the dispute; the
    ledger's dispute fees follow the PSP's total (15, 30, then 15), with each event
    delivered twice, and the PSP clearing account moves as Stripe's balance did."""
    inv = await paid_invoice(client, app, keys, respx_mock)
    before = await balances(app)
    withdrawn = txn("txn_1RegieDpWithdrawn", -4500, 1500, "dispute")
    countered = txn("txn_1RegieDpCountered", 0, 1500, "dispute")
    reinstated = txn("txn_1RegieDpReinstated", 4500, -1500, "dispute_reversal")
    state = {"doc": dispute("needs_response", withdrawn)}
    serve(respx_mock, lambda: state["doc"])

    def fees_and_psp(bal: dict[tuple[str, str], int]) -> tuple[int, int]:
        psp = ("assets:psp:stripe", "EUR")
        return bal.get(("expenses:dispute_fees", "EUR"), 0), bal[psp] - before[psp]

    for _ in range(2):
        await webhook(client, "charge.dispute.funds_withdrawn", state["doc"])
        await app.state.applier.process_batch()
    assert fees_and_psp(await balances(app)) == (1500, -4500 - 1500)

    state["doc"] = dispute("under_review", withdrawn, countered)
    for _ in range(2):
        await webhook(client, "charge.dispute.updated", state["doc"])
        await app.state.applier.process_batch()
    assert fees_and_psp(await balances(app)) == (3000, -4500 - 3000)

    state["doc"] = dispute("won", withdrawn, countered, reinstated)
    for etype in ("charge.dispute.funds_reinstated", "charge.dispute.closed") * 2:
        await webhook(client, etype, state["doc"])
        await app.state.applier.process_batch()
    assert fees_and_psp(await balances(app)) == (1500, -1500)
    doc = (await client.get(f"/v1/invoices/{inv}", headers=Keys.h(keys.urbanisme))).json()
    assert (doc["status"], doc["amount_refunded"]) == ("paid", 0)


# ---------------------------------------------------------------- a refund's fee
RE_ID = "re_1RegieFeeReturned"


def refund_txn(fee: int) -> dict[str, Any]:
    """The refund's balance transaction: 10.00 EUR out, ``fee`` (negative: given back)."""
    return stripe_object(
        "balance_transaction", id="txn_1RegieRefund", type="refund", reporting_category="refund",
        amount=-1000, fee=fee, net=-1000 - fee, currency="eur", source=RE_ID,
        fee_details=[{"amount": fee, "currency": "eur", "description": "Stripe processing fees",
                      "type": "stripe_fee", "application": None}],
    )  # fmt: skip


def recorded_refund(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = dict(
        id=RE_ID, amount=1000, currency="eur", status="succeeded", payment_intent=PI_ID,
        balance_transaction="txn_1RegieRefund",
    )  # fmt: skip
    values.update(changes)
    return stripe_object("refund", **values)


async def test_a_refunds_fee_is_read_from_its_balance_transaction_when_expanded(
    respx_mock: respx.MockRouter, respx_provider: StripeProvider
) -> None:
    one = respx_mock.get(f"{RESPX_BASE}/v1/refunds/{RE_ID}").mock(
        return_value=httpx.Response(
            200,
            json=recorded_refund(
                balance_transaction=refund_txn(-50),
                payment_intent=expanded_intent(metadata={"payment_id": "pay_1"}),
            ),
        )
    )
    got = await respx_provider.retrieve_refund(RE_ID)
    params = one.calls[0].request.url.params
    assert sorted(params.get_list("expand[0]") + params.get_list("expand[1]")) == [
        "balance_transaction",
        "payment_intent",
    ]
    assert (got.fee, got.fee_currency, got.payment_ref) == (-50, "EUR", "pay_1")
    listed = respx_mock.get(f"{RESPX_BASE}/v1/refunds").mock(
        return_value=httpx.Response(
            200,
            json={
                "object": "list",
                "url": "/v1/refunds",
                "has_more": False,
                "data": [recorded_refund(balance_transaction=refund_txn(30)), recorded_refund()],
            },
        )  # fmt: skip
    )
    a, b = await respx_provider.list_refunds(PI_ID)
    assert listed.calls[0].request.url.params["expand[0]"] == "data.balance_transaction"
    assert (a.fee, a.fee_currency) == (30, "EUR")  # a fee charged on a refund
    assert (b.fee, b.fee_currency) == (None, None)  # not expanded: not known


async def test_a_fee_returned_on_a_refund_is_booked_and_reversed_if_the_refund_fails(
    client: httpx.AsyncClient, app: Any, keys: Keys, respx_mock: respx.MockRouter
) -> None:
    """Stripe returns 0.50 EUR of its fee on a 10.00 EUR refund (the refund's balance
    transaction: fee -50). The refund's answer does not expand it; its event's re-read
    does: the fee returned is booked once (``expenses:psp_fees`` back to ``assets:psp``),
    so the PSP clearing account holds what Stripe's balance does. The refund then fails
    (the card was closed): its entry and its fee's are reversed."""
    inv = await paid_invoice(client, app, keys, respx_mock)
    before = await balances(app)
    respx_mock.post(f"{RESPX_BASE}/v1/refunds").mock(
        return_value=httpx.Response(200, json=recorded_refund())
    )
    r = await client.post(
        f"/v1/invoices/{inv}/refunds", json={"amount": 1000}, headers=Keys.h(keys.urbanisme)
    )
    assert r.status_code == 201, r.text
    state = {"doc": recorded_refund(balance_transaction=refund_txn(-50))}
    respx_mock.get(f"{RESPX_BASE}/v1/refunds/{RE_ID}").mock(
        side_effect=lambda request: httpx.Response(
            200, json={**state["doc"], "payment_intent": expanded_intent()}
        )
    )

    def moved(bal: dict[tuple[str, str], int]) -> tuple[int, int]:
        psp, fees = ("assets:psp:stripe", "EUR"), ("expenses:psp_fees", "EUR")
        return bal[psp] - before[psp], bal[fees] - before[fees]

    for etype in ("refund.created", "refund.updated", "charge.refund.updated"):
        await webhook(client, etype, recorded_refund())
        await app.state.applier.process_batch()
    assert moved(await balances(app)) == (-1000 + 50, -50)
    doc = (await client.get(f"/v1/invoices/{inv}", headers=Keys.h(keys.urbanisme))).json()
    assert (doc["status"], doc["amount_refunded"]) == ("partially_refunded", 1000)

    state["doc"] = recorded_refund(
        status="failed", failure_reason="expired_or_canceled_card",
        balance_transaction=refund_txn(-50), failure_balance_transaction="txn_1RegieRefundFail",
    )  # fmt: skip
    for _ in range(2):
        await webhook(client, "refund.failed", recorded_refund(status="failed"))
        await app.state.applier.process_batch()
    assert moved(await balances(app)) == (0, 0)
    doc = (await client.get(f"/v1/invoices/{inv}", headers=Keys.h(keys.urbanisme))).json()
    assert (doc["status"], doc["amount_refunded"]) == ("paid", 0)
